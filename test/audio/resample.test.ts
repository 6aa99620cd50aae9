import { describe, expect, it } from 'vitest';
import { resample, resampledLength } from '../../src/audio/resample.js';

/** The resampler's design rejection (src/audio/lowpass-kernel.ts). */
const REJECTION_DB = 126;
const AMPLITUDE = 0.5;
/**
 * A Kaiser design ripples in the passband by the same fraction it leaks in the stopband,
 * 10^(-126/20) = 5e-7 of the amplitude, and the input and output are rounded to float32
 * (3e-8 each at amplitude 0.5). Measured: 3e-8 to 8e-8.
 */
const PASSBAND_MAX_ERROR = AMPLITUDE * 10 ** (-REJECTION_DB / 20) + 6e-8;

/** A sine of `hz` sampled at `rate`, `seconds` long, with amplitude AMPLITUDE. */
function sine(hz: number, rate: number, seconds: number): Float32Array {
  return Float32Array.from({ length: Math.round(seconds * rate) }, (_, i) => AMPLITUDE * Math.sin((2 * Math.PI * hz * i) / rate));
}

/**
 * The largest deviation from the ideal band-limited result, the same sine sampled at the new
 * rate, away from the edges where the clip starts and stops abruptly.
 */
function maxErrorAgainstIdealSine(output: Float32Array, hz: number, rate: number, edgeSeconds: number): number {
  const edge = Math.ceil(edgeSeconds * rate);
  let max = 0;
  for (let j = edge; j < output.length - edge; j++) {
    const ideal = AMPLITUDE * Math.sin((2 * Math.PI * hz * j) / rate);
    max = Math.max(max, Math.abs((output[j] as number) - ideal));
  }
  return max;
}

function peakAbs(samples: Float32Array, from: number, to: number): number {
  let peak = 0;
  for (let i = from; i < to; i++) peak = Math.max(peak, Math.abs(samples[i] as number));
  return peak;
}

/** Kaiser windows reach their full rejection only beyond the window's reach of the edges. */
const EDGE_SECONDS = 0.02;

describe('resample', () => {
  it('copies when the rates are equal', async () => {
    const input = sine(440, 22_050, 0.1);
    const output = await resample(input, 22_050, 22_050);
    expect(output).not.toBe(input);
    expect(Array.from(output)).toEqual(Array.from(input));
  });

  it.each([
    [29_325, 16_000, 40_414],
    [34_830, 16_000, 48_001],
    [104_688, 44_100, 52_344],
    [132_300, 44_100, 66_150],
    [160, 8_000, 441],
    [1, 16_000, 2],
    [0, 16_000, 0],
  ])('gives librosa length ceil(n * 22050 / rate): %i samples at %i Hz -> %i', async (n, rate, expected) => {
    expect(resampledLength(n, rate, 22_050)).toBe(expected);
    expect((await resample(new Float32Array(n).fill(0.25), rate, 22_050)).length).toBe(expected);
  });

  it('zero-pads past soxr length round(n * to / from), as librosa fix_length does', async () => {
    // 34,830 * 22050 / 16000 = 48,000.06: soxr emits 48,000 samples, librosa pads one zero.
    const output = await resample(new Float32Array(34_830).fill(0.25), 16_000, 22_050);
    expect(output[47_999]).not.toBe(0);
    expect(output[48_000]).toBe(0);
  });

  it.each([
    [16_000, 22_050, 1_000],
    [8_000, 22_050, 3_000],
    [44_100, 22_050, 3_000],
    [48_000, 22_050, 9_000],
    [22_050, 16_000, 7_000],
    [96_000, 22_050, 440],
  ])('keeps a passband sine from %i Hz to %i Hz (%i Hz tone) in place and at full level', async (from, to, hz) => {
    const output = await resample(sine(hz, from, 0.5), from, to);
    expect(maxErrorAgainstIdealSine(output, hz, to, EDGE_SECONDS)).toBeLessThanOrEqual(PASSBAND_MAX_ERROR);
  });

  it('removes a tone above the new Nyquist when downsampling (no aliasing)', async () => {
    // 12 kHz at 44.1 kHz would alias to 10.05 kHz at 22.05 kHz.
    const output = await resample(sine(12_000, 44_100, 0.5), 44_100, 22_050);
    const edge = Math.ceil(EDGE_SECONDS * 22_050);
    expect(peakAbs(output, edge, output.length - edge)).toBeLessThanOrEqual(AMPLITUDE * 10 ** (-REJECTION_DB / 20));
  });

  it('handles a rate pair with too many phases to tabulate (22,051 -> 22,050 Hz)', async () => {
    const output = await resample(sine(1_000, 22_051, 0.2), 22_051, 22_050);
    expect(output.length).toBe(4_410);
    expect(maxErrorAgainstIdealSine(output, 1_000, 22_050, EDGE_SECONDS)).toBeLessThanOrEqual(PASSBAND_MAX_ERROR);
  });
});
