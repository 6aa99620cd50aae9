import { describe, expect, it } from 'vitest';
import { prepareClip } from '../../src/dsp/clip.js';
import { CLIP_SAMPLES, N_FEATURES, N_FRAMES, N_MFCC } from '../../src/dsp/constants.js';
import { extractFeatures, FeatureExtractor } from '../../src/dsp/features.js';
import { readGoldenF32 } from '../helpers/golden.js';

function column(features: Float32Array, c: number): number[] {
  return Array.from({ length: N_FRAMES }, (_, t) => features[t * N_FEATURES + c] as number);
}

describe('FeatureExtractor', () => {
  it('gives silence the degenerate values of the Python pipeline', () => {
    // README "Numerical details": mel columns 0, MFCC column 0 -6.245, MFCC columns 1-39 +0.160.
    const features = new FeatureExtractor().extract(prepareClip(readGoldenF32('silence_2s_16k.audio_loaded')));
    const golden = readGoldenF32('silence_2s_16k.features');
    for (let c = 0; c < N_FEATURES; c++) {
      const expected = c >= N_MFCC ? 0 : c === 0 ? -6.245 : 0.16;
      for (const value of column(features, c)) expect(value).toBeCloseTo(expected, 3);
      const goldenValue = golden[c] as number;
      for (const value of column(features, c)) expect(Math.abs(value - goldenValue)).toBeLessThanOrEqual(1e-5);
    }
  });

  it('fills and returns the given output array, and leaves nothing behind between clips', () => {
    const extractor = new FeatureExtractor();
    const speechA = readGoldenF32('speech_a_16k.audio');
    const speechB = readGoldenF32('long_5s_16k.audio');
    const first = extractor.extract(speechA).slice();
    const out = new Float32Array(N_FRAMES * N_FEATURES);
    extractor.extract(speechB, out);
    expect(extractor.extract(speechA, out)).toBe(out);
    expect(Array.from(out)).toEqual(Array.from(first));
  });

  it('extractFeatures gives what a fresh extractor gives', () => {
    const clip = readGoldenF32('speech_c_16k.audio');
    expect(Array.from(extractFeatures(clip))).toEqual(Array.from(new FeatureExtractor().extract(clip)));
    expect(extractFeatures(clip)).not.toBe(extractFeatures(clip));
  });

  it('rejects a clip of the wrong length, naming both lengths', () => {
    const extractor = new FeatureExtractor();
    expect(() => extractor.extract(new Float32Array(CLIP_SAMPLES - 1))).toThrow(RangeError);
    expect(() => extractor.extract(new Float32Array(48_000))).toThrow(
      /the clip has 48000 samples; expected exactly 66150/,
    );
  });

  it('rejects a clip with a non-finite sample, naming it', () => {
    const extractor = new FeatureExtractor();
    const clip = new Float32Array(CLIP_SAMPLES);
    clip[1234] = Number.POSITIVE_INFINITY;
    expect(() => extractor.extract(clip)).toThrow(/sample 1234 of the clip is Infinity/);
    clip[1234] = Number.NaN;
    expect(() => extractor.extract(clip)).toThrow(RangeError);
  });

  it('rejects an output array of the wrong size', () => {
    const clip = new Float32Array(CLIP_SAMPLES);
    expect(() => new FeatureExtractor().extract(clip, new Float32Array(10))).toThrow(
      /out holds 10 values; expected 21840/,
    );
  });
});
