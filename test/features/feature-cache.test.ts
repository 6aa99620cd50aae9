import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { N_FEATURES, N_FRAMES } from '../../src/dsp/constants.js';
import { FeatureCache } from '../../src/features/feature-cache.js';
import { scratchDir } from '../model/seed-model-fixture.js';

let work: { dir: string; cleanup: () => Promise<void> };
let recording: string;
beforeAll(async () => {
  work = await scratchDir();
  recording = path.join(work.dir, 'clip.wav');
  await writeFile(recording, 'stands in for a recording: the cache keys on path, size and mtime');
});
afterAll(async () => {
  await work.cleanup();
});

function features(value: number): Float32Array {
  return new Float32Array(N_FRAMES * N_FEATURES).fill(value);
}

describe('FeatureCache variants', () => {
  it('caches each variant of a file apart from the plain features and from each other, and reuses them', async () => {
    const cache = new FeatureCache(path.join(work.dir, 'cache'));
    const computed: string[] = [];
    const get = (variant: string | undefined, value: number): Promise<Float32Array> =>
      cache.getOrCompute(
        recording,
        () => {
          computed.push(variant ?? 'plain');
          return Promise.resolve(features(value));
        },
        variant,
      );

    expect((await get(undefined, 1))[0]).toBe(1);
    expect((await get('{"copy":0}', 2))[0]).toBe(2);
    expect((await get('{"copy":1}', 3))[0]).toBe(3);
    expect(computed).toEqual(['plain', '{"copy":0}', '{"copy":1}']);

    // A second cache on the same folder finds all three without computing anything.
    const reopened = new FeatureCache(path.join(work.dir, 'cache'));
    const never = (): Promise<Float32Array> => Promise.reject(new Error('should have been cached'));
    expect((await reopened.getOrCompute(recording, never))[0]).toBe(1);
    expect((await reopened.getOrCompute(recording, never, '{"copy":0}'))[0]).toBe(2);
    expect((await reopened.getOrCompute(recording, never, '{"copy":1}'))[0]).toBe(3);
    expect((await readdir(path.join(work.dir, 'cache'))).filter((name) => name.endsWith('.f32'))).toHaveLength(3);
  });
});
