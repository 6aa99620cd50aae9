import { describe, expect, it } from 'vitest';
import { LatencyStats } from '../../src/pipeline/latency-stats.js';

describe('LatencyStats', () => {
  it('gives nearest-rank p50 and p95 of what was recorded', () => {
    const stats = new LatencyStats(100);
    // Recorded out of order: the percentiles must not depend on arrival order.
    for (let i = 0; i < 100; i++) stats.record(((i * 37) % 100) + 1);
    expect(stats.summary()).toEqual({ count: 100, p50: 50, p95: 95 });
  });

  it('has no percentiles before the first duration, and with one duration both are it', () => {
    const stats = new LatencyStats();
    expect(stats.summary()).toEqual({ count: 0, p50: undefined, p95: undefined });
    stats.record(12.5);
    expect(stats.summary()).toEqual({ count: 1, p50: 12.5, p95: 12.5 });
  });

  it('keeps only the most recent durations, so old ones stop counting', () => {
    const stats = new LatencyStats(10);
    for (let ms = 1; ms <= 1000; ms++) stats.record(ms);
    // Only 991..1000 remain.
    expect(stats.summary()).toEqual({ count: 10, p50: 995, p95: 1000 });
  });

  it('rejects durations that are negative or not finite, and a capacity below one', () => {
    const stats = new LatencyStats();
    expect(() => stats.record(-1)).toThrow(/duration -1 ms/);
    expect(() => stats.record(Number.NaN)).toThrow(/duration NaN ms/);
    expect(() => new LatencyStats(0)).toThrow(/capacity is 0/);
  });
});
