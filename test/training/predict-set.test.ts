import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BandStatistics, RunningBandStatistics } from '../../src/dsp/band-statistics.js';
import { EMOTIONS } from '../../src/labels.js';
import { EmotionClassifier, FEATURES_LENGTH } from '../../src/model/runtime/classifier.js';
import { predictSet } from '../../src/training/evaluate.js';
import { createRandom, shuffledIndices } from '../../src/training/random.js';
import { randomFeatures, recordingLogger, saveRandomSeedModel, scratchDir, TEST_INFO, useWasm } from '../model/seed-model-fixture.js';

/** Issue 16: a `speaker` front-end model is evaluated as it was trained, each voice with its own statistics. */
let scratch: Awaited<ReturnType<typeof scratchDir>>;
let speakerModel: EmotionClassifier;
let features: Float32Array;

beforeAll(async () => {
  await useWasm();
  scratch = await scratchDir();
  const rows = randomFeatures(4, 11);
  features = new Float32Array(rows.length * FEATURES_LENGTH);
  // Two voices with different colourings, so their statistics differ.
  rows.forEach((row, index) => features.set(row.map((value, i) => value * (index < 2 ? 1 : 3) + (index < 2 ? 0 : i % 5)), index * FEATURES_LENGTH));
  const dir = path.join(scratch.dir, 'speaker');
  await saveRandomSeedModel(dir, { ...TEST_INFO, frontEnd: 'speaker', bandStatistics: BandStatistics.of(features).toRecord() });
  speakerModel = await EmotionClassifier.load(dir, { backend: { preference: 'wasm', logger: recordingLogger() } });
});

afterAll(async () => {
  speakerModel.dispose();
  await scratch.cleanup();
});

const rowOf = (index: number) => features.subarray(index * FEATURES_LENGTH, (index + 1) * FEATURES_LENGTH);
const labels = Int32Array.of(0, 1, 2, 3);

/** Each row classified alone with the statistics of `rows` of the set. */
function expectedWith(groups: number[][]): Float64Array[] {
  return [0, 1, 2, 3].map((index) => {
    const group = groups.find((rows) => rows.includes(index)) as number[];
    const { probabilities } = speakerModel.classify(rowOf(index), BandStatistics.of(features, group));
    return Float64Array.from(EMOTIONS, (emotion) => probabilities[emotion]);
  });
}

function expectClose(actual: Float64Array[], expected: Float64Array[]): void {
  actual.forEach((row, index) => row.forEach((value, k) => expect(value).toBeCloseTo(expected[index]?.[k] as number, 6)));
}

describe('predictSet with a speaker front-end model', () => {
  it("hears each speaker's clips with that speaker's statistics over the set", () => {
    const files = ['ravdess:01', 'ravdess:01', 'ravdess:02', 'ravdess:02'].map((speaker) => ({ speaker, corpus: 'ravdess' as const }));
    expectClose(predictSet(speakerModel, { features, labels, files }).probabilities, expectedWith([[0, 1], [2, 3]]));
  });

  it('hears recordings from plain <emotion>/ folders, which name no speaker, as one voice: the site', () => {
    const files = [0, 1, 2, 3].map((index) => ({ speaker: `folder:/site/clip-${index}.wav`, corpus: 'folder' as const }));
    expectClose(predictSet(speakerModel, { features, labels, files }).probabilities, expectedWith([[0, 1, 2, 3]]));
  });

  it("hears every clip with the training statistics when asked to, as a device that never adapts", () => {
    const files = ['ravdess:01', 'ravdess:01', 'ravdess:02', 'ravdess:02'].map((speaker) => ({ speaker, corpus: 'ravdess' as const }));
    const training = speakerModel.trainingStatistics as BandStatistics;
    const expected = [0, 1, 2, 3].map((index) =>
      Float64Array.from(EMOTIONS, (emotion) => speakerModel.classify(rowOf(index), training).probabilities[emotion]),
    );
    expectClose(predictSet(speakerModel, { features, labels, files }, { statistics: 'training' }).probabilities, expected);
  });

  it('hears each voice as a device learns it: clip by clip in a seeded order, each with the statistics that include it', () => {
    const files = ['ravdess:01', 'ravdess:02', 'ravdess:01', 'ravdess:02'].map((speaker) => ({ speaker, corpus: 'ravdess' as const }));
    const hear = (seed: number) => predictSet(speakerModel, { features, labels, files }, { statistics: 'running', seed }).probabilities;
    // The documented order: the voices as they first appear, each one's clips shuffled by one generator.
    const random = createRandom(5);
    const expected: Float64Array[] = [];
    for (const rows of [[0, 2], [1, 3]]) {
      const running = new RunningBandStatistics(speakerModel.trainingStatistics as BandStatistics);
      for (const index of shuffledIndices(rows.length, random)) {
        const row = rows[index] as number;
        running.add(rowOf(row));
        const { probabilities } = speakerModel.classify(rowOf(row), running.current());
        expected[row] = Float64Array.from(EMOTIONS, (emotion) => probabilities[emotion]);
      }
    }
    expectClose(hear(5), expected);
    expectClose(hear(5), hear(5));
    // Early clips are heard with statistics mostly the training set's, late ones mostly the voice's.
    expect(hear(5)).not.toEqual(predictSet(speakerModel, { features, labels, files }).probabilities);
  });

  it('refuses a set that does not say whose each clip is', () => {
    expect(() => predictSet(speakerModel, { features, labels })).toThrow(/front-end is 'speaker', and the set does not say whose each clip is/);
  });
});
