// Types only: this reads layers of a model the caller already built with TensorFlow.js.
import type * as tf from '@tensorflow/tfjs';
import { ModelError } from '../errors.js';

/**
 * The one reader of the Keras layer configs ser-agent's networks are made of, for the two
 * programs that re-implement them: the training graph (src/training/training-graph.ts) and
 * the ONNX exporter (src/model/convert/onnx/export.ts). Each reads a layer here, typed and
 * checked once, and adds only the limits of its own implementation.
 */

export const LAYER_TYPES = ['Conv1D', 'BatchNormalization', 'MaxPooling1D', 'Dropout', 'LSTM', 'Dense', 'Flatten', 'Softmax', 'Dot'] as const;

export type Activation = 'linear' | 'relu' | 'tanh' | 'softmax';

export type LayerSpec =
  | { type: 'Conv1D'; padding: 'same' | 'valid'; activation: Activation }
  | { type: 'BatchNormalization'; epsilon: number; momentum: number }
  | { type: 'MaxPooling1D'; poolSize: number; strides: number }
  | { type: 'Dropout'; rate: number }
  | { type: 'LSTM'; units: number; returnSequences: boolean; dropout: number; recurrentDropout: number }
  | { type: 'Dense'; activation: Activation }
  | { type: 'Flatten' }
  | { type: 'Softmax'; axis: number }
  /** Dot(axes=1), unnormalized: attention pooling of [batch, steps] weights over a [batch, steps, channels] sequence. */
  | { type: 'Dot' };

export type LayerOf<T extends LayerSpec['type']> = Extract<LayerSpec, { type: T }> & { name: string };

/** A layer's type and the config fields ser-agent's implementations depend on, checked. */
export function readLayerConfig(layer: tf.layers.Layer): LayerSpec & { name: string } {
  const name = layer.name;
  const config = layer.getConfig();
  const field = (key: string): unknown => config[key];
  const require = (key: string, supported: readonly unknown[], value: unknown = field(key)): void => {
    if (!supported.some((option) => JSON.stringify(option) === JSON.stringify(value))) {
      throw new ModelError(
        `layer ${name} has ${key} = ${JSON.stringify(value)}; ser-agent trains and exports only ` +
          `${supported.map((option) => JSON.stringify(option)).join(' or ')}: rebuild the model with that setting`,
      );
    }
  };
  const number = (key: string, value: unknown = field(key)): number => {
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new ModelError(`layer ${name} has ${key} = ${JSON.stringify(value)}; a finite number is required: rebuild the model`);
    }
    return value;
  };
  const activation = (): Activation => {
    const value = field('activation') ?? 'linear';
    require('activation', ['linear', 'relu', 'tanh', 'softmax'], value);
    return value as Activation;
  };
  const type = layer.getClassName();
  switch (type) {
    case 'Conv1D': {
      require('padding', ['same', 'valid']);
      require('strides', [1, [1]]);
      require('dilationRate', [1, [1]]);
      require('dataFormat', ['channelsLast', undefined]);
      return { name, type, padding: field('padding') as 'same' | 'valid', activation: activation() };
    }
    case 'BatchNormalization':
      require('axis', [-1]);
      return { name, type, epsilon: number('epsilon'), momentum: number('momentum') };
    case 'MaxPooling1D': {
      require('padding', ['valid']);
      const poolSize = number('poolSize', singleValue(field('poolSize')));
      return { name, type, poolSize, strides: number('strides', singleValue(field('strides')) ?? poolSize) };
    }
    case 'Dropout':
      require('noiseShape', [null, undefined]);
      return { name, type, rate: number('rate') };
    case 'LSTM':
      require('activation', ['tanh']);
      require('recurrentActivation', ['sigmoid']);
      require('goBackwards', [false]);
      require('stateful', [false]);
      require('returnState', [false]);
      return {
        name,
        type,
        units: number('units'),
        returnSequences: field('returnSequences') === true,
        dropout: number('dropout'),
        recurrentDropout: number('recurrentDropout'),
      };
    case 'Dense':
      return { name, type, activation: activation() };
    case 'Flatten':
      return { name, type };
    case 'Softmax':
      return { name, type, axis: number('axis', singleValue(field('axis')) ?? -1) };
    case 'Dot':
      require('axes', [1, [1, 1]]);
      require('normalize', [false]);
      return { name, type };
    default:
      throw new ModelError(
        `layer ${name} is a ${type}, which ser-agent neither trains nor exports; it handles ${LAYER_TYPES.join(', ')} layers`,
      );
  }
}

/** Keras writes one-dimensional sizes as [n]; ser-agent's layers are all one-dimensional. */
function singleValue(value: unknown): unknown {
  return Array.isArray(value) && value.length === 1 ? (value[0] as unknown) : value;
}
