/**
 * Temperature scaling (Guo et al. 2017, "On Calibration of Modern Neural Networks"): one
 * scalar T divides the logits before the softmax, so the top class never changes but the
 * confidence the daemon thresholds on comes to match how often the model is right.
 *
 * The model's last layer is a softmax, so it hands out probabilities, not logits. log p
 * equals the logits up to a per-row constant, which the softmax cancels:
 * softmax(log p / T) = softmax(z / T).
 */

/** Temperatures outside this range mean a broken fit or a broken model, not a calibration. */
export const TEMPERATURE_RANGE = { min: 0.05, max: 20 } as const;

/** Guo et al.'s bin count for the expected calibration error. */
export const DEFAULT_ECE_BINS = 15;

/**
 * A float32 softmax rounds probabilities below ~1e-45 to 0; their log is -Infinity, which a
 * temperature cannot scale. Flooring keeps every row finite at a negligible distortion.
 */
const PROBABILITY_FLOOR = 1e-30;

/** softmax(log p / T) of one row of probabilities; T = 1 returns the row unchanged. */
export function applyTemperature(row: ArrayLike<number>, temperature: number): Float64Array {
  return applyCalibration(row, temperature);
}

/**
 * softmax(log p / T + b): temperature scaling, then a per-class bias (a site adaptation's
 * prior shift, see src/training/site-adaptation.ts). T = 1 and no bias return the row unchanged.
 */
export function applyCalibration(row: ArrayLike<number>, temperature: number, classBias?: readonly number[]): Float64Array {
  const out = Float64Array.from(row);
  if (temperature === 1 && classBias === undefined) return out;
  let max = -Infinity;
  for (let i = 0; i < out.length; i++) {
    out[i] = Math.log(Math.max(out[i] as number, PROBABILITY_FLOOR)) / temperature + (classBias?.[i] ?? 0);
    max = Math.max(max, out[i] as number);
  }
  let total = 0;
  for (let i = 0; i < out.length; i++) {
    out[i] = Math.exp((out[i] as number) - max);
    total += out[i] as number;
  }
  for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) / total;
  return out;
}

/** Mean negative log-likelihood of the true classes after scaling by `temperature`. */
export function negativeLogLikelihood(
  rows: readonly ArrayLike<number>[],
  labels: ArrayLike<number>,
  temperature: number,
): number {
  checkRows(rows, labels);
  let total = 0;
  rows.forEach((row, index) => {
    const scaled = applyTemperature(row, temperature);
    total -= Math.log(Math.max(scaled[labels[index] as number] as number, PROBABILITY_FLOOR));
  });
  return rows.length > 0 ? total / rows.length : 0;
}

export interface TemperatureFit {
  temperature: number;
  nllBefore: number;
  nllAfter: number;
}

/**
 * The temperature that minimises the negative log-likelihood of `labels`, found by a
 * golden-section search over log T. The NLL is convex in 1/T, so it has one minimum on the
 * range and the search cannot be trapped.
 */
export function fitTemperature(rows: readonly ArrayLike<number>[], labels: ArrayLike<number>): TemperatureFit {
  checkRows(rows, labels);
  if (rows.length === 0) {
    throw new RangeError('temperature scaling needs at least one validation example; the validation split is empty');
  }
  const nllAt = (logT: number) => negativeLogLikelihood(rows, labels, Math.exp(logT));
  const ratio = (Math.sqrt(5) - 1) / 2;
  let low = Math.log(TEMPERATURE_RANGE.min);
  let high = Math.log(TEMPERATURE_RANGE.max);
  let left = high - ratio * (high - low);
  let right = low + ratio * (high - low);
  let leftNll = nllAt(left);
  let rightNll = nllAt(right);
  while (high - low > 1e-6) {
    if (leftNll <= rightNll) {
      high = right;
      right = left;
      rightNll = leftNll;
      left = high - ratio * (high - low);
      leftNll = nllAt(left);
    } else {
      low = left;
      left = right;
      leftNll = rightNll;
      right = low + ratio * (high - low);
      rightNll = nllAt(right);
    }
  }
  const temperature = Math.exp((low + high) / 2);
  return {
    temperature,
    nllBefore: negativeLogLikelihood(rows, labels, 1),
    nllAfter: negativeLogLikelihood(rows, labels, temperature),
  };
}

export interface ReliabilityBin {
  /** Confidences in (lower, upper]; the first bin also takes exactly 0. */
  lower: number;
  upper: number;
  count: number;
  /** Mean top-1 confidence of the bin's examples (0 when empty). */
  confidence: number;
  /** Share of the bin's examples whose top class is right (0 when empty). */
  accuracy: number;
}

export interface CalibrationError {
  /** Expected calibration error: the count-weighted mean gap between confidence and accuracy. */
  ece: number;
  /** The largest gap over non-empty bins. */
  mce: number;
  bins: ReliabilityBin[];
}

/** ECE and the reliability diagram's bins, with equal-width confidence bins. */
export function calibrationError(
  rows: readonly ArrayLike<number>[],
  labels: ArrayLike<number>,
  binCount: number = DEFAULT_ECE_BINS,
): CalibrationError {
  checkRows(rows, labels);
  if (!Number.isInteger(binCount) || binCount < 1) {
    throw new RangeError(`the calibration error needs a whole number of bins >= 1; got ${binCount}`);
  }
  const sums = Array.from({ length: binCount }, () => ({ count: 0, confidence: 0, correct: 0 }));
  rows.forEach((row, index) => {
    let best = 0;
    for (let k = 1; k < row.length; k++) if ((row[k] as number) > (row[best] as number)) best = k;
    const confidence = row[best] as number;
    const bin = sums[Math.min(binCount - 1, Math.max(0, Math.ceil(confidence * binCount) - 1))];
    if (bin === undefined) return;
    bin.count += 1;
    bin.confidence += confidence;
    if (best === labels[index]) bin.correct += 1;
  });
  const bins = sums.map((sum, index): ReliabilityBin => ({
    lower: index / binCount,
    upper: (index + 1) / binCount,
    count: sum.count,
    confidence: sum.count > 0 ? sum.confidence / sum.count : 0,
    accuracy: sum.count > 0 ? sum.correct / sum.count : 0,
  }));
  let ece = 0;
  let mce = 0;
  for (const bin of bins) {
    if (bin.count === 0) continue;
    const gap = Math.abs(bin.accuracy - bin.confidence);
    ece += (bin.count / rows.length) * gap;
    mce = Math.max(mce, gap);
  }
  return { ece, mce, bins };
}

function checkRows(rows: readonly ArrayLike<number>[], labels: ArrayLike<number>): void {
  if (rows.length !== labels.length) {
    throw new RangeError(`calibration needs one label per row of probabilities: ${rows.length} rows, ${labels.length} labels`);
  }
}
