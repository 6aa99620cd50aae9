/** Bounds of the wait between reconnect attempts. */
export interface Backoff {
  minMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { minMs: 1_000, maxMs: 60_000 };

/**
 * The wait before reconnect attempt `failures + 1`: doubling from minMs up to maxMs, so a broker
 * that is down for the night costs one attempt a minute, not one a second.
 */
export function reconnectDelay(failures: number, backoff: Backoff): number {
  // After ~1000 failures 2 ** failures is Infinity, which Math.min still caps to maxMs.
  return Math.min(backoff.maxMs, backoff.minMs * 2 ** failures);
}

/** Checks the bounds once, when the publisher is configured. */
export function validateBackoff(backoff: Backoff): Backoff {
  const { minMs, maxMs } = backoff;
  if (!Number.isFinite(minMs) || minMs <= 0 || !Number.isFinite(maxMs) || maxMs < minMs) {
    throw new RangeError(
      `reconnect backoff ${minMs}-${maxMs} ms is invalid; expected 0 < minMs <= maxMs, e.g. 1000-60000`,
    );
  }
  return backoff;
}
