import { ModelError } from '../../errors.js';
// Types only: the sections are measured by the training code, which the daemon never loads.
import type { CalibrationReport } from '../../training/calibrate.js';
import type { RecordedComparison } from '../../training/comparison.js';
import type { CrossValidationReport } from '../../training/cross-validation.js';
import type { SummaryRow } from '../../training/evaluate.js';
import type { ClassificationMetrics } from '../../training/metrics.js';
import type { SiteScore } from '../../training/site-adaptation.js';

/**
 * What a model directory's metadata records about how well its model does: one optional
 * section per command that measures it. The store (./store.ts) merges a command's sections
 * into those already recorded, so no command reads the others back to keep them.
 */
export interface ModelMetrics {
  /** Files, accuracy, UAR and macro-F1 per corpus's held-out files and over all test files (train, quantize --data). */
  summary?: Record<string, SummaryRow>;
  /** The saved model on its held-out test split (train, quantize --data). */
  test?: ClassificationMetrics;
  testByCorpus?: Record<string, ClassificationMetrics>;
  /** The temperature fitted on the validation split (train, calibrate; calibrate adds its command). */
  calibration?: CalibrationReport & { command?: string };
  /** The spread over every fold of the cross-validation this model is one fold of. */
  crossValidation?: CrossValidationSummary;
  /** Trained runs compared on their own splits, and which one this model is (compare --record). */
  comparison?: RecordedComparison;
  /** What storing the weights as uint8 or float16 cost, measured on the float model's held-out files. */
  quantization?: TfjsQuantization;
  /** The confidence and class priors fitted to one site's clips (adapt). */
  siteAdaptation?: SiteAdaptation;
}

export type CrossValidationSummary = { folds: number; fold: number; command: string } & CrossValidationReport['spread'];

export interface TfjsQuantization {
  command: string;
  dtype: string;
  testFiles: number;
  topOneAgreementWithFloat: number;
  floatAccuracy: number;
  quantizedAccuracy: number;
  sizeRatio: number;
}

export interface SiteAdaptation {
  command: string;
  /** The model directory the adapted copy was made from. */
  adaptedFrom: string;
  fitFiles: number;
  heldOutFiles: number;
  temperature: number;
  classBias: number[];
  heldOutBefore: SiteScore;
  heldOutAfter: SiteScore;
}

/** How the int8 ONNX file compares with the float32 one on the held-out split (`quantize --format onnx --data`). */
export interface OnnxQuantization {
  command: string;
  testFiles: number;
  topOneAgreementWithFloat: number;
  floatAccuracy: number;
  int8Accuracy: number;
  /** Per corpus, so the model can be checked on whichever of its corpora are at hand. */
  int8AccuracyByCorpus: Record<string, number>;
  floatBytes: number;
  int8Bytes: number;
  floatBatch1MedianMs: number;
  int8Batch1MedianMs: number;
  threads: number;
}

const SECTIONS: ReadonlyArray<keyof ModelMetrics> = [
  'summary',
  'test',
  'testByCorpus',
  'calibration',
  'crossValidation',
  'comparison',
  'quantization',
  'siteAdaptation',
];

/**
 * `metrics` of untrusted metadata: an object whose known sections are objects. Their fields
 * are read where they are used (the comparison by src/training/comparison.ts); the card
 * renders any shape, and sections this build does not know are kept as they are, so a
 * directory written by a newer build keeps them through a merge.
 */
export function parseModelMetrics(value: unknown, damaged: (field: string, expected: string, found: unknown) => ModelError): ModelMetrics {
  if (!isObject(value)) throw damaged('metrics', 'an object', value);
  for (const section of SECTIONS) {
    if (value[section] !== undefined && !isObject(value[section])) throw damaged(`metrics.${section}`, 'an object', value[section]);
  }
  return value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
