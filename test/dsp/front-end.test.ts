import { describe, expect, it } from 'vitest';
import { N_FEATURES, N_FRAMES } from '../../src/dsp/constants.js';
import { applyFrontEnd } from '../../src/dsp/front-end.js';
import { FeatureExtractor } from '../../src/dsp/features.js';
import { featuresForFile } from '../../src/features/file-features.js';
import { goldenWavPath } from '../helpers/golden.js';

function column(block: Float32Array, band: number): number[] {
  return Array.from({ length: N_FRAMES }, (_, t) => block[t * N_FEATURES + band] as number);
}

describe('applyFrontEnd', () => {
  it('seed leaves the features as the golden contract computes them', async () => {
    const features = await featuresForFile(goldenWavPath('speech_e_22k'), new FeatureExtractor());
    const copy = Float32Array.from(features);
    applyFrontEnd('seed', copy);
    expect(copy).toEqual(features);
  });

  it('band gives every coefficient and band mean 0 and standard deviation 1 over the window', async () => {
    const features = await featuresForFile(goldenWavPath('speech_e_22k'), new FeatureExtractor());
    applyFrontEnd('band', features);
    for (const band of [0, 1, 13, 39, 40, 100, 167]) {
      const values = column(features, band);
      const mean = values.reduce((a, b) => a + b, 0) / N_FRAMES;
      const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / N_FRAMES;
      expect(Math.abs(mean)).toBeLessThan(1e-5);
      expect(variance).toBeCloseTo(1, 4);
    }
  });

  it('band removes a fixed colouring per band, as a microphone or a room adds', async () => {
    const features = await featuresForFile(goldenWavPath('speech_e_22k'), new FeatureExtractor());
    const coloured = Float32Array.from(features);
    for (let t = 0; t < N_FRAMES; t++) for (let b = 0; b < N_FEATURES; b++) coloured[t * N_FEATURES + b] = (coloured[t * N_FEATURES + b] as number) + 0.05 * b - 2;
    applyFrontEnd('band', features);
    applyFrontEnd('band', coloured);
    for (let i = 0; i < features.length; i++) expect(coloured[i]).toBeCloseTo(features[i] as number, 3);
  });

  it('band sets a constant band to 0 instead of amplifying rounding noise, and handles blocks back to back', () => {
    const two = new Float32Array(2 * N_FRAMES * N_FEATURES);
    for (let t = 0; t < N_FRAMES; t++) {
      two[t * N_FEATURES] = 3; // constant band in clip 1
      two[N_FRAMES * N_FEATURES + t * N_FEATURES] = t; // a ramp in clip 2
    }
    applyFrontEnd('band', two);
    expect(column(two, 0).every((v) => v === 0)).toBe(true);
    const ramp = column(two.subarray(N_FRAMES * N_FEATURES), 0);
    const rampStd = Math.sqrt((N_FRAMES * N_FRAMES - 1) / 12);
    expect(ramp[0]).toBeCloseTo(-((N_FRAMES - 1) / 2) / rampStd, 4);
    expect(ramp.every(Number.isFinite)).toBe(true);
  });
});
