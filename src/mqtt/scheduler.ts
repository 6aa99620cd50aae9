/**
 * One-shot timers, injectable so tests can see and fire the publisher's reconnect waits and
 * stop deadlines without sleeping.
 */
export interface Scheduler {
  /** Runs `callback` once after `delayMs`; returns a function that cancels it. */
  schedule(callback: () => void, delayMs: number): () => void;
}

export const realScheduler: Scheduler = {
  schedule(callback, delayMs) {
    const timer = setTimeout(callback, delayMs);
    return () => clearTimeout(timer);
  },
};
