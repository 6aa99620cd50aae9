import type { OnnxGraphBuilder } from './graph-builder.js';
import { ONNX_DTYPE } from './onnx-proto.js';
import type { ConvWeights, DenseWeights, LstmWeights, WeightedOps } from './weighted-ops.js';

/**
 * Weights stored as 8-bit codes with one scale per output channel, symmetric (the int8 code
 * -127..127 stored as uint8 with zero point 128, see WEIGHT_ZERO_POINT), and activations
 * quantized to uint8 at run time by DynamicQuantizeLinear: the pattern ONNX Runtime's integer
 * kernels (ConvInteger, MatMulInteger, which it fuses into MatMulIntegerToFloat, and
 * com.microsoft DynamicQuantizeLSTM) execute in 8-bit integer arithmetic.
 */
export const INT8_OPS: WeightedOps = {
  /**
   * As an im2col matrix product rather than ConvInteger: ONNX Runtime's ConvInteger kernel
   * measured about 5x slower than float Conv on this model, while MatMulInteger runs on
   * its optimised integer GEMM. The uint8 activations are padded with their own zero point,
   * which dequantizes to exactly the 0.0 that Conv pads with.
   */
  conv1d(graph: OnnxGraphBuilder, name: string, x: string, w: ConvWeights): string {
    const { codes, scales } = quantizePerColumn(im2colKernel(w), w.width * w.inChannels, w.outChannels);
    const kernel = graph.constant(`${name}/kernel_q8`, 'uint8', [w.width * w.inChannels, w.outChannels], codes);
    const kernelZero = graph.constant(`${name}/kernel_zero_point`, 'uint8', [], Uint8Array.of(WEIGHT_ZERO_POINT));
    const [xq, xScale, xZero] = dynamicQuantize(graph, name, x);
    const pads = graph.constant(`${name}/pads`, 'int64', [6], BigInt64Array.of(0n, 0n, BigInt(w.pads[0]), 0n, 0n, BigInt(w.pads[1])));
    const padded = graph.op('Pad', name, [xq, pads, xZero]);
    // Slice k of the padded [N, C, T + width - 1] is the input seen by kernel tap k.
    const axis = graph.constant(`${name}/time_axis`, 'int64', [1], BigInt64Array.of(2n));
    const taps = Array.from({ length: w.width }, (_, tap) => {
      const start = graph.constant(`${name}/tap${tap}_start`, 'int64', [1], BigInt64Array.of(BigInt(tap)));
      // Negative ends count from the end; the last tap runs to the end itself.
      const stop = tap === w.width - 1 ? Number.MAX_SAFE_INTEGER : tap - (w.width - 1);
      const end = graph.constant(`${name}/tap${tap}_end`, 'int64', [1], BigInt64Array.of(BigInt(stop)));
      return graph.op('Slice', `${name}/tap${tap}`, [padded, start, end, axis]);
    });
    const columns = graph.op('Concat', name, taps, [{ name: 'axis', int: 1 }]);
    const rows = graph.op('Transpose', `${name}/rows`, [columns], [{ name: 'perm', ints: [0, 2, 1] }]);
    const accumulated = graph.op('MatMulInteger', name, [rows, kernel, xZero, kernelZero]);
    const columnScales = graph.constant(`${name}/kernel_scale`, 'float32', [w.outChannels], scales);
    const bias = graph.constant(`${name}/bias`, 'float32', [w.outChannels], w.bias);
    const output = rescale(graph, name, accumulated, xScale, columnScales, bias);
    return graph.op('Transpose', `${name}/channels_first`, [output], [{ name: 'perm', ints: [0, 2, 1] }]);
  },

  dense(graph: OnnxGraphBuilder, name: string, x: string, w: DenseWeights): string {
    const { codes, scales } = quantizePerColumn(w.kernel, w.inputs, w.units);
    const kernel = graph.constant(`${name}/kernel_q8`, 'uint8', [w.inputs, w.units], codes);
    const kernelZero = graph.constant(`${name}/kernel_zero_point`, 'uint8', [], Uint8Array.of(WEIGHT_ZERO_POINT));
    const [xq, xScale, xZero] = dynamicQuantize(graph, name, x);
    const accumulated = graph.op('MatMulInteger', name, [xq, kernel, xZero, kernelZero]);
    const columnScales = graph.constant(`${name}/kernel_scale`, 'float32', [w.units], scales);
    const bias = graph.constant(`${name}/bias`, 'float32', [w.units], w.bias);
    return rescale(graph, name, accumulated, xScale, columnScales, bias);
  },

  lstm(graph: OnnxGraphBuilder, name: string, x: string, w: LstmWeights) {
    const gates = 4 * w.hidden;
    // DynamicQuantizeLSTM takes W as [1, in, 4H] and R as [1, H, 4H]: the transposes of the
    // ONNX LSTM layout, so each gate unit is a column with its own scale.
    const input = quantizePerColumn(transpose(w.input, gates, w.inputs), w.inputs, gates);
    const recurrent = quantizePerColumn(transpose(w.recurrent, gates, w.hidden), w.hidden, gates);
    const inputs = [
      x,
      graph.constant(`${name}/W_q8`, 'uint8', [1, w.inputs, gates], input.codes),
      graph.constant(`${name}/R_q8`, 'uint8', [1, w.hidden, gates], recurrent.codes),
      graph.constant(`${name}/B`, 'float32', [1, 2 * gates], w.bias),
      '', // sequence_lens: every sequence has all time steps
      '', // initial_h: zeros
      '', // initial_c: zeros
      '', // P: no peepholes
      graph.constant(`${name}/W_scale`, 'float32', [1, gates], input.scales),
      graph.constant(`${name}/W_zero_point`, 'uint8', [1, gates], new Uint8Array(gates).fill(WEIGHT_ZERO_POINT)),
      graph.constant(`${name}/R_scale`, 'float32', [1, gates], recurrent.scales),
      graph.constant(`${name}/R_zero_point`, 'uint8', [1, gates], new Uint8Array(gates).fill(WEIGHT_ZERO_POINT)),
    ];
    const [sequence, last] = graph.node(
      'DynamicQuantizeLSTM',
      name,
      inputs,
      [`${name}/Y`, `${name}/Y_h`],
      [
        { name: 'hidden_size', int: w.hidden },
        { name: 'direction', string: 'forward' },
      ],
      'com.microsoft',
    );
    return { sequence: sequence as string, last: last as string };
  },
};

/** The largest int8 code a weight gets: symmetric, so -127..127 and zero is exact. */
const INT8_LIMIT = 127;

/**
 * Each int8 code is stored plus 128, as uint8 with zero point 128 (the same numbers, since the
 * kernels subtract the zero point). ONNX Runtime on x86-64 with AVX2 but without VNNI
 * multiplies uint8 activations by int8 weights with vpmaddubsw, which adds two products into
 * a saturating int16: 255 · 127 · 2 overflows it, and on an AMD EPYC (AVX2 only) that moved
 * the shipped model's probabilities by up to 0.42 and flipped its answers. Its uint8 × uint8
 * kernels widen to int16 before multiplying and are exact everywhere; ORT's other remedy,
 * 7-bit weights ("reduce_range"), cost half a point of top-1 agreement with float32 here.
 */
export const WEIGHT_ZERO_POINT = 128;

export interface QuantizedWeights {
  /** The int8 codes plus WEIGHT_ZERO_POINT. */
  codes: Uint8Array;
  scales: Float32Array;
}

/** Symmetric 8-bit codes (offset by WEIGHT_ZERO_POINT) with one scale per column of a [rows, cols] row-major matrix. */
export function quantizePerColumn(values: Float32Array, rows: number, cols: number): QuantizedWeights {
  return quantizeGroups(values, cols, (col, row) => row * cols + col, rows);
}

function quantizeGroups(
  values: Float32Array,
  groups: number,
  indexOf: (group: number, member: number) => number,
  members: number,
): QuantizedWeights {
  if (values.length !== groups * members) {
    throw new RangeError(`${values.length} weights do not form ${groups} groups of ${members}`);
  }
  const codes = new Uint8Array(values.length);
  const scales = new Float32Array(groups);
  for (let group = 0; group < groups; group++) {
    let largest = 0;
    for (let member = 0; member < members; member++) {
      const value = values[indexOf(group, member)] as number;
      if (!Number.isFinite(value)) throw new RangeError(`weight ${indexOf(group, member)} is ${value}; weights must be finite`);
      largest = Math.max(largest, Math.abs(value));
    }
    // An all-zero group keeps scale 1 so the dequantized zeros stay zeros, never NaN.
    const scale = largest === 0 ? 1 : largest / INT8_LIMIT;
    scales[group] = scale;
    for (let member = 0; member < members; member++) {
      const index = indexOf(group, member);
      const code = Math.max(-INT8_LIMIT, Math.min(INT8_LIMIT, Math.round((values[index] as number) / scale)));
      codes[index] = code + WEIGHT_ZERO_POINT;
    }
  }
  return { codes, scales };
}

/** ONNX kernel [out, in, width] → im2col matrix [width·in, out], rows ordered tap-major as the taps are concatenated. */
function im2colKernel(w: ConvWeights): Float32Array {
  const matrix = new Float32Array(w.kernel.length);
  for (let o = 0; o < w.outChannels; o++) {
    for (let c = 0; c < w.inChannels; c++) {
      for (let k = 0; k < w.width; k++) {
        matrix[(k * w.inChannels + c) * w.outChannels + o] = w.kernel[(o * w.inChannels + c) * w.width + k] as number;
      }
    }
  }
  return matrix;
}

function transpose(values: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let row = 0; row < rows; row++) {
    for (let col = 0; col < cols; col++) out[col * rows + row] = values[row * cols + col] as number;
  }
  return out;
}

/** [uint8 values, scale, zero point] of x, computed from its own range at run time. */
function dynamicQuantize(graph: OnnxGraphBuilder, name: string, x: string): [string, string, string] {
  const [values, scale, zeroPoint] = graph.node('DynamicQuantizeLinear', name, [x], [
    `${name}/x_uint8`,
    `${name}/x_scale`,
    `${name}/x_zero_point`,
  ]);
  return [values as string, scale as string, zeroPoint as string];
}

/** int32 accumulators → float: times (activation scale × weight scale), plus the bias. */
function rescale(
  graph: OnnxGraphBuilder,
  name: string,
  accumulated: string,
  xScale: string,
  weightScales: string,
  bias: string,
): string {
  const asFloat = graph.op('Cast', name, [accumulated], [{ name: 'to', int: ONNX_DTYPE.float32 }]);
  const scale = graph.op('Mul', `${name}/scale`, [xScale, weightScales]);
  return graph.op('Add', name, [graph.op('Mul', name, [asFloat, scale]), bias]);
}
