/**
 * The time seam of the capture sources: retries, stall detection and replay pacing all go
 * through it, so tests drive them with a fake clock instead of waiting.
 */
export interface CaptureClock {
  /** Milliseconds on a monotonic scale. */
  now(): number;
  /** Calls `callback` after `delayMs`; the returned function cancels it. */
  setTimeout(callback: () => void, delayMs: number): () => void;
}

export const systemClock: CaptureClock = {
  now: () => performance.now(),
  setTimeout(callback, delayMs) {
    const handle = setTimeout(callback, delayMs);
    return () => clearTimeout(handle);
  },
};
