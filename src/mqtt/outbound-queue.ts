/** An event as it waits for the broker: its id and the exact JSON payload to publish. */
export interface QueuedEvent {
  readonly id: string;
  readonly payload: string;
}

/** A queued message and whether it went out on the current connection. */
export interface QueueEntry<T> {
  readonly item: T;
  /** Position in the queue: increases with every push, so the oldest entry has the lowest. */
  readonly seq: number;
  sent: boolean;
}

/** What the publisher needs from a queue; OutboundQueue (memory) and DurableQueue (disk) are two. */
export interface EventQueue {
  /** Events waiting, in flight or not. */
  readonly size: number;
  /** Their payloads' size as counted against the byte limit. */
  readonly bytes: number;
  /** Events dropped from a full queue since it was opened. */
  readonly dropped: number;
  /** Adds an event; returns its entry and the oldest entries dropped to make room. */
  push(event: QueuedEvent): { entry: QueueEntry<QueuedEvent>; dropped: Array<QueueEntry<QueuedEvent>> };
  /** The oldest entry not yet sent on this connection. */
  firstUnsent(): QueueEntry<QueuedEvent> | undefined;
  /** Removes an entry the broker acknowledged; one dropped meanwhile is already gone. */
  acknowledge(entry: QueueEntry<QueuedEvent>): void;
  /** After a connection is lost: everything not acknowledged goes out again on the next one. */
  markAllUnsent(): void;
}

export interface QueueLimits {
  /** Most entries kept. */
  count: number;
  /** Most bytes kept, as measured by the queue's sizeOf. */
  bytes: number;
}

/**
 * Messages that the broker has not acknowledged yet, oldest first, bounded by count and bytes.
 * An entry stays queued while it is in flight, so a connection lost before the PUBACK does not
 * lose it: `markAllUnsent` puts it up for sending again on the next connection, in order.
 * When full, the oldest entries are dropped: on an emotion feed a recent event is worth more
 * than an old one, and memory must stay bounded during a long broker outage. The newest entry
 * is always kept, even when it alone exceeds the byte limit.
 *
 * Entries live in a Map keyed by seq: insertion order is queue order, and removing an
 * acknowledged entry from anywhere is O(1) even with tens of thousands queued.
 */
export class OutboundQueue<T> {
  readonly #limits: QueueLimits;
  readonly #sizeOf: (item: T) => number;
  readonly #entries = new Map<number, QueueEntry<T>>();
  #bytes = 0;
  #dropped = 0;
  #nextSeq = 0;

  constructor(limits: QueueLimits, sizeOf: (item: T) => number) {
    if (!Number.isSafeInteger(limits.count) || limits.count < 1) {
      throw new RangeError(`queue limit ${limits.count} is not a whole number of messages >= 1`);
    }
    if (!(limits.bytes >= 1)) {
      throw new RangeError(`queue byte limit ${limits.bytes} is not a number of bytes >= 1`);
    }
    this.#limits = limits;
    this.#sizeOf = sizeOf;
  }

  get size(): number {
    return this.#entries.size;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get dropped(): number {
    return this.#dropped;
  }

  /**
   * Adds an item at the end. `seq` restores an entry's position when a queue is rebuilt from
   * disk; it must be higher than every seq pushed before.
   */
  push(item: T, seq = this.#nextSeq): { entry: QueueEntry<T>; dropped: Array<QueueEntry<T>> } {
    if (seq < this.#nextSeq) throw new RangeError(`seq ${seq} is not after the last one (${this.#nextSeq - 1})`);
    this.#nextSeq = seq + 1;
    const entry: QueueEntry<T> = { item, seq, sent: false };
    this.#entries.set(seq, entry);
    this.#bytes += this.#sizeOf(item);
    const dropped: Array<QueueEntry<T>> = [];
    while (this.#entries.size > 1 && (this.#entries.size > this.#limits.count || this.#bytes > this.#limits.bytes)) {
      const oldest = this.#entries.values().next().value as QueueEntry<T>;
      this.#remove(oldest);
      this.#dropped++;
      dropped.push(oldest);
    }
    return { entry, dropped };
  }

  firstUnsent(): QueueEntry<T> | undefined {
    // Sent entries are the few in flight, so this stops after a handful of steps.
    for (const entry of this.#entries.values()) if (!entry.sent) return entry;
    return undefined;
  }

  /** Removes the entry; returns false when it was no longer queued (dropped, or already acknowledged). */
  acknowledge(entry: QueueEntry<T>): boolean {
    if (this.#entries.get(entry.seq) !== entry) return false;
    this.#remove(entry);
    return true;
  }

  markAllUnsent(): void {
    for (const entry of this.#entries.values()) entry.sent = false;
  }

  /** Every entry, oldest first. */
  entries(): IterableIterator<QueueEntry<T>> {
    return this.#entries.values();
  }

  #remove(entry: QueueEntry<T>): void {
    this.#entries.delete(entry.seq);
    this.#bytes -= this.#sizeOf(entry.item);
  }
}

/** The in-memory event queue: lost on restart. The agent itself uses DurableQueue. */
export function memoryEventQueue(limits: QueueLimits): OutboundQueue<QueuedEvent> {
  return new OutboundQueue<QueuedEvent>(limits, (event) => Buffer.byteLength(event.payload));
}
