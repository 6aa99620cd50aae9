import { describe, expect, it } from 'vitest';
import { powerToDb } from '../../src/dsp/db.js';

function dbOf(power: number[], options: Parameters<typeof powerToDb>[1]): number[] {
  return Array.from(powerToDb(Float64Array.from(power), options));
}

describe('powerToDb', () => {
  it('is 10 log10(power / ref) with ref 1', () => {
    const db = dbOf([1, 10, 100, 0.5], { ref: 1, topDb: null });
    [0, 10, 20, -3.010299956639812].forEach((expected, i) => expect(db[i]).toBeCloseTo(expected, 12));
  });

  it('floors power and ref at amin before the logarithm', () => {
    const db = dbOf([0, 1e-12, 1], { ref: 1, topDb: null });
    expect(db[0]).toBeCloseTo(-100, 12);
    expect(db[1]).toBeCloseTo(-100, 12);
    expect(dbOf([0, 0], { ref: 'max' })).toEqual([0, 0]);
  });

  it('with ref max puts the largest value at 0 dB', () => {
    const db = dbOf([2, 8, 0.25], { ref: 'max', topDb: null });
    [-6.020599913279624, 0, -15.05149978319906].forEach((expected, i) => expect(db[i]).toBeCloseTo(expected, 12));
  });

  it('clips everything more than topDb below the maximum (80 by default)', () => {
    const clipped = dbOf([100, 1e-9, 1e-3], { ref: 1 });
    [20, -60, -30].forEach((expected, i) => expect(clipped[i]).toBeCloseTo(expected, 12));
    const tight = dbOf([100, 1e-3], { ref: 1, topDb: 10 });
    expect(tight[1]).toBe((tight[0] as number) - 10);
  });

  it('can write in place', () => {
    const values = Float64Array.of(1, 1000);
    expect(powerToDb(values, { ref: 1 }, values)).toBe(values);
    expect(values[0]).toBe(0);
    expect(values[1]).toBeCloseTo(30, 12);
  });

  it('rejects amin, ref and topDb that librosa rejects, and a mis-sized out', () => {
    const power = Float64Array.of(1);
    expect(() => powerToDb(power, { ref: 1, amin: 0 })).toThrow(/amin is 0/);
    expect(() => powerToDb(power, { ref: -1 })).toThrow(/ref is -1/);
    expect(() => powerToDb(power, { ref: 1, topDb: -5 })).toThrow(/topDb is -5/);
    expect(() => powerToDb(power, { ref: 1 }, new Float64Array(2))).toThrow(/out holds 2 values; expected 1/);
  });
});
