import type { OnnxGraphBuilder } from './graph-builder.js';

/** A 1-D convolution in ONNX layout: kernel [out, in, width]. */
export interface ConvWeights {
  kernel: Float32Array;
  outChannels: number;
  inChannels: number;
  width: number;
  bias: Float32Array;
  /** Zero padding before and after the time axis. */
  pads: [number, number];
}

/** A dense layer: kernel [in, out], row-major, as MatMul multiplies it. */
export interface DenseWeights {
  kernel: Float32Array;
  inputs: number;
  units: number;
  bias: Float32Array;
}

/**
 * One forward LSTM in ONNX layout: gates in ONNX order (i, o, f, c); input weights
 * [4H, in], recurrent weights [4H, H], bias [8H] (input bias then recurrent bias).
 */
export interface LstmWeights {
  input: Float32Array;
  recurrent: Float32Array;
  bias: Float32Array;
  inputs: number;
  hidden: number;
}

/**
 * How the layers with weights become ONNX nodes. The float32 and int8 models share every
 * other node, so exporting either is the same walk over the layers with a different
 * implementation of this.
 */
export interface WeightedOps {
  /** x [N, C, T] → [N, out, T'] */
  conv1d(graph: OnnxGraphBuilder, name: string, x: string, weights: ConvWeights): string;
  /** x [N, in] → [N, units] */
  dense(graph: OnnxGraphBuilder, name: string, x: string, weights: DenseWeights): string;
  /** x [T, N, in] → Y [T, 1, N, H] and Y_h [1, N, H] */
  lstm(graph: OnnxGraphBuilder, name: string, x: string, weights: LstmWeights): { sequence: string; last: string };
}
