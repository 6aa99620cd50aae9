import { describe, expect, it } from 'vitest';
import { DEFAULT_BACKOFF, reconnectDelay, validateBackoff } from '../../src/system/backoff.js';
import { createRandom } from '../../src/training/random.js';

const FAILURES = [0, 1, 2, 3, 4, 5, 2000];

describe('reconnectDelay', () => {
  it('doubles from the minimum and stays at the maximum, exactly, without jitter', () => {
    const backoff = { minMs: 500, maxMs: 5000 };
    const neverCalled = (): number => {
      throw new Error('no jitter, so no random number is needed');
    };
    expect(FAILURES.map((failures) => reconnectDelay(failures, backoff, neverCalled))).toEqual([
      500, 1000, 2000, 4000, 5000, 5000, 5000,
    ]);
  });

  it('takes the jittered share off the doubled wait, scaled by the random number', () => {
    const backoff = { minMs: 1000, maxMs: 8000, jitter: 0.5 };
    expect(FAILURES.map((failures) => reconnectDelay(failures, backoff, () => 0))).toEqual([
      1000, 2000, 4000, 8000, 8000, 8000, 8000,
    ]);
    expect(FAILURES.map((failures) => reconnectDelay(failures, backoff, () => 0.5))).toEqual([
      750, 1500, 3000, 6000, 6000, 6000, 6000,
    ]);
    // Math.random never returns 1; just below it the wait is just above the jittered floor.
    expect(reconnectDelay(3, backoff, () => 0.999_999)).toBe(4000);
  });

  it('never exceeds maxMs and, with jitter up to 0.5, never shrinks before reaching it', () => {
    for (let trial = 0; trial < 200; trial++) {
      const delays = FAILURES.map((failures) => reconnectDelay(failures, DEFAULT_BACKOFF));
      for (const delay of delays) expect(delay).toBeLessThanOrEqual(DEFAULT_BACKOFF.maxMs);
      for (const delay of delays) expect(delay).toBeGreaterThanOrEqual(DEFAULT_BACKOFF.minMs / 2);
      for (let i = 1; i < 4; i++) expect(delays[i]).toBeGreaterThanOrEqual(delays[i - 1] ?? Infinity);
    }
  });

  it('spreads a fleet that lost its broker at the same moment instead of retrying in lockstep', () => {
    // 100 boxes, each with its own random source, drawing a wait before the first and the
    // sixth retry. Seeded, so the check is exact: the first wait has only 501 whole-ms values
    // (500-1000), and 100 draws from them give 91 distinct on average, so a bound of 90 on
    // Math.random failed about 4 runs in 10 by chance; 80 is almost 4 standard deviations out.
    for (const failures of [0, 5]) {
      const waits = Array.from({ length: 100 }, (_, box) => {
        const random = createRandom(box + 1);
        return reconnectDelay(failures, DEFAULT_BACKOFF, () => random.uniform());
      });
      expect(new Set(waits).size).toBeGreaterThan(80);
      const spread = Math.max(...waits) - Math.min(...waits);
      expect(spread).toBeGreaterThan(reconnectDelay(failures, { ...DEFAULT_BACKOFF, jitter: 0 }) / 4);
    }
  });
});

describe('validateBackoff', () => {
  it.each([
    { minMs: 0, maxMs: 10 },
    { minMs: 10, maxMs: 5 },
    { minMs: Number.NaN, maxMs: 10 },
  ])('refuses the bounds %j', (backoff) => {
    expect(() => validateBackoff(backoff)).toThrow(/expected 0 < minMs <= maxMs/);
  });

  it.each([-0.1, 1.5, Number.NaN])('refuses the jitter %s', (jitter) => {
    expect(() => validateBackoff({ minMs: 1, maxMs: 2, jitter })).toThrow(
      new RegExp(`jitter ${String(jitter)} is invalid; expected a fraction from 0 to 1`),
    );
  });

  it('accepts the default and the edges', () => {
    expect(validateBackoff(DEFAULT_BACKOFF)).toBe(DEFAULT_BACKOFF);
    expect(() => validateBackoff({ minMs: 1, maxMs: 1, jitter: 0 })).not.toThrow();
    expect(() => validateBackoff({ minMs: 1, maxMs: 1, jitter: 1 })).not.toThrow();
  });
});
