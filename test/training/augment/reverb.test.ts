import { describe, expect, it } from 'vitest';
import { SAMPLE_RATE } from '../../../src/dsp/constants.js';
import { augmentRecording } from '../../../src/training/augment/augment-recording.js';
import { convolve, roomImpulseResponse } from '../../../src/training/augment/reverb.js';
import { parseAugmentationFlags, type AugmentationSpec } from '../../../src/training/augment/spec.js';
import { createRandom } from '../../../src/training/random.js';
import { sine } from './signals.js';

function directConvolution(signal: Float32Array, impulse: Float32Array): Float32Array {
  const out = new Float32Array(signal.length);
  for (let n = 0; n < signal.length; n++) {
    let sum = 0;
    for (let k = 0; k < impulse.length && k <= n; k++) sum += (impulse[k] as number) * (signal[n - k] as number);
    out[n] = sum;
  }
  return out;
}

const energy = (x: Float32Array, from = 0, to = x.length): number => {
  let sum = 0;
  for (let i = from; i < to; i++) sum += (x[i] as number) ** 2;
  return sum;
};

describe('convolve', () => {
  it('is the linear convolution, cut to the signal, for odd lengths and impulses longer than the signal', () => {
    const random = createRandom(5);
    for (const [signalLength, impulseLength] of [[1, 1], [37, 5], [100, 163], [1000, 257]] as const) {
      const signal = Float32Array.from({ length: signalLength }, () => random.uniform() - 0.5);
      const impulse = Float32Array.from({ length: impulseLength }, () => random.uniform() - 0.5);
      const fast = convolve(signal, impulse);
      const direct = directConvolution(signal, impulse);
      expect(fast.length).toBe(signalLength);
      for (let i = 0; i < signalLength; i++) expect(fast[i]).toBeCloseTo(direct[i] as number, 5);
    }
  });

  it('a unit impulse leaves the signal as it is', () => {
    const signal = sine(440, 0.1, 0.5);
    const out = convolve(signal, Float32Array.of(1));
    for (let i = 0; i < signal.length; i++) expect(out[i]).toBeCloseTo(signal[i] as number, 6);
  });
});

describe('roomImpulseResponse', () => {
  it('starts with the direct sound and holds the requested direct-to-reverberant ratio', () => {
    for (const drrDb of [0, 6, 12]) {
      const response = roomImpulseResponse(0.5, drrDb, createRandom(drrDb + 1));
      expect(response[0]).toBe(1);
      expect(response.length).toBe(Math.ceil(0.5 * SAMPLE_RATE));
      expect(10 * Math.log10(1 / energy(response, 1))).toBeCloseTo(drrDb, 4);
    }
  });

  it('decays 60 dB over RT60: the tail loses about 6 dB per tenth of RT60', () => {
    const rt60 = 0.6;
    const response = roomImpulseResponse(rt60, 0, createRandom(9));
    const tenth = Math.round((rt60 * SAMPLE_RATE) / 10);
    // Energy over the 2nd and the 7th tenth: five tenths apart, so about 30 dB apart.
    const early = energy(response, tenth, 2 * tenth);
    const late = energy(response, 6 * tenth, 7 * tenth);
    expect(10 * Math.log10(early / late)).toBeGreaterThan(27);
    expect(10 * Math.log10(early / late)).toBeLessThan(33);
  });

  it('refuses a room it cannot build, naming the value', () => {
    expect(() => roomImpulseResponse(0, 6, createRandom(1))).toThrow(/RT60 is 0 s; give a positive number/);
    expect(() => roomImpulseResponse(0.5, Number.NaN, createRandom(1))).toThrow(/DRR is NaN dB/);
  });
});

describe('the reverb augmentation', () => {
  const spec = parseAugmentationFlags({ augment: 'reverb', seed: 1, reverbRt60: '0.4:0.4', reverbDrr: '3:3' }) as AugmentationSpec;

  it('smears a tone burst past its end, as a room does, and draws the same room for the same seed', () => {
    const recording = new Float32Array(3 * SAMPLE_RATE);
    const burstEnd = SAMPLE_RATE;
    recording.set(sine(440, 1, 0.5));
    const a = augmentRecording(recording, spec, 42);
    const b = augmentRecording(recording, spec, 42);
    expect(a.applied).toEqual({ reverbRt60Seconds: 0.4, reverbDrrDb: 3 });
    expect(a.samples).toEqual(b.samples);
    // Silence after the burst now holds the tail: 0.1 s after the end it is within 20 dB of the burst.
    const tail = energy(a.samples, burstEnd + 0.1 * SAMPLE_RATE, burstEnd + 0.2 * SAMPLE_RATE);
    const burst = energy(a.samples, burstEnd - 0.1 * SAMPLE_RATE, burstEnd);
    expect(energy(recording, burstEnd + 0.1 * SAMPLE_RATE, burstEnd + 0.2 * SAMPLE_RATE)).toBe(0);
    expect(10 * Math.log10(burst / tail)).toBeLessThan(20);
    expect(augmentRecording(recording, spec, 43).samples).not.toEqual(a.samples);
  });

  it('parses its ranges and refuses bad ones naming the flag', () => {
    expect(parseAugmentationFlags({ augment: 'reverb,noise', seed: 1 })?.kinds).toEqual(['reverb', 'noise']);
    expect(parseAugmentationFlags({ augment: 'reverb', seed: 1 })?.reverb).toEqual({ rt60Seconds: [0.2, 0.8], drrDb: [0, 12] });
    expect(() => parseAugmentationFlags({ augment: 'reverb', seed: 1, reverbRt60: '0:1' })).toThrow(
      /--reverb-rt60 takes LOW:HIGH \(or one number\) with 0.05 <= LOW <= HIGH <= 3; got "0:1"/,
    );
    expect(() => parseAugmentationFlags({ seed: 1, reverbDrr: '6' })).toThrow(/--reverb-drr needs --augment/);
  });
});
