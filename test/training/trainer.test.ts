import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { N_FEATURES, N_FRAMES } from '../../src/dsp/constants.js';
import { ConfigError, DatasetError } from '../../src/errors.js';
import { buildSeedModel } from '../../src/model/architecture.js';
import { createRandom } from '../../src/training/random.js';
import { trainModel, type EpochLog, type LabelledSet } from '../../src/training/trainer.js';

const CLIP_VALUES = N_FRAMES * N_FEATURES;
const CLASSES = 3;

/**
 * A learnable toy problem: noise everywhere, plus a raised band of features whose position
 * depends on the class. `labelOf` maps a clip's pattern to its label, so a set can also be
 * labelled against the patterns (to make validation loss rise while training improves).
 */
function syntheticSet(clips: number, seed: number, labelOf = (pattern: number) => pattern): LabelledSet {
  const random = createRandom(seed);
  const features = new Float32Array(clips * CLIP_VALUES);
  const labels = new Int32Array(clips);
  for (let clip = 0; clip < clips; clip += 1) {
    const pattern = clip % CLASSES;
    labels[clip] = labelOf(pattern);
    for (let frame = 0; frame < N_FRAMES; frame += 1) {
      for (let feature = 0; feature < N_FEATURES; feature += 1) {
        const inBand = feature >= pattern * 50 && feature < pattern * 50 + 20;
        features[clip * CLIP_VALUES + frame * N_FEATURES + feature] = 2 * random.uniform() - 1 + (inBand ? 1.5 : 0);
      }
    }
  }
  return { features, labels };
}

/** Softmax outputs of the model itself, to check which weights it holds after training. */
function predictMetrics(model: tf.LayersModel, set: LabelledSet): { loss: number; accuracy: number } {
  return tf.tidy(() => {
    const clips = set.labels.length;
    const probabilities = model.predict(tf.tensor3d(set.features, [clips, N_FRAMES, N_FEATURES])) as tf.Tensor2D;
    const labels = tf.tensor1d(set.labels, 'int32');
    const picked = tf.sum(tf.mul(probabilities, tf.oneHot(labels, probabilities.shape[1])), 1);
    const loss = tf.neg(tf.mean(tf.log(picked))).dataSync()[0] as number;
    const accuracy = tf.mean(tf.cast(tf.equal(tf.argMax(probabilities, 1), labels), 'float32')).dataSync()[0] as number;
    return { loss, accuracy };
  });
}

function withoutTimes(history: EpochLog[]): Omit<EpochLog, 'seconds'>[] {
  return history.map(({ seconds: _seconds, ...rest }) => rest);
}

function weightValues(model: tf.LayersModel): Float32Array[] {
  return model.weights.map((w) => Float32Array.from(w.read().dataSync()));
}

beforeAll(async () => {
  await tf.setBackend('wasm');
});

let model: tf.LayersModel;
let tensorsBefore = 0;
beforeEach(() => {
  model = buildSeedModel();
  tensorsBefore = tf.memory().numTensors;
});
afterEach(() => {
  // Training must leave exactly the tensors it found: the model's weights.
  expect(tf.memory().numTensors).toBe(tensorsBefore);
  model.dispose();
});

describe('trainModel', () => {
  it('learns a toy problem: loss falls and accuracy rises well above chance', async () => {
    const train = syntheticSet(36, 1);
    const validation = syntheticSet(12, 2);
    const batchLogs: number[] = [];
    const result = await trainModel(model, train, validation, {
      seed: 3,
      epochs: 4,
      batchSize: 12,
      onBatchEnd: (log) => batchLogs.push(log.batch),
    });

    expect(result.stopReason).toBe('completed');
    expect(result.stoppedEpoch).toBe(4);
    expect(result.history.map((h) => h.epoch)).toEqual([1, 2, 3, 4]);
    expect(batchLogs).toEqual([1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3]);
    const first = result.history[0] as EpochLog;
    const last = result.history[3] as EpochLog;
    expect(last.loss).toBeLessThan(first.loss);
    expect(last.accuracy).toBeGreaterThan(0.6);
    expect(result.history.every((h) => h.learningRate === 1e-3)).toBe(true);

    // The model holds the checkpoint: its own predict reproduces that epoch's validation metrics.
    const best = result.history[result.bestEpoch - 1] as EpochLog;
    expect(Math.max(...result.history.map((h) => h.valAccuracy))).toBe(best.valAccuracy);
    const held = predictMetrics(model, validation);
    expect(held.accuracy).toBeCloseTo(best.valAccuracy, 6);
    expect(held.loss).toBeCloseTo(best.valLoss, 4);
  });

  it('reproduces the same history and weights from the same seed, and not from another', async () => {
    const train = syntheticSet(16, 4);
    const validation = syntheticSet(6, 5);
    const options = { epochs: 2, batchSize: 8 };
    const first = await trainModel(model, train, validation, { seed: 9, ...options });
    const firstWeights = weightValues(model);
    const second = await trainModel(model, train, validation, { seed: 9, ...options });
    expect(withoutTimes(second.history)).toEqual(withoutTimes(first.history));
    expect(weightValues(model)).toEqual(firstWeights);

    const other = await trainModel(model, train, validation, { seed: 10, ...options });
    expect(withoutTimes(other.history)).not.toEqual(withoutTimes(first.history));
  });

  it('reduces the learning rate and stops early when validation loss stops improving', async () => {
    // Validation labels contradict the training patterns, so learning makes val_loss worse.
    const train = syntheticSet(24, 6);
    const validation = syntheticSet(9, 7, (pattern) => (pattern + 1) % CLASSES);
    const epochLogs: EpochLog[] = [];
    const result = await trainModel(model, train, validation, {
      seed: 5,
      epochs: 8,
      batchSize: 12,
      learningRate: 3e-3,
      reduceLrPatience: 1,
      reduceLrFactor: 0.25,
      earlyStoppingPatience: 2,
      onEpochEnd: (log) => epochLogs.push(log),
    });

    expect(epochLogs).toEqual(result.history);
    const valLosses = result.history.map((h) => h.valLoss);
    const bestLossEpoch = valLosses.indexOf(Math.min(...valLosses)) + 1;
    expect(result.stopReason).toBe('early-stopping');
    // Stopped after exactly `earlyStoppingPatience` epochs without a new best val_loss.
    expect(result.stoppedEpoch).toBe(bestLossEpoch + 2);
    expect(result.history).toHaveLength(result.stoppedEpoch);
    // Every epoch that failed to beat the best val_loss by min_delta 1e-4 cut the rate by the
    // factor for the next epoch (patience 1).
    let reference = Infinity;
    result.history.slice(0, -1).forEach((log, i) => {
      const improved = log.valLoss < reference - 1e-4;
      if (improved) reference = log.valLoss;
      const next = result.history[i + 1] as EpochLog;
      expect(next.learningRate).toBeCloseTo(improved ? log.learningRate : log.learningRate * 0.25, 12);
    });
    expect(result.history.at(-1)?.learningRate).toBeLessThan(3e-3);

    const best = result.history[result.bestEpoch - 1] as EpochLog;
    expect(predictMetrics(model, validation).accuracy).toBeCloseTo(best.valAccuracy, 6);
  });

  it('stops cleanly at a batch boundary when aborted, keeping the best finished epoch', async () => {
    const train = syntheticSet(16, 8);
    const validation = syntheticSet(6, 9);
    const controller = new AbortController();
    const result = await trainModel(model, train, validation, {
      seed: 1,
      epochs: 5,
      batchSize: 8,
      onBatchEnd: ({ epoch, batch }) => {
        if (epoch === 2 && batch === 1) controller.abort();
      },
      signal: controller.signal,
    });
    expect(result).toMatchObject({ stopReason: 'aborted', stoppedEpoch: 1, bestEpoch: 1 });
    expect(result.history).toHaveLength(1);
    expect(predictMetrics(model, validation).accuracy).toBeCloseTo(result.history[0]?.valAccuracy ?? NaN, 6);
  });

  it('does nothing when the signal is already aborted', async () => {
    const before = weightValues(model);
    const result = await trainModel(model, syntheticSet(4, 1), syntheticSet(2, 2), {
      seed: 1,
      signal: AbortSignal.abort(),
    });
    expect(result).toEqual({ history: [], bestEpoch: 0, stoppedEpoch: 0, stopReason: 'aborted' });
    expect(weightValues(model)).toEqual(before);
  });

  it('trains each epoch on the training set plus the next augmented variant, in turn', async () => {
    const train = syntheticSet(12, 20);
    const validation = syntheticSet(6, 21);
    const variantA = { features: syntheticSet(12, 22).features, labels: train.labels };
    const variantB = { features: syntheticSet(12, 23).features, labels: train.labels };
    const batches: number[] = [];
    const options = { seed: 4, epochs: 3, batchSize: 8 };
    const cycling = await trainModel(model, train, validation, {
      ...options,
      trainingVariants: [variantA, variantB],
      onBatchEnd: ({ epoch, batches: total }) => {
        if (epoch === 1) batches.push(total);
      },
    });
    // 12 clips + 12 variants = 24 clips = 3 batches of 8.
    expect(batches[0]).toBe(3);
    const onlyA = await trainModel(model, train, validation, { ...options, trainingVariants: [variantA] });
    const plain = await trainModel(model, train, validation, options);
    const losses = (result: typeof plain): number[] => result.history.map((h) => h.loss);
    // Epoch 1 uses variant A in both runs; epoch 2 uses B in one and A again in the other.
    expect(losses(cycling)[0]).toBe(losses(onlyA)[0]);
    expect(losses(cycling)[1]).not.toBe(losses(onlyA)[1]);
    expect(losses(plain)[0]).not.toBe(losses(onlyA)[0]);
  });

  it('draws epochs by sampling weight: a clip of weight 0 never trains, and the epoch keeps its size', async () => {
    const train = syntheticSet(12, 30);
    const validation = syntheticSet(6, 31);
    // Which clips a draw picks is drawWeighted's to test (sampling.test.ts); here, the wiring.
    const onlyClassZero = Float64Array.from(train.labels, (label) => (label === 0 ? 1 : 0));
    const batchSizes: number[] = [];
    const result = await trainModel(model, train, validation, {
      seed: 6,
      epochs: 1,
      batchSize: 4,
      samplingWeights: onlyClassZero,
      onBatchEnd: (log) => batchSizes.push(log.batches),
    });
    expect(batchSizes).toEqual([3, 3, 3]);
    expect(result.history).toHaveLength(1);
    await expect(
      trainModel(model, train, validation, { seed: 6, samplingWeights: new Float64Array(3) }),
    ).rejects.toThrow(/samplingWeights has 3 weights for 12 training clips/);
  });

  it('applies SpecAugment and mixup to training batches only, reproducibly from the seed', async () => {
    const train = syntheticSet(12, 32);
    const validation = syntheticSet(6, 33);
    const spec = { timeMasks: 2, timeMaskFrames: 20, melMasks: 2, melMaskBands: 16, mfccMasks: 1, mfccMaskCoefficients: 5, mixupAlpha: 0.4 };
    const options = { seed: 8, epochs: 2, batchSize: 6 };
    const plain = await trainModel(model, train, validation, options);
    const augmented = await trainModel(model, train, validation, { ...options, batchAugmentation: spec });
    const again = await trainModel(model, train, validation, { ...options, batchAugmentation: spec });
    expect(withoutTimes(again.history)).toEqual(withoutTimes(augmented.history));
    expect(augmented.history[0]?.loss).not.toBe(plain.history[0]?.loss);
  });

  it('weights the training loss by class and smooths the labels of training and validation alike', async () => {
    const train = syntheticSet(12, 24);
    const validation = syntheticSet(6, 25);
    const firstBatchLoss = async (classWeights?: number[]): Promise<number> => {
      let loss = NaN;
      await trainModel(model, train, validation, {
        seed: 2,
        epochs: 1,
        batchSize: 12,
        ...(classWeights === undefined ? {} : { classWeights }),
        onBatchEnd: (log) => {
          if (log.batch === 1) loss = log.loss;
        },
      });
      return loss;
    };
    // Computed before the step changes anything: doubling every weight doubles the loss exactly.
    expect(await firstBatchLoss([2, 2, 2, 2, 2, 2, 2])).toBeCloseTo(2 * (await firstBatchLoss()), 4);

    const smoothing = 0.2;
    const result = await trainModel(model, train, validation, { seed: 2, epochs: 2, batchSize: 6, labelSmoothing: smoothing });
    const best = result.history[result.bestEpoch - 1] as EpochLog;
    const smoothedLoss = tf.tidy(() => {
      const probabilities = model.predict(tf.tensor3d(validation.features, [6, N_FRAMES, N_FEATURES])) as tf.Tensor2D;
      const target = tf.add(tf.mul(tf.oneHot(tf.tensor1d(validation.labels, 'int32'), 7), 1 - smoothing), smoothing / 7);
      return tf.neg(tf.mean(tf.sum(tf.mul(target, tf.log(probabilities)), 1))).dataSync()[0] as number;
    });
    expect(best.valLoss).toBeCloseTo(smoothedLoss, 4);
  });

  it("learns a teacher's answers over the labels when distilling with weight 1, and only the labels' without", async () => {
    // The training labels are all wrong (pattern + 1); the teacher knows the patterns.
    const train = syntheticSet(36, 21, (pattern) => (pattern + 1) % CLASSES);
    const validation = syntheticSet(12, 22);
    const teacher = new Float32Array(36 * 7);
    for (let clip = 0; clip < 36; clip += 1) teacher[clip * 7 + (clip % CLASSES)] = 1;
    const options = { seed: 3, epochs: 4, batchSize: 12 };

    await trainModel(model, train, validation, { ...options, teacherTargets: { probabilities: teacher, weight: 1 } });
    expect(predictMetrics(model, validation).accuracy).toBeGreaterThan(0.8);
    await trainModel(model, train, validation, options);
    expect(predictMetrics(model, validation).accuracy).toBeLessThan(0.5);

    await expect(
      trainModel(model, train, validation, { ...options, teacherTargets: { probabilities: teacher.subarray(7), weight: 1 } }),
    ).rejects.toThrow(/teacherTargets has 245 probabilities for 36 training clips; give 7 per clip/);
  });

  it('rejects sets whose features do not match their labels, and invalid options', async () => {
    const good = syntheticSet(2, 1);
    const truncated = { features: good.features.subarray(0, CLIP_VALUES), labels: good.labels };
    await expect(trainModel(model, truncated, good, { seed: 1 })).rejects.toThrow(DatasetError);
    await expect(trainModel(model, truncated, good, { seed: 1 })).rejects.toThrow(/training set has 21840 feature values for 2 labels/);
    const badLabel = { features: good.features, labels: Int32Array.from([0, 7]) };
    await expect(trainModel(model, good, badLabel, { seed: 1 })).rejects.toThrow(/validation set's label 1 is 7/);
    await expect(trainModel(model, good, good, { seed: 1, batchSize: 0 })).rejects.toThrow(ConfigError);
    await expect(trainModel(model, good, good, { seed: 1.5, reduceLrFactor: 2 })).rejects.toThrow(
      /seed must be an integer >= 0, got 1.5; reduceLrFactor must be between 0 and 1/,
    );
    await expect(trainModel(model, good, good, { seed: 1, labelSmoothing: 1.5, classWeights: [1] })).rejects.toThrow(
      /labelSmoothing must be in \[0, 1\), got 1.5; classWeights needs 7 weights, got 1/,
    );
    const shuffled = { features: good.features, labels: Int32Array.from([good.labels[1] as number, good.labels[0] as number]) };
    await expect(trainModel(model, good, good, { seed: 1, trainingVariants: [shuffled] })).rejects.toThrow(
      /augmented training variant 0 does not hold the training set's clips in order/,
    );
  });
});
