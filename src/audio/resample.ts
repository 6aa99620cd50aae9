import { AudioError } from '../errors.js';
import { MAX_SAMPLE_RATE } from './decoded-audio.js';
import { designLowpassKernel, SOXR_HQ, type LowpassDesign, type LowpassKernel } from './lowpass-kernel.js';

/**
 * Band-limited sample-rate conversion with librosa.resample(res_type='soxr_hq') semantics:
 * linear phase with no time offset (output sample j sits at input time j * from / to),
 * the signal taken as zero outside the clip, soxr's own output length
 * round(n * to / from), then zero-padded to librosa's ceil(n * to / from).
 *
 * libsamplerate's best sinc was measured first and missed the feature contract (features
 * mean |Δ| up to 4.2e-3, max 0.26 against the golden soxr_hq clips) because its passband
 * reaches closer to Nyquist than soxr's; this resampler designs to soxr's band edges.
 */

/** Polyphase tables larger than this (8 MB of float64) are computed per output instead. */
const MAX_TABLE_COEFFICIENTS = 1 << 20;
/** Rate pairs (and designs) whose tables are kept: a process meets only a few (dataset rates, mic rate, the speech detector's). */
const MAX_CACHED_FILTERS = 4;

/**
 * For the rational ratio to/from = upFactor/downFactor, output j sits at input position
 * j * downFactor / upFactor: integer part `anchor`, fractional part phase / upFactor. Each
 * phase has its own row of `taps` weights for the inputs anchor - reach + 1 .. anchor + reach.
 */
interface PolyphaseFilter {
  upFactor: number;
  downFactor: number;
  reach: number;
  taps: number;
  kernel: LowpassKernel;
  /** phase-major rows of weights, or undefined when too many phases to tabulate. */
  table: Float64Array | undefined;
}

const filterCache = new Map<string, PolyphaseFilter>();

function greatestCommonDivisor(a: number, b: number): number {
  let x = a;
  let y = b;
  while (y !== 0) [x, y] = [y, x % y];
  return x;
}

function fillPhaseWeights(filter: PolyphaseFilter, phase: number, row: Float64Array): void {
  const fraction = phase / filter.upFactor;
  for (let tap = 0; tap < filter.taps; tap++) {
    // Tap 0 is input anchor - reach + 1, at distance fraction + reach - 1 before the output.
    row[tap] = filter.kernel.weightAt(fraction + filter.reach - 1 - tap);
  }
}

function buildFilter(fromRate: number, toRate: number, design: Readonly<LowpassDesign>): PolyphaseFilter {
  const divisor = greatestCommonDivisor(fromRate, toRate);
  const kernel = designLowpassKernel(fromRate, toRate, design);
  const reach = Math.floor(kernel.halfWidth) + 1;
  const filter: PolyphaseFilter = {
    upFactor: toRate / divisor,
    downFactor: fromRate / divisor,
    reach,
    taps: 2 * reach,
    kernel,
    table: undefined,
  };
  if (filter.upFactor * filter.taps <= MAX_TABLE_COEFFICIENTS) {
    const table = new Float64Array(filter.upFactor * filter.taps);
    for (let phase = 0; phase < filter.upFactor; phase++) {
      fillPhaseWeights(filter, phase, table.subarray(phase * filter.taps, (phase + 1) * filter.taps));
    }
    filter.table = table;
  }
  return filter;
}

function filterFor(fromRate: number, toRate: number, design: Readonly<LowpassDesign>): PolyphaseFilter {
  const key = `${fromRate}:${toRate}:${design.passbandEnd}:${design.stopbandBegin}:${design.stopbandRejectionDb}`;
  let filter = filterCache.get(key);
  if (filter === undefined) {
    filter = buildFilter(fromRate, toRate, design);
    if (filterCache.size >= MAX_CACHED_FILTERS) {
      const oldest = filterCache.keys().next().value;
      if (oldest !== undefined) filterCache.delete(oldest);
    }
    filterCache.set(key, filter);
  }
  return filter;
}

function checkRate(rate: number, fromRate: number, toRate: number): void {
  if (!Number.isInteger(rate) || rate <= 0 || rate > MAX_SAMPLE_RATE) {
    throw new AudioError(
      'AUDIO_UNSUPPORTED',
      `resample ${fromRate} Hz -> ${toRate} Hz`,
      `sample rate ${rate} Hz is not supported; both rates must be whole numbers from 1 to ${MAX_SAMPLE_RATE} Hz`,
    );
  }
}

/** librosa's output length: int(np.ceil(n * ratio)) with ratio computed first, as it does. */
export function resampledLength(inputLength: number, fromRate: number, toRate: number): number {
  return Math.ceil(inputLength * (toRate / fromRate));
}

/** round(n * up / down) in exact integer arithmetic: how many samples soxr itself emits. */
function soxrOutputLength(inputLength: number, upFactor: number, downFactor: number): number {
  const numerator = 2 * inputLength * upFactor + downFactor;
  const denominator = 2 * downFactor;
  let quotient = Math.floor(numerator / denominator);
  // The float division can land one off for large operands; settle it on the integers.
  while (quotient * denominator > numerator) quotient--;
  while ((quotient + 1) * denominator <= numerator) quotient++;
  return quotient;
}

/**
 * The agreed asynchronous interface: the work may move off the main thread without callers
 * changing, and a bad rate arrives as a rejection like every other audio failure.
 */
export function resample(samples: Float32Array, fromRate: number, toRate: number): Promise<Float32Array> {
  return new Promise((resolve) => resolve(resampleSync(samples, fromRate, toRate)));
}

/**
 * resample, synchronously, for callers that already hold the samples in a tight loop. `design`
 * is the lowpass: soxr HQ unless the caller needs less (the speech detector does), since the
 * cost grows with its steepness and rejection.
 */
export function resampleSync(
  samples: Float32Array,
  fromRate: number,
  toRate: number,
  design: Readonly<LowpassDesign> = SOXR_HQ,
): Float32Array {
  checkRate(fromRate, fromRate, toRate);
  checkRate(toRate, fromRate, toRate);
  if (fromRate === toRate) return samples.slice();

  const filter = filterFor(fromRate, toRate, design);
  const { upFactor, downFactor, reach, taps, table } = filter;
  const inputLength = samples.length;
  const output = new Float32Array(resampledLength(inputLength, fromRate, toRate));
  const computed = Math.min(output.length, soxrOutputLength(inputLength, upFactor, downFactor));
  // Without a table, one row of weights is recomputed for every output sample.
  const weights = table ?? new Float64Array(taps);

  for (let j = 0; j < computed; j++) {
    const position = j * downFactor;
    const phase = position % upFactor;
    const anchor = (position - phase) / upFactor;
    const rowStart = table === undefined ? 0 : phase * taps;
    if (table === undefined) fillPhaseWeights(filter, phase, weights);
    const firstInput = anchor - reach + 1;
    const from = Math.max(0, firstInput);
    const to = Math.min(inputLength, firstInput + taps);
    const weightOffset = rowStart - firstInput;
    let sum = 0;
    for (let k = from; k < to; k++) {
      sum += (samples[k] as number) * (weights[k + weightOffset] as number);
    }
    output[j] = sum;
  }
  return output;
}
