import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { yieldToEventLoop } from '../../helpers/event-loop.js';
import { ModelError } from '../../../src/errors.js';
import { EMOTIONS } from '../../../src/labels.js';
import { EmotionClassifier, FEATURES_LENGTH } from '../../../src/model/runtime/classifier.js';
import { verifyModelDir } from '../../../src/model/artifact/store.js';
import { applyFrontEnd } from '../../../src/dsp/front-end.js';
import { BandStatistics } from '../../../src/dsp/band-statistics.js';
import { randomFeatures, recordingLogger, saveRandomSeedModel, scratchDir, TEST_INFO, useWasm } from '../seed-model-fixture.js';

let scratch: Awaited<ReturnType<typeof scratchDir>>;
let modelDir: string;
let classifier: EmotionClassifier;
let tensorsBeforeLoad: number;
let inputs: Float32Array[];

beforeAll(async () => {
  await useWasm();
  inputs = randomFeatures(8, 5);
  scratch = await scratchDir();
  modelDir = path.join(scratch.dir, 'seed');
  await saveRandomSeedModel(modelDir);
  tensorsBeforeLoad = tf.memory().numTensors;
  classifier = await EmotionClassifier.load(modelDir, { backend: { preference: 'wasm', logger: recordingLogger() } });
});

afterAll(async () => {
  classifier.dispose();
  await scratch.cleanup();
});

describe('EmotionClassifier', () => {
  it('runs on the selected backend and exposes the verified metadata', async () => {
    expect(tf.getBackend()).toBe('wasm');
    expect(classifier.metadata).toEqual((await verifyModelDir(modelDir)).metadata);
  });

  it('returns the most probable emotion, its probability and all seven probabilities', () => {
    for (const features of inputs) {
      const { emotion, confidence, probabilities } = classifier.classify(features);
      expect(Object.keys(probabilities)).toEqual([...EMOTIONS]);
      const values = Object.values(probabilities);
      expect(values.reduce((sum, p) => sum + p, 0)).toBeCloseTo(1, 5);
      expect(confidence).toBe(Math.max(...values));
      expect(probabilities[emotion]).toBe(confidence);
    }
  });

  it("applies the model's own front-end: a band model given seed features sees them band-normalised", async () => {
    const bandDir = path.join(scratch.dir, 'band');
    await saveRandomSeedModel(bandDir, { ...TEST_INFO, frontEnd: 'band' });
    expect((await verifyModelDir(bandDir)).metadata.frontEnd).toBe('band');
    const band = await EmotionClassifier.load(bandDir, { backend: { preference: 'wasm', logger: recordingLogger() } });
    try {
      // Scaled and shifted inputs: a seed-front-end model answers differently, a band one does not care.
      const features = (inputs[0] as Float32Array).map((v, i) => v * (1 + (i % 168) / 50) + 0.5);
      const normalised = Float32Array.from(features);
      applyFrontEnd('band', normalised);
      const viaBand = band.classify(features);
      const byHand = classifier.classify(normalised);
      for (const emotion of EMOTIONS) expect(viaBand.probabilities[emotion]).toBeCloseTo(byHand.probabilities[emotion], 5);
      expect(classifier.classify(features).probabilities).not.toEqual(viaBand.probabilities);
    } finally {
      band.dispose();
    }
  });

  it("applies the speaker front-end with the voice's statistics, the training statistics when none are given", async () => {
    const training = BandStatistics.of(Float32Array.from((inputs[1] as Float32Array).map((v, i) => v * 0.5 + (i % 7))));
    const voice = BandStatistics.of(Float32Array.from((inputs[2] as Float32Array).map((v, i) => v * 2 - (i % 5))));
    const speakerDir = path.join(scratch.dir, 'speaker');
    await saveRandomSeedModel(speakerDir, { ...TEST_INFO, frontEnd: 'speaker', bandStatistics: training.toRecord() });
    const speaker = await EmotionClassifier.load(speakerDir, { backend: { preference: 'wasm', logger: recordingLogger() } });
    try {
      expect(speaker.trainingStatistics?.toRecord()).toEqual(training.toRecord());
      expect(classifier.trainingStatistics).toBeUndefined();
      const features = inputs[0] as Float32Array;
      const byHand = (statistics: BandStatistics) => {
        const normalised = Float32Array.from(features);
        statistics.normalise(normalised);
        return classifier.classify(normalised).probabilities;
      };
      const close = (a: Record<string, number>, b: Record<string, number>) => {
        for (const emotion of EMOTIONS) expect(a[emotion]).toBeCloseTo(b[emotion] as number, 5);
      };
      close(speaker.classify(features, voice).probabilities, byHand(voice));
      close(speaker.classify(features).probabilities, byHand(training));
      expect(speaker.classify(features, voice).probabilities).not.toEqual(speaker.classify(features).probabilities);
      const [withVoice, withTraining] = speaker.classifyBatch([features, features], [voice]);
      close((withVoice as { probabilities: Record<string, number> }).probabilities, byHand(voice));
      close((withTraining as { probabilities: Record<string, number> }).probabilities, byHand(training));
      // The unchanged input: the classifier normalises a copy.
      expect(features).toEqual(inputs[0]);
    } finally {
      speaker.dispose();
    }
  });

  it('refuses a speaker front-end model whose metadata lacks the training statistics', async () => {
    const dir = path.join(scratch.dir, 'speaker-without-statistics');
    const saved = saveRandomSeedModel(dir, { ...TEST_INFO, frontEnd: 'speaker' }).then(() => verifyModelDir(dir));
    await expect(saved).rejects.toThrow(/field "bandStatistics" should be an object but is missing/);
  });

  it('classifies a batch as it classifies each clip alone', () => {
    const batch = classifier.classifyBatch(inputs);
    expect(batch).toHaveLength(inputs.length);
    batch.forEach((prediction, i) => {
      const alone = classifier.classify(inputs[i] as Float32Array);
      expect(prediction.emotion).toBe(alone.emotion);
      for (const emotion of EMOTIONS) expect(prediction.probabilities[emotion]).toBeCloseTo(alone.probabilities[emotion], 6);
    });
    expect(classifier.classifyBatch([])).toEqual([]);
  });

  it('refuses inputs of the wrong length or with non-finite values, naming them', () => {
    expect(() => classifier.classify(new Float32Array(100))).toThrow(
      new RangeError('features has 100 values; expected 21840 (130 frames x 168 features, row-major)'),
    );
    expect(() => classifier.classifyBatch([inputs[0] as Float32Array, new Float32Array(FEATURES_LENGTH + 1)])).toThrow(
      /^batch\[1\] has 21841 values; expected 21840/,
    );
    const withNaN = new Float32Array(FEATURES_LENGTH);
    withNaN[5] = Number.NaN;
    expect(() => classifier.classify(withNaN)).toThrow(new RangeError('features[5] is NaN; features must be finite numbers'));
  });

  it('leaks no tensors over 1,000 calls', async () => {
    const features = inputs[0] as Float32Array;
    const before = tf.memory().numTensors;
    for (let call = 0; call < 1000; call++) {
      classifier.classify(features);
      if (call % 100 === 99) await yieldToEventLoop();
    }
    for (let call = 0; call < 20; call++) classifier.classifyBatch(inputs);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('frees every tensor on dispose and refuses to classify afterwards', async () => {
    const second = await EmotionClassifier.load(modelDir);
    second.dispose();
    second.dispose();
    expect(() => second.classify(inputs[0] as Float32Array)).toThrow(ModelError);
    expect(() => second.classify(inputs[0] as Float32Array)).toThrow(/classifier for .*seed was disposed; load the model again/);
    classifier.dispose();
    expect(tf.memory().numTensors).toBe(tensorsBeforeLoad);
    classifier = await EmotionClassifier.load(modelDir);
  });
});
