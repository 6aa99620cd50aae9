/** The timer seam: each method returns a function that cancels what it scheduled. */
export interface Scheduler {
  after(ms: number, callback: () => void): () => void;
  every(ms: number, callback: () => void): () => void;
}

/**
 * Node's timers, unref'd so a forgotten blink never keeps a stopping daemon alive. Globals are
 * looked up per call so test fake timers installed after import take effect.
 */
export const nodeScheduler: Scheduler = {
  after(ms, callback) {
    const timer = setTimeout(callback, ms).unref();
    return () => clearTimeout(timer);
  },
  every(ms, callback) {
    const timer = setInterval(callback, ms).unref();
    return () => clearInterval(timer);
  },
};
