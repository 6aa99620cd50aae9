import { describe, expect, it } from 'vitest';
import { SAMPLE_RATE } from '../../../src/dsp/constants.js';
import { pitchShift } from '../../../src/training/augment/pitch-shift.js';
import { timeStretch } from '../../../src/training/augment/time-stretch.js';
import { lastAbove, measuredFrequency, sine } from './signals.js';

describe('time stretch (WSOLA)', () => {
  it.each([0.8, 1.25, 0.5, 2])('rate %f changes the duration by 1/rate and keeps the pitch', (rate) => {
    const tone = sine(330, SAMPLE_RATE);
    const stretched = timeStretch(tone, rate);
    expect(stretched.length).toBe(Math.round(SAMPLE_RATE / rate));
    // Away from the edges, where the first and last frames are only partly covered.
    const frequency = measuredFrequency(stretched, 2048, stretched.length - 2048);
    expect(Math.abs(frequency / 330 - 1)).toBeLessThan(0.005);
    expect(lastAbove(stretched, 0.1)).toBeGreaterThan(stretched.length - 600);
  });

  it('keeps the level of a steady tone, with no NaN', () => {
    const tone = sine(200, SAMPLE_RATE, 0.5);
    const stretched = timeStretch(tone, 0.9);
    const body = stretched.subarray(2048, stretched.length - 2048);
    const peak = body.reduce((max, v) => Math.max(max, Math.abs(v)), 0);
    expect(peak).toBeGreaterThan(0.45);
    expect(peak).toBeLessThan(0.55);
    expect(stretched.every(Number.isFinite)).toBe(true);
  });

  it('moves an event in time by the stretch factor', () => {
    const burst = new Float32Array(SAMPLE_RATE);
    burst.set(sine(500, 2000), 10_000);
    const slower = timeStretch(burst, 0.5);
    const onset = slower.findIndex((v) => Math.abs(v) > 0.05);
    // Unstretched it starts at 10,000; WSOLA may place it up to a tolerance plus a window edge away.
    expect(Math.abs(onset - 20_000)).toBeLessThan(1200);
  });

  it('honours a requested output length and rejects a bad rate', () => {
    expect(timeStretch(sine(100, 5000), 1.5, 1234).length).toBe(1234);
    expect(() => timeStretch(new Float32Array(10), 0)).toThrow(/rate/);
    expect(() => timeStretch(new Float32Array(10), NaN)).toThrow(/rate/);
  });
});

describe('pitch shift', () => {
  it.each([3, -2, 0.5, -5])('%f semitones moves a sine by 2^(s/12) and keeps its duration', (semitones) => {
    const tone = sine(440, SAMPLE_RATE);
    const shifted = pitchShift(tone, semitones);
    expect(shifted.samples.length).toBe(tone.length);
    expect(Math.abs(shifted.semitones - semitones)).toBeLessThan(0.06);
    const frequency = measuredFrequency(shifted.samples, 2048, tone.length - 2048);
    expect(Math.abs(frequency / (440 * 2 ** (shifted.semitones / 12)) - 1)).toBeLessThan(0.003);
    expect(shifted.samples.every(Number.isFinite)).toBe(true);
  });

  it('band-limits an upward shift: a tone pushed past Nyquist vanishes instead of aliasing', () => {
    const high = sine(10_000, SAMPLE_RATE);
    const shifted = pitchShift(high, 4).samples.subarray(2048, SAMPLE_RATE - 2048);
    const peak = shifted.reduce((max, v) => Math.max(max, Math.abs(v)), 0);
    expect(peak).toBeLessThan(0.01);
  });
});
