export interface LatencySummary {
  /** Durations the percentiles are taken over: the most recent, at most the capacity. */
  count: number;
  /** Undefined until a duration is recorded. */
  p50: number | undefined;
  p95: number | undefined;
}

/**
 * p50/p95 of the most recent durations, for the health message. A fixed ring of the last
 * `capacity` values: memory does not grow with run time, and the percentiles describe the
 * daemon as it runs now, not averaged over days. Percentiles are nearest-rank, so each is a
 * duration that was really measured.
 */
export class LatencyStats {
  readonly #ring: Float64Array;
  #next = 0;
  #count = 0;

  constructor(capacity = 256) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      throw new RangeError(`LatencyStats: capacity is ${capacity}; expected a whole number of at least 1`);
    }
    this.#ring = new Float64Array(capacity);
  }

  record(durationMs: number): void {
    if (!(durationMs >= 0 && durationMs < Infinity)) {
      throw new RangeError(`LatencyStats: duration ${durationMs} ms; expected a finite number of at least 0`);
    }
    this.#ring[this.#next] = durationMs;
    this.#next = (this.#next + 1) % this.#ring.length;
    this.#count = Math.min(this.#count + 1, this.#ring.length);
  }

  summary(): LatencySummary {
    // Sorting a copy of at most `capacity` values is cheap at the health interval.
    const sorted = this.#ring.slice(0, this.#count).sort();
    return { count: this.#count, p50: nearestRank(sorted, 50), p95: nearestRank(sorted, 95) };
  }
}

function nearestRank(sorted: Float64Array, percentile: number): number | undefined {
  if (sorted.length === 0) return undefined;
  return sorted[Math.ceil((percentile / 100) * sorted.length) - 1];
}
