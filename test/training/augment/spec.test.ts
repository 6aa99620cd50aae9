import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/errors.js';
import { describeAugmentation, parseAugmentationFlags, variantSeed } from '../../../src/training/augment/spec.js';

describe('augmentation flags', () => {
  it('are absent without --augment, and refuse parameter flags on their own', () => {
    expect(parseAugmentationFlags({ seed: 1 })).toBeUndefined();
    expect(() => parseAugmentationFlags({ seed: 1, noiseSnr: '5:10' })).toThrow(/--noise-snr needs --augment/);
    expect(() => parseAugmentationFlags({ seed: 1, copies: '3' })).toThrow(/--augment-copies needs --augment/);
  });

  it('parse kinds into application order, with defaults and given ranges', () => {
    const spec = parseAugmentationFlags({ seed: 7, augment: 'noise,shift,stretch', noiseSnr: '5:15', copies: '3', shiftMode: 'circular' });
    expect(spec?.kinds).toEqual(['stretch', 'shift', 'noise']);
    expect(spec?.noise.snrDb).toEqual([5, 15]);
    expect(spec?.copies).toBe(3);
    expect(spec?.seed).toBe(7);
    expect(spec?.shift).toEqual({ seconds: 0.3, mode: 'circular' });
    expect(parseAugmentationFlags({ seed: 7, augment: 'pitch', pitchSemitones: '2' })?.pitch.semitones).toEqual([2, 2]);
  });

  it.each([
    [{ augment: 'noise,chorus' }, /--augment takes .*got "noise,chorus"/],
    [{ augment: 'noise', noiseSnr: '30:10' }, /--noise-snr takes LOW:HIGH.*got "30:10"/],
    [{ augment: 'noise', noiseSnr: 'loud' }, /--noise-snr/],
    [{ augment: 'stretch', stretchRate: '0:2' }, /--stretch-rate.*0.25/],
    [{ augment: 'noise', copies: '0' }, /--augment-copies must be an integer from 1 to 100; got "0"/],
    [{ augment: 'noise', noiseColour: 'brown' }, /--noise-colour.*"brown"/],
    [{ augment: 'shift', shiftMode: 'mirror' }, /--shift-mode must be one of zero, circular/],
    [{ augment: 'background' }, /needs --background-dir/],
    [{ augment: 'noise', backgroundDir: '/tmp' }, /only used with --augment background/],
  ])('reject %j with a message naming the flag', (flags, message) => {
    expect(() => parseAugmentationFlags({ seed: 1, ...flags })).toThrow(UsageError);
    expect(() => parseAugmentationFlags({ seed: 1, ...flags })).toThrow(message);
  });

  it('describe only the enabled kinds, so unused flags never change a cache key', () => {
    const a = parseAugmentationFlags({ seed: 1, augment: 'noise' });
    const b = parseAugmentationFlags({ seed: 1, augment: 'noise', pitchSemitones: '-1:1' });
    if (a === undefined || b === undefined) throw new Error('expected specs');
    expect(describeAugmentation(a)).toEqual(describeAugmentation(b));
    expect(describeAugmentation(a)).toEqual({ kinds: ['noise'], seed: 1, noise: { snrDb: [10, 30], colours: ['white', 'pink'] } });
  });

  it('derive distinct, reproducible 32-bit seeds per file and copy', () => {
    const seeds = [variantSeed(1, 'a.flac', 0), variantSeed(1, 'a.flac', 1), variantSeed(1, 'b.flac', 0), variantSeed(2, 'a.flac', 0)];
    expect(new Set(seeds).size).toBe(4);
    expect(variantSeed(1, 'a.flac', 1)).toBe(seeds[1]);
    seeds.forEach((seed) => expect(Number.isInteger(seed) && seed >= 0 && seed < 2 ** 32).toBe(true));
  });
});
