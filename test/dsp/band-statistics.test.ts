import { describe, expect, it } from 'vitest';
import {
  BandStatistics,
  HORIZON_WINDOWS,
  normaliseByGroup,
  PRIOR_WINDOWS,
  RunningBandStatistics,
  statisticsByGroup,
} from '../../src/dsp/band-statistics.js';
import { N_FEATURES, N_FRAMES } from '../../src/dsp/constants.js';
import { applyFrontEnd } from '../../src/dsp/front-end.js';
import { createRandom } from '../../src/training/random.js';

const CLIP_VALUES = N_FRAMES * N_FEATURES;

/** `count` windows of one voice: per band, an offset and a spread of its own, plus noise. */
function voice(count: number, seed: number, offset: (band: number) => number, spread: (band: number) => number): Float32Array {
  const random = createRandom(seed);
  const blocks = new Float32Array(count * CLIP_VALUES);
  for (let i = 0; i < blocks.length; i++) {
    const band = i % N_FEATURES;
    blocks[i] = offset(band) + spread(band) * (random.uniform() * 2 - 1);
  }
  return blocks;
}

function bandMoments(blocks: Float32Array, band: number): { mean: number; std: number } {
  const values: number[] = [];
  for (let i = band; i < blocks.length; i += N_FEATURES) values.push(blocks[i] as number);
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return { mean, std: Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length) };
}

describe('BandStatistics', () => {
  it('is the mean and spread of every band over all frames of the windows given', () => {
    const blocks = voice(3, 1, (band) => band / 10, (band) => 1 + band / 100);
    const statistics = BandStatistics.of(blocks);
    for (const band of [0, 12, 39, 40, 167]) {
      const expected = bandMoments(blocks, band);
      expect(statistics.mean[band]).toBeCloseTo(expected.mean, 9);
      expect(statistics.std[band]).toBeCloseTo(expected.std, 9);
    }
    const second = BandStatistics.of(blocks, [1]);
    expect(second.mean[5]).toBeCloseTo(bandMoments(blocks.subarray(CLIP_VALUES, 2 * CLIP_VALUES), 5).mean, 9);
  });

  it('normalises a voice to mean 0 and spread 1 in every band, and a constant band to 0', () => {
    const blocks = voice(2, 2, (band) => band - 50, (band) => (band === 7 ? 0 : 0.5 + band / 40));
    BandStatistics.of(blocks).normalise(blocks);
    for (const band of [0, 13, 100, 167]) {
      const { mean, std } = bandMoments(blocks, band);
      expect(Math.abs(mean)).toBeLessThan(1e-5);
      expect(std).toBeCloseTo(1, 4);
    }
    expect(bandMoments(blocks, 7)).toEqual({ mean: 0, std: 0 });
  });

  it('survives its metadata record unchanged, and refuses statistics of the wrong size', () => {
    const statistics = BandStatistics.of(voice(1, 3, () => 1, () => 2));
    expect(BandStatistics.fromRecord(statistics.toRecord()).toRecord()).toEqual(statistics.toRecord());
    expect(() => new BandStatistics(new Float64Array(3), new Float64Array(N_FEATURES))).toThrow(/3 means and 168 spreads; expected 168 of each/);
  });

  it('per group: two voices differing only by their colouring come out the same', () => {
    const first = voice(4, 4, () => 0, (band) => 1 + band / 50);
    const second = first.map((value, i) => value * 1.5 + ((i % N_FEATURES) % 9) - 3);
    const both = new Float32Array(8 * CLIP_VALUES);
    both.set(first);
    both.set(second, first.length);
    const groups = ['a', 'a', 'a', 'a', 'b', 'b', 'b', 'b'];
    expect([...statisticsByGroup(both, groups).keys()]).toEqual(['a', 'b']);
    normaliseByGroup(both, groups);
    for (let i = 0; i < first.length; i++) expect(both[first.length + i]).toBeCloseTo(both[i] as number, 3);
  });

  it("is what the speaker front-end applies, and the front-end refuses to run without it", () => {
    const blocks = voice(1, 5, (band) => band, () => 3);
    const statistics = BandStatistics.of(voice(2, 6, () => 1, () => 2));
    const byHand = Float32Array.from(blocks);
    statistics.normalise(byHand);
    applyFrontEnd('speaker', blocks, statistics);
    expect(blocks).toEqual(byHand);
    expect(() => applyFrontEnd('speaker', blocks)).toThrow(/needs the voice's band statistics/);
  });
});

describe('RunningBandStatistics', () => {
  const prior = BandStatistics.of(voice(4, 7, () => 0, () => 1));
  const speaker = voice(1, 8, (band) => 2 + band / 100, () => 0.5);
  const target = BandStatistics.of(speaker);

  it('starts at the training statistics, and the first windows move it only part of the way', () => {
    const running = new RunningBandStatistics(prior);
    expect(running.current().toRecord().mean).toEqual(prior.toRecord().mean);
    for (let i = 0; i < 2; i++) running.add(speaker);
    const weight = 2 / (PRIOR_WINDOWS + 2);
    for (const band of [0, 80, 167]) {
      expect(running.current().mean[band]).toBeCloseTo((1 - weight) * (prior.mean[band] as number) + weight * (target.mean[band] as number), 9);
    }
  });

  it("converges to the voice's statistics, then follows a new voice within some horizons", () => {
    const running = new RunningBandStatistics(prior);
    for (let i = 0; i < HORIZON_WINDOWS; i++) running.add(speaker);
    const heard = running.current();
    // The training statistics keep less than their first share, PRIOR_WINDOWS of HORIZON_WINDOWS.
    for (const band of [0, 80, 167]) {
      const distance = Math.abs((prior.mean[band] as number) - (target.mean[band] as number));
      expect(Math.abs((heard.mean[band] as number) - (target.mean[band] as number))).toBeLessThan((distance * PRIOR_WINDOWS) / HORIZON_WINDOWS);
      expect(heard.std[band]).toBeCloseTo(target.std[band] as number, 0);
    }
    const next = voice(1, 9, () => -3, () => 2);
    const nextTarget = BandStatistics.of(next);
    for (let i = 0; i < 8 * HORIZON_WINDOWS; i++) running.add(next);
    for (const band of [0, 80, 167]) {
      expect(running.current().mean[band]).toBeCloseTo(nextTarget.mean[band] as number, 1);
      expect(running.current().std[band]).toBeCloseTo(nextTarget.std[band] as number, 1);
    }
  });

  it('refuses a prior heavier than its horizon', () => {
    expect(() => new RunningBandStatistics(prior, { priorWindows: 10, horizonWindows: 5 })).toThrow(/prior 10 windows and horizon 5/);
  });
});
