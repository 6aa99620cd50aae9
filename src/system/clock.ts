/**
 * The one time seam: every part that reads the time or waits (capture's retries, stall checks
 * and replay pacing, the windower's dates, inference timing, LED holds and blinks, MQTT
 * reconnects, health reports, the systemd watchdog, the shutdown deadline) takes a Clock, so
 * tests drive all of it with one ManualClock (test/helpers/manual-clock.ts) instead of waiting.
 */
export interface Clock {
  /** Wall time in ms since the Unix epoch (Date.now): what events and reports are dated with. */
  now(): number;
  /**
   * Monotonic ms (performance.now), for durations: a Pi without a real-time clock boots with a
   * stale date that NTP later steps forward, which must not read as a stalled recorder.
   */
  monotonic(): number;
  /** Calls `callback` once after `ms`; the returned function cancels it. */
  after(ms: number, callback: () => void): () => void;
  /** Calls `callback` every `ms`; the returned function cancels it. */
  every(ms: number, callback: () => void): () => void;
}

/**
 * Node's clocks and timers. Timers keep the process alive, like any pending work: a recorder
 * retry may be all a daemon has to do while its broker is down too. What stops a stopping
 * daemon from lingering is the stop list cancelling them and the shutdown deadline, not unref.
 * Globals are looked up per call so test fake timers installed after import take effect.
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  after(ms, callback) {
    const timer = setTimeout(callback, ms);
    return () => clearTimeout(timer);
  },
  every(ms, callback) {
    const timer = setInterval(callback, ms);
    return () => clearInterval(timer);
  },
};
