import * as tf from '@tensorflow/tfjs';
import { ModelError } from '../errors.js';
import { readLayerConfig, type Activation, type LayerOf } from '../model/layer-config.js';

/**
 * Inference reproduces `model.predict`; training uses batch statistics for BatchNorm (and
 * updates its moving statistics) and drops units with masks drawn from `dropoutSeed`, so the
 * same seed gives the same masks.
 */
export type ForwardMode = { training: false } | { training: true; dropoutSeed: number };

export interface TrainingGraph {
  /**
   * The model's forward pass over its own weight variables, differentiable on the wasm
   * backend. Returns the output layer's *logits*, before its softmax: the loss is computed
   * from logits (as Keras does for a softmax output), and softmax(logits) equals `predict`.
   * In training mode it also updates BatchNorm moving statistics, as a Keras training step does.
   */
  forward(x: tf.Tensor3D, mode: ForwardMode): tf.Tensor2D;
  /** The trainable weights, the very tf.Variables of the LayersModel, in the model's order. */
  readonly trainableVariables: readonly tf.Variable[];
}

type Stage = (x: tf.Tensor, mode: ForwardMode) => tf.Tensor;
/** A stage of a layer with several inputs (a merge layer such as Dot). */
type MergeStage = (inputs: tf.Tensor[], mode: ForwardMode) => tf.Tensor;

/** One layer of the graph: the names of the layers it reads and what it computes. */
interface Step {
  name: string;
  inputs: string[];
  run: MergeStage;
}

/**
 * Why a second forward pass: tfjs-layers' Conv1D differentiates through Conv2DBackpropFilter,
 * which the wasm backend does not implement, and the cpu backend is far too slow to train on.
 * Here Conv1D is an im2col matMul (pad + shifted slices + concat), and every other layer is
 * written with ops whose gradients the wasm backend has, and has correct (see the max-pool
 * stage) and fast (see matMulWithFastGradient). The weights are shared with the model,
 * so training this graph trains the model that is then saved and served.
 */
export function createTrainingGraph(model: tf.LayersModel): TrainingGraph {
  const inputShape = model.inputs[0]?.shape;
  const outputLayer = model.outputs[0]?.sourceLayer;
  if (model.inputs.length !== 1 || model.outputs.length !== 1 || outputLayer === undefined) {
    throw new ModelError(
      `model ${model.name} has ${model.inputs.length} inputs and ${model.outputs.length} outputs; ` +
        'the training graph takes one feature input and one class output',
    );
  }
  // Sequential and functional models alike: layers in topological order, each reading the
  // outputs of its inbound layers (an InputLayer's output is the batch itself).
  const layers = model.layers.filter((layer) => layer.getClassName() !== 'InputLayer');
  const steps: Step[] = layers.map((layer, index) => ({
    name: layer.name,
    inputs: inboundLayerNames(layer),
    run: compileLayer(layer, index, layer === outputLayer, layers.length),
  }));
  const trainableVariables = layers.flatMap((layer) =>
    layer.weights.filter((weight) => weight.trainable).map((weight) => variableOf(layer, weight)),
  );

  return {
    trainableVariables,
    forward(x, mode) {
      if (inputShape !== undefined && !shapeFits(x.shape, inputShape)) {
        throw new ModelError(
          `training graph input has shape [${x.shape.join(', ')}], the model expects ` +
            `[${inputShape.map((d) => d ?? 'batch').join(', ')}]; reshape the batch to the model's input`,
        );
      }
      return tf.tidy(() => {
        const outputs = new Map<string, tf.Tensor>();
        for (const step of steps) {
          const inputs = step.inputs.map((name) => outputs.get(name) ?? x);
          outputs.set(step.name, step.run(inputs, mode));
        }
        return outputs.get(outputLayer.name) as tf.Tensor;
      }) as tf.Tensor2D;
    },
  };
}

/** The layers whose outputs `layer` reads; a layer applied more than once is not supported. */
function inboundLayerNames(layer: tf.layers.Layer): string[] {
  if (layer.inboundNodes.length !== 1) {
    throw new ModelError(
      `layer ${layer.name} is applied ${layer.inboundNodes.length} times; the training graph needs each layer applied once`,
    );
  }
  return (layer.inboundNodes[0]?.inboundLayers ?? []).map((inbound) => inbound.name);
}

/** A single-input stage as a step; its one input is checked when the graph is built. */
function single(layer: tf.layers.Layer, stage: Stage): MergeStage {
  if (inboundLayerNames(layer).length !== 1) {
    throw new ModelError(`layer ${layer.name} has ${inboundLayerNames(layer).length} inputs; a ${layer.getClassName()} takes one`);
  }
  return (inputs, mode) => stage(inputs[0] as tf.Tensor, mode);
}

function shapeFits(actual: readonly number[], expected: readonly (number | null)[]): boolean {
  return actual.length === expected.length && expected.every((d, i) => d === null || d === actual[i]);
}

function compileLayer(layer: tf.layers.Layer, index: number, isLast: boolean, layerCount: number): MergeStage {
  const spec = readLayerConfig(layer);
  switch (spec.type) {
    case 'Conv1D':
      return single(layer, conv1dStage(layer, spec));
    case 'BatchNormalization':
      return single(layer, batchNormStage(layer, spec));
    case 'MaxPooling1D':
      return single(layer, maxPool1dStage(spec));
    case 'Dropout':
      return single(layer, dropoutStage(spec, index, layerCount));
    case 'LSTM':
      return single(layer, lstmStage(layer, spec));
    case 'Dense':
      return single(layer, denseStage(layer, spec, isLast));
    case 'Flatten':
      return single(layer, (x) => tf.reshape(x, [x.shape[0], -1]));
    case 'Softmax':
      return single(layer, softmaxStage(spec));
    case 'Dot':
      return dotStage(layer);
  }
}

/**
 * a @ b for rank-2 tensors, with a gradient built from untransposed matMuls and explicit
 * transposes. The wasm BatchMatMul kernel is an order of magnitude slower with transposeA or
 * transposeB set (measured: 823 ms vs 92 ms for conv1's [4160, 840] operand), and tfjs's
 * own MatMul gradient sets them.
 */
const matMulWithFastGradient = tf.customGrad<tf.Tensor2D>((...inputs) => {
  const [a, b, save] = inputs as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
  save([a, b]);
  return {
    value: tf.matMul(a, b),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [savedA, savedB] = saved as [tf.Tensor2D, tf.Tensor2D];
      return [tf.matMul(dy, tf.transpose(savedB)), tf.matMul(tf.transpose(savedA), dy)];
    },
  };
});

/** x @ kernel + bias, then the activation: a Dense layer on rank-2 input. */
function affine(
  x: tf.Tensor,
  kernel: tf.Tensor,
  bias: tf.Tensor | undefined,
  activation: StageActivation,
): tf.Tensor2D {
  let output: tf.Tensor2D = matMulWithFastGradient(x, kernel);
  if (bias !== undefined) output = tf.add<tf.Tensor2D>(output, bias);
  if (activation === 'relu') return tf.relu(output);
  return activation === 'tanh' ? tf.tanh(output) : output;
}

function conv1dStage(layer: tf.layers.Layer, spec: LayerOf<'Conv1D'>): Stage {
  const kernel = weightOf(layer, 'kernel');
  const bias = optionalWeightOf(layer, 'bias');
  const [kernelSize, inChannels, filters] = kernel.shape as [number, number, number];
  requireSupported(spec.name, 'padding', spec.padding, ['same']);
  const activation = supportedActivation(spec.name, spec.activation);
  // TensorFlow's 'same' padding puts the odd extra frame on the right: (k - 1) // 2 on the left.
  const padLeft = Math.floor((kernelSize - 1) / 2);
  const padRight = kernelSize - 1 - padLeft;

  return (x) => {
    const [batch, frames] = x.shape as [number, number, number];
    const padded = tf.pad(x, [
      [0, 0],
      [padLeft, padRight],
      [0, 0],
    ]);
    const shifted: tf.Tensor[] = [];
    for (let offset = 0; offset < kernelSize; offset += 1) {
      shifted.push(tf.slice(padded, [0, offset, 0], [batch, frames, inChannels]));
    }
    // Row-major [k, in, out] flattened to [k * in, out] matches the concat order (offset, channel).
    const patches = tf.reshape(tf.concat(shifted, 2), [batch * frames, kernelSize * inChannels]);
    const output = affine(patches, tf.reshape(kernel, [kernelSize * inChannels, filters]), bias, activation);
    return tf.reshape(output, [batch, frames, filters]);
  };
}

function batchNormStage(layer: tf.layers.Layer, { momentum, epsilon }: LayerOf<'BatchNormalization'>): Stage {
  const gamma = optionalWeightOf(layer, 'gamma');
  const beta = optionalWeightOf(layer, 'beta');
  const movingMean = weightOf(layer, 'moving_mean');
  const movingVariance = weightOf(layer, 'moving_variance');

  return (x, mode) => {
    let mean: tf.Tensor = movingMean;
    let variance: tf.Tensor = movingVariance;
    if (mode.training) {
      const reductionAxes = x.shape.slice(0, -1).map((_, axis) => axis);
      // Biased batch variance, as Keras normalises with and feeds into its moving variance.
      ({ mean, variance } = tf.moments(x, reductionAxes));
      const batchMean = mean;
      const batchVariance = variance;
      tf.tidy(() => {
        movingMean.assign(tf.add(tf.mul(movingMean, momentum), tf.mul(batchMean, 1 - momentum)));
        movingVariance.assign(tf.add(tf.mul(movingVariance, momentum), tf.mul(batchVariance, 1 - momentum)));
      });
    }
    // Fold normalisation into one per-channel scale and shift: two full-size ops instead of four.
    let scale = tf.rsqrt(tf.add(variance, epsilon));
    if (gamma !== undefined) scale = tf.mul(scale, gamma);
    let shift = tf.neg(tf.mul(mean, scale));
    if (beta !== undefined) shift = tf.add(shift, beta);
    return tf.add(tf.mul(x, scale), shift);
  };
}

function maxPool1dStage({ name, poolSize, strides: stride }: LayerOf<'MaxPooling1D'>): Stage {
  // Not tf.maxPool: the wasm MaxPoolGrad kernel (tfjs 4.22) drops some gradients, measured
  // against the cpu backend. Instead, split each window's positions apart and fold them with
  // tf.maximum, whose gradient goes to the first of tied maxima, as TensorFlow's MaxPool does
  // (ties are common right after a ReLU).
  if (stride !== poolSize) {
    throw new ModelError(
      `layer ${name} pools ${poolSize} frames with stride ${stride}; the training graph ` +
        'supports stride equal to the pool size only',
    );
  }
  return (x) => {
    const [batch, frames, channels] = x.shape as [number, number, number];
    const windows = Math.floor(frames / poolSize);
    const used = windows * poolSize === frames ? x : tf.slice(x, [0, 0, 0], [batch, windows * poolSize, channels]);
    const positions = tf.split(tf.reshape(used, [batch, windows, poolSize, channels]), poolSize, 2);
    const pooled = positions.slice(1).reduce((max, position) => tf.maximum(max, position), positions[0] as tf.Tensor);
    return tf.reshape(pooled, [batch, windows, channels]);
  };
}

function dropoutStage({ rate }: LayerOf<'Dropout'>, index: number, layerCount: number): Stage {
  return (x, mode) => {
    if (!mode.training || rate === 0) return x;
    // One distinct stream per (step, layer): the seed space is partitioned by layer index.
    const seed = mode.dropoutSeed * layerCount + index;
    const keep = tf.cast(tf.greaterEqual(tf.randomUniform(x.shape, 0, 1, 'float32', seed), rate), 'float32');
    // Inverted dropout: scale the kept units so inference needs no rescaling.
    return tf.mul(x, tf.mul(keep, 1 / (1 - rate)));
  };
}

function lstmStage(layer: tf.layers.Layer, spec: LayerOf<'LSTM'>): Stage {
  const kernel = weightOf(layer, 'kernel');
  const recurrentKernel = weightOf(layer, 'recurrent_kernel');
  const bias = optionalWeightOf(layer, 'bias');
  const { units, returnSequences } = spec;
  // Dropout inside the recurrence is not implemented; inference (the exporter) ignores it.
  requireSupported(spec.name, 'dropout', spec.dropout, [0]);
  requireSupported(spec.name, 'recurrentDropout', spec.recurrentDropout, [0]);

  return (x) => {
    const [batch, steps, features] = x.shape as [number, number, number];
    // The input projection of all steps is one large matMul; only h @ U is sequential.
    const projected = affine(tf.reshape(x, [batch * steps, features]), kernel, bias, 'linear');
    const perStep = tf.unstack(tf.transpose(tf.reshape(projected, [batch, steps, 4 * units]), [1, 0, 2]));
    let hidden: tf.Tensor | undefined;
    let cell: tf.Tensor | undefined;
    const outputs: tf.Tensor[] = [];
    for (const stepInput of perStep) {
      const z = hidden === undefined ? stepInput : tf.add(stepInput, matMulWithFastGradient(hidden, recurrentKernel));
      // Keras/tfjs gate order in the kernel columns: input, forget, candidate, output.
      const [zi, zf, zc, zo] = tf.split(z, 4, 1) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
      const candidate = tf.mul(tf.sigmoid(zi), tf.tanh(zc));
      cell = cell === undefined ? candidate : tf.add(tf.mul(tf.sigmoid(zf), cell), candidate);
      hidden = tf.mul(tf.sigmoid(zo), tf.tanh(cell));
      outputs.push(hidden);
    }
    if (hidden === undefined) {
      throw new ModelError(`layer ${layer.name} received a sequence of 0 steps; the input needs frames`);
    }
    return returnSequences ? tf.stack(outputs, 1) : hidden;
  };
}

function denseStage(layer: tf.layers.Layer, spec: LayerOf<'Dense'>, isLast: boolean): Stage {
  const kernel = weightOf(layer, 'kernel');
  const bias = optionalWeightOf(layer, 'bias');
  // The output layer's softmax is left out: forward returns logits (see TrainingGraph.forward).
  const activation = isLast && spec.activation === 'softmax' ? 'linear' : supportedActivation(spec.name, spec.activation);
  return (x) => {
    if (x.rank === 2) return affine(x, kernel, bias, activation);
    if (x.rank === 3) {
      // Keras applies Dense to the last axis of a sequence: every step through the same weights.
      const [batch, steps, features] = x.shape as [number, number, number];
      const output = affine(tf.reshape(x, [batch * steps, features]), kernel, bias, activation);
      return tf.reshape(output, [batch, steps, output.shape[1]]);
    }
    throw new ModelError(`layer ${layer.name} is a Dense layer on a rank-${x.rank} input; the graph supports rank 2 and 3`);
  };
}

function softmaxStage({ name, axis }: LayerOf<'Softmax'>): Stage {
  return (x) => {
    if (axis !== -1 && axis !== x.rank - 1) {
      throw new ModelError(`layer ${name} takes its softmax over axis ${axis}; the training graph supports the last axis`);
    }
    return tf.softmax(x);
  };
}

/**
 * Keras Dot(axes=1) of weights [batch, steps] with a sequence [batch, steps, channels]: the
 * weighted sum over steps, [batch, channels] (attention pooling). Written as a broadcast
 * multiply and a sum, whose gradients are plain elementwise ops on wasm.
 */
function dotStage(layer: tf.layers.Layer): MergeStage {
  if (inboundLayerNames(layer).length !== 2) {
    throw new ModelError(`layer ${layer.name} has ${inboundLayerNames(layer).length} inputs; a Dot takes two`);
  }
  return ([weights, sequence]) => {
    if (weights?.rank !== 2 || sequence?.rank !== 3) {
      throw new ModelError(
        `layer ${layer.name} multiplies ranks ${weights?.rank} and ${sequence?.rank}; the training graph ` +
          'supports Dot of [batch, steps] weights with a [batch, steps, channels] sequence',
      );
    }
    return tf.sum(tf.mul(tf.expandDims(weights, 2), sequence), 1);
  };
}

type StageActivation = Exclude<Activation, 'softmax'>;

function supportedActivation(name: string, activation: Activation): StageActivation {
  if (activation !== 'softmax') return activation;
  throw new ModelError(
    `layer ${name} uses activation softmax; the training graph supports relu, tanh and linear (and softmax on the output layer)`,
  );
}

function weightOf(layer: tf.layers.Layer, role: string): tf.Variable {
  const variable = optionalWeightOf(layer, role);
  if (variable === undefined) {
    throw new ModelError(`layer ${layer.name} has no ${role} weight; the model must be built before training`);
  }
  return variable;
}

function optionalWeightOf(layer: tf.layers.Layer, role: string): tf.Variable | undefined {
  const weight = layer.weights.find((w) => w.originalName.split('/').pop() === role);
  return weight === undefined ? undefined : variableOf(layer, weight);
}

function variableOf(layer: tf.layers.Layer, weight: tf.layers.Layer['weights'][number]): tf.Variable {
  // LayerVariable.read() returns its backing tf.Variable; the check keeps that an enforced fact.
  const value = weight.read();
  if (!(value instanceof tf.Variable)) {
    throw new ModelError(`weight ${weight.name} of layer ${layer.name} is not backed by a tf.Variable`);
  }
  return value as tf.Variable;
}

function requireSupported(name: string, key: string, value: unknown, supported: readonly unknown[]): void {
  if (!supported.includes(value)) {
    throw new ModelError(
      `layer ${name} has ${key} = ${JSON.stringify(value)}; the training graph supports ` +
        `${supported.map((s) => JSON.stringify(s)).join(' or ')}`,
    );
  }
}
