import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startAgentProcess, waitFor, writeAgentConfig, type AgentProcess } from '../helpers/agent-process.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { startSubscriber, type RecordingSubscriber } from '../helpers/subscriber.js';

/**
 * How the real `ser-agent run` ends (issue 14 part 3): a close that outlasts shutdownSeconds
 * ends the process with 1 at the deadline, long before systemd's SIGKILL (TimeoutStopSec);
 * an uncaught exception or unhandled rejection goes through the same graceful close as
 * SIGTERM (retained `offline`, every part stopped) and exits 1.
 *
 * The microphone is a stand-in `arecord` on PATH delivering a second of silence each second.
 * With HANG_PID_FILE set it leaves a helper that ignores signals and holds its output pipe
 * open, so the agent never sees the recorder's pipes close and capture can never stop: the
 * state a wedged sound driver or a recorder wrapper with a stray child leaves it in.
 */
const DEVICE_ID = 'shutdown-box';
const DEADLINE_SECONDS = 3;
/** A loaded machine can take a while to load the model before audio flows. */
const PATIENCE_MS = 90_000;
const FAKE_ARECORD = `#!/bin/sh
if [ -n "$HANG_PID_FILE" ]; then
  trap '' INT TERM
  sleep 100000 &
  echo $! > "$HANG_PID_FILE"
fi
while :; do head -c 44100 /dev/zero; sleep 1; done
`;

let work: string;
let binDir: string;
let broker: TestBroker;
let subscriber: RecordingSubscriber;
let agent: AgentProcess | undefined;

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'ser-shutdown-'));
  binDir = path.join(work, 'bin');
  await mkdir(binDir);
  await writeFile(path.join(binDir, 'arecord'), FAKE_ARECORD);
  await chmod(path.join(binDir, 'arecord'), 0o755);
  broker = await startTestBroker();
  subscriber = await startSubscriber(broker.url, 'shutdown-subscriber', `ser/${DEVICE_ID}/status`);
});

afterEach(async () => {
  await agent?.stop(5000);
  agent = undefined;
});

afterAll(async () => {
  await subscriber.close();
  await broker.close();
  await rm(work, { recursive: true, force: true });
});

async function startAgent(name: string, env: Record<string, string>, nodeOptions: string[] = []): Promise<AgentProcess> {
  const config = await writeAgentConfig(
    work,
    {
      deviceId: DEVICE_ID,
      mqtt: { url: broker.url, discovery: { enabled: false } },
      gpio: { driver: 'simulated' },
      state: { directory: path.join(work, `state-${name}`) },
      shutdownSeconds: DEADLINE_SECONDS,
    },
    name,
  );
  agent = startAgentProcess(
    ['run', '--config', config],
    { PATH: `${binDir}:${process.env['PATH'] ?? ''}`, SER_CACHE_DIR: path.join(work, 'cache'), ...env },
    { nodeOptions },
  );
  const running = agent;
  await waitFor('audio to flow', () => (running.logged('audio is flowing').length > 0 ? true : undefined), PATIENCE_MS);
  await waitFor('online', () => (subscriber.on(`ser/${DEVICE_ID}/status`).at(-1)?.payload === 'online' ? true : undefined));
  return running;
}

describe('ser-agent run, ending', { timeout: 2 * PATIENCE_MS }, () => {
  it('exits 1 at the shutdown deadline when a part cannot stop, instead of waiting to be killed', async () => {
    const hangPidFile = path.join(work, 'hang.pid');
    const running = await startAgent('hang', { HANG_PID_FILE: hangPidFile });
    try {
      const signalled = performance.now();
      running.process.kill('SIGTERM');
      const exit = await Promise.race([
        running.exit,
        new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), (DEADLINE_SECONDS + 7) * 1000)),
      ]);
      const seconds = (performance.now() - signalled) / 1000;
      expect(exit).toEqual({ code: 1, signal: null });
      expect(seconds).toBeGreaterThanOrEqual(DEADLINE_SECONDS);
      expect(seconds).toBeLessThan(DEADLINE_SECONDS + 5);
      expect(running.stderr).toContain(`ser-agent: still stopping after ${DEADLINE_SECONDS} s (shutdownSeconds); exiting now`);
      // The stop got as far as capture: the recorder was asked to end, then killed.
      expect(running.logged('recorder ignored SIGINT; killing it')).toHaveLength(1);
      expect(running.logged('stopped')).toEqual([]);
    } finally {
      const helper = Number(await readFile(hangPidFile, 'utf8').catch(() => ''));
      if (helper > 0) process.kill(helper, 'SIGKILL');
    }
  });

  it.each([
    ['SIGUSR2', 'uncaught exception', 'Error: fixture: a bug nothing caught'],
    ['SIGWINCH', 'unhandled rejection', 'Error: fixture: a rejection nobody handled'],
  ] as const)('on a real %s-triggered %s, closes as on SIGTERM and exits 1', async (trigger, origin, error) => {
    const statusesBefore = subscriber.on(`ser/${DEVICE_ID}/status`).length;
    const running = await startAgent(`fatal-${trigger}`, {}, ['--import', path.join(REPO_ROOT, 'test', 'fixtures', 'shutdown', 'fail-on-signal.js')]);
    running.process.kill(trigger);
    const exit = await running.exit;

    expect(exit).toEqual({ code: 1, signal: null });
    expect(running.stderr.find((line) => line.startsWith(`ser-agent: ${origin}, stopping: ${error}`))).toBeDefined();
    // The graceful close ran to its end: every part stopped, the retained status says offline.
    expect(running.logged('could not stop cleanly')).toEqual([]);
    expect(running.logged('stopped')).toHaveLength(1);
    await waitFor('offline', () =>
      subscriber.on(`ser/${DEVICE_ID}/status`).slice(statusesBefore).some((m) => m.payload === 'offline') ? true : undefined,
    );
  });
});
