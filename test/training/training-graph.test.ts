import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ModelError } from '../../src/errors.js';
import { buildAttentionModel, buildSeedModel } from '../../src/model/architecture.js';
import { initialiseKerasWeights } from '../../src/training/initializers.js';
import { createTrainingGraph } from '../../src/training/training-graph.js';
import { createRandom, type Random } from '../../src/training/random.js';

/** Sets every weight to random values, BatchNorm statistics included, so no layer is a no-op. */
function randomiseWeights(model: tf.LayersModel, random: Random): void {
  for (const weight of model.weights) {
    const role = weight.originalName.split('/').pop();
    const size = weight.shape.reduce<number>((a, b) => a * (b ?? 1), 1);
    const values = Float32Array.from({ length: size }, () => {
      const u = random.uniform();
      // Variances must stay positive; gammas away from 0 so every channel matters.
      if (role === 'moving_variance') return 0.2 + 2 * u;
      if (role === 'gamma') return 0.5 + u;
      if (role === 'kernel' || role === 'recurrent_kernel') return (2 * u - 1) * 0.2;
      return 2 * u - 1;
    });
    tf.tidy(() => {
      weight.write(tf.tensor(values, weight.shape as number[]));
    });
  }
}

function randomTensor(shape: number[], random: Random): tf.Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: size }, () => 2 * random.uniform() - 1), shape);
}

function randomInput(shape: [number, number, number], random: Random): tf.Tensor3D {
  return randomTensor(shape, random) as tf.Tensor3D;
}

/** A copy of one weight's values (getWeights returns the live variables themselves). */
function weightValues(model: tf.LayersModel, layerName: string, index: number): Float32Array {
  const weight = model.getLayer(layerName).weights[index];
  if (weight === undefined) throw new Error(`${layerName} has no weight ${index}`);
  return Float32Array.from(weight.read().dataSync());
}

/** The loss's gradient for each variable, copied off the tensor heap. */
function gradientValues(loss: () => tf.Scalar, variables: readonly tf.Variable[]): Float32Array[] {
  const { value, grads } = tf.variableGrads(loss, [...variables]);
  const values = variables.map((v) => Float32Array.from((grads[v.name] as tf.Tensor).dataSync()));
  tf.dispose([value, ...Object.values(grads)]);
  return values;
}

/**
 * The analytic gradient of `loss` against central finite differences, for the three entries
 * of every variable with the largest gradient, where a wrong term cannot hide.
 */
function expectGradientsMatchFiniteDifferences(loss: () => tf.Scalar, variables: readonly tf.Variable[]): void {
  const analytic = gradientValues(loss, variables);
  const step = 1e-2;
  variables.forEach((variable, v) => {
    const original = variable.dataSync().slice();
    const lossWith = (index: number, delta: number): number => {
      const moved = original.slice();
      moved[index] = (moved[index] as number) + delta;
      tf.tidy(() => variable.assign(tf.tensor(moved, variable.shape)));
      return tf.tidy(() => loss().dataSync()[0] as number);
    };
    const gradient = analytic[v] as Float32Array;
    const largest = Array.from(gradient.keys()).sort((a, b) => Math.abs(gradient[b] as number) - Math.abs(gradient[a] as number));
    for (const index of largest.slice(0, 3)) {
      const numeric = (lossWith(index, step) - lossWith(index, -step)) / (2 * step);
      expect(numeric, `${variable.name}[${index}]`).toBeCloseTo(gradient[index] as number, 3);
    }
    tf.tidy(() => variable.assign(tf.tensor(original, variable.shape)));
  });
}

/**
 * The wasm backend's gradients of `loss` equal the cpu backend's for every variable: finite,
 * not all zero, and within 1e-4 of the largest entry (float32 sums in another order, through a
 * dozen layers). The cpu backend implements every gradient kernel and is the reference: a wasm
 * kernel that drops gradient terms (as wasm MaxPoolGrad does) shows up as a large difference.
 */
async function expectGradientsLikeCpu(loss: () => tf.Scalar, variables: readonly tf.Variable[]): Promise<void> {
  const wasmGradients = gradientValues(loss, variables);
  await tf.setBackend('cpu');
  const cpuGradients = gradientValues(loss, variables);
  await tf.setBackend('wasm');
  variables.forEach((variable, i) => {
    const onWasm = wasmGradients[i] as Float32Array;
    const onCpu = cpuGradients[i] as Float32Array;
    expect(onWasm.every(Number.isFinite), `${variable.name} finite`).toBe(true);
    const scale = onCpu.reduce((max, v) => Math.max(max, Math.abs(v)), 0);
    expect(scale, `${variable.name} non-zero`).toBeGreaterThan(0);
    expect(maxAbsArrayDifference(onWasm, onCpu), variable.name).toBeLessThan(1e-4 * scale);
  });
}

function maxAbsArrayDifference(a: Float32Array, b: Float32Array): number {
  return a.reduce((max, value, i) => Math.max(max, Math.abs(value - (b[i] as number))), 0);
}

function maxAbsDifference(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] as number);
}

function crossEntropy(logits: tf.Tensor2D, labels: number[]): tf.Scalar {
  const oneHot = tf.oneHot(tf.tensor1d(labels, 'int32'), logits.shape[1]);
  return tf.neg(tf.mean(tf.sum(tf.mul(oneHot, tf.logSoftmax(logits)), 1))) as tf.Scalar;
}

beforeAll(async () => {
  await tf.setBackend('wasm');
});

let tensorsBefore = 0;
beforeEach(() => {
  tensorsBefore = tf.memory().numTensors;
});
afterEach(() => {
  expect(tf.memory().numTensors).toBe(tensorsBefore);
});

describe('training graph of the seed model (wasm backend)', () => {
  it('runs on the wasm backend', () => {
    expect(tf.getBackend()).toBe('wasm');
  });

  it('matches model.predict in inference mode, before and after changing BatchNorm statistics', () => {
    const random = createRandom(11);
    const model = buildSeedModel();
    initialiseKerasWeights(model, () => random.uniform());
    const graph = createTrainingGraph(model);
    const x = randomInput([3, 130, 168], random);

    const compare = (): number =>
      tf.tidy(() => maxAbsDifference(model.predict(x) as tf.Tensor, tf.softmax(graph.forward(x, { training: false }))));
    expect(compare()).toBeLessThan(1e-5);

    randomiseWeights(model, random);
    // The new statistics must change the output, or the comparison below would prove nothing.
    const before = tf.tidy(() => tf.softmax(graph.forward(x, { training: false })));
    const scaled = model.getLayer('conv2_bn').weights[3];
    tf.tidy(() => {
      scaled?.write(tf.mul(scaled.read(), 3));
    });
    const after = tf.tidy(() => tf.softmax(graph.forward(x, { training: false })));
    expect(maxAbsDifference(before, after)).toBeGreaterThan(1e-3);
    expect(compare()).toBeLessThan(1e-5);

    tf.dispose([x, before, after]);
    model.dispose();
  });

  it('gives finite, non-zero gradients for every trainable variable, equal to the cpu backend', async () => {
    const random = createRandom(12);
    const model = buildSeedModel();
    randomiseWeights(model, random);
    const graph = createTrainingGraph(model);
    const x = randomInput([2, 130, 168], random);
    const loss = (): tf.Scalar => crossEntropy(graph.forward(x, { training: true, dropoutSeed: 7 }), [3, 5]);

    const trainableNames = model.trainableWeights.map((w) => w.name).sort();
    expect(graph.trainableVariables.map((v) => v.name).sort()).toEqual(trainableNames);
    // 3 conv + 3 dense (kernel, bias), 4 BatchNorm (gamma, beta), 2 LSTM (kernel, recurrent, bias).
    expect(graph.trainableVariables).toHaveLength(26);

    await expectGradientsLikeCpu(loss, graph.trainableVariables);
    x.dispose();
    model.dispose();
  });

  it('updates the LayersModel itself: a training step changes what predict returns', () => {
    const random = createRandom(13);
    const model = buildSeedModel();
    initialiseKerasWeights(model, () => random.uniform());
    const graph = createTrainingGraph(model);
    const x = randomInput([4, 130, 168], random);
    const predictedBefore = model.predict(x) as tf.Tensor;
    const recurrentKernelBefore = weightValues(model, 'lstm1', 1);
    const movingMeanBefore = weightValues(model, 'dense1_bn', 2);

    const optimizer = tf.train.adam(1e-2);
    tf.tidy(() => {
      optimizer.minimize(() => crossEntropy(graph.forward(x, { training: true, dropoutSeed: 1 }), [0, 1, 2, 3]), false, [
        ...graph.trainableVariables,
      ]);
    });
    optimizer.dispose();

    const predictedAfter = model.predict(x) as tf.Tensor;
    expect(maxAbsDifference(predictedBefore, predictedAfter)).toBeGreaterThan(1e-4);
    expect(maxAbsArrayDifference(recurrentKernelBefore, weightValues(model, 'lstm1', 1))).toBeGreaterThan(1e-3);
    expect(maxAbsArrayDifference(movingMeanBefore, weightValues(model, 'dense1_bn', 2))).toBeGreaterThan(0);
    // Inference still agrees after the step: the graph reads the same, updated variables.
    expect(
      tf.tidy(() => maxAbsDifference(predictedAfter, tf.softmax(graph.forward(x, { training: false })))),
    ).toBeLessThan(1e-5);

    tf.dispose([x, predictedBefore, predictedAfter]);
    model.dispose();
  });

  it('draws the same dropout masks from the same seed and different ones from another', () => {
    const random = createRandom(14);
    const model = buildSeedModel();
    initialiseKerasWeights(model, () => random.uniform());
    const graph = createTrainingGraph(model);
    const x = randomInput([2, 130, 168], random);
    const [a, b, c] = [5, 5, 6].map((dropoutSeed) => graph.forward(x, { training: true, dropoutSeed }));
    expect(maxAbsDifference(a as tf.Tensor, b as tf.Tensor)).toBe(0);
    expect(maxAbsDifference(a as tf.Tensor, c as tf.Tensor)).toBeGreaterThan(1e-4);
    tf.dispose([x, a, b, c]);
    model.dispose();
  });
});

describe('training graph of the attention model (wasm backend)', () => {
  it('matches model.predict in inference mode', () => {
    const random = createRandom(31);
    const model = buildAttentionModel();
    randomiseWeights(model, random);
    const graph = createTrainingGraph(model);
    const x = randomInput([3, 130, 168], random);
    const difference = tf.tidy(() =>
      maxAbsDifference(model.predict(x) as tf.Tensor, tf.softmax(graph.forward(x, { training: false }))),
    );
    expect(difference).toBeLessThan(1e-5);
    x.dispose();
    model.dispose();
  });

  it('gives gradients equal to the cpu backend for every trainable variable, the attention scorer included', async () => {
    const random = createRandom(32);
    const model = buildAttentionModel();
    randomiseWeights(model, random);
    const graph = createTrainingGraph(model);
    const x = randomInput([2, 130, 168], random);
    const loss = (): tf.Scalar => crossEntropy(graph.forward(x, { training: true, dropoutSeed: 9 }), [1, 6]);

    expect(graph.trainableVariables.map((v) => v.name).sort()).toEqual(model.trainableWeights.map((w) => w.name).sort());
    // The seed's 26 plus the scorer's hidden kernel and bias and its bias-free output kernel.
    expect(graph.trainableVariables).toHaveLength(29);
    await expectGradientsLikeCpu(loss, graph.trainableVariables);
    x.dispose();
    model.dispose();
  });

  it('has attention gradients that agree with finite differences (small functional model)', () => {
    const random = createRandom(33);
    const input = tf.input({ shape: [5, 3] });
    const steps = tf.layers.lstm({ units: 4, returnSequences: true, recurrentActivation: 'sigmoid' }).apply(input) as tf.SymbolicTensor;
    const scores = tf.layers
      .dense({ units: 1 })
      .apply(tf.layers.dense({ units: 3, activation: 'tanh' }).apply(steps)) as tf.SymbolicTensor;
    const weights = tf.layers.softmax().apply(tf.layers.flatten().apply(scores)) as tf.SymbolicTensor;
    const pooled = tf.layers.dot({ axes: 1 }).apply([weights, steps]) as tf.SymbolicTensor;
    const output = tf.layers.dense({ units: 2, activation: 'softmax' }).apply(pooled) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: output });
    randomiseWeights(model, random);
    const graph = createTrainingGraph(model);
    const x = randomInput([3, 5, 3], random);
    const predicted = tf.tidy(() => maxAbsDifference(model.predict(x) as tf.Tensor, tf.softmax(graph.forward(x, { training: false }))));
    expect(predicted).toBeLessThan(1e-5);
    const loss = (): tf.Scalar => crossEntropy(graph.forward(x, { training: true, dropoutSeed: 1 }), [0, 1, 1]);
    expectGradientsMatchFiniteDifferences(loss, graph.trainableVariables);
    x.dispose();
    model.dispose();
  });
});

describe('training graph layer semantics (small models)', () => {
  it("matches predict for an even kernel ('same' pads 1 left, 2 right) and an odd-length pool (floor)", () => {
    const random = createRandom(21);
    const model = tf.sequential({
      layers: [
        tf.layers.conv1d({ inputShape: [7, 3], filters: 4, kernelSize: 4, padding: 'same', activation: 'relu' }),
        tf.layers.batchNormalization(),
        tf.layers.maxPooling1d({ poolSize: 2 }),
        tf.layers.lstm({ units: 5, returnSequences: true, recurrentActivation: 'sigmoid' }),
        tf.layers.lstm({ units: 3, recurrentActivation: 'sigmoid' }),
        tf.layers.dense({ units: 2, activation: 'softmax' }),
      ],
    });
    randomiseWeights(model, random);
    const graph = createTrainingGraph(model);
    const x = randomInput([5, 7, 3], random);
    const difference = tf.tidy(() =>
      maxAbsDifference(model.predict(x) as tf.Tensor, tf.softmax(graph.forward(x, { training: false }))),
    );
    expect(difference).toBeLessThan(1e-5);
    x.dispose();
    model.dispose();
  });

  it('has gradients that agree with finite differences for every stage', () => {
    const random = createRandom(22);
    // Linear activations keep the loss smooth, so a central difference is accurate; the
    // graph's stages are the same as the seed model's.
    const model = tf.sequential({
      layers: [
        tf.layers.conv1d({ inputShape: [6, 4], filters: 3, kernelSize: 3, padding: 'same' }),
        tf.layers.batchNormalization(),
        tf.layers.maxPooling1d({ poolSize: 2 }),
        tf.layers.dropout({ rate: 0.3 }),
        tf.layers.lstm({ units: 4, returnSequences: true, recurrentActivation: 'sigmoid' }),
        tf.layers.lstm({ units: 3, recurrentActivation: 'sigmoid' }),
        tf.layers.dense({ units: 5 }),
        tf.layers.batchNormalization(),
        tf.layers.dense({ units: 2, activation: 'softmax' }),
      ],
    });
    randomiseWeights(model, random);
    const graph = createTrainingGraph(model);
    const x = randomInput([3, 6, 4], random);
    const loss = (): tf.Scalar => crossEntropy(graph.forward(x, { training: true, dropoutSeed: 3 }), [0, 1, 1]);
    expectGradientsMatchFiniteDifferences(loss, graph.trainableVariables);
    x.dispose();
    model.dispose();
  });

  it('normalises with batch statistics in training and moves the moving statistics with momentum 0.99', () => {
    const model = tf.sequential({
      layers: [
        tf.layers.batchNormalization({ inputShape: [2, 1] }),
        tf.layers.lstm({ units: 2, recurrentActivation: 'sigmoid' }),
        tf.layers.dense({ units: 2, activation: 'softmax' }),
      ],
    });
    const graph = createTrainingGraph(model);
    // Batch statistics over batch and time: values 1, 3, 5, 7 -> mean 4, biased variance 5.
    const x = tf.tensor3d([1, 3, 5, 7], [2, 2, 1]);
    tf.tidy(() => {
      graph.forward(x, { training: true, dropoutSeed: 0 });
    });
    const batchNormName = model.layers[0]?.name ?? '';
    expect(weightValues(model, batchNormName, 2)[0]).toBeCloseTo(0.99 * 0 + 0.01 * 4, 6);
    expect(weightValues(model, batchNormName, 3)[0]).toBeCloseTo(0.99 * 1 + 0.01 * 5, 6);
    x.dispose();
    model.dispose();
  });

  it('rejects layers it does not implement, naming the layer', () => {
    const model = tf.sequential({
      layers: [tf.layers.conv1d({ inputShape: [4, 2], filters: 2, kernelSize: 2, padding: 'valid', name: 'narrow' })],
    });
    expect(() => createTrainingGraph(model)).toThrow(ModelError);
    expect(() => createTrainingGraph(model)).toThrow(/narrow.*padding.*"valid"/);
    model.dispose();
  });
});
