import {
  closeSync,
  fdatasync,
  fdatasyncSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { ConfigError, describeError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import { OutboundQueue, type EventQueue, type QueueEntry, type QueueLimits, type QueuedEvent } from './outbound-queue.js';
import {
  encodeRecord,
  eventRecordBytes,
  FILE_HEADER,
  RECORD_EVENT,
  RECORD_REMOVED,
  REMOVED_RECORD_BYTES,
  scanQueueFile,
  type QueueRecord,
} from './queue-file.js';

/** The queue's file in the state directory; the only thing the agent keeps there. */
export const QUEUE_FILE = 'event-queue.log';
/** A compacted copy being written; renamed over QUEUE_FILE when complete, removed if a crash left it. */
export const COMPACTING_FILE = 'event-queue.log.compacting';
/**
 * Acknowledged records are rewritten away once they take this much and at least as much as
 * the live ones: rare enough that rewriting costs little, and the file stays below about
 * twice the byte limit plus this.
 */
const COMPACT_MIN_DEAD_BYTES = 256 * 1024;

export interface DurableQueueOptions {
  /** The state directory; created (mode 0700) if missing. */
  directory: string;
  limits: QueueLimits;
  logger: Logger;
}

/**
 * The outbound event queue, kept in an append-only file (format in queue-file.ts) so that
 * events survive broker outages, restarts, `kill -9` and power cuts.
 *
 * Durability policy: every event is written to the file (one write(2), so it is in the kernel
 * and survives the process dying) before push() returns, and so before MQTT sees it; an
 * fdatasync follows at once without blocking the event loop, coalesced while one is running.
 * A power cut therefore loses at most the events written since the last completed fdatasync:
 * in practice the last event, as one is made at most every hop (≥ 1 s by default 3 s) and a
 * flush takes milliseconds. Removals (PUBACKs, drops) are written but not flushed on their own;
 * they reach the disk with the next event's flush. A removal lost in a power cut only means
 * that event is sent again: delivery is at least once and event ids let subscribers
 * de-duplicate. One fdatasync per event, about one per few seconds, is light wear for an SD card.
 *
 * The queue in memory (an OutboundQueue) mirrors the file, so reads never touch the disk.
 * A write error (disk full, I/O error) is logged and the event is still queued in memory:
 * the daemon keeps running, with durability lost until writes succeed again.
 */
export class DurableQueue implements EventQueue {
  readonly file: string;
  readonly #directory: string;
  readonly #log: Logger;
  readonly #index: OutboundQueue<QueuedEvent>;
  #fd: number;
  /** Where the next record is written; records are written at explicit positions. */
  #fileBytes: number;
  /** Bytes of records that describe no queued event any more: compaction removes them. */
  #deadBytes = 0;
  #syncing: Promise<void> | undefined;
  #syncAgain = false;
  /** The descriptor an fdatasync is running on, if any: compaction must not close it under the call. */
  #syncingFd: number | undefined;
  /** The descriptor compaction replaced while an fdatasync on it was running; closed when it ends. */
  #retiredFd: number | undefined;
  #writeFailing = false;
  #compactFailedAtDeadBytes = 0;
  #closed = false;

  private constructor(options: DurableQueueOptions, index: OutboundQueue<QueuedEvent>, fd: number, fileBytes: number) {
    this.#directory = options.directory;
    this.file = path.join(options.directory, QUEUE_FILE);
    this.#log = options.logger;
    this.#index = index;
    this.#fd = fd;
    this.#fileBytes = fileBytes;
  }

  /**
   * Opens the queue in `directory`, repairing a file damaged by a power cut: intact records
   * are kept, damaged bytes are dropped and logged. Throws a ConfigError when the directory
   * cannot be used; damage inside the file never throws.
   */
  static open(options: DurableQueueOptions): DurableQueue {
    const log = options.logger.child({ module: 'event-queue' });
    const file = path.join(options.directory, QUEUE_FILE);
    const data = usable(options.directory, () => {
      mkdirSync(options.directory, { recursive: true, mode: 0o700 });
      rmSync(path.join(options.directory, COMPACTING_FILE), { force: true });
      return readIfPresent(file);
    });
    const { records, damaged } = scanQueueFile(data);
    const live = liveEvents(records);
    if (damaged.length > 0) {
      log.warn(
        {
          file,
          damaged,
          droppedBytes: damaged.reduce((sum, range) => sum + range.bytes, 0),
          keptEvents: live.length,
          fileBytes: data.length,
        },
        'event queue file was damaged (a power cut during a write?): dropped the damaged bytes, kept every intact event',
      );
    }
    const index = new OutboundQueue<QueuedEvent>(options.limits, (event) => eventRecordBytes(event.payload));
    let droppedOnOpen = 0;
    for (const { seq, event } of live) droppedOnOpen += index.push(event, seq).dropped.length;
    if (droppedOnOpen > 0) {
      log.warn(
        { file, dropped: droppedOnOpen, queueLimit: options.limits.count, queueBytes: options.limits.bytes },
        'event queue file holds more than the configured limits: dropped the oldest events',
      );
    }
    // Rewriting on open leaves a clean file (header, live events only) whatever was found.
    const fd = usable(options.directory, () => writeCompacted(options.directory, index));
    const queue = new DurableQueue({ ...options, logger: log }, index, fd, fileSize(index));
    log.info({ file, queued: index.size, bytes: index.bytes }, 'event queue opened');
    return queue;
  }

  get size(): number {
    return this.#index.size;
  }

  get bytes(): number {
    return this.#index.bytes;
  }

  get dropped(): number {
    return this.#index.dropped;
  }

  push(event: QueuedEvent): { entry: QueueEntry<QueuedEvent>; dropped: Array<QueueEntry<QueuedEvent>> } {
    const result = this.#index.push(event);
    const records: QueueRecord[] = [{ kind: RECORD_EVENT, seq: result.entry.seq, payload: event.payload }];
    for (const dropped of result.dropped) {
      records.push({ kind: RECORD_REMOVED, seq: dropped.seq });
      this.#deadBytes += eventRecordBytes(dropped.item.payload) + REMOVED_RECORD_BYTES;
    }
    if (this.#write(records)) this.#scheduleSync();
    this.#compactIfWorthIt();
    return result;
  }

  firstUnsent(): QueueEntry<QueuedEvent> | undefined {
    return this.#index.firstUnsent();
  }

  acknowledge(entry: QueueEntry<QueuedEvent>): void {
    if (!this.#index.acknowledge(entry)) return;
    this.#deadBytes += eventRecordBytes(entry.item.payload) + REMOVED_RECORD_BYTES;
    this.#write([{ kind: RECORD_REMOVED, seq: entry.seq }]);
    this.#compactIfWorthIt();
  }

  markAllUnsent(): void {
    this.#index.markAllUnsent();
  }

  /** Resolves once everything written so far is on the storage, not only in the kernel. */
  async flush(): Promise<void> {
    while (this.#syncing !== undefined) await this.#syncing;
    if (!this.#closed) this.#syncNow();
  }

  /** Flushes and closes the file. The events stay in it for the next start. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.flush();
    this.#closed = true;
    try {
      closeSync(this.#fd);
    } catch (error) {
      this.#log.warn({ err: error, file: this.file }, 'cannot close the event queue file');
    }
    this.#log.info({ file: this.file, queued: this.size }, 'event queue closed; waiting events are sent after the next start');
  }

  /** Appends records at the end of the file; false when they could not be written. */
  #write(records: QueueRecord[]): boolean {
    if (this.#closed) return false;
    const bytes = Buffer.concat(records.map(encodeRecord));
    try {
      const written = writeSync(this.#fd, bytes, 0, bytes.length, this.#fileBytes);
      // A short write (disk full) leaves a torn record; the next write goes over it.
      if (written !== bytes.length) throw new Error(`wrote ${written} of ${bytes.length} bytes`);
    } catch (error) {
      if (!this.#writeFailing) {
        this.#writeFailing = true;
        this.#log.error(
          { err: error, file: this.file },
          `cannot write the event queue file (${describeError(error)}): events are queued in memory only and lost if the agent stops`,
        );
      }
      return false;
    }
    if (this.#writeFailing) {
      this.#writeFailing = false;
      this.#log.info({ file: this.file }, 'event queue file is writable again');
    }
    this.#fileBytes += bytes.length;
    return true;
  }

  #scheduleSync(): void {
    if (this.#syncing !== undefined) {
      this.#syncAgain = true;
      return;
    }
    this.#syncing = this.#syncLoop().finally(() => {
      this.#syncing = undefined;
    });
  }

  async #syncLoop(): Promise<void> {
    do {
      this.#syncAgain = false;
      const fd = this.#fd;
      this.#syncingFd = fd;
      await new Promise<void>((resolve) => {
        fdatasync(fd, (error) => {
          if (error) this.#log.warn({ err: error, file: this.file }, 'cannot flush the event queue file to storage');
          resolve();
        });
      });
      this.#syncingFd = undefined;
      // Here, not when the loop ends: while events keep coming the loop never ends, and each
      // compaction's old file stayed open (13 after 120 events in the queue tests).
      if (this.#retiredFd !== undefined) closeQuietly(this.#retiredFd);
      this.#retiredFd = undefined;
    } while (this.#syncAgain && !this.#closed);
  }

  #syncNow(): void {
    try {
      fdatasyncSync(this.#fd);
    } catch (error) {
      this.#log.warn({ err: error, file: this.file }, 'cannot flush the event queue file to storage');
    }
  }

  /**
   * Keeps the file from growing forever: an empty queue is truncated to its header (cheap,
   * and the usual case while the broker is reachable); otherwise the live events are
   * rewritten to a new file that replaces the old one atomically.
   */
  #compactIfWorthIt(): void {
    if (this.#closed || this.#deadBytes < COMPACT_MIN_DEAD_BYTES) return;
    if (this.#index.size === 0) {
      try {
        ftruncateSync(this.#fd, FILE_HEADER.length);
        this.#fileBytes = FILE_HEADER.length;
        this.#deadBytes = 0;
      } catch (error) {
        this.#log.warn({ err: error, file: this.file }, 'cannot truncate the event queue file');
      }
      return;
    }
    const liveBytes = this.#fileBytes - this.#deadBytes;
    // After a failure (disk full) wait for another COMPACT_MIN_DEAD_BYTES instead of retrying on every event.
    if (this.#deadBytes < liveBytes || this.#deadBytes < this.#compactFailedAtDeadBytes + COMPACT_MIN_DEAD_BYTES) return;
    try {
      const fd = writeCompacted(this.#directory, this.#index);
      if (this.#syncingFd === this.#fd) this.#retiredFd = this.#fd;
      else closeQuietly(this.#fd);
      this.#fd = fd;
      this.#fileBytes = fileSize(this.#index);
      this.#deadBytes = 0;
      this.#compactFailedAtDeadBytes = 0;
    } catch (error) {
      this.#compactFailedAtDeadBytes = this.#deadBytes;
      rmSync(path.join(this.#directory, COMPACTING_FILE), { force: true });
      this.#log.warn({ err: error, file: this.file }, 'cannot compact the event queue file; it keeps growing until this succeeds');
    }
  }
}

/** Events that were written and not removed, oldest first. */
function liveEvents(records: QueueRecord[]): Array<{ seq: number; event: QueuedEvent }> {
  const events = new Map<number, string>();
  for (const record of records) {
    if (record.kind === RECORD_EVENT) events.set(record.seq, record.payload);
    else events.delete(record.seq);
  }
  return [...events]
    .sort(([a], [b]) => a - b)
    .map(([seq, payload]) => ({ seq, event: { id: eventId(payload), payload } }));
}

/** The id inside a stored payload; '' when a payload is not an event (it is still delivered as it was queued). */
function eventId(payload: string): string {
  try {
    const parsed = JSON.parse(payload) as { id?: unknown };
    return typeof parsed.id === 'string' ? parsed.id : '';
  } catch {
    return '';
  }
}

function fileSize(index: OutboundQueue<QueuedEvent>): number {
  return FILE_HEADER.length + index.bytes;
}

/**
 * Writes the header and the queued events to COMPACTING_FILE, flushes it, renames it over
 * QUEUE_FILE and flushes the directory, so a power cut leaves either the old file or the new
 * one. Returns the new file's descriptor.
 */
function writeCompacted(directory: string, index: OutboundQueue<QueuedEvent>): number {
  const compacting = path.join(directory, COMPACTING_FILE);
  const records = [...index.entries()].map((entry) =>
    encodeRecord({ kind: RECORD_EVENT, seq: entry.seq, payload: entry.item.payload }),
  );
  const bytes = Buffer.concat([FILE_HEADER, ...records]);
  const fd = openSync(compacting, 'w', 0o600);
  try {
    if (writeSync(fd, bytes, 0, bytes.length, 0) !== bytes.length) throw new Error(`short write to ${compacting}`);
    fdatasyncSync(fd);
    renameSync(compacting, path.join(directory, QUEUE_FILE));
  } catch (error) {
    closeQuietly(fd);
    throw error;
  }
  const dir = openSync(directory, 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
  return fd;
}

function readIfPresent(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return Buffer.alloc(0);
    throw error;
  }
}

/** Runs file-system work on the state directory, turning its failure into a message with the fix. */
function usable<T>(directory: string, work: () => T): T {
  try {
    return work();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError(
      `state directory ${directory} cannot hold the event queue (${code ?? describeError(error)}: ${describeError(error)}); ` +
        'make it a directory writable by the user running ser-agent (under systemd, StateDirectory=ser-agent ' +
        'provides /var/lib/ser-agent), or set state.directory (SER_STATE_DIRECTORY) to one',
      { cause: error },
    );
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // Already closed or invalid: nothing left to release.
  }
}
