import type { Clock } from '../../src/system/clock.js';

interface Timer {
  dueAt: number;
  /** Set for `every`: the timer is due again this long after it fires. */
  everyMs: number | undefined;
  callback: () => void;
}

/**
 * Time that moves only when the test moves it, for the production code's one time seam
 * (src/system/clock.ts). Wall and monotonic time are the same number here, since a test sets
 * both. Timers fire in due order, each with the time set to when it was due, and only from
 * `advance` or `fireNext`.
 */
export class ManualClock implements Clock {
  #now: number;
  #timers: Timer[] = [];
  /** Every delay asked for (after, every), in order: the waits the code chose. */
  readonly requested: number[] = [];

  constructor(startMs = 0) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  monotonic(): number {
    return this.#now;
  }

  /** Timers still scheduled. */
  get active(): number {
    return this.#timers.length;
  }

  /** Jumps to `ms`, forwards or back, without firing timers: a clock that is simply read. */
  set(ms: number): void {
    this.#now = ms;
  }

  after(ms: number, callback: () => void): () => void {
    return this.#add(ms, undefined, callback);
  }

  every(ms: number, callback: () => void): () => void {
    return this.#add(ms, ms, callback);
  }

  /** Moves time on by `ms`, firing every timer that falls due on the way, in due order. */
  advance(ms: number): void {
    const until = this.#now + ms;
    for (let next = this.#due(until); next !== undefined; next = this.#due(until)) this.#fire(next, next.dueAt);
    this.#now = until;
  }

  /**
   * Fires the timer due first, moving time to when it was due, or `lateMs` after that (never
   * back); throws when nothing is scheduled, since a test that fires expects a wait.
   */
  fireNext(lateMs = 0): void {
    const next = this.#due(Infinity);
    if (next === undefined) throw new Error('nothing scheduled');
    this.#fire(next, Math.max(this.#now, next.dueAt + lateMs));
  }

  /** The earliest timer due by `until`; the first scheduled among equals. */
  #due(until: number): Timer | undefined {
    let first: Timer | undefined;
    for (const timer of this.#timers) if (timer.dueAt <= until && (first === undefined || timer.dueAt < first.dueAt)) first = timer;
    return first;
  }

  #fire(timer: Timer, at: number): void {
    this.#now = at;
    if (timer.everyMs === undefined) this.#timers = this.#timers.filter((t) => t !== timer);
    else timer.dueAt += timer.everyMs;
    timer.callback();
  }

  #add(delayMs: number, everyMs: number | undefined, callback: () => void): () => void {
    const timer: Timer = { dueAt: this.#now + delayMs, everyMs, callback };
    this.requested.push(delayMs);
    this.#timers.push(timer);
    return () => {
      this.#timers = this.#timers.filter((t) => t !== timer);
    };
  }
}
