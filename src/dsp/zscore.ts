import { NORM_EPSILON } from './constants.js';

/** What z-scoring a block applies to each value: (x - mean) * scale. */
export interface Standardization {
  readonly mean: number;
  /** 1 / (population std + epsilon). */
  readonly scale: number;
}

/**
 * The mean and 1 / (std + epsilon) of the whole block, with numpy's population std (ddof 0)
 * computed in two passes as numpy does. The epsilon keeps a constant block (a silent clip) at
 * zero instead of NaN. Each pass keeps four partial sums so its adds do not wait on each other.
 */
export function standardization(values: ArrayLike<number>, epsilon: number = NORM_EPSILON): Standardization {
  const n = values.length;
  if (n === 0) throw new RangeError('standardization: the block is empty; it needs at least one value');
  const end = n - (n % 4);
  let sum0 = 0;
  let sum1 = 0;
  let sum2 = 0;
  let sum3 = 0;
  for (let i = 0; i < end; i += 4) {
    sum0 += values[i] as number;
    sum1 += values[i + 1] as number;
    sum2 += values[i + 2] as number;
    sum3 += values[i + 3] as number;
  }
  for (let i = end; i < n; i++) sum0 += values[i] as number;
  const mean = (sum0 + sum1 + (sum2 + sum3)) / n;

  sum0 = sum1 = sum2 = sum3 = 0;
  for (let i = 0; i < end; i += 4) {
    const d0 = (values[i] as number) - mean;
    const d1 = (values[i + 1] as number) - mean;
    const d2 = (values[i + 2] as number) - mean;
    const d3 = (values[i + 3] as number) - mean;
    sum0 += d0 * d0;
    sum1 += d1 * d1;
    sum2 += d2 * d2;
    sum3 += d3 * d3;
  }
  for (let i = end; i < n; i++) {
    const d = (values[i] as number) - mean;
    sum0 += d * d;
  }
  const std = Math.sqrt((sum0 + sum1 + (sum2 + sum3)) / n);
  return { mean, scale: 1 / (std + epsilon) };
}

/** `(x - x.mean()) / (x.std() + epsilon)` over the whole block. `out` may be `values` itself. */
export function zScore(
  values: ArrayLike<number>,
  out: Float64Array = new Float64Array(values.length),
  epsilon: number = NORM_EPSILON,
): Float64Array {
  if (out.length !== values.length) {
    throw new RangeError(`zScore: out holds ${out.length} values; expected ${values.length}`);
  }
  const { mean, scale } = standardization(values, epsilon);
  for (let i = 0; i < values.length; i++) out[i] = ((values[i] as number) - mean) * scale;
  return out;
}
