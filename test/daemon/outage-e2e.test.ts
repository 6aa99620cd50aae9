import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAudio } from '../../src/audio/load-clip.js';
import { QUEUE_FILE } from '../../src/mqtt/durable-queue.js';
import { RECORD_EVENT, scanQueueFile } from '../../src/mqtt/queue-file.js';
import { queuedPayloads } from '../helpers/queue-file.js';
import { startAgentProcess, waitFor, writeAgentConfig, type AgentProcess } from '../helpers/agent-process.js';
import { createAlsaReplay, type AlsaReplay } from '../helpers/alsa.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { DATASETS_DIR } from '../helpers/golden.js';
import { startSubscriber, type RecordingSubscriber } from '../helpers/subscriber.js';

/**
 * Issue 3's outage test, with the real `ser-agent run` process, real arecord (through the ALSA
 * file plugin) and a real broker: while the broker is down the agent hears speech and queues
 * the events; it is killed with SIGKILL in the middle of making them; broker and agent come
 * back (the agent now hearing only silence, so it makes no new events) and every queued event
 * arrives, in order, exactly as queued, with nothing invented. Then the state directory holds
 * the queue file and nothing else: no audio, no features.
 *
 * The ALSA file plugin over a null slave replays its file, then its last period without end,
 * far faster than real time, so the first agent makes events as fast as it can classify windows
 * until it is killed.
 */
const DEVICE_ID = 'outage-box';
const EVENT_TOPIC = `ser/${DEVICE_ID}/event`;
const CLIPS = ['bar', 'base', 'bath', 'bean', 'beg', 'bite', 'boat'].map((word) =>
  path.join(DATASETS_DIR, 'tess', 'OAF_angry', `OAF_${word}_angry.flac`),
);

let work: string;
let stateDir: string;
let port: number;
let broker: TestBroker | undefined;
let subscriber: RecordingSubscriber | undefined;
const agents: AgentProcess[] = [];
/** How long the agent may take to do what a step waits for (the test's timeout is 120 s). */
const PATIENCE_MS = 40_000;

async function writeConfig(name: string, replay: AlsaReplay): Promise<string> {
  return writeAgentConfig(work, {
    deviceId: DEVICE_ID,
    mqtt: { url: `mqtt://127.0.0.1:${port}`, discovery: { enabled: false } },
    audio: { device: replay.device },
    gpio: { driver: 'simulated' },
    state: { directory: stateDir },
    // This test is about the queue, not the speech gate. Past its 10 s of speech the replay
    // is the file plugin repeating one period (a constant -34 dBFS buzz), which the gate
    // rightly turns away; the test needs a steady stream of events while the broker is down.
    window: { minSpeechRatio: 0 },
    log: { level: 'debug' },
  }, name);
}

function startAgent(config: string, replay: AlsaReplay): AgentProcess {
  const agent = startAgentProcess(['run', '--config', config], { ...replay.env, SER_CACHE_DIR: path.join(work, 'cache') });
  agents.push(agent);
  return agent;
}


beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'ser-outage-'));
  stateDir = path.join(work, 'state');
  await mkdir(path.join(work, 'speech'));
  await mkdir(path.join(work, 'silence'));
  // A port where no broker listens: found by starting one and closing it.
  const probe = await startTestBroker();
  port = probe.port;
  await probe.close();
});

afterAll(async () => {
  for (const agent of agents) agent.process.kill('SIGKILL');
  await Promise.all(agents.map((agent) => agent.exit));
  await subscriber?.close();
  await broker?.close();
  await rm(work, { recursive: true, force: true });
});

describe('ser-agent run through a broker outage and a SIGKILL', { timeout: 120_000 }, () => {
  let queued: string[] = [];

  it('queues on disk every event it makes while the broker is down', async () => {
    const clips = await Promise.all(CLIPS.map((clip) => loadAudio(clip, { durationSeconds: Infinity })));
    const speech = new Float32Array(clips.reduce((sum, clip) => sum + clip.length, 0));
    let offset = 0;
    for (const clip of clips) {
      speech.set(clip, offset);
      offset += clip.length;
    }
    const replay = await createAlsaReplay(speech, path.join(work, 'speech'));
    const agent = startAgent(await writeConfig('speech', replay), replay);

    await waitFor('events to be queued', async () => ((await queuedPayloads(stateDir)).length >= 10 ? true : undefined), PATIENCE_MS);
    agent.process.kill('SIGKILL');
    expect(await agent.exit).toEqual({ code: null, signal: 'SIGKILL' });
    queued = await queuedPayloads(stateDir);
    expect(agent.lines.some((line) => line['msg'] === 'cannot connect to the MQTT broker')).toBe(true);

    // Every event the daemon logged as published is in the file, in order, and nothing else.
    // The log line comes just before the event is queued, so a kill between the two leaves
    // one logged event unqueued; never the other way round.
    const published = agent.lines.filter((line) => line['msg'] === 'classified' && line['published'] === true);
    expect(queued.length).toBeGreaterThanOrEqual(published.length - 1);
    expect(queued.length).toBeLessThanOrEqual(published.length);
    expect(queued.map((payload) => (JSON.parse(payload) as { emotion: string }).emotion)).toEqual(
      published.slice(0, queued.length).map((line) => line['raw']),
    );
    expect(await readdir(stateDir)).toEqual([QUEUE_FILE]);
    console.log(`outage e2e: ${queued.length} events queued when the agent was killed`);
  });

  it('delivers all of them after broker and agent restart, in order, none invented', async () => {
    broker = await startTestBroker({ port });
    const events = await startSubscriber(broker.url, 'outage-subscriber', EVENT_TOPIC, 1);
    subscriber = events;
    const received = (): string[] => events.on(EVENT_TOPIC).map((message) => message.payload);

    const replay = await createAlsaReplay(new Float32Array(16_000), path.join(work, 'silence'));
    const agent = startAgent(await writeConfig('silence', replay), replay);
    await waitFor('the queued events', () => (received().length >= queued.length ? true : undefined), PATIENCE_MS);
    await waitFor('the queue file to empty', async () => ((await queuedPayloads(stateDir)).length === 0 ? true : undefined), PATIENCE_MS);
    // Time for anything extra (a duplicate, an invented event) to show up.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const delivered = received();
    expect(delivered).toEqual(queued);
    const ids = delivered.map((payload) => (JSON.parse(payload) as { id: string }).id);
    expect([...ids].sort()).toEqual(ids);
    expect(agent.lines.find((line) => line['msg'] === 'event queue opened')).toMatchObject({ queued: queued.length });

    expect((await agent.stop()).code).toBe(0);
  });

  it('leaves only the queue file in the state directory: no audio, no features', async () => {
    expect(await readdir(stateDir)).toEqual([QUEUE_FILE]);
    const data = await readFile(path.join(stateDir, QUEUE_FILE));
    // Every byte is an intact record, and every record is an event the broker already has.
    const scanned = scanQueueFile(data);
    expect(scanned.damaged).toEqual([]);
    for (const record of scanned.records) {
      if (record.kind === RECORD_EVENT) expect(queued).toContain(record.payload);
    }
  });
});
