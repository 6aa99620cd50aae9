import { describe, expect, it } from 'vitest';
import { bootstrapUarDifference, type ScoredFile } from '../../src/training/speaker-bootstrap.js';

/** `speakers` voices of `corpus`, each with `perClass` files of each of `classes` classes. */
function voices(corpus: string, speakers: number, classes = 4, perClass = 5): ScoredFile[] {
  const files: ScoredFile[] = [];
  for (let s = 0; s < speakers; s++) {
    for (let label = 0; label < classes; label++) {
      for (let i = 0; i < perClass; i++) files.push({ corpus, speaker: `${corpus}:${s}`, label });
    }
  }
  return files;
}

/** Right on the files `right` picks, wrong (the next class) elsewhere. */
function predictions(files: readonly ScoredFile[], right: (file: ScoredFile, index: number) => boolean): number[] {
  return files.map((file, index) => (right(file, index) ? file.label : (file.label + 1) % 4));
}

describe('bootstrapUarDifference', () => {
  it('gives no difference and a zero-width interval for the same predictions', () => {
    const files = [...voices('ravdess', 2), ...voices('ased', 10)];
    const same = predictions(files, (_, index) => index % 3 !== 0);
    const result = bootstrapUarDifference(files, same, same);
    expect(result).toMatchObject({ difference: 0, low: 0, high: 0, rounds: 2000, speakers: { ravdess: 2, ased: 10 } });
  });

  it('measures the difference as the mean over corpora of each corpus\'s UAR, as compare chooses', () => {
    // A is right on every RAVDESS file and half the ASED ones; B on half of each.
    const files = [...voices('ravdess', 2), ...voices('ased', 10)];
    const half = (_: ScoredFile, index: number) => index % 2 === 0;
    const a = predictions(files, (file, index) => file.corpus === 'ravdess' || half(file, index));
    const b = predictions(files, half);
    // RAVDESS: 1 − 0.5; ASED: 0.5 − 0.5; mean over the two corpora, not over 240 files.
    expect(bootstrapUarDifference(files, a, b).difference).toBeCloseTo(0.25, 12);
  });

  it('puts a difference carried by one voice of two inside an interval that reaches zero', () => {
    // A beats B on speaker 0 only: another draw of two voices could hold speaker 1 twice.
    const files = voices('ravdess', 2);
    const a = predictions(files, (file) => file.speaker === 'ravdess:0');
    const b = predictions(files, () => false);
    const result = bootstrapUarDifference(files, a, b);
    expect(result.difference).toBeCloseTo(0.5, 12);
    expect(result.low).toBe(0);
    expect(result.high).toBe(1);
  });

  it('keeps a difference every voice shows clear of zero', () => {
    const files = [...voices('nemo', 9), ...voices('ased', 20)];
    // A is right on 3 files of 5 of every class for every voice, B on 2: the same gap everywhere.
    const a = predictions(files, (_, index) => index % 5 < 3);
    const b = predictions(files, (_, index) => index % 5 < 2);
    const result = bootstrapUarDifference(files, a, b);
    expect(result.difference).toBeCloseTo(0.2, 12);
    expect(result.low).toBeCloseTo(0.2, 12);
    expect(result.high).toBeCloseTo(0.2, 12);
  });

  it('is wider for a gap that varies between voices, and repeats itself for a seed', () => {
    const files = voices('ased', 10);
    // A beats B by a different margin on each voice (0 for voice 0 … 0.9 for voice 9).
    const a = predictions(files, (file, index) => Number(file.speaker.split(':')[1]) > (index % 10));
    const b = predictions(files, () => false);
    const first = bootstrapUarDifference(files, a, b, { seed: 7, rounds: 500 });
    expect(first.low).toBeLessThan(first.difference);
    expect(first.high).toBeGreaterThan(first.difference);
    expect(first.low).toBeGreaterThan(0);
    expect(bootstrapUarDifference(files, a, b, { seed: 7, rounds: 500 })).toEqual(first);
    const other = bootstrapUarDifference(files, a, b, { seed: 8, rounds: 500 });
    expect([other.low, other.high]).not.toEqual([first.low, first.high]);
  });

  it('refuses predictions that do not match the files, and senseless options, naming the value', () => {
    const files = voices('ravdess', 2);
    const right = predictions(files, () => true);
    expect(() => bootstrapUarDifference(files, right.slice(1), right)).toThrow(/40 files, 39 and 40 predictions/);
    expect(() => bootstrapUarDifference(files, right, right, { rounds: 0 })).toThrow(/rounds must be a positive whole number, got 0/);
    expect(() => bootstrapUarDifference(files, right, right, { level: 1 })).toThrow(/level must be between 0 and 1, got 1/);
    expect(() => bootstrapUarDifference([], [], [])).toThrow(/at least one validation file/);
  });
});
