import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SETTINGS_FILE } from '../../src/settings/runtime-settings.js';
import { startAgentProcess, waitFor, writeAgentConfig, type AgentProcess } from '../helpers/agent-process.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { DATASETS_DIR } from '../helpers/golden.js';
import { retainedMessage, startSubscriber, type ReceivedMessage, type RecordingSubscriber } from '../helpers/subscriber.js';

/**
 * Settings changed over MQTT, end to end: the real `ser-agent run` replaying speech in real
 * time (`--input`), the shipped model, a real broker (Aedes) and a subscriber acting as Home
 * Assistant. A change takes effect at once, is answered and published retained; bad changes
 * are answered with the error and change nothing; the agent restarts with the change in force.
 */
const DEVICE_ID = 'settings-box';
const BASE = `ser/${DEVICE_ID}`;
/** 1.6 s each; repeated so the replay outlasts the test's changes (the test stops each agent). */
const SPEECH = path.join(DATASETS_DIR, 'tess', 'OAF_angry', 'OAF_bath_angry.flac');
const REPLAYS = 80;

let work: string;
let stateDir: string;
let config: string;
let broker: TestBroker;
let subscriber: RecordingSubscriber;
const agents: AgentProcess[] = [];

const on = (suffix: string) => subscriber.on(`${BASE}/${suffix}`);
const parsed = (message: ReceivedMessage | undefined) => JSON.parse(message?.payload ?? 'null') as Record<string, unknown>;

function startAgent(): AgentProcess {
  const agent = startAgentProcess(['run', '--config', config, '--input', ...Array.from({ length: REPLAYS }, () => SPEECH)], {
    SER_CACHE_DIR: path.join(work, 'cache'),
  });
  agents.push(agent);
  return agent;
}

/** Publishes to the set topic and waits for the answer to it. */
async function set(payload: string): Promise<Record<string, unknown>> {
  const answered = on('set/result').length;
  await subscriber.client.publishAsync(`${BASE}/set`, payload, { qos: 1 });
  return parsed(await waitFor(`the answer to ${payload}`, () => on('set/result')[answered]));
}

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'ser-settings-e2e-'));
  stateDir = path.join(work, 'state');
  broker = await startTestBroker();
  subscriber = await startSubscriber(broker.url, 'settings-e2e-home-assistant', [`${BASE}/#`, 'homeassistant/#'], 1);
  config = await writeAgentConfig(work, {
    deviceId: DEVICE_ID,
    mqtt: { url: broker.url },
    // A window every second, so a change shows within a few.
    window: { hopSeconds: 1 },
    gpio: { driver: 'simulated' },
    state: { directory: stateDir },
    log: { level: 'debug' },
  });
});

afterAll(async () => {
  for (const agent of agents) await agent.stop();
  await subscriber.close();
  await broker.close();
  await rm(work, { recursive: true, force: true });
});

describe('ser-agent run with settings changed over MQTT', { timeout: 240_000 }, () => {
  it('publishes its effective settings retained at start, and config entities to Home Assistant', async () => {
    startAgent();
    const settings = await waitFor('the settings', () => on('settings')[0]);
    expect(settings.retain).toBe(false); // live delivery; the broker keeps it retained (checked after the restart)
    expect(parsed(settings)).toEqual({
      'window.minConfidence': 0,
      'window.smoothing': 'none',
      'window.smoothingWindows': 3,
      'window.silenceDbfs': -50,
      'window.hopSeconds': 1,
      'window.minSpeechRatio': 0.3,
      paused: false,
    });
    const entity = (component: string, objectId: string) =>
      parsed(subscriber.messages.find((message) => message.topic === `homeassistant/${component}/${DEVICE_ID}/${objectId}/config`));
    await waitFor('the settings entities', () => (subscriber.messages.some((m) => m.topic.startsWith('homeassistant/switch/')) ? true : undefined));
    expect(entity('number', 'window_min_confidence')).toMatchObject({
      command_topic: `${BASE}/set`,
      command_template: '{"window.minConfidence": {{ value }}}',
      state_topic: `${BASE}/settings`,
      value_template: "{{ value_json['window.minConfidence'] }}",
      entity_category: 'config',
      min: 0,
      max: 1,
      availability_topic: `${BASE}/status`,
      device: { identifiers: [DEVICE_ID] },
    });
    expect(entity('select', 'window_smoothing')).toMatchObject({ options: ['none', 'majority', 'mean'], entity_category: 'config' });
    expect(entity('switch', 'paused')).toMatchObject({ payload_on: '{"paused":true}', entity_category: 'config' });
    for (const objectId of ['window_smoothing_windows', 'window_silence_dbfs', 'window_hop_seconds', 'window_min_speech_ratio']) {
      expect(entity('number', objectId)).toMatchObject({ command_topic: `${BASE}/set`, state_topic: `${BASE}/settings` });
    }
  });

  it('answers bad changes with the key, the value and the expected form, and changes nothing', async () => {
    await waitFor('an event at the configured minConfidence 0', () => on('event')[0]);
    const refusals: Array<[string, string]> = [
      ['{"window.minConfidence": "high"}', 'window.minConfidence: "high" is not accepted: must be a number from 0 to 1'],
      ['{"window.minConfidance": 0.5}', 'window.minConfidance: 0.5 is not accepted: no such setting; runtime settings are window.minConfidence'],
      ['{"window.queueLimit": 9}', 'window.queueLimit: 9 is not accepted: set in the configuration file only'],
      ['"0.99"', 'the message is a string; send a JSON object of settings'],
      ['{"window.minConfidence": 0.99', 'the message is not JSON'],
      ['{"window.smoothing": "mean", "paused": "yes"}', 'paused: "yes" is not accepted: a JSON boolean'],
    ];
    for (const [payload, error] of refusals) {
      const answer = await set(payload);
      expect(answer, payload).toMatchObject({ ok: false, error: expect.stringContaining(error) as unknown });
      expect(answer['settings'], payload).toEqual(parsed(on('settings')[0]));
    }
    expect(on('settings')).toHaveLength(1);
    expect(agents[0]?.lines.filter((line) => String(line['msg']).startsWith('settings change refused: '))).toHaveLength(6);
    // Still classifying and publishing.
    const events = on('event').length;
    await waitFor('another event', () => (on('event').length > events ? true : undefined));
  });

  it('applies window.minConfidence 0.99 at once: answered, published retained, events below it suppressed', async () => {
    const agent = agents[0] as AgentProcess;
    const published = on('settings').length;
    const answer = await set('{"window.minConfidence": 0.99}');
    expect(answer).toMatchObject({ ok: true, applied: { 'window.minConfidence': 0.99 } });
    // MQTT orders messages within a topic only: the settings may arrive just after the answer.
    const settings = await waitFor('the settings after the change', () => on('settings')[published]);
    expect(parsed(settings)).toMatchObject({ 'window.minConfidence': 0.99, 'window.hopSeconds': 1 });
    expect(agent.logged('runtime settings changed').at(-1)).toMatchObject({ module: 'settings', applied: { 'window.minConfidence': 0.99 } });
    const eventsAtChange = on('event').length;
    const linesAtChange = agent.lines.length;

    // Windows go on being classified; those below 0.99 publish nothing.
    const suppressed = () => agent.lines.slice(linesAtChange).filter((line) => line['msg'] === 'classified' && line['published'] === false);
    await waitFor('windows held back by minConfidence', () => (suppressed().length >= 3 ? true : undefined));
    for (const event of on('event').slice(eventsAtChange)) {
      expect((JSON.parse(event.payload) as { confidence: number }).confidence).toBeGreaterThanOrEqual(0.99);
    }
    expect(JSON.parse(await readFile(path.join(stateDir, SETTINGS_FILE), 'utf8'))).toEqual({
      schema: 1,
      settings: { 'window.minConfidence': 0.99 },
    });
    expect((await agent.stop()).code).toBe(0);
  });

  it('keeps the change across a restart, and the broker keeps the settings retained', async () => {
    const published = on('settings').length;
    const agent = startAgent();
    const settings = await waitFor('the settings after the restart', () => on('settings')[published]);
    expect(parsed(settings)).toMatchObject({ 'window.minConfidence': 0.99, 'window.smoothing': 'none' });
    expect(agent.logged('runtime settings changed over MQTT earlier are in force')[0]).toMatchObject({
      persisted: { 'window.minConfidence': 0.99 },
    });
    const linesAtStart = agent.lines.length;
    await waitFor('windows held back after the restart', () =>
      agent.lines.slice(linesAtStart).filter((line) => line['msg'] === 'classified' && line['published'] === false).length >= 2
        ? true
        : undefined,
    );

    // A client arriving now, as Home Assistant after its own restart, gets the settings retained.
    const got = await retainedMessage(broker.url, 'settings-e2e-late', `${BASE}/settings`);
    expect(got.retain).toBe(true);
    expect(parsed(got)).toMatchObject({ 'window.minConfidence': 0.99 });
  });

  it('pauses: no window classified and no event while paused, capture still running', async () => {
    const agent = agents[1] as AgentProcess;
    expect(await set('{"paused": true, "window.minConfidence": 0}')).toMatchObject({ ok: true, settings: { paused: true } });
    const linesAtPause = agent.lines.length;
    const eventsAtPause = on('event').length;
    // Windows keep being cut (debug line 'window'), capture running, while none is classified.
    await waitFor('windows cut while paused', () =>
      agent.lines.slice(linesAtPause).filter((line) => line['msg'] === 'window' && line['admitted'] === false).length >= 3
        ? true
        : undefined,
    );
    // One window may have been in inference when the pause came; it publishes nothing either.
    expect(agent.lines.slice(linesAtPause).filter((line) => line['msg'] === 'classified').length).toBeLessThanOrEqual(1);
    expect(on('event').length).toBe(eventsAtPause);

    expect(await set('{"paused": false}')).toMatchObject({ ok: true });
    await waitFor('an event after resuming', () => (on('event').length > eventsAtPause ? true : undefined));
    expect((await agent.stop()).code).toBe(0);
  });
});
