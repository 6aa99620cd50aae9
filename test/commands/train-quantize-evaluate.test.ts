import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyModelDir } from '../../src/model/artifact/store.js';
import { DATASETS_DIR } from '../helpers/golden.js';
import { messageLines, runSerAgent } from '../helpers/cli.js';
import { scratchDir } from '../model/seed-model-fixture.js';

/**
 * The whole model workflow on a small subset of the shared corpora, through the real
 * executable: train → quantize (with agreement on the held-out split) → evaluate.
 */
let work: { dir: string; cleanup: () => Promise<void> };
let env: Record<string, string>;
const ravdess = path.join(DATASETS_DIR, 'ravdess');
const tess = path.join(DATASETS_DIR, 'tess');

beforeAll(async () => {
  work = await scratchDir();
  env = { SER_CACHE_DIR: path.join(work.dir, 'cache') };
});

afterAll(async () => {
  await work.cleanup();
});

describe('train, quantize, evaluate on a small subset', () => {
  it('trains a model whose files, metadata and card record the run', async () => {
    const out = path.join(work.dir, 'float');
    const result = await runSerAgent(
      ['train', '--data', ravdess, '--data', tess, '--split', 'random', '--limit-per-class', '8', '--epochs', '2', '--seed', '3', '--out', out],
      env,
    );
    expect(result.code, result.stderr).toBe(0);
    expect(messageLines(result.stderr).filter((line) => /^epoch \d+:/.test(line))).toHaveLength(2);
    expect(result.stdout).toMatch(/^test: \d+ files, accuracy [\d.]+%, UAR [\d.]+%/m);

    const metadata = JSON.parse(await readFile(path.join(out, 'metadata.json'), 'utf8')) as {
      training: { seed: number; command: string; split: { strategy: string }; limitPerClass: number; counts: Record<string, number> };
      metrics: { test: { count: number; confusion: number[][] } };
      weights: { dtype: string };
    };
    expect(metadata.training.seed).toBe(3);
    expect(metadata.training.command).toContain('--limit-per-class 8');
    expect(metadata.training.split.strategy).toBe('random');
    expect(metadata.weights.dtype).toBe('float32');
    const { train, validation, test } = metadata.training.counts;
    expect((train ?? 0) + (validation ?? 0) + (test ?? 0)).toBe(7 * 8);
    expect(metadata.metrics.test.count).toBe(test);
    expect(metadata.metrics.test.confusion.flat().reduce((a, b) => a + b, 0)).toBe(test);
    const history = JSON.parse(await readFile(path.join(out, 'training-history.json'), 'utf8')) as unknown[];
    expect(history).toHaveLength(2);
    // Listed like every other file of the directory, so loading verifies it.
    expect((await verifyModelDir(out)).history).toEqual(history);
    const card = await readFile(path.join(out, 'README.md'), 'utf8');
    expect(card).toContain('CC BY-NC-SA 4.0');
    expect(card).toContain('CC BY-NC-ND 4.0');
  });

  it('quantizes to uint8, measuring agreement on the held-out files, and evaluates both', async () => {
    const float = path.join(work.dir, 'float');
    const q8 = path.join(work.dir, 'q8');
    const quantized = await runSerAgent(
      ['quantize', '--model', float, '--out', q8, '--dtype', 'uint8', '--data', ravdess, '--data', tess],
      env,
    );
    expect(quantized.code, quantized.stderr).toBe(0);
    expect(quantized.stdout).toMatch(/uint8 weights 459335 bytes, float32 1837340 bytes \(4\.00x smaller\)/);
    expect(quantized.stdout).toMatch(/test split \(\d+ files\): top-1 agreement [\d.]+%/);
    const metadata = JSON.parse(await readFile(path.join(q8, 'metadata.json'), 'utf8')) as {
      weights: { dtype: string };
      metrics: { quantization: { topOneAgreementWithFloat: number; testFiles: number } };
    };
    expect(metadata.weights.dtype).toBe('uint8');
    expect(metadata.metrics.quantization.testFiles).toBeGreaterThan(0);
    // The quantized copy comes from the same run: its history goes with it, listed.
    expect((await verifyModelDir(q8)).history).toEqual((await verifyModelDir(float)).history);
    expect((await verifyModelDir(q8)).history).toHaveLength(2);

    const evaluation = await runSerAgent(
      ['evaluate', '--json', '--model', q8, '--split', 'test', '--data', ravdess, '--data', tess],
      env,
    );
    expect(evaluation.code, evaluation.stderr).toBe(0);
    const report = JSON.parse(evaluation.stdout) as { count: number; split: string; uar: number };
    expect(report.split).toBe('test');
    expect(report.count).toBe(metadata.metrics.quantization.testFiles);
  });

  it('rejects a training command without data or output, naming the flag', async () => {
    const noData = await runSerAgent(['train', '--out', path.join(work.dir, 'x')]);
    expect(noData.code).toBe(2);
    expect(noData.stderr).toMatch(/--data DIR is required/);
    const badEpochs = await runSerAgent(['train', '--data', ravdess, '--out', path.join(work.dir, 'x'), '--epochs', 'many']);
    expect(badEpochs.code).toBe(2);
    expect(badEpochs.stderr).toMatch(/--epochs must be an integer from 1 to 10000; got "many"/);
  });
});
