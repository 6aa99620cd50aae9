import { EMOTIONS } from '../labels.js';
import { type Spread } from '../training/cross-validation.js';
import { type ClassificationMetrics } from '../training/metrics.js';
import { formatTable } from './table.js';

/** A fraction as a percentage with one decimal, as every command prints accuracies and rates. */
export const percent = (value: number): string => `${(value * 100).toFixed(1)}%`;

/** A spread over folds: `56.4% ± 2.1% (53.0%-59.8%)`, mean ± standard deviation (range). */
export const percentSpread = ({ mean, std, min, max }: Spread): string =>
  `${percent(mean)} ± ${percent(std)} (${percent(min)}-${percent(max)})`;

/** Metrics as a person reads them: the headline numbers, per-class table, confusion matrix. */
export function describeMetrics(title: string, metrics: ClassificationMetrics): string[] {
  const perClass = formatTable(
    ['class', 'precision', 'recall', 'f1', 'support'],
    EMOTIONS.map((label) => {
      const m = metrics.perClass[label];
      return [label, m.precision.toFixed(3), m.recall.toFixed(3), m.f1.toFixed(3), String(m.support)];
    }),
  );
  const confusion = formatTable(
    ['true \\ predicted', ...EMOTIONS.map((label) => label.slice(0, 5))],
    EMOTIONS.map((label, k) => [label, ...(metrics.confusion[k] ?? []).map(String)]),
  );
  return [
    `${title}: ${metrics.count} files, accuracy ${percent(metrics.accuracy)}, ` +
      `UAR ${percent(metrics.uar)}, macro-F1 ${percent(metrics.macroF1)}`,
    ...perClass,
    '',
    ...confusion,
    '',
  ];
}
