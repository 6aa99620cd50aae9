import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.js';

/**
 * The power-cut bound the README states: each event is flushed to storage (fdatasync) soon
 * after it is written, not only when the queue closes. Nothing inside the process can tell a
 * flushed write from one still in the page cache, so the real queue runs in a child process
 * under strace, which records the system calls themselves. The child kills itself with
 * SIGKILL, so no close() flush can stand in for the per-event ones.
 */
const EVENTS = 3;
let work: string;

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'ser-queue-sync-'));
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

const CHILD = (stateDir: string) => `
import pino from ${JSON.stringify(pathToFileURL(createRequire(import.meta.url).resolve('pino')).href)};
import { DurableQueue } from ${JSON.stringify(pathToFileURL(path.join(REPO_ROOT, 'dist/src/mqtt/durable-queue.js')).href)};
const queue = DurableQueue.open({ directory: ${JSON.stringify(stateDir)}, limits: { count: 100, bytes: 1e6 }, logger: pino({ level: 'silent' }) });
for (let n = 1; n <= ${EVENTS}; n++) {
  queue.push({ id: 'event-' + n, payload: JSON.stringify({ id: 'event-' + n }) });
  await new Promise((resolve) => setTimeout(resolve, 100));
}
process.kill(process.pid, 'SIGKILL');
`;

describe('DurableQueue on storage', () => {
  it('fdatasyncs every event it writes before the next one, without waiting for close', async () => {
    const stateDir = path.join(work, 'state');
    const script = path.join(work, 'child.mjs');
    await writeFile(script, CHILD(stateDir));
    const trace = path.join(work, 'trace');
    try {
      await promisify(execFile)('strace', ['-f', '-qq', '-s', '200', '-e', 'trace=openat,pwrite64,write,fdatasync', '-o', trace, process.execPath, script]);
    } catch (error) {
      // The child ends itself with SIGKILL; anything else is a real failure.
      if ((error as { signal?: string }).signal !== 'SIGKILL' && !String((error as Error).message).includes('SIGKILL')) throw error;
    }

    const calls = (await readFile(trace, 'utf8')).split('\n');
    const queueFds = new Set<string>();
    const sequence: string[] = [];
    for (const line of calls) {
      const opened = /openat\(AT_FDCWD, "([^"]+)".* = (\d+)$/.exec(line);
      if (opened && opened[1]?.startsWith(stateDir)) queueFds.add(opened[2] as string);
      // strace -f splits a call another thread interrupts: `fdatasync(21 <unfinished ...>`.
      const call = /\b(pwrite64|write|fdatasync)\((\d+)(?:[,)]| <unfinished)/.exec(line);
      if (!call || !queueFds.has(call[2] as string)) continue;
      const written = /event-(\d+)/.exec(line);
      if (call[1] === 'fdatasync') sequence.push('sync');
      else if (written) sequence.push(`write ${written[1]}`);
    }
    // Each event's write is followed by a flush before the next event is written.
    const writes = sequence.filter((step) => step.startsWith('write'));
    expect(writes).toEqual(Array.from({ length: EVENTS }, (_, i) => `write ${i + 1}`));
    for (let n = 1; n <= EVENTS; n++) {
      const after = sequence.slice(sequence.indexOf(`write ${n}`) + 1);
      const nextWrite = after.findIndex((step) => step.startsWith('write'));
      expect(after.slice(0, nextWrite === -1 ? undefined : nextWrite), `flush after event ${n}: ${sequence.join(', ')}`).toContain('sync');
    }
  });
});
