import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection, createServer, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listen } from '../../src/system/listen.js';
import { startAgentProcess, waitFor, writeAgentConfig } from '../helpers/agent-process.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { DATASETS_DIR } from '../helpers/golden.js';
import { freePort } from '../helpers/ports.js';
import { queuedPayloads } from '../helpers/queue-file.js';
import { startSubscriber } from '../helpers/subscriber.js';

/**
 * `run --input` replays a recording and exits once its last window is classified. The real
 * agent process and a real broker: the broker is out of the agent's reach until the replay
 * has ended (its port refuses connections, as on a box whose network comes up late, or under
 * an emulator slower than the replay), and the event must still reach it before the agent
 * exits. A broker that never comes keeps the agent no longer than shutdownSeconds, and the
 * event stays queued on disk for the next start.
 */
// 3.47 s of RAVDESS speech: one 3 s window, so one event.
const CLIP = path.join(DATASETS_DIR, 'ravdess', 'Actor_17', '03-01-05-01-01-01-17.flac');
const WAITING = 'input finished; waiting for the broker to take the events';
const GAVE_UP = 'the broker did not take every event in time; they are kept and sent after the next start';

let work: string;
let broker: TestBroker;

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'ser-replay-delivery-'));
  broker = await startTestBroker();
});

afterAll(async () => {
  await broker.close();
  await rm(work, { recursive: true, force: true });
});

/** From now on, connections to `port` reach the broker: the agent's path to it comes up. */
async function openPathToBroker(port: number): Promise<Server> {
  const relay = createServer((socket) => {
    const upstream = createConnection(broker.port, '127.0.0.1');
    socket.pipe(upstream).pipe(socket);
    socket.on('error', () => upstream.destroy());
    upstream.on('error', () => socket.destroy());
  });
  await listen(relay, '127.0.0.1', port);
  return relay;
}

async function replayTo(name: string, port: number, shutdownSeconds: number) {
  const stateDir = path.join(work, name, 'state');
  const config = await writeAgentConfig(work, {
    deviceId: name,
    mqtt: { url: `mqtt://127.0.0.1:${port}`, discovery: { enabled: false } },
    gpio: { driver: 'simulated' },
    state: { directory: stateDir },
    shutdownSeconds,
  }, name);
  const agent = startAgentProcess(['run', '--config', config, '--input', CLIP], { SER_CACHE_DIR: path.join(work, 'cache') });
  return { agent, stateDir };
}

describe('ser-agent run --input with the broker out of reach', { timeout: 90_000 }, () => {
  it('waits after the replay for the broker to come within reach, delivers the event, and exits 0', async () => {
    const port = await freePort();
    const subscriber = await startSubscriber(broker.url, 'late-subscriber', 'ser/late-broker/event', 1);
    const { agent, stateDir } = await replayTo('late-broker', port, 60);
    let relay: Server | undefined;
    try {
      await waitFor('the replay to end', () => agent.logged(WAITING).at(-1));
      relay = await openPathToBroker(port);
      const { code } = await agent.exit;
      expect(code).toBe(0);
      expect(agent.logged(WAITING)[0]).toMatchObject({ queued: 1, seconds: 60 });
      expect(agent.logged(GAVE_UP)).toEqual([]);
      await waitFor('the event', () => subscriber.on('ser/late-broker/event').at(0));
      expect(subscriber.on('ser/late-broker/event')).toHaveLength(1);
      expect(await queuedPayloads(stateDir)).toEqual([]);
    } finally {
      await agent.stop();
      await subscriber.close();
      await new Promise((resolve) => (relay === undefined ? resolve(undefined) : relay.close(resolve)));
    }
  });

  it('gives up after shutdownSeconds when the broker never comes, exits 0 and keeps the event for the next start', async () => {
    const { agent, stateDir } = await replayTo('no-broker', await freePort(), 2);
    const { code } = await agent.exit;
    expect(code).toBe(0);
    expect(agent.logged(WAITING)[0]).toMatchObject({ queued: 1, seconds: 2 });
    expect(agent.logged(GAVE_UP)[0]).toMatchObject({ queued: 1, seconds: 2 });
    expect(await queuedPayloads(stateDir)).toHaveLength(1);
  });
});
