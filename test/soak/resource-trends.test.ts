import { describe, expect, it } from 'vitest';
import { resourceTrends, SOAK_LIMITS, type SoakSample } from '../../bench/soak-run.js';

const MB = 1024 * 1024;

/** One sample per 10 windows, as the soak takes them, with RSS and descriptors from the given series. */
function samples(rssMb: readonly number[], fds: readonly number[] = rssMb.map(() => 23)): SoakSample[] {
  return rssMb.map((rss, index) => ({
    windows: index * 10,
    elapsedSeconds: index / 10,
    rssBytes: rss * MB,
    openFds: fds[index] as number,
    tensors: 37,
  }));
}

describe('resourceTrends', () => {
  it('leaves out the warm-up and passes a heap that rose for a few samples late and fell back', () => {
    // Warm-up climbs from 140 MB; then flat at 258 MB with a 40 MB swell in the last quarter,
    // the shape of the CI run that failed the peak-against-peak comparison with +15.4%.
    const rss = [140, 200, 250, ...Array<number>(76).fill(258), 280, 298, 290, 270, ...Array<number>(18).fill(256)];
    const trends = resourceTrends(samples(rss), 30);

    expect(trends.rss.quarterMediansMb).toEqual([258, 258, 258, 256]);
    expect(trends.rss.peakMb).toBe(298);
    expect(trends.rss.endMb).toBe(256);
    expect(trends.rss.growthPercent).toBeLessThanOrEqual(SOAK_LIMITS.rssGrowthPercent);
  });

  it('fails a steady leak that lifts every sample', () => {
    // 0.5 MB a sample from 160 MB: every quarter's median 12.5-13 MB above the one before.
    const rss = Array.from({ length: 101 }, (_, index) => 160 + index * 0.5);
    const trends = resourceTrends(samples(rss), 0);

    expect(trends.rss.quarterMediansMb).toEqual([166, 178.5, 191, 204]);
    expect(trends.rss.growthPercent).toBe(22.6);
    expect(trends.rss.growthPercent).toBeGreaterThan(SOAK_LIMITS.rssGrowthPercent);
  });

  it('does not count a one-off step that then stays flat, as the heap or an allocator taking a bigger block', () => {
    // The onnxruntime run that failed the median comparison with +16.2%: 179 MB, one step to
    // 205-207 MB a third of the way in, flat to the end.
    const rss = [156, 178, 175, ...Array<number>(33).fill(179), 198, ...Array<number>(64).fill(207)];
    const trends = resourceTrends(samples(rss), 30);

    expect(trends.rss.quarterMediansMb).toEqual([179, 207, 207, 207]);
    expect(trends.rss.growthPercent).toBe(0);
  });

  it('compares the fewest descriptors of the last quarter with the most of the first', () => {
    const blip = [23, 23, 24, 23, 23, 23, 23, 24, 23, 23, 23, 23];
    expect(resourceTrends(samples(Array<number>(12).fill(160), blip), 0).fds).toEqual({
      warmup: 23,
      peak: 24,
      end: 23,
      earlyPeak: 24,
      lateFloor: 23,
    });

    const leak = [23, 23, 23, 24, 24, 24, 25, 25, 25, 26, 26, 26];
    const trends = resourceTrends(samples(Array<number>(12).fill(160), leak), 0);
    expect(trends.fds.lateFloor).toBeGreaterThan(trends.fds.earlyPeak);
  });

  it('takes the last sample as the baseline when no sample reaches the warm-up', () => {
    const trends = resourceTrends(samples([150, 170]), 1000);
    expect(trends.rss).toMatchObject({ quarterMediansMb: [170, 170], growthPercent: 0 });
    expect(trends.fds.warmup).toBe(23);
  });
});
