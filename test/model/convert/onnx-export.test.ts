import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { N_FEATURES, N_FRAMES } from '../../../src/dsp/constants.js';
import { EMOTIONS } from '../../../src/labels.js';
import { buildModel } from '../../../src/model/architecture.js';
import { loadModelDir } from '../../../src/model/artifact/tfjs-model.js';
import { exportLayersModel } from '../../../src/model/convert/onnx/export.js';
import { FLOAT_OPS } from '../../../src/model/convert/onnx/float-ops.js';
import { INT8_OPS, WEIGHT_ZERO_POINT } from '../../../src/model/convert/onnx/int8-ops.js';
import { encodeOnnxModel, type OnnxModel } from '../../../src/model/convert/onnx/onnx-proto.js';
import { OnnxSession } from '../../../src/model/runtime/onnx-session.js';
import { GOLDEN_WAVS, readGoldenF32 } from '../../helpers/golden.js';
import { buildCalibratedSeedModel, useWasm } from '../seed-model-fixture.js';
import { INT8_PROBABILITY_TOLERANCE } from '../tolerances.js';


const SHIPPED = path.resolve('models/ser-cnn-lstm');
const HEADER = { producerVersion: 'test', metadata: {} };
let golden: Float32Array;

beforeAll(async () => {
  await useWasm();
  golden = new Float32Array(GOLDEN_WAVS.length * N_FRAMES * N_FEATURES);
  GOLDEN_WAVS.forEach((name, i) => golden.set(readGoldenF32(`${name}.features`), i * N_FRAMES * N_FEATURES));
});

function tfjsProbabilities(model: tf.LayersModel): Float32Array {
  return tf.tidy(
    () => (model.predict(tf.tensor3d(golden, [GOLDEN_WAVS.length, N_FRAMES, N_FEATURES])) as tf.Tensor).dataSync() as Float32Array,
  );
}

async function onnxProbabilities(onnx: OnnxModel): Promise<Float32Array> {
  const session = await OnnxSession.create(encodeOnnxModel(onnx), { threads: 1 });
  try {
    return session.run(golden, [GOLDEN_WAVS.length, N_FRAMES, N_FEATURES]);
  } finally {
    session.dispose();
  }
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  return a.reduce((max, value, i) => Math.max(max, Math.abs(value - (b[i] as number))), 0);
}

function topOne(probabilities: Float32Array): number[] {
  return GOLDEN_WAVS.map((_, clip) => {
    const row = Array.from(probabilities.subarray(clip * EMOTIONS.length, (clip + 1) * EMOTIONS.length));
    return row.indexOf(Math.max(...row));
  });
}

describe.each([
  ['the shipped model', () => loadModelDir(SHIPPED).then(({ model }) => model)],
  // Random weights whose batch-norm scales have both signs: the folding rules must hold for those too.
  ['a calibrated random seed model', () => Promise.resolve(buildCalibratedSeedModel())],
])('ONNX export of %s', (_name, load) => {
  let model: tf.LayersModel;
  let reference: Float32Array;

  beforeAll(async () => {
    model = await load();
    reference = tfjsProbabilities(model);
  });

  afterAll(() => model.dispose());

  it('float32 computes the tfjs probabilities on the golden features to within 1e-5', async () => {
    const onnx = exportLayersModel(model, FLOAT_OPS, HEADER);
    expect(maxAbsDiff(await onnxProbabilities(onnx), reference)).toBeLessThanOrEqual(1e-5);
  });

  it('float32 leaves dropout out and folds the dense batch norm into the next dense layer', () => {
    const ops = exportLayersModel(model, FLOAT_OPS, HEADER).graph.nodes.map((node) => node.name);
    expect(ops.some((name) => name.includes('dropout'))).toBe(false);
    expect(ops.some((name) => name.startsWith('dense1_bn'))).toBe(false);
  });

  it('int8 runs the weighted layers on integer kernels, within the stated tolerance', async () => {
    const onnx = exportLayersModel(model, INT8_OPS, HEADER);
    const opTypes = new Set(onnx.graph.nodes.map((node) => node.opType));
    expect([...opTypes]).toEqual(expect.arrayContaining(['DynamicQuantizeLinear', 'MatMulInteger', 'DynamicQuantizeLSTM']));
    for (const floatOp of ['Conv', 'LSTM', 'Gemm']) expect(opTypes.has(floatOp)).toBe(false);
    // The weight operands of the integer kernels are stored 8-bit constants: int8 codes plus
    // 128 as uint8, which every CPU's uint8 × uint8 GEMM multiplies exactly.
    const constants = new Map(onnx.graph.initializers.map((tensor) => [tensor.name, tensor]));
    const weightOperands = onnx.graph.nodes.flatMap((node) =>
      node.opType === 'MatMulInteger' ? [node.inputs[1]] : node.opType === 'DynamicQuantizeLSTM' ? node.inputs.slice(1, 3) : [],
    );
    // One operand per convolution and dense layer, two (W, R) per LSTM.
    const layerCount = (kind: string) => model.layers.filter((layer) => layer.getClassName() === kind).length;
    expect(weightOperands).toHaveLength(layerCount('Conv1D') + layerCount('Dense') + 2 * layerCount('LSTM'));
    // A float MatMul may remain only between two computed values (attention pooling), never on weights.
    for (const node of onnx.graph.nodes.filter((candidate) => candidate.opType === 'MatMul')) {
      expect(node.inputs.filter((input) => constants.has(input)), node.name).toEqual([]);
    }
    for (const name of weightOperands) {
      const weights = constants.get(name as string);
      expect(weights?.dtype).toBe('uint8');
      // Symmetric codes: the zero point 128 is exact, and -127..127 leaves 0 unused.
      const lowest = (weights as { data: Uint8Array }).data.reduce((min, code) => Math.min(min, code), 255);
      expect(lowest).toBeGreaterThanOrEqual(WEIGHT_ZERO_POINT - 127);
    }
    const zeroPoints = onnx.graph.nodes.flatMap((node) =>
      node.opType === 'MatMulInteger' ? [node.inputs[3]] : node.opType === 'DynamicQuantizeLSTM' ? [node.inputs[9], node.inputs[11]] : [],
    );
    for (const name of zeroPoints) {
      const zero = constants.get(name as string);
      expect(zero?.dtype).toBe('uint8');
      expect(new Set(zero?.data)).toEqual(new Set([WEIGHT_ZERO_POINT]));
    }

    expect(maxAbsDiff(await onnxProbabilities(onnx), reference)).toBeLessThanOrEqual(INT8_PROBABILITY_TOLERANCE);
  });
});

describe('int8 ONNX export of the shipped model', () => {
  // Random weights leave near-ties that any rounding flips; the trained model's classes are apart.
  it('picks the same emotion as tfjs on every golden clip', async () => {
    const { model } = await loadModelDir(SHIPPED);
    const reference = tfjsProbabilities(model);
    const probabilities = await onnxProbabilities(exportLayersModel(model, INT8_OPS, HEADER));
    model.dispose();
    expect(topOne(probabilities)).toEqual(topOne(reference));
  });
});

describe('ONNX export of the attention architecture (random weights)', () => {
  let model: tf.LayersModel;
  let reference: Float32Array;

  beforeAll(() => {
    model = buildModel('attention');
    reference = tfjsProbabilities(model);
  });

  afterAll(() => model.dispose());

  it('float32 computes the attention pooling as tfjs does, to within 1e-5', async () => {
    const onnx = exportLayersModel(model, FLOAT_OPS, HEADER);
    const opTypes = onnx.graph.nodes.map((node) => node.opType);
    expect(opTypes).toEqual(expect.arrayContaining(['Tanh', 'Flatten', 'Softmax', 'Unsqueeze']));
    expect(maxAbsDiff(await onnxProbabilities(onnx), reference)).toBeLessThanOrEqual(1e-5);
  });

  it('int8 runs the attention scorer on integer kernels too, within the stated tolerance', async () => {
    const onnx = exportLayersModel(model, INT8_OPS, HEADER);
    const integerProducts = onnx.graph.nodes.filter((node) => node.opType === 'MatMulInteger').map((node) => node.name);
    expect(integerProducts.filter((node) => node.startsWith('attention_'))).toHaveLength(2);
    expect(maxAbsDiff(await onnxProbabilities(onnx), reference)).toBeLessThanOrEqual(INT8_PROBABILITY_TOLERANCE);
  });
});

describe('ONNX export refusals', () => {
  it('names a layer type it cannot translate', () => {
    const model = tf.sequential({ layers: [tf.layers.globalAveragePooling1d({ inputShape: [N_FRAMES, N_FEATURES], name: 'pool' })] });
    expect(() => exportLayersModel(model, FLOAT_OPS, HEADER)).toThrow(/layer pool is a GlobalAveragePooling1D.*handles Conv1D/);
    model.dispose();
  });

  it('refuses an LSTM with the tfjs default hard-sigmoid gates rather than export the wrong function', () => {
    const model = tf.sequential({ layers: [tf.layers.lstm({ inputShape: [N_FRAMES, N_FEATURES], units: 4, name: 'hard' })] });
    expect(() => exportLayersModel(model, FLOAT_OPS, HEADER)).toThrow(/layer hard has recurrentActivation = "hardSigmoid"/);
    model.dispose();
  });
});
