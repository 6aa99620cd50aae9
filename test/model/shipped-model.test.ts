import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EMOTIONS } from '../../src/labels.js';
import { type ClassificationMetrics } from '../../src/training/metrics.js';
import { ONNX_FILES, verifyModelDir } from '../../src/model/model-dir.js';
import { runSerAgent, REPO_ROOT } from '../helpers/cli.js';
import { DATASETS_DIR } from '../helpers/golden.js';
import { scratchDir } from './seed-model-fixture.js';

const SHIPPED = path.join(REPO_ROOT, 'models', 'ser-cnn-lstm');

describe('the shipped model (models/ser-cnn-lstm)', () => {
  it('passes verification, is uint8 within 600 KB, and records how it was made', async () => {
    const { metadata } = await verifyModelDir(SHIPPED);
    expect(metadata.weights.dtype).toBe('uint8');
    expect(metadata.labels).toEqual([...EMOTIONS]);
    // The tfjs model, and separately the int8 ONNX file the daemon runs, each fit the budget;
    // the float32 ONNX file is the reference kept beside them.
    const onnxFiles = Object.values(ONNX_FILES);
    let tfjsBytes = 0;
    for (const file of await readdir(SHIPPED)) {
      if (!onnxFiles.includes(file)) tfjsBytes += (await stat(path.join(SHIPPED, file))).size;
    }
    expect(tfjsBytes).toBeLessThanOrEqual(600 * 1024);
    expect(metadata.onnx?.map((record) => record.dtype).sort()).toEqual(['float32', 'int8']);
    expect((await stat(path.join(SHIPPED, ONNX_FILES.int8))).size).toBeLessThanOrEqual(600 * 1024);
    expect(metadata.training.command).toMatch(/^ser-agent train .*--data \S*ravdess .*--data \S*tess/);
    expect(metadata.training.dataSources.map((source) => source.licence)).toEqual(
      expect.arrayContaining(['CC BY-NC-SA 4.0', 'CC BY-NC-ND 4.0']),
    );
    expect(metadata.weights.quantizedFrom?.weightsSha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('re-evaluated on its held-out test files, reproduces the metrics its card reports', async () => {
    const { metadata } = await verifyModelDir(SHIPPED);
    const recorded = metadata.metrics['test'] as ClassificationMetrics;
    const work = await scratchDir();
    try {
      // The card's main metrics are the tfjs model's; the int8 ONNX numbers are checked below.
      const result = await runSerAgent(
        [
          'evaluate',
          '--backend',
          'wasm',
          '--json',
          '--split',
          'test',
          '--data',
          path.join(DATASETS_DIR, 'ravdess'),
          '--data',
          path.join(DATASETS_DIR, 'tess'),
        ],
        { SER_CACHE_DIR: path.join(work.dir, 'cache') },
      );
      expect(result.code, result.stderr).toBe(0);
      const report = JSON.parse(result.stdout) as ClassificationMetrics;
      expect(report.count).toBe(recorded.count);
      expect(report.confusion).toEqual(recorded.confusion);
      expect(report.accuracy).toBe(recorded.accuracy);

      const onDefault = await runSerAgent(
        ['evaluate', '--json', '--split', 'test', '--data', path.join(DATASETS_DIR, 'ravdess'), '--data', path.join(DATASETS_DIR, 'tess')],
        { SER_CACHE_DIR: path.join(work.dir, 'cache') },
      );
      expect(onDefault.code, onDefault.stderr).toBe(0);
      const int8 = metadata.onnx?.find((record) => record.dtype === 'int8')?.quantization;
      expect((JSON.parse(onDefault.stdout) as ClassificationMetrics).accuracy).toBe(int8?.['int8Accuracy']);
    } finally {
      await work.cleanup();
    }
  });
});
