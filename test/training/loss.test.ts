import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { balancedClassWeights, checkLossOptions, crossEntropyLoss } from '../../src/training/loss.js';

const logits = [
  [2.0, -1.0, 0.5],
  [0.1, 0.2, 3.0],
  [-0.5, 1.5, 0.0],
  [1.0, 1.0, 1.0],
];
const labels = [0, 2, 2, 1];

function logSoftmax(row: number[]): number[] {
  const top = Math.max(...row);
  const logSum = top + Math.log(row.reduce((sum, v) => sum + Math.exp(v - top), 0));
  return row.map((v) => v - logSum);
}

/** The formula written out for any target: -Σ_k target(i, k) · log p_k per clip, times the clip's weight, averaged over clips. */
function crossEntropyByHand(target: (clip: number, k: number) => number, clipWeight: (clip: number) => number = () => 1): number {
  const perClip = logits.map((row, i) => -logSoftmax(row).reduce((sum, logP, k) => sum + target(i, k) * logP, 0) * clipWeight(i));
  return perClip.reduce((a, b) => a + b, 0) / perClip.length;
}

/** The smoothed one-hot target, each clip weighted by its class. */
function byHand(smoothing: number, weights?: number[]): number {
  return crossEntropyByHand(
    (i, k) => (k === labels[i] ? 1 - smoothing : 0) + smoothing / 3,
    (i) => weights?.[labels[i] as number] ?? 1,
  );
}

function computed(options: Parameters<typeof crossEntropyLoss>[2]): number {
  return tf.tidy(() => crossEntropyLoss(tf.tensor2d(logits), tf.tensor1d(labels, 'int32'), options).dataSync()[0] as number);
}

describe('crossEntropyLoss', () => {
  it('is plain categorical cross-entropy without options', () => {
    expect(computed({})).toBeCloseTo(byHand(0), 6);
  });

  it('smooths labels as (1 - ε)·one-hot + ε/K, which raises the loss of confident right answers', () => {
    expect(computed({ labelSmoothing: 0.1 })).toBeCloseTo(byHand(0.1), 6);
    expect(computed({ labelSmoothing: 0.3 })).toBeCloseTo(byHand(0.3), 6);
    expect(computed({ labelSmoothing: 0.1 })).not.toBeCloseTo(computed({}), 3);
  });

  it('weights each clip by its class and averages over the batch size, as Keras fit(class_weight) does', () => {
    const weights = [0.5, 3, 1.25];
    expect(computed({ classWeights: weights })).toBeCloseTo(byHand(0, weights), 6);
    expect(computed({ classWeights: weights, labelSmoothing: 0.2 })).toBeCloseTo(byHand(0.2, weights), 6);
    expect(computed({ classWeights: [1, 1, 1] })).toBeCloseTo(computed({}), 6);
  });

  it('mixes the targets and the class weights of a mixup pair by the batch weight', () => {
    const partners = [2, 0, 3, 1];
    const share = 0.7;
    const weights = [0.5, 3, 1.25];
    const mixedLoss = tf.tidy(
      () =>
        crossEntropyLoss(tf.tensor2d(logits), tf.tensor1d(labels, 'int32'), { classWeights: weights }, {
          labels: tf.tensor1d(partners.map((p) => labels[p] as number), 'int32'),
          weight: share,
        }).dataSync()[0] as number,
    );
    const own = (i: number) => labels[i] as number;
    const other = (i: number) => labels[partners[i] as number] as number;
    const expected = crossEntropyByHand(
      (i, k) => (k === own(i) ? share : 0) + (k === other(i) ? 1 - share : 0),
      (i) => share * (weights[own(i)] as number) + (1 - share) * (weights[other(i)] as number),
    );
    expect(mixedLoss).toBeCloseTo(expected, 6);
  });

  it("blends a teacher's probabilities into the smoothed target by the distillation weight", () => {
    const teacher = [
      [0.7, 0.2, 0.1],
      [0.1, 0.1, 0.8],
      [0.3, 0.3, 0.4],
      [0.2, 0.6, 0.2],
    ];
    const distilled = (weight: number, smoothing: number): number =>
      tf.tidy(
        () =>
          crossEntropyLoss(tf.tensor2d(logits), tf.tensor1d(labels, 'int32'), { labelSmoothing: smoothing }, undefined, {
            probabilities: tf.tensor2d(teacher),
            weight,
          }).dataSync()[0] as number,
      );
    const expected = (weight: number, smoothing: number): number =>
      crossEntropyByHand(
        (i, k) => (1 - weight) * ((k === labels[i] ? 1 - smoothing : 0) + smoothing / 3) + weight * (teacher[i]?.[k] as number),
      );
    expect(distilled(0.5, 0.1)).toBeCloseTo(expected(0.5, 0.1), 6);
    expect(distilled(1, 0)).toBeCloseTo(expected(1, 0), 6);
    // With the teacher alone, the labels no longer count.
    expect(distilled(1, 0)).not.toBeCloseTo(byHand(0), 2);
  });

  it("takes the teachers' rows as given under mixup (the trainer mixes them) and the labels mixed as usual", () => {
    const partners = [2, 0, 3, 1];
    const share = 0.6;
    const teacher = [
      [0.5, 0.25, 0.25],
      [0.2, 0.2, 0.6],
      [0.1, 0.8, 0.1],
      [0.3, 0.3, 0.4],
    ];
    const value = tf.tidy(
      () =>
        crossEntropyLoss(
          tf.tensor2d(logits),
          tf.tensor1d(labels, 'int32'),
          {},
          { labels: tf.tensor1d(partners.map((p) => labels[p] as number), 'int32'), weight: share },
          { probabilities: tf.tensor2d(teacher), weight: 0.3 },
        ).dataSync()[0] as number,
    );
    const expected = crossEntropyByHand((i, k) => {
      const label = (k === labels[i] ? share : 0) + (k === labels[partners[i] as number] ? 1 - share : 0);
      return 0.7 * label + 0.3 * (teacher[i]?.[k] as number);
    });
    expect(value).toBeCloseTo(expected, 6);
  });

  it('frees every tensor it makes', () => {
    const before = tf.memory().numTensors;
    computed({ classWeights: [1, 2, 3], labelSmoothing: 0.1 });
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('balancedClassWeights', () => {
  it('is n / (classes · count): every class carries the same total weight', () => {
    const weights = balancedClassWeights(Int32Array.from([0, 0, 0, 0, 1, 1, 2, 0]), 4);
    expect(weights).toEqual([8 / (4 * 5), 8 / (4 * 2), 8 / (4 * 1), 0]);
    const totals = [5, 2, 1].map((count, k) => count * (weights[k] as number));
    expect(new Set(totals).size).toBe(1);
  });

  it('rejects a label outside the classes', () => {
    expect(() => balancedClassWeights(Int32Array.from([0, 5]), 3)).toThrow(/label 5 is outside 0..2/);
  });
});

describe('checkLossOptions', () => {
  it('names each bad option and its value', () => {
    expect(checkLossOptions({ labelSmoothing: 0.1, classWeights: [1, 2, 3] }, 3)).toEqual([]);
    expect(checkLossOptions({ labelSmoothing: 1 }, 3)).toEqual(['labelSmoothing must be in [0, 1), got 1']);
    expect(checkLossOptions({ classWeights: [1, 2] }, 3)).toEqual(['classWeights needs 3 weights, got 2']);
    expect(checkLossOptions({ classWeights: [1, -2, NaN] }, 3)).toEqual(['classWeights must be finite numbers >= 0, got [1, -2, NaN]']);
  });
});
