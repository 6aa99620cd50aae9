import { describe, expect, it } from 'vitest';
import { standardization, zScore } from '../../src/dsp/zscore.js';

describe('zScore', () => {
  it('subtracts the mean and divides by the population std plus 1e-6', () => {
    // mean 2.5, population std sqrt(1.25)
    const std = Math.sqrt(1.25) + 1e-6;
    const z = zScore([1, 2, 3, 4]);
    [-1.5 / std, -0.5 / std, 0.5 / std, 1.5 / std].forEach((expected, i) => expect(z[i]).toBeCloseTo(expected, 14));
  });

  it('maps a constant block to zeros', () => {
    expect(Array.from(zScore([-100, -100, -100]))).toEqual([0, 0, 0]);
  });

  it('can work in place and with another epsilon', () => {
    const values = Float64Array.of(0, 2);
    expect(zScore(values, values, 0)).toBe(values);
    expect(Array.from(values)).toEqual([-1, 1]);
  });

  it('sums blocks whose length is not a multiple of four', () => {
    // 1..7: mean 4, population variance 4
    const { mean, scale } = standardization([1, 2, 3, 4, 5, 6, 7]);
    expect(mean).toBe(4);
    expect(scale).toBeCloseTo(1 / (2 + 1e-6), 14);
  });

  it('rejects an empty block and a mis-sized out', () => {
    expect(() => zScore([])).toThrow(/empty/);
    expect(() => zScore([1, 2], new Float64Array(3))).toThrow(/out holds 3 values; expected 2/);
  });
});
