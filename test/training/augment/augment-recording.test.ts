import { describe, expect, it } from 'vitest';
import { prepareClip } from '../../../src/dsp/clip.js';
import { CLIP_SAMPLES, SAMPLE_RATE } from '../../../src/dsp/constants.js';
import { augmentRecording } from '../../../src/training/augment/augment-recording.js';
import { type BackgroundBank } from '../../../src/training/augment/background.js';
import { meanPower } from '../../../src/training/augment/noise.js';
import { parseAugmentationFlags, type AugmentationFlags, type AugmentationSpec } from '../../../src/training/augment/spec.js';
import { measuredFrequency, sine } from './signals.js';

function spec(flags: Omit<AugmentationFlags, 'seed'>): AugmentationSpec {
  const parsed = parseAugmentationFlags({ seed: 1, ...flags });
  if (parsed === undefined) throw new Error('expected a spec');
  return parsed;
}

/** 4 s: a tone burst from 0.5 s to 3.5 s, like a RAVDESS file with its leading silence. */
const recording = new Float32Array(4 * SAMPLE_RATE);
recording.set(sine(300, 3 * SAMPLE_RATE, 0.4), SAMPLE_RATE / 2);

describe('augmentRecording', () => {
  it('returns the 3 s window unchanged but padded when no kind is drawn from the spec', () => {
    const short = sine(300, 1000);
    const { samples } = augmentRecording(short, { ...spec({ augment: 'noise' }), kinds: [] }, 5);
    expect(samples.length).toBe(CLIP_SAMPLES);
    expect(samples.subarray(0, 1000)).toEqual(short);
    expect(samples.subarray(1000).every((v) => v === 0)).toBe(true);
  });

  it('is deterministic for a seed, different for another, and records what it drew', () => {
    const all = spec({ augment: 'stretch,pitch,shift,gain,noise' });
    const a = augmentRecording(recording, all, 11);
    const b = augmentRecording(recording, all, 11);
    const c = augmentRecording(recording, all, 12);
    expect(a.samples).toEqual(b.samples);
    expect(a.samples).not.toEqual(c.samples);
    expect(Object.keys(a.applied).sort()).toEqual(
      ['gainEndDb', 'gainStartDb', 'noiseColour', 'noiseSnrDb', 'pitchSemitones', 'shiftSamples', 'stretchRate'].sort(),
    );
    expect(a.samples.length).toBe(CLIP_SAMPLES);
    expect(a.samples.every(Number.isFinite)).toBe(true);
    const prepared = prepareClip(a.samples);
    expect(prepared.every((v) => Math.abs(v) <= 1)).toBe(true);
  });

  it('speeds up by reading past 3 s, so the window stays full', () => {
    const faster = augmentRecording(recording, spec({ augment: 'stretch', stretchRate: '1.3' }), 3);
    expect(faster.applied['stretchRate']).toBeCloseTo(1.3, 10);
    // The burst ended at 3.5 s; at 1.3x it ends at 2.69 s, inside the window.
    const end = Math.round((3.5 * SAMPLE_RATE) / 1.3);
    expect(Math.abs(faster.samples[end - 3000] as number)).toBeGreaterThan(0);
    expect(faster.samples.subarray(end + 1200).every((v) => Math.abs(v) < 1e-3)).toBe(true);
  });

  it('shifts pitch by the drawn amount', () => {
    const higher = augmentRecording(recording, spec({ augment: 'pitch', pitchSemitones: '4' }), 3);
    const frequency = measuredFrequency(higher.samples, SAMPLE_RATE, 2 * SAMPLE_RATE);
    expect(frequency / (300 * 2 ** ((higher.applied['pitchSemitones'] as number) / 12))).toBeCloseTo(1, 2);
  });

  it('adds noise at an SNR inside the range, measured over the window', () => {
    const clean = augmentRecording(recording, { ...spec({ augment: 'noise' }), kinds: [] }, 1).samples;
    for (let seed = 0; seed < 5; seed += 1) {
      const noisy = augmentRecording(recording, spec({ augment: 'noise', noiseSnr: '12:18' }), seed);
      const noise = noisy.samples.map((v, i) => v - (clean[i] as number));
      const snr = 10 * Math.log10(meanPower(clean) / meanPower(noise));
      expect(snr).toBeCloseTo(noisy.applied['noiseSnrDb'] as number, 3);
      expect(snr).toBeGreaterThanOrEqual(12);
      expect(snr).toBeLessThanOrEqual(18);
    }
  });

  it('mixes background from the bank at an SNR inside the range', () => {
    const bank: BackgroundBank = { files: ['hum.wav'], clips: [sine(50, 4410, 0.1)], digest: 'x' };
    const withBackground = spec({ augment: 'background', backgroundDir: '/unused', backgroundSnr: '3:6' });
    const clean = augmentRecording(recording, { ...withBackground, kinds: [] }, 1).samples;
    const mixed = augmentRecording(recording, withBackground, 4, bank);
    const added = mixed.samples.map((v, i) => v - (clean[i] as number));
    const snr = 10 * Math.log10(meanPower(clean) / meanPower(added));
    expect(snr).toBeGreaterThanOrEqual(3);
    expect(snr).toBeLessThanOrEqual(6);
    expect(measuredFrequency(added)).toBeCloseTo(50, 0);
    expect(() => augmentRecording(recording, withBackground, 4)).toThrow(/background bank/);
  });
});
