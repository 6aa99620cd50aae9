export interface InferenceQueueOptions<W, R> {
  /** Most windows waiting for the worker; a further one pushes out the oldest. */
  capacity: number;
  /** The inference itself; may be synchronous. */
  work: (window: W) => Promise<R> | R;
  /** Receives each result, in the order the windows were offered. */
  onResult: (result: R, window: W) => void;
  /**
   * Receives whatever `work` or `onResult` threw; the worker carries on with the next window.
   * It must not throw itself.
   */
  onError: (error: unknown, window: W) => void;
  /**
   * Called exactly once for every window offered, when the queue is done with it: after its
   * result or error was delivered, or when it was dropped. The place to recycle its buffers.
   * What it throws goes to onError.
   */
  onRetired?: (window: W) => void;
}

export interface InferenceQueueCounters {
  /** Windows accepted by offer() since construction. */
  queued: number;
  /** Windows whose work completed. */
  processed: number;
  /** Windows whose work threw. */
  failed: number;
  /** Windows pushed out by newer ones, left waiting at stop(), or offered after it. */
  dropped: number;
  /** Windows waiting now (never more than the capacity). */
  pending: number;
}

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Runs inference off the capture path: offer() only enqueues, and one worker loop takes the
 * windows one at a time, yielding to the event loop before each so capture callbacks (and
 * MQTT, timers) run between two inferences. A worker that falls behind loses the oldest
 * waiting windows, never the newest: an event about speech from a minute ago is worth less
 * than one about now, and memory stays bounded by the capacity.
 */
export class InferenceQueue<W, R> {
  readonly #options: InferenceQueueOptions<W, R>;
  readonly #pending: W[] = [];
  #running = false;
  #stopped = false;
  #idleWaiters: (() => void)[] = [];
  readonly #counters = { queued: 0, processed: 0, failed: 0, dropped: 0 };

  constructor(options: InferenceQueueOptions<W, R>) {
    if (!Number.isSafeInteger(options.capacity) || options.capacity < 1) {
      throw new RangeError(`InferenceQueue: capacity is ${options.capacity}; expected a whole number of at least 1`);
    }
    this.#options = options;
  }

  get counters(): InferenceQueueCounters {
    return { ...this.#counters, pending: this.#pending.length };
  }

  /** Enqueues `window` and returns at once; the work never runs inside this call. */
  offer(window: W): void {
    if (this.#stopped) {
      // Capture may deliver a last chunk while shutting down; it is not an error.
      this.#counters.dropped++;
      this.#retire(window);
      return;
    }
    this.#counters.queued++;
    if (this.#pending.length === this.#options.capacity) {
      const oldest = this.#pending.shift() as W;
      this.#counters.dropped++;
      this.#retire(oldest);
    }
    this.#pending.push(window);
    if (!this.#running) {
      this.#running = true;
      void this.#run();
    }
  }

  /** Resolves once every window offered so far has been processed (or dropped). */
  drain(): Promise<void> {
    if (!this.#running) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /**
   * Stops for shutdown: the windows still waiting are dropped (counted), the one in flight is
   * finished and its result delivered, since inference is synchronous CPU work that cannot be
   * interrupted anyway; resolves when the worker has stopped. Idempotent.
   */
  stop(): Promise<void> {
    if (!this.#stopped) {
      this.#stopped = true;
      const left = this.#pending.splice(0);
      this.#counters.dropped += left.length;
      for (const window of left) this.#retire(window);
    }
    return this.drain();
  }

  /**
   * The worker loop. It rejects only if onError itself throws, a bug that then surfaces as an
   * unhandled rejection rather than a silently dead worker.
   */
  async #run(): Promise<void> {
    try {
      for (;;) {
        await yieldToEventLoop();
        const window = this.#pending.shift();
        if (window === undefined) break;
        await this.#process(window);
        this.#retire(window);
      }
    } finally {
      // Cleared synchronously with the final empty check, so an offer() arriving after it
      // starts a new loop instead of leaving its window stranded.
      this.#running = false;
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  async #process(window: W): Promise<void> {
    let result: R;
    try {
      result = await this.#options.work(window);
    } catch (error) {
      this.#counters.failed++;
      this.#options.onError(error, window);
      return;
    }
    this.#counters.processed++;
    try {
      this.#options.onResult(result, window);
    } catch (error) {
      this.#options.onError(error, window);
    }
  }

  #retire(window: W): void {
    try {
      this.#options.onRetired?.(window);
    } catch (error) {
      this.#options.onError(error, window);
    }
  }
}
