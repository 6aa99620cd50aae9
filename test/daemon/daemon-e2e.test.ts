import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAudio } from '../../src/audio/load-clip.js';
import { EMOTIONS } from '../../src/labels.js';
import { startAgentProcess, waitFor, writeAgentConfig, type AgentProcess } from '../helpers/agent-process.js';
import { childProcesses, startRealTimeMicrophone, type RealTimeMicrophone } from '../helpers/alsa.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { DATASETS_DIR } from '../helpers/golden.js';
import { retainedMessage, startSubscriber, type RecordingSubscriber } from '../helpers/subscriber.js';

/**
 * The whole agent as it runs on a box: the real `ser-agent run` process, a real broker, the
 * real `arecord` capturing (through an ALSA file plugin, in real time) an angry TESS recording
 * and then silence, the shipped model, and the simulated LED driver whose changes appear in
 * the log. Each recorder the agent starts hears the recording from its start.
 */
const DEVICE_ID = 'e2e-box';
const SPEECH = path.join(DATASETS_DIR, 'tess', 'OAF_angry', 'OAF_bath_angry.flac');
const PINS = { anger: 17, disgust: 5, fear: 6, happiness: 13, neutral: 19, sadness: 26, surprise: 21 };
const STATUS_PIN = 24;

let work: string;
let broker: TestBroker;
let subscriber: RecordingSubscriber;
let agent: AgentProcess;
let microphone: RealTimeMicrophone;
let filesBeforeStart: string[];

const onTopic = (suffix: string) => subscriber.on(`ser/${DEVICE_ID}/${suffix}`);

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'ser-e2e-'));
  broker = await startTestBroker();
  subscriber = await startSubscriber(broker.url, 'e2e-subscriber', [`ser/${DEVICE_ID}/#`, 'homeassistant/#']);

  // Not the default period, so the test below sees the setting reach the recorder.
  const periodSeconds = 0.1;
  microphone = await startRealTimeMicrophone(await loadAudio(SPEECH, { durationSeconds: Infinity }), work, {
    periodSeconds,
    afterwards: 'silence',
  });
  const config = await writeAgentConfig(work, {
    deviceId: DEVICE_ID,
    mqtt: { url: broker.url, healthSeconds: 1 },
    audio: { device: microphone.device, periodSeconds },
    gpio: { driver: 'simulated', pins: PINS, statusPin: STATUS_PIN, holdSeconds: 1 },
    shutdownSeconds: 10,
  });
  filesBeforeStart = (await readdir(work)).sort();
  agent = startAgentProcess(['run', '--config', config], { ...microphone.env, SER_CACHE_DIR: path.join(work, 'cache') });
});

afterAll(async () => {
  const stopped = agent.stop();
  // End of input too: an arecord blocked reading the FIFO would not see the agent's SIGINT.
  await microphone.stop();
  await stopped;
  await subscriber.close();
  await broker.close();
  await rm(work, { recursive: true, force: true });
});

describe('ser-agent run, end to end', () => {
  it('publishes a schema-valid event with the emotion of the speech it hears', async () => {
    const [first] = await waitFor('an event', () => (onTopic('event').length > 0 ? onTopic('event') : undefined));
    const event = JSON.parse(first?.payload ?? '') as Record<string, unknown>;
    const schema = JSON.parse(readFileSync(path.join(REPO_ROOT, 'schemas', 'event.schema.json'), 'utf8')) as object;
    const validate = new Ajv2020({ strict: false }).compile(schema);
    expect(validate(event), JSON.stringify(validate.errors)).toBe(true);
    expect(first?.retain).toBe(false);
    expect(event['deviceId']).toBe(DEVICE_ID);
    expect(event['emotion']).toBe('anger');
    expect(Object.keys(event['probabilities'] as object)).toEqual([...EMOTIONS]);
    // Only labels and probabilities leave the box: nothing in the event resembles audio.
    expect(first?.payload.length).toBeLessThan(1000);
  });

  it('announces itself: retained online status and Home Assistant discovery', async () => {
    const status = await waitFor('status', () => onTopic('status').find((m) => m.payload === 'online'));
    expect(status.payload).toBe('online');
    const discovery = await waitFor('discovery', () => {
      const configs = subscriber.messages.filter((m) => m.topic.startsWith('homeassistant/') && m.topic.endsWith('/config'));
      return configs.length >= 2 ? configs : undefined;
    });
    for (const config of discovery) {
      expect(JSON.parse(config.payload)).toMatchObject({ availability_topic: `ser/${DEVICE_ID}/status` });
    }
  });

  it('lights each published emotion\'s LED in event order, for the hold time, with the status LED on first', async () => {
    const ledChanges = () => agent.logged('led').map((line) => [line['pin'], line['on']] as const);
    await waitFor('the anger LED to go off again', () => {
      const changes = ledChanges();
      const on = changes.findIndex(([pin, state]) => pin === PINS.anger && state);
      return on >= 0 && changes.slice(on).some(([pin, state]) => pin === PINS.anger && !state) ? true : undefined;
    });
    const changes = ledChanges();
    const emotionPins = new Set<unknown>(Object.values(PINS));
    const lit = changes.filter(([pin, on]) => on && emotionPins.has(pin)).map(([pin]) => pin);
    // A repeated emotion extends the hold without a new change, so compare runs of emotions.
    // The log line of an LED can arrive before the MQTT message of its event: wait for those.
    const published = await waitFor('the events behind the lit LEDs', () => {
      const runs = onTopic('event')
        .map((m) => PINS[(JSON.parse(m.payload) as { emotion: keyof typeof PINS }).emotion])
        .filter((pin, i, all) => i === 0 || pin !== all[i - 1]);
      return runs.length >= lit.length ? runs : undefined;
    });
    expect(lit).toEqual(published.slice(0, lit.length));
    expect(lit[0]).toBe(PINS.anger);
    expect(changes.findIndex(([pin, on]) => pin === STATUS_PIN && on)).toBeLessThan(
      changes.findIndex(([pin, on]) => pin === PINS.anger && on),
    );
  });

  it('publishes retained health with counters', async () => {
    const health = await waitFor('health', () => onTopic('health').at(-1));
    const report = JSON.parse(health.payload) as Record<string, Record<string, unknown>>;
    expect(report['capture']?.['state']).toBe('running');
    expect(report['broker']?.['state']).toBe('connected');
    expect(report['windows']?.['processed']).toBeGreaterThanOrEqual(1);
    expect(report['model']?.['name']).toBe('ser-cnn-lstm');
  });

  it('restarts a killed recorder and hears again', async () => {
    const [recorder] = await waitFor('arecord', () => {
      const pids = childProcesses(agent.process.pid ?? -1, 'arecord');
      return pids.length > 0 ? pids : undefined;
    });
    const commandLine = readFileSync(`/proc/${recorder ?? -1}/cmdline`, 'utf8').split('\0');
    expect(commandLine[commandLine.indexOf('--period-time') + 1]).toBe('100000');
    const eventsBefore = onTopic('event').length;
    process.kill(recorder ?? -1, 'SIGKILL');
    await waitFor('capture degraded', () => agent.logged('capture degraded').at(-1));
    await waitFor('a new event from the restarted recorder', () =>
      onTopic('event').length > eventsBefore ? true : undefined,
    );
    await waitFor('audio to flow again', () => (agent.logged('audio is flowing').length >= 2 ? true : undefined));
  });

  it('on SIGTERM says offline, turns the LEDs off and exits 0 without leaving audio behind', async () => {
    const { code } = await agent.stop();
    expect(code).toBe(0);
    await waitFor('offline', () => onTopic('status').find((m) => m.payload === 'offline'));
    // A subscriber arriving later learns the box is offline from the retained status.
    expect(await retainedMessage(broker.url, 'e2e-late', `ser/${DEVICE_ID}/status`)).toEqual({
      topic: `ser/${DEVICE_ID}/status`,
      payload: 'offline',
      retain: true,
    });
    const lastState = new Map<unknown, unknown>();
    for (const line of agent.logged('led')) lastState.set(line['pin'], line['on']);
    expect(Object.fromEntries(lastState)).toEqual(Object.fromEntries([...lastState.keys()].map((pin) => [pin, false])));
    expect(childProcesses(agent.process.pid ?? -1, 'arecord', true)).toEqual([]);
    // Nothing was written where the agent could have put audio or features.
    expect((await readdir(work)).sort()).toEqual(filesBeforeStart);
  });
});
