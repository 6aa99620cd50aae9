import { describe, expect, it } from 'vitest';
import { N_FEATURES, N_FRAMES, N_MFCC } from '../../../src/dsp/constants.js';
import { UsageError } from '../../../src/errors.js';
import {
  maskClip,
  mixBatch,
  parseBatchAugmentation,
  sampleBeta,
  SPEC_AUGMENT_DEFAULTS,
  type BatchAugmentation,
} from '../../../src/training/augment/batch.js';
import { createRandom } from '../../../src/training/random.js';

const CLIP = N_FRAMES * N_FEATURES;
const NONE: BatchAugmentation = { timeMasks: 0, timeMaskFrames: 0, melMasks: 0, melMaskBands: 0, mfccMasks: 0, mfccMaskCoefficients: 0, mixupAlpha: 0 };

function ones(clips = 1): Float32Array {
  return new Float32Array(clips * CLIP).fill(1);
}

/** Frames all of whose values are 0, and bands (columns) all of whose values are 0. */
function zeroed(clip: Float32Array): { frames: number[]; bands: number[] } {
  const frames: number[] = [];
  const bands: number[] = [];
  for (let t = 0; t < N_FRAMES; t++) if (clip.subarray(t * N_FEATURES, (t + 1) * N_FEATURES).every((v) => v === 0)) frames.push(t);
  for (let b = 0; b < N_FEATURES; b++) {
    let all = true;
    for (let t = 0; t < N_FRAMES && all; t++) all = clip[t * N_FEATURES + b] === 0;
    if (all) bands.push(b);
  }
  return { frames, bands };
}

describe('maskClip', () => {
  it('zeroes whole frames for a time mask, no wider than asked', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const clip = ones();
      maskClip(clip, { ...NONE, timeMasks: 1, timeMaskFrames: 20 }, createRandom(seed));
      const { frames, bands } = zeroed(clip);
      expect(frames.length).toBeLessThanOrEqual(20);
      if (frames.length > 0) expect((frames.at(-1) as number) - (frames[0] as number) + 1).toBe(frames.length); // contiguous
      expect(bands.length === 0 || frames.length === N_FRAMES).toBe(true);
      // Every value is either untouched or zero.
      expect(clip.every((v) => v === 0 || v === 1)).toBe(true);
    }
  });

  it('masks MFCC coefficients and mel bands within their own blocks', () => {
    let sawMfcc = false;
    let sawMel = false;
    for (let seed = 1; seed <= 30; seed++) {
      const mfccOnly = ones();
      maskClip(mfccOnly, { ...NONE, mfccMasks: 1, mfccMaskCoefficients: 5 }, createRandom(seed));
      const mfccBands = zeroed(mfccOnly).bands;
      expect(mfccBands.every((b) => b < N_MFCC)).toBe(true);
      expect(mfccBands.length).toBeLessThanOrEqual(5);
      sawMfcc ||= mfccBands.length > 0;

      const melOnly = ones();
      maskClip(melOnly, { ...NONE, melMasks: 2, melMaskBands: 16 }, createRandom(seed));
      const melBands = zeroed(melOnly).bands;
      expect(melBands.every((b) => b >= N_MFCC)).toBe(true);
      expect(melBands.length).toBeLessThanOrEqual(32);
      sawMel ||= melBands.length > 0;
    }
    expect(sawMfcc && sawMel).toBe(true);
  });

  it('is reproducible from the random source', () => {
    const a = ones();
    const b = ones();
    const spec = { ...NONE, ...SPEC_AUGMENT_DEFAULTS };
    maskClip(a, spec, createRandom(5));
    maskClip(b, spec, createRandom(5));
    expect(a).toEqual(b);
  });
});

describe('mixBatch', () => {
  it('mixes each clip with its partner by the batch weight, own clip the larger share', () => {
    const clips = 4;
    const x = new Float32Array(clips * CLIP);
    for (let c = 0; c < clips; c++) x.fill(c + 1, c * CLIP, (c + 1) * CLIP);
    const mixture = mixBatch(x, clips, 0.4, createRandom(11));
    expect(mixture.weight).toBeGreaterThanOrEqual(0.5);
    expect(mixture.weight).toBeLessThanOrEqual(1);
    expect([...mixture.partners].sort()).toEqual([0, 1, 2, 3]);
    for (let c = 0; c < clips; c++) {
      const expected = mixture.weight * (c + 1) + (1 - mixture.weight) * ((mixture.partners[c] as number) + 1);
      expect(x[c * CLIP]).toBeCloseTo(expected, 5);
      expect(x[(c + 1) * CLIP - 1]).toBeCloseTo(expected, 5);
    }
  });
});

describe('sampleBeta', () => {
  it('has the mean 1/2 and the variance 1 / (4 (2α + 1)) of Beta(α, α)', () => {
    for (const alpha of [0.2, 1, 4]) {
      const random = createRandom(17);
      const draws = Array.from({ length: 20_000 }, () => sampleBeta(alpha, random));
      expect(draws.every((d) => d >= 0 && d <= 1)).toBe(true);
      const mean = draws.reduce((a, b) => a + b, 0) / draws.length;
      const variance = draws.reduce((a, b) => a + (b - mean) ** 2, 0) / draws.length;
      expect(mean).toBeCloseTo(0.5, 1);
      expect(variance).toBeCloseTo(1 / (4 * (2 * alpha + 1)), 2);
    }
  });
});

describe('parseBatchAugmentation', () => {
  it('is off unless asked, and takes SpecAugment defaults and the mixup α', () => {
    expect(parseBatchAugmentation({ specAugment: false, mixup: undefined })).toBeUndefined();
    expect(parseBatchAugmentation({ specAugment: true, mixup: undefined })).toEqual({ ...SPEC_AUGMENT_DEFAULTS, mixupAlpha: 0 });
    expect(parseBatchAugmentation({ specAugment: false, mixup: '0.2' })).toEqual({ ...NONE, mixupAlpha: 0.2 });
  });

  it('names the flag, the value and the form for a bad α', () => {
    expect(() => parseBatchAugmentation({ specAugment: false, mixup: 'lots' })).toThrow(UsageError);
    expect(() => parseBatchAugmentation({ specAugment: false, mixup: '-1' })).toThrow(/--mixup must be Beta's α.*got "-1"/);
  });
});
