import { DatasetError } from '../errors.js';
import { EMOTIONS } from '../labels.js';
import { applyCalibration, calibrationError, TEMPERATURE_RANGE } from '../model/runtime/calibration.js';
import { CLASS_BIAS_LIMIT } from '../model/artifact/metadata.js';
import { type LabelledFile } from './datasets.js';
import { computeMetrics } from './metrics.js';
import { createRandom, shuffledIndices } from './random.js';

/**
 * Adapting a model to one site from a few labelled clips recorded there: only what is cheap
 * and safe. The network's weights stay as they are; a temperature T and a bias per class are
 * fitted on top of its outputs, softmax(log p / T + b). The bias moves the model's priors to
 * the site's (a room or a microphone that makes everyone sound "sad" shifts one logit), T its
 * confidence. Eight numbers cannot over-fit ten clips a class the way a retrained layer would,
 * and the original model is kept, so an adaptation can always be undone.
 */
export interface SiteFit {
  temperature: number;
  classBias: number[];
  nllBefore: number;
  nllAfter: number;
}

/**
 * The L2 pull of the biases towards 0: a class with no clips at the site is left nearly
 * where it was instead of being driven towards -∞ by the clips of the other classes.
 */
const BIAS_PENALTY = 0.01;
const STEPS = 3000;
const LEARNING_RATE = 0.05;

/** Mean NLL of softmax(a · log p + b), and the gradient in (a, b) of that NLL plus the bias penalty. */
function objective(logs: readonly Float64Array[], labels: ArrayLike<number>, a: number, bias: Float64Array) {
  const classes = bias.length;
  let loss = 0;
  let gradA = 0;
  const gradB = new Float64Array(classes);
  const z = new Float64Array(classes);
  logs.forEach((row, index) => {
    let max = -Infinity;
    for (let k = 0; k < classes; k++) {
      z[k] = a * (row[k] as number) + (bias[k] as number);
      max = Math.max(max, z[k] as number);
    }
    let total = 0;
    for (let k = 0; k < classes; k++) total += Math.exp((z[k] as number) - max);
    const label = labels[index] as number;
    loss -= (z[label] as number) - max - Math.log(total);
    for (let k = 0; k < classes; k++) {
      const residual = Math.exp((z[k] as number) - max) / total - (k === label ? 1 : 0);
      gradA += residual * (row[k] as number);
      gradB[k] = (gradB[k] as number) + residual;
    }
  });
  const n = logs.length;
  for (let k = 0; k < classes; k++) gradB[k] = (gradB[k] as number) / n + 2 * BIAS_PENALTY * (bias[k] as number);
  return { nll: loss / n, gradA: gradA / n, gradB };
}

/**
 * Fits T and the class biases to `rows` (the model's uncalibrated probabilities) by Adam on
 * the penalised NLL, which is convex in (1/T, b): any descent reaches the one minimum.
 */
export function fitSiteAdaptation(rows: readonly ArrayLike<number>[], labels: ArrayLike<number>): SiteFit {
  if (rows.length === 0) throw new DatasetError('site adaptation needs labelled clips to fit on; none were given');
  const logs = rows.map((row) => Float64Array.from(row, (p) => Math.log(Math.max(p, 1e-30))));
  const classes = logs[0]?.length ?? 0;
  const params = new Float64Array(classes + 1);
  params[0] = 1;
  const moments = { first: new Float64Array(classes + 1), second: new Float64Array(classes + 1) };
  const nllBefore = objective(logs, labels, 1, new Float64Array(classes)).nll;
  for (let step = 1; step <= STEPS; step++) {
    const { gradA, gradB } = objective(logs, labels, params[0], params.subarray(1));
    const grad = [gradA, ...gradB];
    for (let i = 0; i < params.length; i++) {
      moments.first[i] = 0.9 * (moments.first[i] as number) + 0.1 * (grad[i] as number);
      moments.second[i] = 0.999 * (moments.second[i] as number) + 0.001 * (grad[i] as number) ** 2;
      const m = (moments.first[i] as number) / (1 - 0.9 ** step);
      const v = (moments.second[i] as number) / (1 - 0.999 ** step);
      params[i] = (params[i] as number) - (LEARNING_RATE * m) / (Math.sqrt(v) + 1e-9);
    }
    params[0] = Math.min(1 / TEMPERATURE_RANGE.min, Math.max(1 / TEMPERATURE_RANGE.max, params[0]));
    for (let k = 1; k <= classes; k++) params[k] = Math.max(-CLASS_BIAS_LIMIT, Math.min(CLASS_BIAS_LIMIT, params[k] as number));
  }
  const nllAfter = objective(logs, labels, params[0], params.subarray(1)).nll;
  return { temperature: 1 / params[0], classBias: Array.from(params.subarray(1)), nllBefore, nllAfter };
}

/**
 * The network's own probabilities from a calibrated model's output: softmax(log q - b) · T
 * undoes softmax(log p / T + b) up to the softmax's constant, so an adapted model can be
 * adapted again from scratch rather than on top of an earlier site's fit.
 */
export function uncalibrate(row: ArrayLike<number>, temperature: number, classBias: readonly number[] | undefined): Float64Array {
  const negated = classBias?.map((b) => -b);
  return applyCalibration(applyCalibration(row, 1, negated), 1 / temperature);
}

/** The clips given, split by class into those fitted on and those held out to measure the fit. */
export function splitSiteClips(
  files: readonly LabelledFile[],
  holdoutFraction: number,
  seed: number,
): { fit: LabelledFile[]; heldOut: LabelledFile[] } {
  const random = createRandom(seed);
  const fit: LabelledFile[] = [];
  const heldOut: LabelledFile[] = [];
  const short: string[] = [];
  for (const label of EMOTIONS) {
    const members = files.filter((file) => file.label === label);
    if (members.length === 0) continue;
    if (members.length < 2) short.push(`${label} (${members.length})`);
    const order = shuffledIndices(members.length, random);
    const held = Math.max(1, Math.round(members.length * holdoutFraction));
    order.forEach((index, position) => (position < held ? heldOut : fit).push(members[index] as LabelledFile));
  }
  if (short.length > 0) {
    throw new DatasetError(
      `site adaptation needs at least 2 clips of each class given, one to fit and one to check; ` +
        `too few for ${short.join(', ')}: record more, or leave that class out`,
    );
  }
  return { fit, heldOut };
}

/** How a model does on labelled clips: what `adapt` reports before and after. */
export interface SiteScore {
  files: number;
  accuracy: number;
  uar: number;
  ece: number;
}

export function scoreSite(rows: readonly Float64Array[], labels: Int32Array): SiteScore {
  const predicted = Int32Array.from(rows, (row) => row.indexOf(Math.max(...row)));
  const metrics = computeMetrics(labels, predicted);
  return { files: rows.length, accuracy: metrics.accuracy, uar: metrics.uar, ece: calibrationError(rows, labels).ece };
}
