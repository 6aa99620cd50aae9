import { ModelError } from '../errors.js';
import {
  applyTemperature,
  calibrationError,
  DEFAULT_ECE_BINS,
  fitTemperature,
  TEMPERATURE_RANGE,
  type ReliabilityBin,
} from '../model/runtime/calibration.js';
import { type LabelledFile } from './datasets.js';

/** The probabilities a model gave a set of files, and the files' true classes. */
export interface ScoredSet {
  files: readonly LabelledFile[];
  labels: ArrayLike<number>;
  /** One row per file, in EMOTIONS order, as the model currently outputs them. */
  probabilities: readonly Float64Array[];
}

export interface EceChange {
  files: number;
  eceBefore: number;
  eceAfter: number;
}

/** What one calibration did; stored as `metrics.calibration` in the model's metadata. */
export interface CalibrationReport {
  temperature: number;
  /** The temperature the model had before (1 for a model never calibrated); "before" figures are at T = 1 whatever it was. */
  previousTemperature: number;
  method: string;
  eceBins: number;
  /** Fitted on the validation split (its held-out speakers' files, if it has them): NLL before and after. */
  validation: { files: number; speakers?: string[]; nllBefore: number; nllAfter: number };
  /** ECE on the speakers held out of training whole, the conditions the daemon meets. */
  heldOutSpeakers?: EceChange & { speakers: string[] };
  /** ECE on every held-out test file. */
  test: EceChange;
}

export interface CalibrationResult {
  report: CalibrationReport;
  /** Reliability diagrams of the held-out test files, before and after. */
  reliability: { before: ReliabilityBin[]; after: ReliabilityBin[] };
}

/**
 * Fewest validation files of held-out speakers to fit on; below it the whole validation split
 * is used, as one scalar fitted on a few dozen clips would follow their noise.
 */
export const MIN_SPEAKER_FIT_FILES = 50;

/**
 * Fits temperature scaling on the validation split and measures the expected calibration
 * error on the test split before and after. The probabilities carry the model's current
 * temperature T0; softmax(log p / T) composes, so scaling them by 1/T0 recovers the model's
 * uncalibrated output. The fit starts from there, so "before" always means uncalibrated
 * (T = 1): recalibrating a calibrated model would otherwise report before and after as equal
 * and hide what calibration does.
 *
 * When whole speakers were held out for validation, T is fitted on their files alone: the
 * daemon meets voices it never heard, and a model is more sure of itself on the other
 * validation files (other takes of voices it trained on). Fitted on those, a label-smoothed
 * model's temperature went below 1 and made the ECE on new voices worse (21.1% → 22.4%).
 */
export function calibrate(
  validation: ScoredSet,
  test: ScoredSet,
  heldOutSpeakers: readonly string[],
  previousTemperature: number,
  validationSpeakers: readonly string[] = [],
): CalibrationResult {
  const uncalibrated = (rows: readonly Float64Array[]) =>
    rows.map((row) => applyTemperature(row, 1 / previousTemperature));
  const validationRows = uncalibrated(validation.probabilities);
  const testRows = uncalibrated(test.probabilities);
  const fitSpeakers = new Set(validationSpeakers);
  const speakerRows = validation.files.flatMap((file, row) => (fitSpeakers.has(file.speaker) ? [row] : []));
  const bySpeaker = speakerRows.length >= MIN_SPEAKER_FIT_FILES;
  const fitRows = bySpeaker ? speakerRows : validation.files.map((_, row) => row);
  const { temperature, nllBefore, nllAfter } = fitTemperature(
    fitRows.map((row) => validationRows[row] as Float64Array),
    fitRows.map((row) => validation.labels[row] as number),
  );
  if (!(temperature >= TEMPERATURE_RANGE.min && temperature <= TEMPERATURE_RANGE.max)) {
    throw new ModelError(
      `the fitted softmax temperature ${temperature.toPrecision(4)} is outside ${TEMPERATURE_RANGE.min}-${TEMPERATURE_RANGE.max}; ` +
        'the validation split is too small or the model is broken: calibrate on more validation files',
    );
  }
  const scaled = testRows.map((row) => applyTemperature(row, temperature));
  const change = (rows: number[]): EceChange => ({
    files: rows.length,
    eceBefore: calibrationError(
      rows.map((row) => testRows[row] as Float64Array),
      rows.map((row) => test.labels[row] as number),
    ).ece,
    eceAfter: calibrationError(
      rows.map((row) => scaled[row] as Float64Array),
      rows.map((row) => test.labels[row] as number),
    ).ece,
  });
  const speakers = new Set(heldOutSpeakers);
  const heldOutRows = test.files.flatMap((file, row) => (speakers.has(file.speaker) ? [row] : []));
  const allRows = test.files.map((_, row) => row);
  return {
    report: {
      temperature,
      previousTemperature,
      method:
        'temperature scaling fitted by minimising the NLL on the validation split' +
        (bySpeaker ? "'s held-out speakers" : '') +
        '; ECE with equal-width confidence bins, before = uncalibrated (T = 1)',
      eceBins: DEFAULT_ECE_BINS,
      validation: {
        files: fitRows.length,
        ...(bySpeaker ? { speakers: [...validationSpeakers] } : {}),
        nllBefore,
        nllAfter,
      },
      ...(heldOutRows.length > 0 ? { heldOutSpeakers: { speakers: [...heldOutSpeakers], ...change(heldOutRows) } } : {}),
      test: change(allRows),
    },
    reliability: {
      before: calibrationError(testRows, test.labels).bins,
      after: calibrationError(scaled, test.labels).bins,
    },
  };
}
