import type * as tf from '@tensorflow/tfjs';
import { ModelError } from '../../../errors.js';
import { readLayerConfig, type Activation } from '../../layer-config.js';
import { OnnxGraphBuilder } from './graph-builder.js';
import type { OnnxModel } from './onnx-proto.js';
import type { WeightedOps } from './weighted-ops.js';

/** Default-domain opset the exported graphs use (Softmax over the last axis, Squeeze with axes input). */
export const ONNX_OPSET = 17;
export const ONNX_INPUT = 'features';
export const ONNX_OUTPUT = 'probabilities';

export interface ExportHeader {
  producerVersion: string;
  /** Written into ModelProto.metadata_props, where load-time checks read it back. */
  metadata: Record<string, string>;
}

/** Per-channel y = scale·x + shift: an inference-mode batch normalization. */
interface Affine {
  scale: Float32Array;
  shift: Float32Array;
  /** The layer it came from, for messages. */
  layer: string;
}

/** How the current value is laid out: convolutions want channels first, ONNX LSTM wants time first. */
type Layout = 'batch-time-channels' | 'batch-channels-time' | 'time-batch-channels' | 'batch-features';

/**
 * Translates a Keras-style LayersModel (Conv1D, BatchNormalization, MaxPooling1D, Dropout,
 * LSTM, Dense, and the attention pooling of the attention architecture: Dense over time,
 * Flatten, Softmax, Dot) into an ONNX graph that computes the same probabilities. Layers are
 * taken in order, each on the output of the one before, except Dot, which finds its two
 * inputs by name (the attention weights and the LSTM steps they pool). Dropout
 * is left out (inference). A batch normalization is folded into the next layer with weights
 * when that is exact: a Dense or LSTM after it (no padding), reached through Dropout and,
 * if every scale is positive, MaxPool (max commutes with a positive per-channel affine).
 * Otherwise it becomes Mul + Add. `ops` decides whether weighted layers run float32 or int8.
 */
export function exportLayersModel(model: tf.LayersModel, ops: WeightedOps, header: ExportHeader): OnnxModel {
  const [inputShape] = model.inputs.map((input) => input.shape);
  if (model.inputs.length !== 1 || inputShape?.length !== 3) {
    throw new ModelError(
      `model ${model.name} takes ${model.inputs.length} input(s) of shape ${JSON.stringify(inputShape)}; ` +
        'only one [batch, frames, features] input can be exported to ONNX',
    );
  }
  const graph = new OnnxGraphBuilder(ONNX_INPUT);
  let value = ONNX_INPUT;
  let layout: Layout = 'batch-time-channels';
  let pending: Affine | undefined;
  const layers = model.layers.filter((layer) => layer.getClassName() !== 'InputLayer');
  /** Each layer's output, for a Dot whose second input is not the layer just before it. */
  const outputs = new Map<string, { value: string; layout: Layout }>();

  const toLayout = (wanted: Layout, name: string): void => {
    if (layout === wanted) return;
    const perm = PERMUTATIONS[`${layout}>${wanted}`];
    if (perm === undefined) {
      throw new ModelError(`layer ${name} needs its input as ${wanted}, but the value before it is ${layout}; this layer order cannot be exported`);
    }
    value = graph.op('Transpose', name, [value], [{ name: 'perm', ints: perm }]);
    layout = wanted;
  };
  const applyPending = (): void => {
    if (pending === undefined) return;
    const dims = layout === 'batch-channels-time' ? [pending.scale.length, 1] : [pending.scale.length];
    const scale = graph.constant(`${pending.layer}/scale`, 'float32', dims, pending.scale);
    const shift = graph.constant(`${pending.layer}/shift`, 'float32', dims, pending.shift);
    value = graph.op('Add', pending.layer, [graph.op('Mul', pending.layer, [value, scale]), shift]);
    pending = undefined;
  };

  for (const [index, layer] of layers.entries()) {
    const spec = readLayerConfig(layer);
    const name = spec.name;
    const weights = weightsByRole(layer);
    switch (spec.type) {
      case 'Conv1D': {
        applyPending();
        toLayout('batch-channels-time', name);
        const kernel = weights.get('kernel') as tf.Tensor;
        const [width, inChannels, outChannels] = kernel.shape as [number, number, number];
        const padding = spec.padding;
        // Keras 'same' with stride 1 pads floor((width-1)/2) before and the rest after.
        const before = padding === 'same' ? Math.floor((width - 1) / 2) : 0;
        const after = padding === 'same' ? width - 1 - before : 0;
        value = ops.conv1d(graph, name, value, {
          kernel: permuteConvKernel(kernel.dataSync() as Float32Array, width, inChannels, outChannels),
          outChannels,
          inChannels,
          width,
          bias: biasOf(weights, outChannels),
          pads: [before, after],
        });
        value = activation(graph, name, value, spec.activation);
        break;
      }
      case 'BatchNormalization': {
        applyPending();
        pending = batchNormAffine(name, spec.epsilon, weights);
        if (!canFoldForward(layers, index, pending)) applyPending();
        break;
      }
      case 'MaxPooling1D': {
        // A positive pending scale passes through max unchanged (canFoldForward checked it).
        toLayout('batch-channels-time', name);
        value = graph.op('MaxPool', name, [value], [
          { name: 'kernel_shape', ints: [spec.poolSize] },
          { name: 'strides', ints: [spec.strides] },
        ]);
        break;
      }
      case 'Dropout':
        break;
      case 'LSTM': {
        toLayout('time-batch-channels', name);
        const kernel = weights.get('kernel') as tf.Tensor;
        const [inputs, gates] = kernel.shape as [number, number];
        const hidden = gates / 4;
        let input = kernel.dataSync() as Float32Array;
        let bias = biasOf(weights, gates);
        if (pending !== undefined) ({ kernel: input, bias } = foldIntoKernel(pending, input, bias, inputs, gates));
        pending = undefined;
        const lstm = ops.lstm(graph, name, value, {
          input: reorderGates(input, inputs, hidden),
          recurrent: reorderGates((weights.get('recurrent_kernel') as tf.Tensor).dataSync() as Float32Array, hidden, hidden),
          bias: Float32Array.from([...reorderGates(bias, 1, hidden), ...new Float32Array(gates)]),
          inputs,
          hidden,
        });
        const axes = graph.constant(`${name}/squeeze_axes`, 'int64', [1], BigInt64Array.of(spec.returnSequences ? 1n : 0n));
        if (spec.returnSequences) {
          value = graph.op('Squeeze', `${name}/sequence`, [lstm.sequence, axes]);
        } else {
          value = graph.op('Squeeze', `${name}/last`, [lstm.last, axes]);
          layout = 'batch-features';
        }
        break;
      }
      case 'Dense': {
        // On a sequence, a Keras Dense applies to every step: MatMul on the last axis does that.
        if (layout === 'batch-channels-time') {
          throw new ModelError(`layer ${name} is a Dense layer on a ${layout} value; flatten or pool to [batch, features] before it`);
        }
        const kernel = weights.get('kernel') as tf.Tensor;
        const [inputs, units] = kernel.shape as [number, number];
        let matrix = kernel.dataSync() as Float32Array;
        let bias = biasOf(weights, units);
        if (pending !== undefined) ({ kernel: matrix, bias } = foldIntoKernel(pending, matrix, bias, inputs, units));
        pending = undefined;
        value = ops.dense(graph, name, value, { kernel: matrix, inputs, units, bias });
        value = activation(graph, name, value, spec.activation);
        break;
      }
      case 'Flatten': {
        applyPending();
        toLayout('batch-time-channels', name);
        value = graph.op('Flatten', name, [value], [{ name: 'axis', int: 1 }]);
        layout = 'batch-features';
        break;
      }
      case 'Softmax': {
        if (layout !== 'batch-features' || ![-1, 1].includes(spec.axis)) {
          throw new ModelError(`layer ${name} is a Softmax over axis ${spec.axis} of a ${layout} value; only the last axis of [batch, features] can be exported`);
        }
        value = graph.op('Softmax', name, [value], [{ name: 'axis', int: -1 }]);
        break;
      }
      case 'Dot': {
        applyPending();
        ({ value, layout } = attentionPool(graph, name, layer, outputs));
        break;
      }
    }
    outputs.set(name, { value, layout });
  }
  applyPending();
  if (layout !== 'batch-features') {
    throw new ModelError(`model ${model.name} ends with a ${layout} value; its last layer must produce [batch, classes]`);
  }
  const [outputShape] = model.outputs.map((output) => output.shape);
  return graph.finish(
    { producerName: 'ser-agent', producerVersion: header.producerVersion, metadata: header.metadata, graphName: model.name, opset: ONNX_OPSET },
    { name: ONNX_INPUT, dtype: 'float32', dims: ['batch', inputShape[1] as number, inputShape[2] as number] },
    { name: ONNX_OUTPUT, dtype: 'float32', dims: ['batch', outputShape?.[1] as number], from: value },
  );
}

const PERMUTATIONS: Record<string, number[]> = {
  'batch-time-channels>batch-channels-time': [0, 2, 1],
  'batch-channels-time>time-batch-channels': [2, 0, 1],
  'batch-time-channels>time-batch-channels': [1, 0, 2],
  'time-batch-channels>batch-time-channels': [1, 0, 2],
};

/**
 * Keras Dot(axes=1) of weights [batch, time] with steps [batch, time, channels]: the weighted
 * sum of the steps, [batch, channels], as a batched MatMul of [batch, 1, time] by the steps.
 */
function attentionPool(
  graph: OnnxGraphBuilder,
  name: string,
  layer: tf.layers.Layer,
  outputs: ReadonlyMap<string, { value: string; layout: Layout }>,
): { value: string; layout: Layout } {
  const sources = (layer.inboundNodes[0]?.inboundLayers ?? []).map((source) => outputs.get(source.name));
  const [weights, steps] = sources;
  if (
    sources.length !== 2 ||
    weights?.layout !== 'batch-features' ||
    (steps?.layout !== 'time-batch-channels' && steps?.layout !== 'batch-time-channels')
  ) {
    throw new ModelError(
      `layer ${name} is a Dot the ONNX exporter cannot translate: it handles attention pooling, Dot(axes=1) of ` +
        '[batch, time] weights with [batch, time, channels] steps, unnormalized',
    );
  }
  let stepsValue = steps.value;
  if (steps.layout === 'time-batch-channels') {
    stepsValue = graph.op('Transpose', `${name}/steps`, [stepsValue], [{ name: 'perm', ints: PERMUTATIONS['time-batch-channels>batch-time-channels'] as number[] }]);
  }
  const axis = graph.constant(`${name}/axis`, 'int64', [1], BigInt64Array.of(1n));
  const row = graph.op('Unsqueeze', `${name}/weights`, [weights.value, axis]);
  const pooled = graph.op('MatMul', name, [row, stepsValue]);
  return { value: graph.op('Squeeze', name, [pooled, axis]), layout: 'batch-features' };
}

/** A layer's weights by their role (`kernel`, `gamma`, ...), the last part of the variable name. */
function weightsByRole(layer: tf.layers.Layer): Map<string, tf.Tensor> {
  const values = layer.getWeights();
  return new Map(layer.weights.map((weight, index) => [weight.originalName.split('/').at(-1) as string, values[index] as tf.Tensor]));
}

function biasOf(weights: Map<string, tf.Tensor>, size: number): Float32Array {
  const bias = weights.get('bias');
  return bias === undefined ? new Float32Array(size) : Float32Array.from(bias.dataSync());
}

function activation(graph: OnnxGraphBuilder, name: string, value: string, kind: Activation): string {
  switch (kind) {
    case 'linear':
      return value;
    case 'relu':
      return graph.op('Relu', name, [value]);
    case 'tanh':
      return graph.op('Tanh', name, [value]);
    case 'softmax':
      return graph.op('Softmax', name, [value], [{ name: 'axis', int: -1 }]);
  }
}

/** Keras [width, in, out] → ONNX [out, in, width]. */
function permuteConvKernel(kernel: Float32Array, width: number, inChannels: number, outChannels: number): Float32Array {
  const out = new Float32Array(kernel.length);
  for (let k = 0; k < width; k++) {
    for (let i = 0; i < inChannels; i++) {
      for (let o = 0; o < outChannels; o++) out[(o * inChannels + i) * width + k] = kernel[(k * inChannels + i) * outChannels + o] as number;
    }
  }
  return out;
}

/** Keras gate blocks along the last axis are i, f, c, o; ONNX wants them i, o, f, c. */
const KERAS_BLOCK_OF_ONNX_GATE = [0, 3, 1, 2];

/** Keras [rows, 4H] (gates as column blocks) → ONNX [4H, rows] (gates as row blocks, ONNX order). */
function reorderGates(kernel: Float32Array, rows: number, hidden: number): Float32Array {
  const gates = 4 * hidden;
  const out = new Float32Array(kernel.length);
  KERAS_BLOCK_OF_ONNX_GATE.forEach((kerasBlock, onnxGate) => {
    for (let unit = 0; unit < hidden; unit++) {
      const outRow = onnxGate * hidden + unit;
      const column = kerasBlock * hidden + unit;
      for (let row = 0; row < rows; row++) out[outRow * rows + row] = kernel[row * gates + column] as number;
    }
  });
  return out;
}

function batchNormAffine(name: string, epsilon: number, weights: Map<string, tf.Tensor>): Affine {
  const mean = weights.get('moving_mean')?.dataSync() as Float32Array | undefined;
  const variance = weights.get('moving_variance')?.dataSync() as Float32Array | undefined;
  if (mean === undefined || variance === undefined) throw new ModelError(`layer ${name} has no moving statistics; it cannot be exported`);
  const gamma = weights.get('gamma')?.dataSync() ?? new Float32Array(mean.length).fill(1);
  const beta = weights.get('beta')?.dataSync() ?? new Float32Array(mean.length);
  const scale = new Float32Array(mean.length);
  const shift = new Float32Array(mean.length);
  for (let c = 0; c < mean.length; c++) {
    // Computed in float64, rounded once: what tfjs computes in float32 up to one rounding.
    const s = (gamma[c] as number) / Math.sqrt((variance[c] as number) + epsilon);
    scale[c] = s;
    shift[c] = (beta[c] as number) - (mean[c] as number) * s;
  }
  return { scale, shift, layer: name };
}

/** Whether the affine can travel to the next weighted layer and be folded into it exactly. */
function canFoldForward(layers: readonly tf.layers.Layer[], index: number, affine: Affine): boolean {
  for (const next of layers.slice(index + 1)) {
    switch (next.getClassName()) {
      case 'Dropout':
        continue;
      case 'MaxPooling1D':
        if (affine.scale.every((s) => s > 0)) continue;
        return false;
      case 'Dense':
      case 'LSTM':
        return true;
      default:
        return false;
    }
  }
  return false;
}

/**
 * W·(s∘x + t) + b = (diag(s)·W)·x + (W·t + b) for a kernel [inputs, outputs]: the affine
 * disappears into the rows of the kernel and the bias.
 */
function foldIntoKernel(
  affine: Affine,
  kernel: Float32Array,
  bias: Float32Array,
  inputs: number,
  outputs: number,
): { kernel: Float32Array; bias: Float32Array } {
  if (affine.scale.length !== inputs) {
    throw new ModelError(`layer ${affine.layer} has ${affine.scale.length} channels, the next layer takes ${inputs}`);
  }
  const folded = new Float32Array(kernel.length);
  const shifted = new Float64Array(bias);
  for (let row = 0; row < inputs; row++) {
    const s = affine.scale[row] as number;
    const t = affine.shift[row] as number;
    for (let col = 0; col < outputs; col++) {
      const w = kernel[row * outputs + col] as number;
      folded[row * outputs + col] = w * s;
      shifted[col] = (shifted[col] as number) + w * t;
    }
  }
  return { kernel: folded, bias: Float32Array.from(shifted) };
}
