import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { DurableQueue, QUEUE_FILE } from '../../src/mqtt/durable-queue.js';
import type { QueueEntry, QueueLimits, QueuedEvent } from '../../src/mqtt/outbound-queue.js';
import { encodeRecord, eventRecordBytes, FILE_HEADER, RECORD_EVENT } from '../../src/mqtt/queue-file.js';
import { eventQueueContract } from './event-queue-contract.js';
import { captureLogs } from '../helpers/logs.js';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function stateDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ser-queue-'));
  dirs.push(dir);
  return path.join(dir, 'state');
}

const LIMITS: QueueLimits = { count: 1000, bytes: 1e9 };

function open(directory: string, limits = LIMITS, logger = pino({ level: 'silent' })): DurableQueue {
  return DurableQueue.open({ directory, limits, logger });
}

const event = (n: number, pad = 0): QueuedEvent => ({
  id: `id-${String(n).padStart(5, '0')}`,
  payload: JSON.stringify({ id: `id-${String(n).padStart(5, '0')}`, pad: 'p'.repeat(pad) }),
});

/** Everything queued, oldest first, marked sent as a connection would. */
function drain(queue: DurableQueue): QueuedEvent[] {
  const out: QueuedEvent[] = [];
  for (let entry = queue.firstUnsent(); entry !== undefined; entry = queue.firstUnsent()) {
    entry.sent = true;
    out.push(entry.item);
  }
  return out;
}

eventQueueContract('DurableQueue', (limits) => open(stateDir(), limits), (e) => eventRecordBytes(e.payload));

describe('DurableQueue', () => {
  it('keeps unacknowledged events across a reopen, in order, and continues after them', async () => {
    const dir = stateDir();
    const queue = open(dir);
    const entries = [1, 2, 3, 4, 5].map((n) => queue.push(event(n)).entry);
    queue.acknowledge(entries[0]!);
    queue.acknowledge(entries[2]!);
    await queue.close();

    const reopened = open(dir);
    expect(reopened.size).toBe(3);
    reopened.push(event(6));
    expect(drain(reopened).map((e) => e.id)).toEqual(['id-00002', 'id-00004', 'id-00005', 'id-00006']);
    expect(reopened.bytes).toBe([2, 4, 5, 6].reduce((sum, n) => sum + eventRecordBytes(event(n).payload), 0));
    await reopened.close();
  });

  it('has every event in the file as soon as push returns, without close (kill -9)', () => {
    const dir = stateDir();
    const queue = open(dir);
    for (const n of [1, 2, 3]) queue.push(event(n));
    // No close(), no flush(): a second process opening the file now sees what a restart after kill -9 would.
    expect(drain(open(dir)).map((e) => e.payload)).toEqual([1, 2, 3].map((n) => event(n).payload));
  });

  it('drops the oldest on reopen when the limits were lowered, counting and logging it', async () => {
    const dir = stateDir();
    const queue = open(dir);
    for (const n of [1, 2, 3, 4, 5]) queue.push(event(n));
    await queue.close();
    const log = captureLogs();
    const smaller = open(dir, { count: 2, bytes: 1e9 }, log.logger);
    expect(drain(smaller).map((e) => e.id)).toEqual(['id-00004', 'id-00005']);
    expect(smaller.dropped).toBe(3);
    expect(log.lines.find((line) => line['dropped'] === 3)?.['msg']).toMatch(/more than the configured limits/);
    await smaller.close();
  });

  it('stays small while the broker acknowledges everything, and compacts a long backlog keeping its order', async () => {
    const dir = stateDir();
    const file = path.join(dir, QUEUE_FILE);
    const queue = open(dir, { count: 100_000, bytes: 64 * 1024 * 1024 });
    for (let n = 0; n < 2000; n++) queue.acknowledge(queue.push(event(n, 500)).entry);
    expect(queue.size).toBe(0);
    // 2000 events of ~530 bytes were written; the acknowledged ones were truncated away.
    expect(statSync(file).size).toBeLessThan(300 * 1024);

    // A backlog where every other event is acknowledged: the file is rewritten, never more than
    // about twice the live bytes plus the compaction threshold.
    const kept: string[] = [];
    let largest = 0;
    for (let n = 0; n < 3000; n++) {
      const { entry } = queue.push(event(n, 500));
      if (n % 2 === 0) queue.acknowledge(entry);
      else kept.push(entry.item.id);
      largest = Math.max(largest, statSync(file).size);
    }
    expect(largest).toBeLessThan(2 * queue.bytes + 300 * 1024);
    await queue.close();
    const reopened = open(dir, { count: 100_000, bytes: 64 * 1024 * 1024 });
    expect(drain(reopened).map((e) => e.id)).toEqual(kept);
    await reopened.close();
  });

  describe('repair of a damaged file', () => {
    /** A closed queue holding three events; returns its file's bytes and where the last record starts. */
    async function threeEvents(dir: string): Promise<{ data: Buffer; lastStart: number }> {
      const queue = open(dir);
      for (const n of [1, 2, 3]) queue.push(event(n));
      await queue.close();
      const data = readFileSync(path.join(dir, QUEUE_FILE));
      return { data, lastStart: data.length - eventRecordBytes(event(3).payload) };
    }

    it('keeps the intact events when the last record is cut at any byte (power cut mid-write)', async () => {
      const dir = stateDir();
      const { data, lastStart } = await threeEvents(dir);
      for (let cut = lastStart; cut < data.length; cut++) {
        writeFileSync(path.join(dir, QUEUE_FILE), data.subarray(0, cut));
        const log = captureLogs();
        const queue = open(dir, LIMITS, log.logger);
        expect(drain(queue).map((e) => e.id), `cut at ${cut}`).toEqual(['id-00001', 'id-00002']);
        await queue.close();
        const warning = log.lines.find((line) => line['level'] === 40);
        if (cut === lastStart) {
          expect(warning).toBeUndefined();
        } else {
          expect(warning).toMatchObject({ damaged: [{ offset: lastStart, bytes: cut - lastStart }], keptEvents: 2 });
          expect(warning?.['msg']).toMatch(/damaged .* kept every intact event/);
        }
      }
    });

    it('keeps the intact events when any bit of the last record is flipped', async () => {
      const dir = stateDir();
      const { data, lastStart } = await threeEvents(dir);
      for (let offset = lastStart; offset < data.length; offset++) {
        for (const bit of [0x01, 0x80]) {
          const damaged = Buffer.from(data);
          damaged[offset] = (damaged[offset] as number) ^ bit;
          writeFileSync(path.join(dir, QUEUE_FILE), damaged);
          const log = captureLogs();
          const queue = open(dir, LIMITS, log.logger);
          expect(drain(queue).map((e) => e.id), `bit ${bit} at ${offset}`).toEqual(['id-00001', 'id-00002']);
          await queue.close();
          expect(log.lines.find((line) => line['level'] === 40)).toMatchObject({ damaged: [{ offset: lastStart }] });
        }
      }
    });

    it('rewrites the repaired file clean, and keeps events written after a damaged record', async () => {
      const dir = stateDir();
      const { data } = await threeEvents(dir);
      // A torn record in the middle (the write before a crash), then an intact one appended after the restart.
      const torn = data.subarray(0, data.length - 5);
      const later = encodeRecord({ kind: RECORD_EVENT, seq: 10, payload: event(4).payload });
      writeFileSync(path.join(dir, QUEUE_FILE), Buffer.concat([torn, later]));
      const first = open(dir);
      await first.close();
      const log = captureLogs();
      const second = open(dir, LIMITS, log.logger);
      expect(drain(second).map((e) => e.id)).toEqual(['id-00001', 'id-00002', 'id-00004']);
      expect(log.lines.filter((line) => line['level'] === 40)).toEqual([]);
      await second.close();
    });

    it('never throws on a file of garbage: it starts empty and says so', async () => {
      const dir = stateDir();
      await threeEvents(dir);
      writeFileSync(path.join(dir, QUEUE_FILE), Buffer.from('this is not a queue file at all'));
      const log = captureLogs();
      const queue = open(dir, LIMITS, log.logger);
      expect(queue.size).toBe(0);
      expect(log.lines.find((line) => line['level'] === 40)).toMatchObject({ damaged: [{ offset: 0, bytes: 31 }], keptEvents: 0 });
      await queue.close();
    });
  });

  it('closes each file a compaction replaced once its flush is done, while events keep coming', async () => {
    const dir = stateDir();
    const file = path.join(dir, QUEUE_FILE);
    const queue = open(dir);
    // Descriptors this process still holds on queue files that compaction renamed over.
    const replacedStillOpen = () =>
      readdirSync('/proc/self/fd').filter((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`) === `${file} (deleted)`;
        } catch {
          return false; // closed between the listing and the readlink
        }
      }).length;
    let compactions = 0;
    let fileBytes = 0;
    let mostStillOpen = 0;
    let previous: QueueEntry<QueuedEvent> | undefined;
    // One event per turn of the event loop: each is written while the flush of the one before
    // is still running, so the flushing never pauses (the daemon's rate when it catches up).
    for (let n = 1; n <= 120; n++) {
      const { entry } = queue.push(event(n, 30_000));
      if (previous !== undefined) queue.acknowledge(previous);
      previous = entry;
      // One event is always live, so the file shrinks only when a compaction rewrote it.
      const bytes = statSync(file).size;
      if (bytes < fileBytes) compactions += 1;
      fileBytes = bytes;
      mostStillOpen = Math.max(mostStillOpen, replacedStillOpen());
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(compactions).toBeGreaterThanOrEqual(5);
    expect(mostStillOpen).toBeLessThanOrEqual(1);
    await queue.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(replacedStillOpen()).toBe(0);
  });

  it('names the state directory and the fix when it cannot be used', () => {
    const dir = stateDir();
    const notADirectory = path.join(path.dirname(dir), 'file');
    writeFileSync(notADirectory, 'x');
    const attempt = () => open(path.join(notADirectory, 'state'));
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(
      new RegExp(`state directory ${notADirectory}/state cannot hold the event queue \\(ENOTDIR.*set state.directory \\(SER_STATE_DIRECTORY\\)`),
    );
  });

  it('keeps nothing but its file in the state directory, and only events in it', async () => {
    const dir = stateDir();
    const queue = open(dir, { count: 100_000, bytes: 64 * 1024 * 1024 });
    for (let n = 0; n < 1500; n++) {
      const { entry } = queue.push(event(n, 500));
      if (n % 3 !== 0) queue.acknowledge(entry);
    }
    await queue.close();
    expect(readdirSync(dir)).toEqual([QUEUE_FILE]);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(path.join(dir, QUEUE_FILE)).mode & 0o777).toBe(0o600);
    const data = readFileSync(path.join(dir, QUEUE_FILE));
    expect(data.subarray(0, FILE_HEADER.length)).toEqual(FILE_HEADER);
  });
});
