import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FeatureExtractor } from '../../src/dsp/features.js';
import { FeatureCache } from '../../src/features/feature-cache.js';
import { createLogger } from '../../src/logging/logger.js';
import { parseAugmentationFlags } from '../../src/training/augment/spec.js';
import { parseSpeakerList } from '../../src/training/splits.js';
import { trainAndSave } from '../../src/training/train-run.js';
import { DATASETS_DIR } from '../helpers/golden.js';
import { scratchDir, useWasm } from '../model/seed-model-fixture.js';

/** A real disk cache that also records which files it was asked for under which variant. */
class RecordingCache extends FeatureCache {
  readonly requests: Array<{ file: string; variant: string | undefined; computed: boolean }> = [];

  override async getOrCompute(file: string, compute: () => Promise<Float32Array>, variant?: string): Promise<Float32Array> {
    const request = { file, variant, computed: false };
    this.requests.push(request);
    return super.getOrCompute(
      file,
      () => {
        request.computed = true;
        return compute();
      },
      variant,
    );
  }
}

let work: { dir: string; cleanup: () => Promise<void> };
beforeAll(async () => {
  await useWasm();
  work = await scratchDir();
});
afterAll(async () => {
  await work.cleanup();
});

describe('a training run with the issue-4 improvements (small RAVDESS subset, one epoch)', () => {
  it('augments only the training files, trains the attention model with class weights and label smoothing, and records it all', async () => {
    const heldOut = [...parseSpeakerList('ravdess:17-20'), ...parseSpeakerList('ravdess:15-16')];
    const augmentation = parseAugmentationFlags({ seed: 77, augment: 'noise,shift', copies: '2' });
    const cache = new RecordingCache(path.join(work.dir, 'cache'));
    const out = path.join(work.dir, 'model');
    const report = await trainAndSave(
      {
        dataDirs: [path.join(DATASETS_DIR, 'ravdess')],
        split: {
          strategy: 'speaker',
          seed: 5,
          testSpeakers: parseSpeakerList('ravdess:17-20'),
          validationSpeakers: parseSpeakerList('ravdess:15-16'),
        },
        limitPerClass: 3,
        seed: 5,
        epochs: 1,
        batchSize: 16,
        command: 'ser-agent train (test)',
        modelName: 'improvements-test',
        modelVersion: '0.0.1',
        architecture: 'attention',
        improvements: { ...(augmentation ? { augmentation } : {}), classWeights: 'balanced', labelSmoothing: 0.1 },
      },
      out,
      { extractor: new FeatureExtractor(), cache, logger: createLogger('silent') },
    );

    const variantRequests = cache.requests.filter((request) => request.variant !== undefined);
    const plainFiles = cache.requests.filter((request) => request.variant === undefined).map((request) => request.file);
    const speakerOf = (file: string): string => `ravdess:${/Actor_(\d+)/.exec(file)?.[1] ?? '?'}`;
    const trainingFiles = plainFiles.filter((file) => !heldOut.includes(speakerOf(file)));
    // Two copies of every training file and of nothing else: no validation or test speaker.
    expect(trainingFiles).toHaveLength(report.counts.train);
    expect(variantRequests).toHaveLength(2 * report.counts.train);
    expect(variantRequests.filter((request) => heldOut.includes(speakerOf(request.file)))).toEqual([]);
    expect(new Set(variantRequests.map((request) => request.file))).toEqual(new Set(trainingFiles));
    expect(new Set(variantRequests.map((request) => request.variant)).size).toBe(2);
    // Cached apart from the plain features: one entry per file plus one per augmented copy.
    const entries = (await readdir(path.join(work.dir, 'cache'))).filter((name) => name.endsWith('.f32'));
    expect(entries).toHaveLength(plainFiles.length + variantRequests.length);

    const metadata = JSON.parse(await readFile(path.join(out, 'metadata.json'), 'utf8')) as {
      architecture: string;
      training: Record<string, unknown>;
    };
    expect(metadata.architecture).toBe('attention-cnn-lstm');
    expect(metadata.training['augmentation']).toEqual({
      kinds: ['shift', 'noise'],
      seed: 77,
      shift: { seconds: 0.3, mode: 'zero' },
      noise: { snrDb: [10, 30], colours: ['white', 'pink'] },
      copies: 2,
      failed: 0,
    });
    expect(metadata.training['labelSmoothing']).toBe(0.1);
    // --limit-per-class 3 balances the subset, so balanced weights are all 1 (loss.test.ts covers the formula).
    expect(metadata.training['classWeights']).toEqual({
      anger: 1,
      disgust: 1,
      fear: 1,
      happiness: 1,
      neutral: 1,
      sadness: 1,
      surprise: 1,
    });
    expect(report.test.all.count).toBe(report.counts.test);

    // A second run reuses every augmented copy from the cache.
    const again = new RecordingCache(path.join(work.dir, 'cache'));
    await trainAndSave(
      {
        dataDirs: [path.join(DATASETS_DIR, 'ravdess')],
        split: { strategy: 'speaker', seed: 5, testSpeakers: parseSpeakerList('ravdess:17-20'), validationSpeakers: parseSpeakerList('ravdess:15-16') },
        limitPerClass: 3,
        seed: 5,
        epochs: 1,
        batchSize: 16,
        command: 'ser-agent train (test)',
        modelName: 'improvements-test',
        modelVersion: '0.0.1',
        ...(augmentation ? { improvements: { augmentation } } : {}),
      },
      path.join(work.dir, 'again'),
      { extractor: new FeatureExtractor(), cache: again, logger: createLogger('silent') },
    );
    expect(again.requests.filter((request) => request.computed)).toEqual([]);
  });
});
