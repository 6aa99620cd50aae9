import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelError } from '../../../src/errors.js';
import { EMOTIONS } from '../../../src/labels.js';
import {
  applyTemperature,
  calibrationError,
  fitTemperature,
  negativeLogLikelihood,
} from '../../../src/model/runtime/calibration.js';
import { EmotionClassifier } from '../../../src/model/runtime/classifier.js';
import { recordModelMetrics, verifyModelDir } from '../../../src/model/artifact/store.js';
import { calibrate, MIN_SPEAKER_FIT_FILES } from '../../../src/training/calibrate.js';
import type { LabelledFile } from '../../../src/training/datasets.js';
import { createRandom } from '../../../src/training/random.js';
import { randomFeatures, saveRandomSeedModel, scratchDir, useWasm } from '../seed-model-fixture.js';

function softmax(logits: readonly number[]): number[] {
  const max = Math.max(...logits);
  const exps = logits.map((z) => Math.exp(z - max));
  const total = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / total);
}

/**
 * An over-confident model: labels are drawn from softmax(z / trueT), but the model reports
 * softmax(z). Temperature scaling should find trueT again.
 */
function overconfident(count: number, trueTemperature: number, seed: number) {
  const random = createRandom(seed);
  const rows: number[][] = [];
  const labels: number[] = [];
  for (let i = 0; i < count; i++) {
    const logits = Array.from({ length: 7 }, () => (random.uniform() - 0.5) * 12);
    const truth = softmax(logits.map((z) => z / trueTemperature));
    let draw = random.uniform();
    let label = truth.findIndex((p) => (draw -= p) < 0);
    if (label < 0) label = 6;
    rows.push(softmax(logits));
    labels.push(label);
  }
  return { rows, labels };
}

describe('applyTemperature', () => {
  const row = [0.7, 0.1, 0.05, 0.05, 0.04, 0.03, 0.03];

  it('is the identity at T = 1 and keeps a distribution that sums to 1 with the same top class', () => {
    expect([...applyTemperature(row, 1)]).toEqual(row);
    for (const temperature of [0.5, 2, 7]) {
      const scaled = applyTemperature(row, temperature);
      expect(scaled.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
      expect(scaled.indexOf(Math.max(...scaled))).toBe(0);
    }
  });

  it('softens above 1 and sharpens below 1, exactly as softmax(log p / T)', () => {
    expect(applyTemperature(row, 2)[0]).toBeLessThan(0.7);
    expect(applyTemperature(row, 0.5)[0]).toBeGreaterThan(0.7);
    const expected = softmax(row.map((p) => Math.log(p) / 3));
    [...applyTemperature(row, 3)].forEach((p, k) => expect(p).toBeCloseTo(expected[k] as number, 12));
  });

  it('keeps rows with probabilities rounded to 0 finite', () => {
    const scaled = applyTemperature([1, 0, 0, 0, 0, 0, 0], 2);
    expect(scaled.every((p) => Number.isFinite(p))).toBe(true);
    expect(scaled[0]).toBeCloseTo(1, 6);
  });
});

describe('fitTemperature', () => {
  it('recovers the temperature of an over-confident model and lowers its NLL', () => {
    const { rows, labels } = overconfident(4000, 2.5, 11);
    const fit = fitTemperature(rows, labels);
    expect(fit.temperature).toBeGreaterThan(2.2);
    expect(fit.temperature).toBeLessThan(2.8);
    expect(fit.nllAfter).toBeLessThan(fit.nllBefore);
    // A minimum: a little either side is worse.
    expect(negativeLogLikelihood(rows, labels, fit.temperature * 1.1)).toBeGreaterThan(fit.nllAfter);
    expect(negativeLogLikelihood(rows, labels, fit.temperature / 1.1)).toBeGreaterThan(fit.nllAfter);
  });

  it('leaves a calibrated model near T = 1 and sharpens an under-confident one', () => {
    const calibrated = overconfident(4000, 1, 12);
    expect(fitTemperature(calibrated.rows, calibrated.labels).temperature).toBeCloseTo(1, 0);
    const underconfident = overconfident(4000, 0.5, 13);
    expect(fitTemperature(underconfident.rows, underconfident.labels).temperature).toBeLessThan(0.6);
  });

  it('refuses an empty validation set and mismatched labels, naming the problem', () => {
    expect(() => fitTemperature([], [])).toThrow(/needs at least one validation example/);
    expect(() => fitTemperature([[0.5, 0.5]], [0, 1])).toThrow(/1 rows, 2 labels/);
  });
});

describe('calibrate (training)', () => {
  /** Files of one speaker whose scores are over-confident by `trueTemperature`. */
  function speakerSet(speaker: string, count: number, trueTemperature: number, seed: number) {
    const { rows, labels } = overconfident(count, trueTemperature, seed);
    const files = rows.map(
      (_, i): LabelledFile => ({ path: `${speaker}-${i}.wav`, label: EMOTIONS[labels[i] as number] as LabelledFile['label'], speaker, corpus: 'ravdess' }),
    );
    return { files, labels, probabilities: rows.map((row) => Float64Array.from(row)) };
  }
  const join = (...sets: Array<ReturnType<typeof speakerSet>>) => ({
    files: sets.flatMap((set) => set.files),
    labels: sets.flatMap((set) => set.labels),
    probabilities: sets.flatMap((set) => set.probabilities),
  });
  // Voices heard in training are scored about right; new voices are over-confident (T = 3).
  const heard = speakerSet('ravdess:01', 1500, 1, 21);
  const newVoice = speakerSet('ravdess:15', 400, 3, 22);
  const test = join(speakerSet('ravdess:01', 300, 1, 23), speakerSet('ravdess:17', 600, 3, 24));

  it('fits on the validation speakers held out of training, where the daemon meets new voices', () => {
    const { report } = calibrate(join(heard, newVoice), test, ['ravdess:17'], 1, ['ravdess:15']);
    expect(report.validation).toMatchObject({ files: 400, speakers: ['ravdess:15'] });
    expect(report.temperature).toBeGreaterThan(2.4);
    expect(report.method).toContain("validation split's held-out speakers");
    expect(report.heldOutSpeakers?.eceAfter).toBeLessThan((report.heldOutSpeakers?.eceBefore ?? 0) / 2);

    const everything = calibrate(join(heard, newVoice), test, ['ravdess:17'], 1).report;
    expect(everything.validation.files).toBe(1900);
    expect(everything.validation.speakers).toBeUndefined();
    expect(everything.temperature).toBeLessThan(report.temperature);
    expect(everything.heldOutSpeakers?.eceAfter).toBeGreaterThan(report.heldOutSpeakers?.eceAfter ?? 1);
  });

  it(`falls back to the whole validation split when its held-out speakers have under ${MIN_SPEAKER_FIT_FILES} files`, () => {
    const few = speakerSet('ravdess:15', MIN_SPEAKER_FIT_FILES - 1, 3, 25);
    const { report } = calibrate(join(heard, few), test, ['ravdess:17'], 1, ['ravdess:15']);
    expect(report.validation.files).toBe(1500 + MIN_SPEAKER_FIT_FILES - 1);
    expect(report.validation.speakers).toBeUndefined();
  });

  it('recalibrating a calibrated model reports its ECE before any calibration, not before this one', () => {
    const validation = join(heard, newVoice);
    const first = calibrate(validation, test, ['ravdess:17'], 1, ['ravdess:15']).report;
    // What the calibrated model outputs: every row scaled by the temperature it now carries.
    const withTemperature = <T extends { probabilities: Float64Array[] }>(set: T): T => ({
      ...set,
      probabilities: set.probabilities.map((row) => applyTemperature(row, first.temperature)),
    });
    const again = calibrate(withTemperature(validation), withTemperature(test), ['ravdess:17'], first.temperature, [
      'ravdess:15',
    ]).report;
    expect(again.previousTemperature).toBe(first.temperature);
    expect(again.temperature).toBeCloseTo(first.temperature, 4);
    expect(again.validation.nllBefore).toBeCloseTo(first.validation.nllBefore, 6);
    expect(again.heldOutSpeakers?.eceBefore).toBeCloseTo(first.heldOutSpeakers?.eceBefore ?? Number.NaN, 6);
    expect(again.heldOutSpeakers?.eceAfter).toBeCloseTo(first.heldOutSpeakers?.eceAfter ?? Number.NaN, 6);
    expect(again.heldOutSpeakers?.eceAfter).toBeLessThan((again.heldOutSpeakers?.eceBefore ?? 0) / 2);
  });
});

describe('calibrationError', () => {
  it('is the count-weighted gap between confidence and accuracy over equal-width bins', () => {
    // Bin (0.6, 0.8]: two rows at 0.7 confidence, one right → gap 0.2.
    // Bin (0.8, 1.0]: two rows at 0.9 confidence, both right → gap 0.1.
    const rows = [
      [0.7, 0.3],
      [0.7, 0.3],
      [0.9, 0.1],
      [0.1, 0.9],
    ];
    const { ece, mce, bins } = calibrationError(rows, [0, 1, 0, 1], 5);
    expect(ece).toBeCloseTo((2 / 4) * 0.2 + (2 / 4) * 0.1, 12);
    expect(mce).toBeCloseTo(0.2, 12);
    expect(bins.map((bin) => bin.count)).toEqual([0, 0, 0, 2, 2]);
    expect(bins[3]).toMatchObject({ lower: 0.6, accuracy: 0.5 });
    expect(bins[3]?.upper).toBeCloseTo(0.8, 12);
  });

  it('drops after temperature scaling an over-confident model', () => {
    const validation = overconfident(3000, 2.5, 21);
    const test = overconfident(3000, 2.5, 22);
    const { temperature } = fitTemperature(validation.rows, validation.labels);
    const before = calibrationError(test.rows, test.labels).ece;
    const after = calibrationError(
      test.rows.map((row) => applyTemperature(row, temperature)),
      test.labels,
    ).ece;
    expect(before).toBeGreaterThan(0.1);
    expect(after).toBeLessThan(0.03);
  });
});

describe('temperature in a model directory', () => {
  let scratch: Awaited<ReturnType<typeof scratchDir>>;
  let modelDir: string;

  beforeAll(async () => {
    await useWasm();
    scratch = await scratchDir();
    modelDir = path.join(scratch.dir, 'seed');
    await saveRandomSeedModel(modelDir);
  });

  afterAll(async () => {
    await scratch.cleanup();
  });

  it('is stored in metadata.json and applied by the classifier to every prediction', async () => {
    const features = randomFeatures(4, 31);
    const raw = await EmotionClassifier.load(modelDir);
    const before = raw.classifyBatch(features);
    raw.dispose();

    const metadata = await recordModelMetrics(modelDir, {}, { temperature: 3 });
    expect(metadata.temperature).toBe(3);
    expect((await verifyModelDir(modelDir)).metadata.temperature).toBe(3);
    const scaled = await EmotionClassifier.load(modelDir);
    const after = scaled.classifyBatch(features);
    scaled.dispose();

    after.forEach((prediction, index) => {
      const original = before[index]!;
      expect(prediction.emotion).toBe(original.emotion);
      const expected = applyTemperature(
        EMOTIONS.map((emotion) => original.probabilities[emotion]),
        3,
      );
      EMOTIONS.forEach((emotion, k) => expect(prediction.probabilities[emotion]).toBeCloseTo(expected[k] as number, 6));
      expect(prediction.confidence).toBeLessThan(original.confidence);
    });
  });

  it('refuses a temperature outside the valid range, naming the field and the value', async () => {
    const file = path.join(modelDir, 'metadata.json');
    const json = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    await writeFile(file, JSON.stringify({ ...json, temperature: 0 }));
    await expect(verifyModelDir(modelDir)).rejects.toThrow(ModelError);
    await expect(verifyModelDir(modelDir)).rejects.toThrow(/"temperature" should be a number from 0.05 to 20 but is 0/);
  });
});
