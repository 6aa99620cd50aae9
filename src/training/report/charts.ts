import { parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { EMOTIONS } from '../../labels.js';
import { type ReliabilityBin } from '../../model/runtime/calibration.js';
import { type ClassificationMetrics } from '../metrics.js';
import { type EpochLog } from '../trainer.js';

/** Chart colours: colour-blind-safe (Okabe-Ito), the same series colour in every chart. */
const SERIES = { training: '#0072B2', validation: '#E69F00', precision: '#0072B2', recall: '#E69F00', f1: '#009E73' };
const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
/** The look every report chart shares (the evaluation report's and the classify timeline's). */
export const BASE_CONFIG = {
  font: FONT,
  background: 'white',
  view: { stroke: null },
  axis: { labelFontSize: 12, titleFontSize: 13, grid: true, gridColor: '#eee' },
  legend: { labelFontSize: 12, titleFontSize: 12 },
  title: { fontSize: 15, anchor: 'start' as const },
};

/**
 * Renders a Vega-Lite spec to a standalone SVG string in Node, without a browser or canvas
 * (Vega's headless renderer), so a report embeds finished charts and loads nothing.
 */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new View(parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Confusion matrix heat map: each cell's count and its share of the true class's row. */
export function confusionMatrixSpec(metrics: ClassificationMetrics): TopLevelSpec {
  const cells = EMOTIONS.flatMap((truth, t) => {
    const row = metrics.confusion[t] ?? [];
    const total = row.reduce((a, b) => a + b, 0);
    return EMOTIONS.map((predicted, p) => {
      const count = row[p] ?? 0;
      const share = total > 0 ? count / total : 0;
      return { truth, predicted, count, share, label: `${count}\n${(share * 100).toFixed(0)}%` };
    });
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'Confusion matrix', subtitle: 'count and share of the true class (row %)' },
    data: { values: cells },
    width: 420,
    height: 420,
    encoding: {
      x: { field: 'predicted', type: 'nominal', sort: [...EMOTIONS], title: 'predicted emotion', axis: { labelAngle: -35, grid: false } },
      y: { field: 'truth', type: 'nominal', sort: [...EMOTIONS], title: 'true emotion', axis: { grid: false } },
    },
    layer: [
      {
        mark: { type: 'rect', stroke: 'white', strokeWidth: 1 },
        encoding: {
          color: {
            field: 'share',
            type: 'quantitative',
            scale: { scheme: 'blues', domain: [0, 1] },
            legend: { title: 'row share', format: '.0%' },
          },
        },
      },
      {
        mark: { type: 'text', lineBreak: '\n', fontSize: 11 },
        encoding: {
          text: { field: 'label', type: 'nominal' },
          color: { condition: { test: 'datum.share > 0.5', value: 'white' }, value: '#222' },
        },
      },
    ],
    config: BASE_CONFIG,
  };
}

/** Precision, recall and F1 of every class as grouped bars, support in the tooltip-free labels. */
export function perClassSpec(metrics: ClassificationMetrics): TopLevelSpec {
  const values = EMOTIONS.flatMap((emotion) => {
    const m = metrics.perClass[emotion];
    const name = `${emotion} (${m.support})`;
    return [
      { emotion: name, measure: 'precision', value: m.precision },
      { emotion: name, measure: 'recall', value: m.recall },
      { emotion: name, measure: 'f1', value: m.f1 },
    ];
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'Per-class precision, recall and F1', subtitle: 'support (true files) in brackets' },
    data: { values },
    width: 560,
    height: 260,
    mark: { type: 'bar' },
    encoding: {
      x: { field: 'emotion', type: 'nominal', title: null, axis: { labelAngle: -30, grid: false } },
      xOffset: { field: 'measure', sort: ['precision', 'recall', 'f1'] },
      y: { field: 'value', type: 'quantitative', scale: { domain: [0, 1] }, axis: { format: '.0%' }, title: null },
      color: {
        field: 'measure',
        type: 'nominal',
        sort: ['precision', 'recall', 'f1'],
        scale: { domain: ['precision', 'recall', 'f1'], range: [SERIES.precision, SERIES.recall, SERIES.f1] },
        title: null,
      },
    },
    config: BASE_CONFIG,
  };
}

/**
 * Training and validation loss and accuracy per epoch, with a dashed rule and a label at
 * each epoch that trained with a lower learning rate than the one before (ReduceLROnPlateau).
 */
export function learningCurvesSpec(history: readonly EpochLog[]): TopLevelSpec {
  const points = history.flatMap((log) => [
    { epoch: log.epoch, measure: 'loss', split: 'training', value: log.loss },
    { epoch: log.epoch, measure: 'loss', split: 'validation', value: log.valLoss },
    { epoch: log.epoch, measure: 'accuracy', split: 'training', value: log.accuracy },
    { epoch: log.epoch, measure: 'accuracy', split: 'validation', value: log.valAccuracy },
  ]);
  const steps = history.flatMap((log, index) => {
    const before = history[index - 1];
    return before !== undefined && log.learningRate < before.learningRate
      ? [{ epoch: log.epoch, label: `lr ${log.learningRate.toExponential(1)}` }]
      : [];
  });
  const panel = (measure: 'loss' | 'accuracy') => ({
    width: 560,
    height: 200,
    layer: [
      {
        data: { values: points.filter((point) => point.measure === measure) },
        mark: { type: 'line' as const, point: { size: 18 } },
        encoding: {
          x: { field: 'epoch', type: 'quantitative' as const, title: 'epoch', axis: { tickMinStep: 1 } },
          y: {
            field: 'value',
            type: 'quantitative' as const,
            title: measure,
            ...(measure === 'accuracy' ? { scale: { domain: [0, 1] }, axis: { format: '.0%' } } : {}),
          },
          color: {
            field: 'split',
            type: 'nominal' as const,
            scale: { domain: ['training', 'validation'], range: [SERIES.training, SERIES.validation] },
            title: null,
          },
        },
      },
      {
        data: { values: steps },
        mark: { type: 'rule' as const, strokeDash: [4, 3], color: '#888' },
        encoding: { x: { field: 'epoch', type: 'quantitative' as const } },
      },
      {
        data: { values: steps },
        mark: { type: 'text' as const, align: 'left' as const, baseline: 'top' as const, dx: 3, dy: 2, y: 0, fontSize: 10, color: '#555' },
        encoding: { x: { field: 'epoch', type: 'quantitative' as const }, text: { field: 'label', type: 'nominal' as const } },
      },
    ],
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'Training curves', subtitle: 'dashed lines: learning-rate reductions' },
    vconcat: [panel('loss'), panel('accuracy')],
    resolve: { scale: { color: 'shared' } },
    config: BASE_CONFIG,
  };
}

/**
 * Reliability diagram: per confidence bin, how often the top class was right, against the
 * diagonal a perfectly calibrated model would follow.
 */
export function reliabilitySpec(bins: readonly ReliabilityBin[]): TopLevelSpec {
  const filled = bins.filter((bin) => bin.count > 0);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'Reliability', subtitle: 'accuracy per confidence bin; the diagonal is perfect calibration' },
    width: 360,
    height: 300,
    layer: [
      {
        data: { values: filled },
        transform: [{ calculate: '0', as: 'floor' }],
        mark: { type: 'rect', color: SERIES.training, opacity: 0.8, stroke: 'white' },
        encoding: {
          x: { field: 'lower', type: 'quantitative', scale: { domain: [0, 1] }, title: 'confidence', axis: { format: '.0%' } },
          x2: { field: 'upper' },
          y: { field: 'accuracy', type: 'quantitative', scale: { domain: [0, 1] }, title: 'accuracy', axis: { format: '.0%' } },
          y2: { field: 'floor' },
        },
      },
      {
        data: { values: [{ x: 0, y: 0 }, { x: 1, y: 1 }] },
        mark: { type: 'line', strokeDash: [4, 3], color: '#888' },
        encoding: {
          x: { field: 'x', type: 'quantitative' },
          y: { field: 'y', type: 'quantitative', scale: { domain: [0, 1] }, title: 'accuracy', axis: { format: '.0%' } },
        },
      },
      {
        data: { values: filled },
        mark: { type: 'text', baseline: 'bottom', dy: -2, fontSize: 9, color: '#555' },
        encoding: {
          x: { field: 'middle', type: 'quantitative' },
          y: { field: 'accuracy', type: 'quantitative' },
          text: { field: 'count', type: 'quantitative' },
        },
        transform: [{ calculate: '(datum.lower + datum.upper) / 2', as: 'middle' }],
      },
    ],
    config: BASE_CONFIG,
  };
}
