import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  ATTENTION_ARCHITECTURE,
  buildAttentionModel,
  buildModel,
  buildSeedModel,
  type ArchitectureChoice,
} from '../../src/model/architecture.js';
import { EMOTIONS } from '../../src/labels.js';
import { EmotionClassifier } from '../../src/model/runtime/classifier.js';
import { initialiseKerasWeights } from '../../src/training/initializers.js';
import { saveModelDir } from '../../src/model/artifact/tfjs-model.js';
import { quantizeModelDir } from '../../src/model/convert/quantize.js';
import { createRandom } from '../../src/training/random.js';
import { randomFeatures, scratchDir, TEST_INFO, useWasm } from './seed-model-fixture.js';

describe('seed architecture', () => {
  beforeAll(useWasm);

  it('has the seed layers, shapes and about 459k parameters, and frees every tensor on dispose', () => {
    const before = tf.memory().numTensors;
    const model = buildSeedModel();
    expect(model.inputs[0]?.shape).toEqual([null, 130, 168]);
    expect(model.outputs[0]?.shape).toEqual([null, 7]);
    expect(model.countParams()).toBe(459_335);
    const convs = model.layers.filter((l) => l.getClassName() === 'Conv1D');
    expect(convs.map((l) => l.getConfig()['kernelSize'])).toEqual([[5], [5], [3]]);
    const lstms = model.layers.filter((l) => l.getClassName() === 'LSTM');
    expect(lstms.map((l) => l.getConfig()['recurrentActivation'])).toEqual(['sigmoid', 'sigmoid']);
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('attention architecture', () => {
  beforeAll(useWasm);

  it('pools the second LSTM over time with stock layers, adding 2,112 weights to the seed', () => {
    const before = tf.memory().numTensors;
    const model = buildAttentionModel();
    expect(model.inputs[0]?.shape).toEqual([null, 130, 168]);
    expect(model.outputs[0]?.shape).toEqual([null, 7]);
    expect(model.countParams()).toBe(459_335 + 2_112);
    expect(model.getLayer('lstm2').getConfig()['returnSequences']).toBe(true);
    expect(model.getLayer('attention_weights').outputShape).toEqual([null, 16]);
    expect(model.getLayer('attention_pool').outputShape).toEqual([null, 64]);
    const classes = new Set(model.layers.map((layer) => layer.getClassName()));
    expect([...classes].sort()).toEqual(
      ['BatchNormalization', 'Conv1D', 'Dense', 'Dot', 'Dropout', 'Flatten', 'InputLayer', 'LSTM', 'MaxPooling1D', 'Softmax'].sort(),
    );
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('is built by name, as is the seed, and an unknown name is refused', () => {
    const seed = buildModel('seed');
    const attention = buildModel('attention');
    expect(seed.countParams()).toBe(459_335);
    expect(attention.getLayer('attention_pool').getClassName()).toBe('Dot');
    expect(() => buildModel('transformer' as ArchitectureChoice)).toThrow(/"transformer" is unknown; use one of seed, attention/);
    seed.dispose();
    attention.dispose();
  });

  it('saves to a model directory, loads through the project loader and predicts the same, float and quantized', async () => {
    const work = await scratchDir();
    try {
      const model = buildAttentionModel();
      const random = createRandom(5);
      initialiseKerasWeights(model, () => random.uniform());
      const features = randomFeatures(6, 8);
      const batch = tf.tensor3d(Float32Array.from(features.flatMap((clip) => [...clip])), [features.length, 130, 168]);
      const expected = (model.predict(batch) as tf.Tensor).arraySync() as number[][];
      const floatDir = path.join(work.dir, 'float');
      await saveModelDir(model, floatDir, { ...TEST_INFO, architecture: ATTENTION_ARCHITECTURE });
      model.dispose();
      batch.dispose();

      const loaded = await EmotionClassifier.load(floatDir);
      try {
        features.forEach((clip, i) => {
          const { probabilities } = loaded.classify(clip);
          EMOTIONS.forEach((emotion, k) => expect(probabilities[emotion]).toBeCloseTo((expected[i] as number[])[k] as number, 5));
        });
      } finally {
        loaded.dispose();
      }

      const quantizedDir = path.join(work.dir, 'q8');
      const summary = await quantizeModelDir(floatDir, quantizedDir, 'uint8');
      expect(summary.bytesAfter).toBeLessThanOrEqual(600 * 1024);
      const info = JSON.parse(await readFile(path.join(quantizedDir, 'metadata.json'), 'utf8')) as { architecture: string };
      expect(info.architecture).toBe(ATTENTION_ARCHITECTURE);
      const quantized = await EmotionClassifier.load(quantizedDir);
      try {
        const top = (p: readonly number[]): number => p.indexOf(Math.max(...p));
        const agreeing = features.filter((clip, i) => {
          const { probabilities } = quantized.classify(clip);
          return top(EMOTIONS.map((emotion) => probabilities[emotion])) === top(expected[i] as number[]);
        });
        expect(agreeing.length).toBeGreaterThanOrEqual(5);
      } finally {
        quantized.dispose();
      }
    } finally {
      await work.cleanup();
    }
  });
});
