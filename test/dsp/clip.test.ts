import { describe, expect, it } from 'vitest';
import { prepareClip } from '../../src/dsp/clip.js';
import { CLIP_SAMPLES } from '../../src/dsp/constants.js';
import { GOLDEN_WAVS, readGoldenF32 } from '../helpers/golden.js';

function countDifferences(actual: Float32Array, expected: Float32Array): number {
  let differences = 0;
  for (let i = 0; i < expected.length; i++) if (!Object.is(actual[i], expected[i])) differences++;
  return differences;
}

describe('prepareClip', () => {
  it.each(GOLDEN_WAVS)('reproduces the golden padded, normalised audio of %s bit for bit', (name) => {
    const clip = prepareClip(readGoldenF32(`${name}.audio_loaded`));
    const expected = readGoldenF32(`${name}.audio`);
    expect(clip.length).toBe(CLIP_SAMPLES);
    expect(countDifferences(clip, expected)).toBe(0);
  });

  it('trims to the first CLIP_SAMPLES samples, ignoring a louder tail', () => {
    const speech = readGoldenF32('long_5s_16k.audio_loaded');
    const withTail = new Float32Array(CLIP_SAMPLES + 5000).fill(8);
    withTail.set(speech.subarray(0, CLIP_SAMPLES));
    expect(countDifferences(prepareClip(withTail), prepareClip(speech.subarray(0, CLIP_SAMPLES)))).toBe(0);
  });

  it('zero-pads a short clip after the normalised samples', () => {
    const clip = prepareClip(Float32Array.of(0.25, -0.5, 0.125));
    const divisor = Math.fround(0.5 + 1e-6);
    expect(Array.from(clip.subarray(0, 3))).toEqual([
      Math.fround(0.25 / divisor),
      Math.fround(-0.5 / divisor),
      Math.fround(0.125 / divisor),
    ]);
    expect(clip.subarray(3).every((sample) => sample === 0)).toBe(true);
  });

  it('keeps silence at zero instead of dividing by zero', () => {
    const clip = prepareClip(new Float32Array(1000));
    expect(clip.every((sample) => sample === 0)).toBe(true);
  });

  it('writes into a reused out array exactly what a fresh one gets, zeroing what a shorter clip leaves', () => {
    const speech = readGoldenF32('long_5s_16k.audio_loaded');
    const short = Float32Array.of(0.25, -0.5, 0.125);
    const out = new Float32Array(CLIP_SAMPLES);
    expect(prepareClip(speech, out)).toBe(out);
    expect(countDifferences(out, prepareClip(speech))).toBe(0);
    prepareClip(short, out);
    expect(countDifferences(out, prepareClip(short))).toBe(0);
  });

  it('refuses an out array of the wrong length or sharing the input memory', () => {
    const loaded = new Float32Array(CLIP_SAMPLES);
    expect(() => prepareClip(loaded, new Float32Array(100))).toThrow(/out has 100 samples; give it a separate Float32Array of 66150/);
    expect(() => prepareClip(loaded, loaded)).toThrow(/shares memory with the input/);
  });

  it('rejects a non-finite sample, naming its index', () => {
    const loaded = new Float32Array(100);
    loaded[42] = Number.NaN;
    expect(() => prepareClip(loaded)).toThrow(RangeError);
    expect(() => prepareClip(loaded)).toThrow(/sample 42 is NaN/);
  });
});
