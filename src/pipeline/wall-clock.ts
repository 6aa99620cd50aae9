/**
 * The wall clock that dates windows, injected so tests set the time by hand. Wall time, not a
 * monotonic clock (performance.now, as capture's clock reads): window times go into events as
 * ISO dates, so they must be real dates.
 */
export interface WallClock {
  /** Milliseconds since the Unix epoch, as Date.now(). */
  now(): number;
}

export const systemWallClock: WallClock = { now: () => Date.now() };
