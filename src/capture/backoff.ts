/** Exponential retry delays: initial, doubling, capped; reset once the retried thing works. */
export class Backoff {
  private nextDelayMs: number;

  constructor(
    private readonly initialMs: number,
    private readonly maxMs: number,
  ) {
    this.nextDelayMs = initialMs;
  }

  /** The delay before the next attempt; each call doubles the one after it, up to the cap. */
  next(): number {
    const delay = this.nextDelayMs;
    this.nextDelayMs = Math.min(this.maxMs, delay * 2);
    return delay;
  }

  reset(): void {
    this.nextDelayMs = this.initialMs;
  }
}
