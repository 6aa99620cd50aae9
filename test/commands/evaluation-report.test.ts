import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countDrawn, openInChromium } from '../helpers/chromium.js';
import { DATASETS_DIR } from '../helpers/golden.js';
import { runSerAgent } from '../helpers/cli.js';
import { scratchDir } from '../model/seed-model-fixture.js';

/**
 * Honest evaluation end to end on a small subset, through the real executable: a speaker-
 * split training run (the default) with calibration, `evaluate --report` opened in headless
 * Chromium, `calibrate` on the saved model, and 2-fold cross-validation by speaker.
 */
let work: { dir: string; cleanup: () => Promise<void> };
let env: Record<string, string>;
const ravdess = path.join(DATASETS_DIR, 'ravdess');
const tess = path.join(DATASETS_DIR, 'tess');
const data = ['--data', ravdess, '--data', tess];
const SMALL = ['--limit-per-class', '6', '--epochs', '2', '--seed', '3'];

interface SavedMetadata {
  temperature?: number;
  training: { split: { strategy: string; testSpeakers: string[] }; counts: Record<string, number> };
  metrics: {
    test: { count: number };
    calibration: {
      temperature: number;
      previousTemperature: number;
      validation: { files: number; nllBefore: number; nllAfter: number };
      heldOutSpeakers: { speakers: string[]; files: number; eceBefore: number; eceAfter: number };
      test: { files: number; eceAfter: number };
    };
    crossValidation?: { folds: number; fold: number; speakerIndependentUar: { mean: number; std: number } };
  };
}

const readMetadata = async (dir: string) =>
  JSON.parse(await readFile(path.join(dir, 'metadata.json'), 'utf8')) as SavedMetadata;

beforeAll(async () => {
  work = await scratchDir();
  env = { SER_CACHE_DIR: path.join(work.dir, 'cache') };
});

afterAll(async () => {
  await work.cleanup();
});

describe('honest evaluation on a small subset', () => {
  it('trains on a speaker split by default, reports the held-out speakers and calibrates the confidence', async () => {
    const out = path.join(work.dir, 'model');
    const result = await runSerAgent(['train', ...data, ...SMALL, '--out', out], env);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(
      /^speaker-independent \(held-out speakers ravdess:17,ravdess:18,ravdess:19,ravdess:20\): \d+ files, accuracy [\d.]+%, UAR [\d.]+%$/m,
    );
    expect(result.stdout).toMatch(/^calibration: temperature 1\.000 → [\d.]+, fitted on \d+ validation files/m);
    expect(result.stdout).toMatch(/^ECE on held-out speakers ravdess:17,ravdess:18,ravdess:19,ravdess:20 \(\d+ files\): [\d.]+% → [\d.]+%$/m);

    const metadata = await readMetadata(out);
    expect(metadata.training.split.strategy).toBe('speaker');
    const { calibration } = metadata.metrics;
    expect(metadata.temperature).toBe(calibration.temperature);
    expect(calibration.previousTemperature).toBe(1);
    expect(calibration.validation.files).toBe(metadata.training.counts['validation']);
    expect(calibration.validation.nllAfter).toBeLessThanOrEqual(calibration.validation.nllBefore);
    expect(calibration.test.files).toBe(metadata.metrics.test.count);
    expect(calibration.heldOutSpeakers.speakers).toEqual(metadata.training.split.testSpeakers);
    const card = await readFile(path.join(out, 'README.md'), 'utf8');
    expect(card).toContain('### calibration');
    expect(card).toContain(`| temperature | ${calibration.temperature.toFixed(4)} |`);
  });

  it('evaluates the held-out speakers with ECE and writes an HTML report that renders in Chromium', async () => {
    const model = path.join(work.dir, 'model');
    const reportDir = path.join(work.dir, 'report');
    const result = await runSerAgent(
      ['evaluate', '--json', '--model', model, '--split', 'test', ...data, '--report', reportDir],
      env,
    );
    expect(result.code, result.stderr).toBe(0);
    const metadata = await readMetadata(model);
    const json = JSON.parse(result.stdout) as {
      count: number;
      uar: number;
      ece: number;
      temperature: number;
      speakerIndependent: { speakers: string[]; count: number };
    };
    expect(json.count).toBe(metadata.metrics.test.count);
    expect(json.temperature).toBe(metadata.temperature);
    // The classifier applies the stored temperature, so evaluate sees the calibrated ECE.
    expect(json.ece).toBeCloseTo(metadata.metrics.calibration.test.eceAfter, 6);
    expect(json.speakerIndependent.count).toBe(metadata.metrics.calibration.heldOutSpeakers.files);
    expect(result.stderr).toContain(`report written to ${path.join(reportDir, 'index.html')}`);

    const opened = await openInChromium(path.join(reportDir, 'index.html'));
    try {
      const { page } = opened;
      const drawn = (selector: string) => countDrawn(page, selector);
      expect(await drawn('#confusion g.mark-rect.role-mark > path')).toBe(49);
      expect(await drawn('#learning-curves g.mark-line.role-mark > path')).toBe(4);
      expect(await page.locator('#per-class svg').count()).toBe(1);
      expect(await page.locator('#reliability svg').count()).toBe(1);
      expect(await page.locator('.breakdown').textContent()).toContain('(speaker-independent)');
      expect(await page.locator('.settings').textContent()).toContain('--limit-per-class 6');
      expect(opened.errors).toEqual([]);
      expect(opened.requests).toHaveLength(1);
    } finally {
      await opened.close();
    }
  });

  it('calibrate refits the temperature on the recorded validation split and keeps the other metrics', async () => {
    const model = path.join(work.dir, 'model');
    const before = await readMetadata(model);
    const result = await runSerAgent(['calibrate', '--model', model, ...data], env);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^calibration: temperature [\d.]+ → [\d.]+, fitted on \d+ validation files/m);
    expect(result.stdout).toMatch(/^ECE on all test files \(\d+ files\): [\d.]+% → [\d.]+%$/m);
    const after = await readMetadata(model);
    // Already calibrated on the same files: the refit composes to (nearly) the same temperature.
    expect(after.metrics.calibration.previousTemperature).toBe(before.temperature);
    expect(after.temperature).toBeCloseTo(before.temperature ?? Number.NaN, 2);
    expect(after.metrics.test).toEqual(before.metrics.test);
    expect(after.metrics.calibration).toMatchObject({ command: expect.stringContaining('ser-agent calibrate --model') as unknown });
  });

  it('cross-validates by speaker: K models over disjoint held-out actors, mean and spread', async () => {
    const out = path.join(work.dir, 'folds');
    const result = await runSerAgent(['train', ...data, ...SMALL, '--folds', '2', '--out', out], env);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^2-fold cross-validation by speaker:$/m);
    expect(result.stdout).toMatch(/^held-out speakers \(speaker-independent\)\s+[\d.]+% ± [\d.]+%/m);
    const report = JSON.parse(await readFile(path.join(out, 'cross-validation.json'), 'utf8')) as {
      folds: number;
      results: Array<{ model: string; testSpeakers: string[]; speakerIndependent: { uar: number } }>;
      spread: { speakerIndependentUar: { mean: number } };
    };
    expect(report.folds).toBe(2);
    const [first, second] = report.results;
    expect(first?.testSpeakers.filter((speaker) => second?.testSpeakers.includes(speaker))).toEqual([]);
    expect([...(first?.testSpeakers ?? []), ...(second?.testSpeakers ?? [])].filter((s) => s.startsWith('ravdess:'))).toHaveLength(20);
    expect(report.spread.speakerIndependentUar.mean).toBeCloseTo(
      ((first?.speakerIndependent.uar ?? 0) + (second?.speakerIndependent.uar ?? 0)) / 2,
      12,
    );
    const foldMetadata = await readMetadata(path.join(out, 'fold-2'));
    expect(foldMetadata.training.split.testSpeakers).toEqual(second?.testSpeakers);
    expect(foldMetadata.metrics.crossValidation).toMatchObject({ folds: 2, fold: 2 });
  });

  it('refuses --folds with a random split and names the fix', async () => {
    const result = await runSerAgent(['train', ...data, '--split', 'random', '--folds', '3', '--out', path.join(work.dir, 'x')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--folds 3 deals speakers into folds; use it with --split speaker/);
  });
});
