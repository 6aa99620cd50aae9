import * as tf from '@tensorflow/tfjs';
import { ModelError } from '../errors.js';

/** A source of uniform numbers in [0, 1); seeded by the caller for reproducible weights. */
export type UniformSource = () => number;

/**
 * Keras's glorot_uniform: U(-l, l) with l = sqrt(6 / (fanIn + fanOut)), where the fans of a
 * convolution kernel [k, in, out] include the receptive field k. (tfjs-layers defaults to a
 * glorot *normal*; Keras, whose recipe we reproduce, to uniform.)
 */
export function glorotUniform(shape: readonly number[], uniform: UniformSource): Float32Array {
  if (shape.length < 2) {
    throw new ModelError(`glorot_uniform needs a kernel of rank >= 2, got shape [${shape.join(', ')}]`);
  }
  const receptiveField = shape.slice(0, -2).reduce((a, b) => a * b, 1);
  const fanIn = (shape[shape.length - 2] as number) * receptiveField;
  const fanOut = (shape[shape.length - 1] as number) * receptiveField;
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < values.length; i += 1) values[i] = (2 * uniform() - 1) * limit;
  return values;
}

/**
 * Keras's orthogonal initializer (gain 1) for a [rows, cols] matrix: the rows (if rows <= cols)
 * or the columns are orthonormal. Keras takes Q of a QR factorisation of a Gaussian matrix with
 * R's diagonal made positive; Gram–Schmidt on the same Gaussian vectors yields exactly that Q.
 */
export function orthogonal(rows: number, cols: number, uniform: UniformSource): Float32Array {
  const count = Math.min(rows, cols);
  const length = Math.max(rows, cols);
  const vectors: Float64Array[] = [];
  for (let v = 0; v < count; v += 1) {
    const vector = new Float64Array(length);
    for (let i = 0; i < length; i += 1) vector[i] = standardNormal(uniform);
    // Modified Gram–Schmidt: subtract projections one at a time, for numerical stability.
    for (const previous of vectors) {
      let dot = 0;
      for (let i = 0; i < length; i += 1) dot += (vector[i] as number) * (previous[i] as number);
      for (let i = 0; i < length; i += 1) vector[i] = (vector[i] as number) - dot * (previous[i] as number);
    }
    let norm = 0;
    for (let i = 0; i < length; i += 1) norm += (vector[i] as number) ** 2;
    norm = Math.sqrt(norm);
    for (let i = 0; i < length; i += 1) vector[i] = (vector[i] as number) / norm;
    vectors.push(vector);
  }
  const values = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r += 1) {
    for (let c = 0; c < cols; c += 1) {
      // Wide matrices take the vectors as rows, tall (and square) ones as columns, as Keras does.
      const value = rows < cols ? vectors[r]?.[c] : vectors[c]?.[r];
      values[r * cols + c] = value as number;
    }
  }
  return values;
}

/** Box–Muller; 1 - u keeps the logarithm's argument in (0, 1]. */
function standardNormal(uniform: UniformSource): number {
  const u = 1 - uniform();
  const v = uniform();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/**
 * Gives every weight of the model the value Keras would initialise it with: glorot_uniform
 * kernels, orthogonal recurrent kernels, zero biases except the LSTM forget gate's 1
 * (unit_forget_bias), BatchNorm gamma 1, beta 0, moving mean 0, moving variance 1.
 * Weights are drawn in the model's weight order, so the same source gives the same weights.
 */
export function initialiseKerasWeights(model: tf.LayersModel, uniform: UniformSource): void {
  for (const layer of model.layers) {
    for (const weight of layer.weights) {
      const role = weight.originalName.split('/').pop() ?? '';
      const values = initialValues(layer, role, weight.shape as number[], uniform);
      tf.tidy(() => {
        weight.write(tf.tensor(values, weight.shape as number[], 'float32'));
      });
    }
  }
}

function initialValues(
  layer: tf.layers.Layer,
  role: string,
  shape: number[],
  uniform: UniformSource,
): Float32Array {
  const size = shape.reduce((a, b) => a * b, 1);
  switch (role) {
    case 'kernel':
      return glorotUniform(shape, uniform);
    case 'recurrent_kernel':
      return orthogonal(shape[0] as number, shape[1] as number, uniform);
    case 'bias':
      return layer.getClassName() === 'LSTM' ? lstmBias(size) : new Float32Array(size);
    case 'gamma':
    case 'moving_variance':
      return new Float32Array(size).fill(1);
    case 'beta':
    case 'moving_mean':
      return new Float32Array(size);
    default:
      throw new ModelError(
        `layer ${layer.name} has a weight "${role}" with no known Keras initialiser; ` +
          'only Conv1D, Dense, LSTM and BatchNormalization weights can be initialised',
      );
  }
}

/** Gate order i, f, c, o: the forget gate's quarter starts at 1 so early memory is kept. */
function lstmBias(size: number): Float32Array {
  const units = size / 4;
  const bias = new Float32Array(size);
  bias.fill(1, units, 2 * units);
  return bias;
}
