/** A queued message and whether it went out on the current connection. */
export interface QueueEntry<T> {
  readonly item: T;
  sent: boolean;
}

/**
 * Messages that the broker has not acknowledged yet, oldest first, at most `limit` of them.
 * An entry stays queued while it is in flight, so a connection lost before the PUBACK does not
 * lose it: `markAllUnsent` puts it up for sending again on the next connection, in order.
 * When full, the oldest entry is dropped: on an emotion feed a recent event is worth more than
 * an old one, and memory must stay bounded during a long broker outage.
 */
export class OutboundQueue<T> {
  readonly #limit: number;
  readonly #entries: QueueEntry<T>[] = [];
  #dropped = 0;

  constructor(limit: number) {
    if (!Number.isSafeInteger(limit) || limit < 1) {
      throw new RangeError(`queue limit ${limit} is not a whole number of messages >= 1`);
    }
    this.#limit = limit;
  }

  /** Messages waiting, in flight or not. */
  get size(): number {
    return this.#entries.length;
  }

  /** Messages dropped from a full queue since construction. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Adds a message; returns the one dropped to make room, if any. */
  push(item: T): T | undefined {
    this.#entries.push({ item, sent: false });
    if (this.#entries.length <= this.#limit) return undefined;
    this.#dropped++;
    return this.#entries.shift()?.item;
  }

  /** The entries not yet sent on this connection, oldest first, now marked as sent. */
  takeUnsent(): QueueEntry<T>[] {
    const unsent = this.#entries.filter((entry) => !entry.sent);
    for (const entry of unsent) entry.sent = true;
    return unsent;
  }

  /** Removes an acknowledged entry; one dropped meanwhile is already gone. */
  acknowledge(entry: QueueEntry<T>): void {
    const index = this.#entries.indexOf(entry);
    if (index !== -1) this.#entries.splice(index, 1);
  }

  /** After a connection is lost: everything not acknowledged goes out again on the next one. */
  markAllUnsent(): void {
    for (const entry of this.#entries) entry.sent = false;
  }
}
