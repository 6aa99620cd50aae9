import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createNotifier } from '../../src/system/sd-notify.js';

/**
 * A unix datagram socket standing in for systemd's notify socket (Node has no datagram unix
 * sockets, python3 does), so the real systemd-notify delivers real messages.
 */
let dir: string;
let listener: ChildProcess;
let received: string[];

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ser-notify-'));
  received = [];
  const socket = path.join(dir, 'notify');
  listener = spawn('python3', [
    '-u',
    '-c',
    'import socket,sys\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.bind(sys.argv[1])\nprint("ready")\nwhile True: print(s.recv(4096).decode().replace("\\n","|"))',
    socket,
  ]);
  await new Promise<void>((resolve) => {
    let pending = '';
    listener.stdout?.on('data', (data: Buffer) => {
      const lines = (pending + data.toString()).split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        if (line === 'ready') resolve();
        else received.push(line);
      }
    });
  });
});

afterEach(async () => {
  listener.kill();
  await rm(dir, { recursive: true, force: true });
});

async function until(count: number): Promise<string[]> {
  const deadline = Date.now() + 10_000;
  while (received.length < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  return received;
}

const silent = pino({ level: 'silent' });

describe('createNotifier', () => {
  it('sends READY, WATCHDOG and STOPPING for this process through systemd-notify', async () => {
    const notifier = createNotifier(
      { NOTIFY_SOCKET: path.join(dir, 'notify'), WATCHDOG_USEC: '20000000', WATCHDOG_PID: '4242' },
      silent,
      4242,
    );
    expect(notifier.watchdogIntervalMs).toBe(10_000);
    notifier.ready();
    await until(1);
    notifier.watchdog();
    await until(2);
    notifier.stopping();
    const messages = await until(3);
    expect(messages, JSON.stringify(messages)).toHaveLength(3);
    expect(messages[0]).toContain('READY=1');
    expect(messages[1]).toContain('WATCHDOG=1');
    expect(messages[2]).toContain('STOPPING=1');
    for (const message of messages) expect(message).toContain('MAINPID=4242');
  });

  it('does nothing without NOTIFY_SOCKET, and has no watchdog for another process', async () => {
    const outside = createNotifier({}, silent, 1);
    outside.ready();
    expect(outside.watchdogIntervalMs).toBeUndefined();
    const other = createNotifier({ NOTIFY_SOCKET: path.join(dir, 'notify'), WATCHDOG_USEC: '1000', WATCHDOG_PID: '1' }, silent, 2);
    expect(other.watchdogIntervalMs).toBeUndefined();
    await new Promise((r) => setTimeout(r, 200));
    expect(received).toEqual([]);
  });
});
