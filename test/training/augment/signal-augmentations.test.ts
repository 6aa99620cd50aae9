import { describe, expect, it } from 'vitest';
import { prepareClip } from '../../../src/dsp/clip.js';
import { CLIP_SAMPLES, SAMPLE_RATE } from '../../../src/dsp/constants.js';
import { FeatureExtractor } from '../../../src/dsp/features.js';
import { gainRamp } from '../../../src/training/augment/gain.js';
import { meanPower, mixAtSnr, pinkNoise, whiteNoise } from '../../../src/training/augment/noise.js';
import { timeShift } from '../../../src/training/augment/shift.js';
import { createRandom } from '../../../src/training/random.js';
import { sine } from './signals.js';

/** Power of the first difference relative to the signal's: 2 for white noise, small for low-heavy noise. */
function differenceRatio(x: Float32Array): number {
  const diff = x.subarray(1).map((v, i) => v - (x[i] as number));
  return meanPower(diff) / meanPower(x);
}

/** Welch-style power density at one frequency: Hann-windowed 1024-sample blocks, averaged. */
function spectralDensity(x: Float32Array, frequency: number): number {
  const block = 1024;
  let total = 0;
  let blocks = 0;
  for (let start = 0; start + block <= x.length; start += block) {
    let re = 0;
    let im = 0;
    for (let n = 0; n < block; n += 1) {
      const w = 0.5 - 0.5 * Math.cos((2 * Math.PI * n) / block);
      const phase = (2 * Math.PI * frequency * n) / SAMPLE_RATE;
      re += w * (x[start + n] as number) * Math.cos(phase);
      im -= w * (x[start + n] as number) * Math.sin(phase);
    }
    total += re * re + im * im;
    blocks += 1;
  }
  return total / blocks;
}

describe('noise', () => {
  it('white noise is zero-mean, unit-variance and uncorrelated from sample to sample', () => {
    const noise = whiteNoise(100_000, createRandom(1));
    const mean = noise.reduce((a, b) => a + b, 0) / noise.length;
    expect(Math.abs(mean)).toBeLessThan(0.02);
    expect(meanPower(noise)).toBeCloseTo(1, 1);
    expect(differenceRatio(noise)).toBeCloseTo(2, 1);
  });

  it('pink noise falls 3 dB per octave (power density 1/f), where white noise is flat', () => {
    const pink = pinkNoise(1 << 17, createRandom(2));
    const white = whiteNoise(1 << 17, createRandom(2));
    const octaves = [250, 500, 1000, 2000, 4000];
    const pinkDensity = octaves.map((f) => spectralDensity(pink, f));
    const whiteDensity = octaves.map((f) => spectralDensity(white, f));
    for (let k = 1; k < octaves.length; k += 1) {
      const pinkDrop = 10 * Math.log10((pinkDensity[k - 1] as number) / (pinkDensity[k] as number));
      const whiteDrop = 10 * Math.log10((whiteDensity[k - 1] as number) / (whiteDensity[k] as number));
      expect(pinkDrop, `pink ${octaves[k]} Hz`).toBeGreaterThan(2);
      expect(pinkDrop, `pink ${octaves[k]} Hz`).toBeLessThan(4);
      expect(Math.abs(whiteDrop), `white ${octaves[k]} Hz`).toBeLessThan(1);
    }
    expect(pink.every(Number.isFinite)).toBe(true);
  });

  it('mixes at the requested SNR, measured over the whole clip, for white, pink and any level', () => {
    const random = createRandom(3);
    const speechLike = sine(220, CLIP_SAMPLES, 0.3);
    for (const snrDb of [0, 10, 23.5, 40]) {
      for (const noise of [whiteNoise(CLIP_SAMPLES, random), pinkNoise(CLIP_SAMPLES, random).map((v) => v * 7)]) {
        const mixed = mixAtSnr(speechLike, noise, snrDb);
        const added = mixed.map((v, i) => v - (speechLike[i] as number));
        const measured = 10 * Math.log10(meanPower(speechLike) / meanPower(added));
        expect(measured).toBeCloseTo(snrDb, 3);
      }
    }
  });

  it('leaves a silent clip silent, and rejects a short noise or a non-finite SNR', () => {
    const silent = new Float32Array(100);
    expect(mixAtSnr(silent, whiteNoise(100, createRandom(4)), 10)).toEqual(silent);
    expect(() => mixAtSnr(new Float32Array(10), new Float32Array(5), 10)).toThrow(/5 samples/);
    expect(() => mixAtSnr(new Float32Array(10), new Float32Array(10), NaN)).toThrow(/finite/);
  });

  it('is deterministic for a seed and differs between seeds', () => {
    expect(whiteNoise(64, createRandom(9))).toEqual(whiteNoise(64, createRandom(9)));
    expect(pinkNoise(64, createRandom(9))).not.toEqual(pinkNoise(64, createRandom(10)));
  });
});

describe('gain', () => {
  const extractor = new FeatureExtractor();
  const speechLike = Float32Array.from(sine(180, CLIP_SAMPLES, 0.2), (v, i) => v * (1 + Math.sin(i / 3000)));

  it('a constant gain is cancelled by the feature pipeline, so it cannot augment', () => {
    const reference = extractor.extract(prepareClip(speechLike));
    const louder = extractor.extract(prepareClip(gainRamp(speechLike, 9, 9)));
    const largest = louder.reduce((max, v, i) => Math.max(max, Math.abs(v - (reference[i] as number))), 0);
    expect(largest).toBeLessThan(1e-3);
  });

  it('a ramp moves the level by the requested dB across the window and changes the features', () => {
    const ramped = gainRamp(speechLike, -6, 6);
    expect((ramped[0] as number) / (speechLike[0] as number || 1)).toBeCloseTo(0, 5);
    const last = CLIP_SAMPLES - 1;
    const middle = Math.floor(last / 2);
    expect(Math.abs(ramped[middle] as number)).toBeCloseTo(Math.abs(speechLike[middle] as number), 4);
    expect((ramped[last] as number) / (speechLike[last] as number)).toBeCloseTo(10 ** (6 / 20), 5);
    const reference = extractor.extract(prepareClip(speechLike));
    const changed = extractor.extract(prepareClip(ramped));
    const largest = changed.reduce((max, v, i) => Math.max(max, Math.abs(v - (reference[i] as number))), 0);
    expect(largest).toBeGreaterThan(0.1);
  });
});

describe('time shift', () => {
  const impulse = new Float32Array(100);
  impulse[10] = 1;

  it('moves an impulse by the offset, filling with zeros', () => {
    expect(timeShift(impulse, 25, 'zero').indexOf(1)).toBe(35);
    expect(timeShift(impulse, -7, 'zero').indexOf(1)).toBe(3);
    expect(timeShift(impulse, -11, 'zero').every((v) => v === 0)).toBe(true);
    expect(timeShift(impulse, 500, 'zero').every((v) => v === 0)).toBe(true);
  });

  it('wraps around in circular mode, keeping every sample', () => {
    expect(timeShift(impulse, 95, 'circular').indexOf(1)).toBe(5);
    expect(timeShift(impulse, -11, 'circular').indexOf(1)).toBe(99);
    const ramp = Float32Array.from({ length: 100 }, (_, i) => i);
    expect([...timeShift(ramp, 37, 'circular')].sort((a, b) => a - b)).toEqual([...ramp]);
  });

  it('rejects a fractional offset', () => {
    expect(() => timeShift(impulse, 1.5, 'zero')).toThrow(/whole number/);
  });
});
