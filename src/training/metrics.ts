import { EMOTIONS, type Emotion } from '../labels.js';

export interface ClassMetrics {
  precision: number;
  recall: number;
  f1: number;
  /** How many examples truly belong to the class. */
  support: number;
}

export interface ClassificationMetrics {
  count: number;
  accuracy: number;
  /** Unweighted average recall: the mean of per-class recalls over classes present in the data. */
  uar: number;
  macroF1: number;
  perClass: Record<Emotion, ClassMetrics>;
  /** confusion[true][predicted], in EMOTIONS order. */
  confusion: number[][];
  labels: readonly Emotion[];
}

/**
 * Accuracy, UAR, macro-F1, per-class precision/recall/F1 and the confusion matrix.
 * Classes absent from the true labels are left out of UAR and macro-F1 (their recall is
 * undefined), so evaluating on a corpus without, say, surprise does not drag the mean to 0.
 */
export function computeMetrics(
  truth: readonly number[] | Int32Array,
  predicted: readonly number[] | Int32Array,
): ClassificationMetrics {
  if (truth.length !== predicted.length) {
    throw new RangeError(
      `metrics need one prediction per label: ${truth.length} labels, ${predicted.length} predictions`,
    );
  }
  const size = EMOTIONS.length;
  const confusion = Array.from({ length: size }, () => new Array<number>(size).fill(0));
  let correct = 0;
  for (let i = 0; i < truth.length; i++) {
    const t = truth[i] as number;
    const p = predicted[i] as number;
    const row = confusion[t];
    if (!row || p < 0 || p >= size) {
      throw new RangeError(`class index out of range at ${i}: label ${t}, prediction ${p}`);
    }
    row[p] = (row[p] as number) + 1;
    if (t === p) correct++;
  }

  const perClass = {} as Record<Emotion, ClassMetrics>;
  const presentRecalls: number[] = [];
  const presentF1s: number[] = [];
  EMOTIONS.forEach((label, k) => {
    const truePositives = confusion[k]?.[k] ?? 0;
    const support = sum(confusion[k] ?? []);
    const predictedCount = sum(confusion.map((row) => row[k] ?? 0));
    const precision = predictedCount > 0 ? truePositives / predictedCount : 0;
    const recall = support > 0 ? truePositives / support : 0;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    perClass[label] = { precision, recall, f1, support };
    if (support > 0) {
      presentRecalls.push(recall);
      presentF1s.push(f1);
    }
  });

  return {
    count: truth.length,
    accuracy: truth.length > 0 ? correct / truth.length : 0,
    uar: mean(presentRecalls),
    macroF1: mean(presentF1s),
    perClass,
    confusion,
    labels: EMOTIONS,
  };
}

function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

function mean(values: readonly number[]): number {
  return values.length > 0 ? sum(values) / values.length : 0;
}
