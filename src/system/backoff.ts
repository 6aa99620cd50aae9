/** Bounds of the wait between reconnect attempts. */
export interface Backoff {
  minMs: number;
  maxMs: number;
  /**
   * Fraction of each wait that is random, 0 (none, the default) to 1: the wait is drawn from
   * [(1 - jitter) × d, d] for the doubled-and-capped wait d. A fleet that lost its broker at the
   * same moment, or two boxes sharing a client id, then do not retry in lockstep. Up to 0.5 the
   * waits still never shrink from one attempt to the next until maxMs is reached.
   */
  jitter?: number;
}

/** The MQTT publisher's: each wait is 50-100 % of the doubled one, so restarts spread out. */
export const DEFAULT_BACKOFF: Backoff = { minMs: 1_000, maxMs: 60_000, jitter: 0.5 };

/**
 * The wait before reconnect attempt `failures + 1`: doubling from minMs up to maxMs, so a broker
 * that is down for the night costs one attempt a minute, not one a second. `random` returns a
 * number in [0, 1) like Math.random; tests pass a fixed one.
 */
export function reconnectDelay(failures: number, backoff: Backoff, random: () => number = Math.random): number {
  // After ~1000 failures 2 ** failures is Infinity, which Math.min still caps to maxMs.
  const capped = Math.min(backoff.maxMs, backoff.minMs * 2 ** failures);
  const jitter = backoff.jitter ?? 0;
  if (jitter === 0) return capped;
  return Math.round(capped * (1 - jitter * random()));
}

/** Checks the bounds once, when the publisher is configured. */
export function validateBackoff(backoff: Backoff): Backoff {
  const { minMs, maxMs, jitter = 0 } = backoff;
  if (!Number.isFinite(minMs) || minMs <= 0 || !Number.isFinite(maxMs) || maxMs < minMs) {
    throw new RangeError(
      `reconnect backoff ${minMs}-${maxMs} ms is invalid; expected 0 < minMs <= maxMs, e.g. 1000-60000`,
    );
  }
  if (!(jitter >= 0 && jitter <= 1)) {
    throw new RangeError(`reconnect backoff jitter ${jitter} is invalid; expected a fraction from 0 to 1, e.g. 0.5`);
  }
  return backoff;
}
