import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAudio } from '../../src/audio/load-clip.js';
import { selectClipWindow } from '../../src/dsp/clip-window.js';
import { CLIP_SAMPLES, HOP_LENGTH, SAMPLE_RATE } from '../../src/dsp/constants.js';
import { FeatureExtractor } from '../../src/dsp/features.js';
import { featuresForFile } from '../../src/features/file-features.js';
import { FeatureCache } from '../../src/features/feature-cache.js';
import { parseAugmentationFlags, type AugmentationSpec } from '../../src/training/augment/spec.js';
import { buildAugmentedVariant, buildFeatureSet } from '../../src/training/feature-set.js';
import { encodeWav } from '../audio/helpers/wav-writer.js';
import { goldenWavPath } from '../helpers/golden.js';

/** `seconds` of quiet noise with a loud 440 Hz tone from `toneFrom` for `toneSeconds`. */
function quietWithTone(seconds: number, toneFrom: number, toneSeconds: number): Float32Array {
  const samples = new Float32Array(Math.round(seconds * SAMPLE_RATE));
  let state = 1;
  for (let i = 0; i < samples.length; i++) {
    state = (state * 48_271) % 2_147_483_647;
    samples[i] = 0.001 * (state / 2_147_483_647 - 0.5);
  }
  const start = Math.round(toneFrom * SAMPLE_RATE);
  const end = Math.round((toneFrom + toneSeconds) * SAMPLE_RATE);
  for (let i = start; i < end; i++) samples[i] = 0.5 * Math.sin((2 * Math.PI * 440 * i) / SAMPLE_RATE);
  return samples;
}

const offsetOf = (window: Float32Array, recording: Float32Array): number => (window.byteOffset - recording.byteOffset) / 4;

describe('selectClipWindow', () => {
  it('start is the first 3 s, as the golden contract reads them', () => {
    const recording = quietWithTone(5, 3.5, 1);
    const window = selectClipWindow('start', recording);
    expect(window.length).toBe(CLIP_SAMPLES);
    expect(offsetOf(window, recording)).toBe(0);
  });

  it('loudest is the 3 s that hold a late loud burst whole', () => {
    const recording = quietWithTone(6, 4, 1);
    const window = selectClipWindow('loudest', recording);
    expect(window.length).toBe(CLIP_SAMPLES);
    const start = offsetOf(window, recording);
    // Any start that keeps 4.0-5.0 s inside the window holds the whole burst; the search is in hops.
    expect(start % HOP_LENGTH).toBe(0);
    expect(start).toBeLessThanOrEqual(4 * SAMPLE_RATE);
    expect(start + CLIP_SAMPLES).toBeGreaterThanOrEqual(5 * SAMPLE_RATE);
    expect(start).toBeGreaterThan(0);
  });

  it('loudest can end exactly at the end of the recording', () => {
    const recording = quietWithTone(5, 4.5, 0.5);
    const start = offsetOf(selectClipWindow('loudest', recording), recording);
    expect(start + CLIP_SAMPLES).toBeLessThanOrEqual(recording.length);
    expect(start + CLIP_SAMPLES).toBeGreaterThan(recording.length - HOP_LENGTH);
  });

  it('loudest takes the earliest of equally loud spans, and all of a recording no longer than 3 s', () => {
    const silent = new Float32Array(5 * SAMPLE_RATE);
    expect(offsetOf(selectClipWindow('loudest', silent), silent)).toBe(0);
    const short = quietWithTone(2, 0.5, 1);
    expect(selectClipWindow('loudest', short)).toEqual(short);
    expect(selectClipWindow('start', short)).toEqual(short);
  });
});

describe('features under a clip window', () => {
  let dir: string;
  let late: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ser-clip-window-'));
    late = path.join(dir, 'late-speech.wav');
    // Two seconds of near silence, then real speech: the first 3 s hold one second of it.
    const speech = await loadAudio(goldenWavPath('speech_e_22k'), { durationSeconds: Infinity });
    const recording = new Float32Array(2 * SAMPLE_RATE + speech.length);
    recording.set(speech, 2 * SAMPLE_RATE);
    await writeFile(late, encodeWav([recording], SAMPLE_RATE, { kind: 'float', bits: 32 }));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('start keeps the golden features; loudest computes them from the loudest 3 s instead', async () => {
    const extractor = new FeatureExtractor();
    const golden = goldenWavPath('speech_e_22k');
    expect(await featuresForFile(golden, extractor, 'start')).toEqual(await featuresForFile(golden, extractor));
    const start = await featuresForFile(late, extractor, 'start');
    const loudest = await featuresForFile(late, extractor, 'loudest');
    expect(loudest).not.toEqual(start);
  });

  it('a feature set is built and cached per clip window, never mixing the two', async () => {
    const extractor = new FeatureExtractor();
    const cache = new FeatureCache(path.join(dir, 'cache'));
    const files = [{ path: late, label: 'neutral' as const, corpus: 'folder' as const, speaker: 'x' }];
    const start = await buildFeatureSet(files, extractor, cache);
    const loudest = await buildFeatureSet(files, extractor, cache, { clipWindow: 'loudest' });
    expect(start.features).toEqual(await featuresForFile(late, extractor, 'start'));
    expect(loudest.features).toEqual(await featuresForFile(late, extractor, 'loudest'));
    // Both read again from the cache, each its own entry.
    expect((await buildFeatureSet(files, extractor, cache, { clipWindow: 'loudest' })).features).toEqual(loudest.features);
    expect((await buildFeatureSet(files, extractor, cache)).features).toEqual(start.features);
  });

  it('augmented copies are cut where the clip window starts, not from the start of the recording', async () => {
    const extractor = new FeatureExtractor();
    const cache = new FeatureCache(path.join(dir, 'cache'));
    const files = [{ path: late, label: 'neutral' as const, corpus: 'folder' as const, speaker: 'x' }];
    // A gain of 0 dB changes nothing, so the copy's features are the plain features of its window.
    const unchanged = parseAugmentationFlags({ augment: 'gain', gainDb: '0:0', seed: 1, copies: '1' }) as AugmentationSpec;
    for (const clipWindow of ['start', 'loudest'] as const) {
      const plain = await buildFeatureSet(files, extractor, cache, { clipWindow });
      const copy = await buildAugmentedVariant(plain, 0, unchanged, undefined, extractor, cache, { clipWindow });
      expect(copy.failed).toEqual([]);
      expect(copy.features).toEqual(plain.features);
    }
  });
});
