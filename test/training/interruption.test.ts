import { access, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FeatureExtractor } from '../../src/dsp/features.js';
import { InterruptedError } from '../../src/errors.js';
import { FeatureCache } from '../../src/features/feature-cache.js';
import { createLogger } from '../../src/logging/logger.js';
import { parseAugmentationFlags } from '../../src/training/augment/spec.js';
import { crossValidate } from '../../src/training/cross-validation.js';
import { scanDatasets, type LabelledFile } from '../../src/training/datasets.js';
import { SEED_FRACTIONS } from '../../src/training/splits.js';
import { buildAugmentedVariant, buildFeatureSet } from '../../src/training/feature-set.js';
import { trainAndSave, type TrainingPlan } from '../../src/training/train-run.js';
import { DATASETS_DIR } from '../helpers/golden.js';
import { scratchDir, useWasm } from '../model/seed-model-fixture.js';

/** A real disk cache that counts the clips it had to compute rather than read back. */
class CountingCache extends FeatureCache {
  computed = 0;

  override async getOrCompute(file: string, compute: () => Promise<Float32Array>, variant?: string): Promise<Float32Array> {
    return super.getOrCompute(
      file,
      () => {
        this.computed += 1;
        return compute();
      },
      variant,
    );
  }
}

const exists = (file: string) =>
  access(file).then(
    () => true,
    () => false,
  );

let work: { dir: string; cleanup: () => Promise<void> };
let files: LabelledFile[];
beforeAll(async () => {
  await useWasm();
  work = await scratchDir();
  files = (await scanDatasets([path.join(DATASETS_DIR, 'ravdess')])).files.slice(0, 12);
});
afterAll(async () => {
  await work.cleanup();
});

describe('a first SIGINT/SIGTERM while features are computed', () => {
  it('stops the feature set between files, and the files done stay cached for the next run', async () => {
    const cacheDir = path.join(work.dir, 'plain-cache');
    const abort = new AbortController();
    const first = new CountingCache(cacheDir);
    const build = buildFeatureSet(files, new FeatureExtractor(), first, {
      signal: abort.signal,
      onProgress: (done) => {
        if (done === 4) abort.abort();
      },
    });
    await expect(build).rejects.toThrow(InterruptedError);
    await expect(build).rejects.toThrow(/stopped while computing features \(4 of 12 files done\).*run the same command again/);
    expect(first.computed).toBe(4);

    const again = new CountingCache(cacheDir);
    const set = await buildFeatureSet(files, new FeatureExtractor(), again);
    expect(set.files).toHaveLength(12);
    expect(again.computed).toBe(8);
  });

  it('stops an augmented copy between files, naming the copy', async () => {
    const cache = new FeatureCache(path.join(work.dir, 'augment-cache'));
    const set = await buildFeatureSet(files, new FeatureExtractor(), cache);
    const spec = parseAugmentationFlags({ seed: 3, augment: 'noise', copies: '2' });
    if (spec === undefined) throw new Error('--augment noise gave no augmentation');
    const abort = new AbortController();
    const build = buildAugmentedVariant(set, 1, spec, undefined, new FeatureExtractor(), cache, {
      signal: abort.signal,
      onProgress: (done) => {
        if (done === 2) abort.abort();
      },
    });
    await expect(build).rejects.toThrow(/stopped while computing augmented copy 2 \(2 of 12 files done\)/);
  });

  it('ends a training run before anything is written, instead of saving an untrained model later', async () => {
    const out = path.join(work.dir, 'never-saved');
    const abort = new AbortController();
    const plan: TrainingPlan = {
      dataDirs: [path.join(DATASETS_DIR, 'ravdess')],
      split: { strategy: 'random', seed: 1, ...SEED_FRACTIONS },
      limitPerClass: 8,
      seed: 1,
      epochs: 1,
      batchSize: 16,
      command: 'ser-agent train (test)',
      modelName: 'interrupted',
      modelVersion: '0.0.1',
    };
    const run = trainAndSave(plan, out, {
      extractor: new FeatureExtractor(),
      cache: new FeatureCache(path.join(work.dir, 'train-cache')),
      logger: createLogger('silent'),
      signal: abort.signal,
      progress: {
        onFeatures: (done) => {
          if (done === 5) abort.abort();
        },
      },
    });
    await expect(run).rejects.toThrow(/stopped while computing features \(5 of \d+ files done\)/);
    expect(await exists(out)).toBe(false);

    // Stopped inside the first epoch: still nothing worth a model directory.
    const duringEpoch = new AbortController();
    const early = trainAndSave(plan, out, {
      extractor: new FeatureExtractor(),
      cache: new FeatureCache(path.join(work.dir, 'train-cache')),
      logger: createLogger('silent'),
      signal: duringEpoch.signal,
      progress: { onBatchEnd: () => duringEpoch.abort() },
    });
    await expect(early).rejects.toThrow(/stopped before the first epoch ended; nothing was saved/);
    expect(await exists(out)).toBe(false);
  });

  it('keeps the folds already done when a later fold is stopped, and the same command trains only the rest', async () => {
    const out = path.join(work.dir, 'folds');
    const plan = {
      dataDirs: [path.join(DATASETS_DIR, 'ravdess')],
      limitPerClass: 3,
      seed: 2,
      epochs: 2,
      batchSize: 16,
      command: 'ser-agent train --folds 2 (test)',
      modelName: 'fold-test',
      modelVersion: '0.0.1',
    };
    let featureBuilds = 0;
    /** A run of the command, stopped where `stopAt` says (the fold counted by its feature builds). */
    const runFolds = (stopAt?: { featureBuild: number; during: 'features' | 'training' }) => {
      const abort = new AbortController();
      let build = 0;
      return crossValidate(plan, 2, out, {
        extractor: new FeatureExtractor(),
        cache: new FeatureCache(path.join(work.dir, 'fold-cache')),
        logger: createLogger('silent'),
        signal: abort.signal,
        progress: {
          onFeatures: (done: number) => {
            if (done === 1) {
              featureBuilds += 1;
              build += 1;
            }
            if (stopAt?.during === 'features' && build === stopAt.featureBuild && done === 3) abort.abort();
          },
          // After the first of two epochs: the fold's model is saved, but it saw half its training.
          onEpochEnd: () => {
            if (stopAt?.during === 'training' && build === stopAt.featureBuild) abort.abort();
          },
        },
      });
    };

    // Stopped while the second fold's features are computed.
    const report = await runFolds({ featureBuild: 2, during: 'features' });
    expect(featureBuilds).toBe(2);
    expect(report.results.map((result) => result.model)).toEqual(['fold-1']);
    const written = JSON.parse(await readFile(path.join(out, 'cross-validation.json'), 'utf8')) as typeof report;
    expect(written.results).toHaveLength(1);
    expect(await exists(path.join(out, 'fold-1', 'metadata.json'))).toBe(true);
    expect(await exists(path.join(out, 'fold-2'))).toBe(false);
    const firstFoldWeights = await readFile(path.join(out, 'fold-1', 'group1-shard1of1.bin'));

    // Run again, stopped after the second fold's first epoch: that fold is saved but not counted.
    const stoppedInTraining = await runFolds({ featureBuild: 1, during: 'training' });
    expect(featureBuilds).toBe(3);
    expect(stoppedInTraining.results.map((result) => result.model)).toEqual(['fold-1']);
    expect(await exists(path.join(out, 'fold-2', 'metadata.json'))).toBe(true);

    // Once more: fold 1 is kept as it was, fold 2 is trained again from the start.
    const resumed = await runFolds();
    expect(featureBuilds).toBe(4);
    expect(resumed.results.map((result) => result.model)).toEqual(['fold-1', 'fold-2']);
    expect(resumed.results[0]).toEqual(report.results[0]);
    expect(await readFile(path.join(out, 'fold-1', 'group1-shard1of1.bin'))).toEqual(firstFoldWeights);
    const secondFold = JSON.parse(await readFile(path.join(out, 'fold-2', 'metadata.json'), 'utf8')) as {
      training: { stopReason: string };
      metrics: { crossValidation: { folds: number } };
    };
    expect(secondFold.training.stopReason).not.toBe('aborted');
    expect(secondFold.metrics.crossValidation.folds).toBe(2);
    expect(resumed.spread.speakerIndependentUar.mean).toBeCloseTo(
      ((resumed.results[0]?.speakerIndependent.uar ?? NaN) + (resumed.results[1]?.speakerIndependent.uar ?? NaN)) / 2,
      12,
    );

    // Another command into the same directory is refused, not written over it.
    await expect(crossValidate({ ...plan, epochs: 3, command: 'ser-agent train --folds 2 --epochs 3 (test)' }, 2, out, {
      extractor: new FeatureExtractor(),
      cache: new FeatureCache(path.join(work.dir, 'fold-cache')),
      logger: createLogger('silent'),
    })).rejects.toThrow(/holds the folds of another command \(ser-agent train --folds 2 \(test\)\); run that command again to finish it, or give another --out/);
  });
});
