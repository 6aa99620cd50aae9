import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATASETS_DIR, goldenWavPath } from '../helpers/golden.js';
import { runSerAgent } from '../helpers/cli.js';
import { scratchDir } from '../model/seed-model-fixture.js';

/**
 * The ONNX workflow through the real executable on a small model trained from the shared
 * corpora: export-onnx → quantize --format onnx with the held-out measurement → classify
 * and evaluate on onnxruntime.
 */
let work: { dir: string; cleanup: () => Promise<void> };
let env: Record<string, string>;
let model: string;
const ravdess = path.join(DATASETS_DIR, 'ravdess');
const tess = path.join(DATASETS_DIR, 'tess');

beforeAll(async () => {
  work = await scratchDir();
  env = { SER_CACHE_DIR: path.join(work.dir, 'cache') };
  model = path.join(work.dir, 'model');
  const trained = await runSerAgent(
    ['train', '--data', ravdess, '--data', tess, '--split', 'random', '--limit-per-class', '6', '--epochs', '1', '--seed', '5', '--out', model],
    env,
  );
  expect(trained.code, trained.stderr).toBe(0);
});

afterAll(() => work.cleanup());

/** The JSON log lines of a run's stderr. */
function logLines(stderr: string): Array<Record<string, unknown>> {
  return stderr
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('export-onnx and quantize --format onnx', () => {
  it('writes model.onnx beside the tfjs files and records it in the metadata', async () => {
    const result = await runSerAgent(['export-onnx', '--model', model], env);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/model\.onnx: float32 ONNX \(opset 17\), \d+ bytes, sha256 [0-9a-f]{64}; exported from tfjs weights [0-9a-f]{64}/);
    const metadata = JSON.parse(await readFile(path.join(model, 'metadata.json'), 'utf8')) as { onnx: Array<{ path: string }> };
    expect(metadata.onnx.map((record) => record.path)).toEqual(['model.onnx']);
    await expect(readFile(path.join(model, 'model.json'))).resolves.toBeDefined();
  });

  it('writes model.int8.onnx and measures agreement, accuracy and speed on the held-out split', async () => {
    const result = await runSerAgent(['quantize', '--model', model, '--format', 'onnx', '--dtype', 'int8', '--data', ravdess, '--data', tess], env);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/model\.int8\.onnx: int8 ONNX \d+ bytes, float32 ONNX \d+ bytes \([\d.]+x smaller\)/);
    expect(result.stdout).toMatch(/test split \(\d+ files\): top-1 agreement [\d.]+%, accuracy float32 [\d.]+% → int8 [\d.]+%; batch-1 inference [\d.]+ → [\d.]+ ms median/);
    const metadata = JSON.parse(await readFile(path.join(model, 'metadata.json'), 'utf8')) as {
      onnx: Array<{ path: string; quantization?: { testFiles: number; topOneAgreementWithFloat: number } }>;
    };
    expect(metadata.onnx.map((record) => record.path)).toEqual(['model.onnx', 'model.int8.onnx']);
    expect(metadata.onnx[1]?.quantization?.testFiles).toBeGreaterThan(0);
    expect(await readFile(path.join(model, 'README.md'), 'utf8')).toContain('### model.int8.onnx against float32');
  });

  it('refuses --out with --format onnx, saying where the files go', async () => {
    const result = await runSerAgent(['quantize', '--model', model, '--format', 'onnx', '--out', path.join(work.dir, 'elsewhere')], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--out does not apply to --format onnx: the ONNX files are written into the --model directory/);
  });

  it('classify and evaluate run on onnxruntime int8 by default and log the choice', async () => {
    const classified = await runSerAgent(['classify', '--model', model, '--json', goldenWavPath('speech_e_22k')], env);
    expect(classified.code, classified.stderr).toBe(0);
    expect(JSON.parse(classified.stdout.trim()) as { emotion: string }).toHaveProperty('emotion');
    expect(logLines(classified.stderr).find((line) => line['msg'] === 'model loaded')).toMatchObject({ backend: 'onnxruntime', onnxDtype: 'int8' });

    const evaluated = await runSerAgent(['evaluate', '--model', model, '--data', ravdess, '--data', tess, '--split', 'test', '--json'], env);
    expect(evaluated.code, evaluated.stderr).toBe(0);
    expect(logLines(evaluated.stderr).find((line) => line['msg'] === 'model loaded')).toMatchObject({ backend: 'onnxruntime' });
  });
});
