import { N_FEATURES, N_FRAMES } from './constants.js';

const CLIP_VALUES = N_FRAMES * N_FEATURES;

/**
 * A band whose spread is below this (in the seed's z-score units) is treated as constant and
 * set to 0, instead of blowing up its quantisation noise: the zero padding of a short clip and
 * the -80 dB floor of silent bands are constant.
 */
export const BAND_STD_FLOOR = 1e-2;

/**
 * How many windows' worth of weight the model's training statistics keep in a voice's running
 * statistics: the first windows of a new voice or room move them only part of the way.
 */
export const PRIOR_WINDOWS = 4;

/**
 * How many recent windows a voice's running statistics average over once they have heard that
 * many: a few minutes of speech at hop 1 s, long enough to be steady, short enough to follow a
 * new speaker at the desk or a change of room.
 */
export const HORIZON_WINDOWS = 120;

/** Per-band statistics as metadata.json stores them. */
export interface BandStatisticsRecord {
  mean: number[];
  std: number[];
}

/**
 * The mean and spread of every feature band (each MFCC coefficient and mel band) over the
 * frames of a set of windows: one voice's, one room's, or a whole training set's. Normalising
 * a window by its voice's statistics removes what is constant about the voice, the microphone
 * and the room (their colouring of the spectrum, their level per band) and keeps what moves
 * with emotion, which one window's own statistics (the `band` front-end) would erase.
 */
export class BandStatistics {
  readonly mean: Float64Array;
  readonly std: Float64Array;

  constructor(mean: Float64Array, std: Float64Array) {
    if (mean.length !== N_FEATURES || std.length !== N_FEATURES) {
      throw new RangeError(`BandStatistics: ${mean.length} means and ${std.length} spreads; expected ${N_FEATURES} of each`);
    }
    this.mean = mean;
    this.std = std;
  }

  /** Pooled over every frame of the given rows of `blocks` ((N_FRAMES, N_FEATURES) blocks laid back to back); all rows by default. */
  static of(blocks: Float32Array, rows?: readonly number[]): BandStatistics {
    const moments = new BandMoments();
    for (const row of rows ?? Array.from({ length: blocks.length / CLIP_VALUES }, (_, index) => index)) {
      moments.add(blocks.subarray(row * CLIP_VALUES, (row + 1) * CLIP_VALUES));
    }
    return moments.statistics();
  }

  static fromRecord(record: BandStatisticsRecord): BandStatistics {
    return new BandStatistics(Float64Array.from(record.mean), Float64Array.from(record.std));
  }

  toRecord(): BandStatisticsRecord {
    return { mean: Array.from(this.mean), std: Array.from(this.std) };
  }

  /** z-scores every band of one or more blocks laid back to back, in place. */
  normalise(blocks: Float32Array): void {
    const scale = this.std.map((std) => (std < BAND_STD_FLOOR ? 0 : 1 / std));
    for (let index = 0; index < blocks.length; index++) {
      const band = index % N_FEATURES;
      blocks[index] = ((blocks[index] as number) - (this.mean[band] as number)) * (scale[band] as number);
    }
  }
}

/** Running sums of every band's values and squares over whole windows. */
class BandMoments {
  readonly sum = new Float64Array(N_FEATURES);
  readonly squares = new Float64Array(N_FEATURES);
  frames = 0;

  add(block: Float32Array): void {
    for (let t = 0; t < N_FRAMES; t++) {
      for (let band = 0; band < N_FEATURES; band++) {
        const value = block[t * N_FEATURES + band] as number;
        this.sum[band] = (this.sum[band] as number) + value;
        this.squares[band] = (this.squares[band] as number) + value * value;
      }
    }
    this.frames += N_FRAMES;
  }

  statistics(): BandStatistics {
    if (this.frames === 0) throw new RangeError('BandStatistics: no windows to take statistics of');
    const mean = this.sum.map((sum) => sum / this.frames);
    const std = this.squares.map((squares, band) => Math.sqrt(Math.max(squares / this.frames - (mean[band] as number) ** 2, 0)));
    return new BandStatistics(mean, std);
  }
}

/**
 * Statistics per group of rows (a speaker, a site): `groups[row]` names the group of each
 * (N_FRAMES, N_FEATURES) block of `blocks`.
 */
export function statisticsByGroup(blocks: Float32Array, groups: readonly string[]): Map<string, BandStatistics> {
  const moments = new Map<string, BandMoments>();
  groups.forEach((group, row) => {
    const groupMoments = moments.get(group) ?? new BandMoments();
    groupMoments.add(blocks.subarray(row * CLIP_VALUES, (row + 1) * CLIP_VALUES));
    moments.set(group, groupMoments);
  });
  return new Map([...moments].map(([group, groupMoments]) => [group, groupMoments.statistics()]));
}

/** z-scores every block of `blocks` with the statistics of its group over `blocks` (see statisticsByGroup), in place. */
export function normaliseByGroup(blocks: Float32Array, groups: readonly string[]): void {
  const byGroup = statisticsByGroup(blocks, groups);
  groups.forEach((group, row) => {
    (byGroup.get(group) as BandStatistics).normalise(blocks.subarray(row * CLIP_VALUES, (row + 1) * CLIP_VALUES));
  });
}

/**
 * One voice's statistics as a device learns them, window by window: they start as the model's
 * training statistics, held with the weight of PRIOR_WINDOWS windows, and each window heard
 * moves them towards the voice, as a plain average until HORIZON_WINDOWS windows and as a
 * moving average over about that many after, so they follow a new voice or room.
 */
export class RunningBandStatistics {
  readonly #mean: Float64Array;
  /** The running mean of the squares, from which the spread is taken. */
  readonly #squares: Float64Array;
  #weight: number;
  readonly #horizon: number;

  constructor(prior: BandStatistics, options: { priorWindows?: number; horizonWindows?: number } = {}) {
    const priorWindows = options.priorWindows ?? PRIOR_WINDOWS;
    const horizon = options.horizonWindows ?? HORIZON_WINDOWS;
    if (!(priorWindows >= 0 && horizon >= 1 && horizon >= priorWindows)) {
      throw new RangeError(`RunningBandStatistics: prior ${priorWindows} windows and horizon ${horizon}; expected 0 <= prior <= horizon and horizon >= 1`);
    }
    this.#mean = Float64Array.from(prior.mean);
    this.#squares = prior.std.map((std, band) => std * std + (prior.mean[band] as number) ** 2);
    this.#weight = priorWindows;
    this.#horizon = horizon;
  }

  /** Hears one (N_FRAMES, N_FEATURES) window. */
  add(block: Float32Array): void {
    const window = new BandMoments();
    window.add(block);
    this.#weight = Math.min(this.#weight + 1, this.#horizon);
    const rate = 1 / this.#weight;
    for (let band = 0; band < N_FEATURES; band++) {
      const mean = (window.sum[band] as number) / N_FRAMES;
      const squares = (window.squares[band] as number) / N_FRAMES;
      this.#mean[band] = (this.#mean[band] as number) + rate * (mean - (this.#mean[band] as number));
      this.#squares[band] = (this.#squares[band] as number) + rate * (squares - (this.#squares[band] as number));
    }
  }

  /** The statistics as they stand. */
  current(): BandStatistics {
    const mean = Float64Array.from(this.#mean);
    const std = this.#squares.map((squares, band) => Math.sqrt(Math.max(squares - (mean[band] as number) ** 2, 0)));
    return new BandStatistics(mean, std);
  }
}
