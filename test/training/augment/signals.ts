import { SAMPLE_RATE } from '../../../src/dsp/constants.js';

export function sine(frequency: number, length: number, amplitude = 0.5): Float32Array {
  return Float32Array.from({ length }, (_, i) => amplitude * Math.sin((2 * Math.PI * frequency * i) / SAMPLE_RATE));
}

/**
 * The frequency of a (near-)sinusoid from its upward zero crossings between `from` and `to`,
 * each placed by linear interpolation: accurate to a fraction of a percent over a second.
 */
export function measuredFrequency(samples: Float32Array, from = 0, to = samples.length): number {
  const crossings: number[] = [];
  for (let i = Math.max(1, from); i < to; i += 1) {
    const a = samples[i - 1] as number;
    const b = samples[i] as number;
    if (a < 0 && b >= 0) crossings.push(i - 1 + a / (a - b));
  }
  const first = crossings[0] as number;
  const last = crossings.at(-1) as number;
  return ((crossings.length - 1) * SAMPLE_RATE) / (last - first);
}

/** Index of the last sample whose magnitude exceeds `threshold`, or -1. */
export function lastAbove(samples: Float32Array, threshold: number): number {
  for (let i = samples.length - 1; i >= 0; i -= 1) if (Math.abs(samples[i] as number) > threshold) return i;
  return -1;
}
