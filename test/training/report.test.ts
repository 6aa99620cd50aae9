import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMOTIONS } from '../../src/labels.js';
import { calibrationError } from '../../src/model/runtime/calibration.js';
import { computeMetrics } from '../../src/training/metrics.js';
import {
  renderEvaluationReport,
  writeEvaluationReport,
  type EvaluationReportInput,
} from '../../src/training/report/html-report.js';
import { type EpochLog } from '../../src/training/trainer.js';
import { countDrawn, openInChromium, textLines, type OpenedPage } from '../helpers/chromium.js';
import { scratchDir } from '../model/seed-model-fixture.js';

// 7 classes × 10 files; class k is right for 10 - k files, the rest predicted as class 0
// (anger's own row is all right).
const truth = EMOTIONS.flatMap((_, k) => Array.from({ length: 10 }, () => k));
const predicted = truth.map((k, i) => (i % 10 < 10 - k ? k : 0));
const metrics = computeMetrics(truth, predicted);
const rows = truth.map((k, i) => {
  const row = new Float64Array(7).fill(0.05);
  row[predicted[i] as number] = 0.7;
  return row;
});
const history: EpochLog[] = [1e-3, 1e-3, 5e-4, 5e-4, 2.5e-4, 2.5e-4].map((learningRate, index) => ({
  epoch: index + 1,
  loss: 2 - index * 0.2,
  accuracy: 0.3 + index * 0.1,
  valLoss: 2.1 - index * 0.15,
  valAccuracy: 0.25 + index * 0.1,
  learningRate,
  seconds: 1,
}));

function input(overrides: Partial<EvaluationReportInput> = {}): EvaluationReportInput {
  const calibration = calibrationError(rows, truth);
  return {
    title: 'ser-test 0.0.1',
    subject: 'Held-out test split',
    metrics,
    rows: [{ name: 'held-out speakers ravdess:17 (speaker-independent)', metrics }],
    calibration: { ece: calibration.ece, temperature: 1.5, bins: calibration.bins },
    history,
    settings: [
      ['training command', 'ser-agent train --data x <script>alert(1)</script>'],
      ['seed', '42'],
    ],
    generated: new Date('2026-01-02T03:04:05Z'),
    ...overrides,
  };
}

describe('the HTML report', () => {
  it('is self-contained: no scripts, no stylesheets or images from elsewhere, settings escaped', async () => {
    const html = await renderEvaluationReport(input());
    expect(html).not.toMatch(/<script|<link|<img|<iframe/i);
    expect(html.match(/(?:src|href)=/gi) ?? []).toEqual([]);
    // The only URLs are XML namespace names inside the SVG, which are never fetched.
    expect(new Set(html.match(/https?:\/\/[^"\s)]+/g))).toEqual(
      new Set(['http://www.w3.org/2000/svg', 'http://www.w3.org/1999/xlink']),
    );
    expect(html).toContain('&#60;script&#62;alert(1)&#60;/script&#62;');
  });

  it('leaves the training curves out for a model without a training history', async () => {
    const html = await renderEvaluationReport({ ...input(), history: [] });
    expect(html).not.toContain('id="learning-curves"');
    expect(html).toContain('id="confusion"');
  });
});

describe('the HTML report in headless Chromium', () => {
  let scratch: Awaited<ReturnType<typeof scratchDir>>;
  let file: string;
  let opened: OpenedPage;

  beforeAll(async () => {
    scratch = await scratchDir();
    file = await writeEvaluationReport(path.join(scratch.dir, 'report'), input());
    opened = await openInChromium(file);
  });

  afterAll(async () => {
    await opened?.close();
    await scratch.cleanup();
  });

  const count = (selector: string) => opened.page.locator(selector).count();
  /** Marks drawn with a visible area: Chromium laid them out, not just parsed them. */
  const visible = (selector: string) => countDrawn(opened.page, selector);
  const texts = (selector: string) => textLines(opened.page, selector);

  it('loads nothing but the file itself and logs no errors', async () => {
    expect(await readFile(file, 'utf8')).toContain('<svg');
    expect(opened.errors).toEqual([]);
    expect(opened.requests).toHaveLength(1);
    expect(opened.requests[0]).toMatch(/^file:\/\/.*index\.html$/);
    expect(await count('script')).toBe(0);
  });

  it('draws the confusion matrix as 49 cells with their counts and row shares', async () => {
    expect(await visible('#confusion g.mark-rect.role-mark > path')).toBe(49);
    const labels = await texts('#confusion g.mark-text.role-mark > text');
    expect(labels).toHaveLength(49);
    // Row "surprise" (k = 6): 4 right, 6 predicted as anger.
    expect(labels).toContain('6 60%');
    expect(labels).toContain('4 40%');
    const axisTitles = await texts('#confusion .role-axis-title text');
    expect(axisTitles).toEqual(expect.arrayContaining(['true emotion', 'predicted emotion']));
  });

  it('draws 21 per-class bars, one per class and measure', async () => {
    expect(await visible('#per-class g.mark-rect.role-mark > path')).toBe(
      EMOTIONS.flatMap((e) => [metrics.perClass[e].precision, metrics.perClass[e].recall, metrics.perClass[e].f1]).filter(
        (value) => value > 0,
      ).length,
    );
    const legend = await texts('#per-class .role-legend-label text');
    expect(legend).toEqual(['precision', 'recall', 'f1']);
  });

  it('draws loss and accuracy curves for training and validation, with the learning-rate steps marked', async () => {
    expect(await visible('#learning-curves g.mark-line.role-mark > path')).toBe(4);
    // Two reductions (epochs 3 and 5), marked in both panels.
    expect(await count('#learning-curves g.mark-rule.role-mark > line')).toBe(4);
    const stepLabels = await texts('#learning-curves g.mark-text.role-mark > text');
    expect(stepLabels).toEqual(['lr 5.0e-4', 'lr 2.5e-4', 'lr 5.0e-4', 'lr 2.5e-4']);
    const axisTitles = await texts('#learning-curves .role-axis-title text');
    expect(axisTitles).toEqual(expect.arrayContaining(['epoch', 'loss', 'accuracy']));
  });

  it('draws the reliability diagram with one bar per non-empty confidence bin', async () => {
    expect(await visible('#reliability g.mark-rect.role-mark > path')).toBe(1);
    expect(await opened.page.locator('.headline').textContent()).toContain('ECE');
  });
});
