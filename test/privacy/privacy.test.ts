import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUEUE_FILE } from '../../src/mqtt/durable-queue.js';
import { startAgentProcess, waitFor, writeAgentConfig, type AgentProcess } from '../helpers/agent-process.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { DATASETS_DIR } from '../helpers/golden.js';
import { startSubscriber, type ReceivedMessage, type RecordingSubscriber } from '../helpers/subscriber.js';

/**
 * Issue 3, part 7: only labels and probabilities leave the box. The real `ser-agent run`, at
 * debug level, hears speech (recordings replayed in real time, so no window is dropped for
 * arriving early) and publishes to a real broker, where a subscriber to '#' sees everything
 * anyone publishes. Every topic must lie in the agent's own tree or be one of its own Home
 * Assistant discovery topics, and no message or log line may carry audio samples or features.
 */
const DEVICE_ID = 'privacy-box';
const OWN_TREE = `ser/${DEVICE_ID}/`;
const OWN_DISCOVERY = [
  `homeassistant/sensor/${DEVICE_ID}/emotion/config`,
  `homeassistant/sensor/${DEVICE_ID}/confidence/config`,
  // The runtime settings' entities (issue 15, part 2).
  `homeassistant/number/${DEVICE_ID}/window_min_confidence/config`,
  `homeassistant/select/${DEVICE_ID}/window_smoothing/config`,
  `homeassistant/number/${DEVICE_ID}/window_smoothing_windows/config`,
  `homeassistant/number/${DEVICE_ID}/window_silence_dbfs/config`,
  `homeassistant/number/${DEVICE_ID}/window_hop_seconds/config`,
  `homeassistant/number/${DEVICE_ID}/window_min_speech_ratio/config`,
  `homeassistant/switch/${DEVICE_ID}/paused/config`,
];
/** What this test publishes itself, as Home Assistant would. */
const HOME_ASSISTANT_STATUS = 'homeassistant/status';
/**
 * 14 s of speech, three times over: the agent must be still running when Home Assistant comes
 * online, however long a loaded machine takes to get there (the test stops it itself).
 */
const SPEECH = Array.from({ length: 3 }, () => [
  'OAF_angry/OAF_bath_angry',
  'YAF_happy/YAF_bath_happy',
  'OAF_sad/OAF_bath_sad',
  'YAF_fear/YAF_bath_fear',
  'OAF_disgust/OAF_bath_disgust',
  'YAF_neutral/YAF_bath_neutral',
  'OAF_pleasant_surprise/OAF_bath_ps',
]).flat().map((name) => path.join(DATASETS_DIR, 'tess', `${name}.flac`));
/**
 * A log line or message longer than this is suspect: the longest legitimate ones (discovery
 * configs, health) are well under it, while one window of audio or features as JSON would be
 * hundreds of kilobytes.
 */
const MAX_LINE_CHARS = 2000;
/** More numbers in a row than any label/probability record holds (7 emotions): a dump. */
const MAX_NUMBERS_IN_A_ROW = 16;

let work: string;
let broker: TestBroker;
let subscriber: RecordingSubscriber;
let agent: AgentProcess;
/** Everything anyone published, as the subscriber to '#' received it. */
let messages: ReceivedMessage[] = [];
/** Everything the agent wrote, stdout and stderr, line by line as written. */
let logLines: string[] = [];

const count = (topic: string) => messages.filter((message) => message.topic === topic).length;

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'ser-privacy-'));
  broker = await startTestBroker();
  subscriber = await startSubscriber(broker.url, 'privacy-everything', '#');
  messages = subscriber.messages;

  const config = await writeAgentConfig(work, {
    deviceId: DEVICE_ID,
    mqtt: { url: broker.url, healthSeconds: 1 },
    window: { hopSeconds: 1 },
    gpio: { driver: 'simulated', pins: { anger: 17, happiness: 27 }, statusPin: 24 },
    log: { level: 'debug' },
  });
  agent = startAgentProcess(['run', '--config', config, '--input', ...SPEECH], {
    SER_CACHE_DIR: path.join(work, 'cache'),
    SER_STATE_DIRECTORY: path.join(work, 'state'),
  });

  // Health is recognised by its content, not its topic: the topic is what is under test.
  const healthReports = () => messages.filter((message) => message.payload.includes('"uptimeSeconds"')).length;
  await waitFor('events, health and discovery', () =>
    count(`${OWN_TREE}event`) >= 3 && healthReports() >= 2 && OWN_DISCOVERY.every((topic) => count(topic) >= 1) ? true : undefined,
  );
  // Home Assistant coming online makes the agent send its discovery again.
  await subscriber.client.publishAsync(HOME_ASSISTANT_STATUS, 'online');
  await waitFor('discovery sent again', () => (OWN_DISCOVERY.every((topic) => count(topic) >= 2) ? true : undefined));
  await agent.stop();
  logLines = [...agent.written, ...agent.stderr];
  await waitFor('offline', () => messages.find((m) => m.topic === `${OWN_TREE}status` && m.payload === 'offline'));
}, 300_000);

afterAll(async () => {
  await agent.stop();
  await subscriber.close();
  await broker.close();
  await rm(work, { recursive: true, force: true });
});

/**
 * The longest run of comma-separated numbers: a JSON array ([0.1,0.2,...]), a typed array as
 * JSON serialises it ({"0":0.1,"1":0.2,...}) or a Buffer's data. Numbers under named keys, as
 * in probabilities and counters, are not a run.
 */
function longestNumberRun(text: string): number {
  let longest = 0;
  for (const match of text.matchAll(/(?:(?:"\d+":)?-?\d[\d.eE+-]*,)+(?:"\d+":)?-?\d[\d.eE+-]*/g)) {
    longest = Math.max(longest, match[0].split(',').length);
  }
  return longest;
}

describe('privacy: what leaves the agent', () => {
  it('publishes only in its own topic tree and its own discovery topics', () => {
    const topics = new Set(messages.map((message) => message.topic));
    const foreign = [...topics].filter(
      (topic) => !topic.startsWith(OWN_TREE) && !OWN_DISCOVERY.includes(topic) && topic !== HOME_ASSISTANT_STATUS,
    );
    expect(foreign).toEqual([]);
    // The one message on Home Assistant's own topic is the test's.
    expect(count(HOME_ASSISTANT_STATUS)).toBe(1);
    expect([...topics].filter((topic) => topic.startsWith(OWN_TREE)).sort()).toEqual(
      ['event', 'health', 'settings', 'status'].map((leaf) => `${OWN_TREE}${leaf}`),
    );
  });

  it('publishes labels and numbers about the audio, never the audio or its features', () => {
    for (const { topic, payload } of messages) {
      expect(payload.length, topic).toBeLessThan(MAX_LINE_CHARS);
      expect(longestNumberRun(payload), `${topic}: ${payload}`).toBeLessThanOrEqual(MAX_NUMBERS_IN_A_ROW);
    }
  });

  it('does not dump samples or features into the debug log', () => {
    // Debug logging was on, window by window: the lines most tempted to carry the audio.
    const debugMessages = logLines.filter((line) => line.includes('"level":20')).map((line) => (JSON.parse(line) as { msg: string }).msg);
    expect(debugMessages).toContain('window');
    expect(debugMessages).toContain('classified');
    const tooLong = logLines.filter((line) => line.length >= MAX_LINE_CHARS);
    expect(tooLong.map((line) => line.slice(0, 200))).toEqual([]);
    const dumps = logLines.filter((line) => longestNumberRun(line) > MAX_NUMBERS_IN_A_ROW);
    expect(dumps.map((line) => line.slice(0, 200))).toEqual([]);
  });

  it('keeps nothing on disk but the event queue, even at debug level', async () => {
    expect(await readdir(path.join(work, 'state'))).toEqual([QUEUE_FILE]);
  });
});
