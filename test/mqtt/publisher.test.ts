import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EMOTIONS } from '../../src/labels.js';
import { createEventIdGenerator } from '../../src/mqtt/event-id.js';
import { createEmotionEvent, type BrokerState, type EmotionEvent, type HealthReport } from '../../src/mqtt/payloads.js';
import { DurableQueue } from '../../src/mqtt/durable-queue.js';
import { MqttPublisher, type MqttPublisherOptions } from '../../src/mqtt/publisher.js';
import { RUNTIME_SETTING_KEYS, type RuntimeSettingValues } from '../../src/settings/runtime-settings.js';
import { deviceModel } from '../../src/mqtt/discovery.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { captureLogs } from '../helpers/logs.js';
import { ManualClock } from '../helpers/manual-clock.js';

const DEVICE = 'kiosk-01';
const EVENT_TOPIC = `ser/${DEVICE}/event`;
const STATUS_TOPIC = `ser/${DEVICE}/status`;
const HEALTH_TOPIC = `ser/${DEVICE}/health`;
const SETTINGS_TOPIC = `ser/${DEVICE}/settings`;
const SET_TOPIC = `ser/${DEVICE}/set`;
const SETTINGS: RuntimeSettingValues = {
  'window.minConfidence': 0.5,
  'window.smoothing': 'mean',
  'window.smoothingWindows': 3,
  'window.silenceDbfs': -50,
  'window.hopSeconds': 3,
  'window.minSpeechRatio': 0.3,
  paused: false,
};
const SHA = 'cd'.repeat(32);

const validateEvent = new Ajv2020({ strict: true }).compile(
  JSON.parse(readFileSync(new URL('../../schemas/event.schema.json', import.meta.url), 'utf8')) as object,
);

// --- helpers -------------------------------------------------------------------------------

interface Received {
  topic: string;
  payload: string;
  retain: boolean;
  qos: number;
}

/** A real MQTT.js client that records what it receives. */
class Subscriber {
  readonly messages: Received[] = [];
  readonly #client: MqttClient;

  private constructor(client: MqttClient) {
    this.#client = client;
    client.on('message', (topic, payload, packet) => {
      this.messages.push({ topic, payload: payload.toString(), retain: packet.retain, qos: packet.qos });
    });
  }

  static async connect(url: string, topics: string[]): Promise<Subscriber> {
    const client = connect(url, { reconnectPeriod: 0, clientId: `sub-${Math.random().toString(16).slice(2)}` });
    const subscriber = new Subscriber(client);
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    await client.subscribeAsync(topics, { qos: 1 });
    return subscriber;
  }

  on(topic: string): Received[] {
    return this.messages.filter((message) => message.topic === topic);
  }

  async publish(topic: string, payload: string): Promise<void> {
    await this.#client.publishAsync(topic, payload, { qos: 1 });
  }

  async publishRetained(topic: string, payload: string): Promise<void> {
    await this.#client.publishAsync(topic, payload, { qos: 1, retain: true });
  }

  async close(): Promise<void> {
    await this.#client.endAsync();
  }
}

/** Polls until `condition` holds; the test's timeout catches a condition that never does. */
async function waitUntil(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 10));
}

/** Log lines as parsed JSON, and every raw byte written, to check for leaked secrets. */
/** One MQTT packet at the start of `data`, or undefined until it has all arrived. */
function mqttPacketAt(data: Buffer): { type: number; flags: number; body: Buffer; length: number } | undefined {
  let remaining = 0;
  let multiplier = 1;
  let offset = 1;
  for (;;) {
    const byte = data[offset];
    if (byte === undefined) return undefined;
    remaining += (byte & 0x7f) * multiplier;
    multiplier *= 128;
    offset++;
    if ((byte & 0x80) === 0) break;
  }
  if (data.length < offset + remaining) return undefined;
  const first = data[0] as number;
  return { type: first >> 4, flags: first & 0x0f, body: data.subarray(offset, offset + remaining), length: offset + remaining };
}

function tcpHandles(): number {
  return process.getActiveResourcesInfo().filter((name) => name.startsWith('TCP')).length;
}

let sequence = 0;
const nextId = createEventIdGenerator();

function makeEvent(): EmotionEvent {
  sequence++;
  const end = Date.UTC(2026, 0, 1) + sequence * 1000;
  const probabilities = Object.fromEntries(EMOTIONS.map((emotion) => [emotion, emotion === 'neutral' ? 0.94 : 0.01]));
  return createEmotionEvent(
    {
      deviceId: DEVICE,
      windowStart: new Date(end - 3000),
      windowEnd: new Date(end),
      prediction: {
        emotion: 'neutral',
        confidence: 0.94,
        probabilities: probabilities as EmotionEvent['probabilities'],
      },
      speechRatio: 0.8,
      model: { name: 'ser-cnn-lstm', version: '1.0.0', sha256: SHA },
    },
    nextId,
  );
}

function health(): HealthReport {
  return {
    schema: 1,
    deviceId: DEVICE,
    ts: '2026-01-01T00:00:00.000Z',
    uptimeSeconds: 12,
    windows: { processed: 10, skippedSilence: 3, skippedNonSpeech: 2, failed: 0, dropped: 0 },
    events: { published: 7, queued: 0, queuedBytes: 0, dropped: 0 },
    inferenceMs: { p50: 21.5, p95: 40 },
    process: { rssBytes: 90_000_000, cpuPercent: 2.5, tensors: 42 },
    capture: { state: 'running', detail: null },
    broker: { state: 'connected', url: 'mqtt://127.0.0.1:1883' },
    model: { name: 'ser-cnn-lstm', version: '1.0.0', sha256: SHA },
    reload: null,
  };
}

// --- fixtures ------------------------------------------------------------------------------

let broker: TestBroker;
let baselineHandles: number;
const cleanups: (() => Promise<void>)[] = [];

beforeEach(async () => {
  baselineHandles = tcpHandles();
  broker = await startTestBroker();
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await broker.close();
  // Every socket and server the test opened is closed: no leaked handles.
  await waitUntil(() => tcpHandles() <= baselineHandles);
});

function publisher(overrides: Partial<MqttPublisherOptions> = {}): { publisher: MqttPublisher; states: BrokerState[] } {
  const states: BrokerState[] = [];
  const created = new MqttPublisher({
    url: broker.url,
    deviceId: DEVICE,
    device: { model: 'ser-cnn-lstm', swVersion: '0.1.0' },
    logger: pino({ level: 'silent' }),
    ...overrides,
  });
  created.onStateChange((state) => states.push(state));
  cleanups.push(() => created.stop());
  return { publisher: created, states };
}

async function subscriber(topics: string[], url = broker.url): Promise<Subscriber> {
  const created = await Subscriber.connect(url, topics);
  cleanups.push(() => created.close());
  return created;
}

async function connected(target: MqttPublisher): Promise<void> {
  await waitUntil(() => target.state === 'connected');
}

// --- tests ---------------------------------------------------------------------------------

describe('MqttPublisher', { timeout: 30_000 }, () => {
  it('publishes events on the event topic, QoS 1, not retained, matching the JSON schema', async () => {
    const watcher = await subscriber([EVENT_TOPIC]);
    const { publisher: pub, states } = publisher();
    await pub.start();
    await connected(pub);
    const sent = [makeEvent(), makeEvent()];
    for (const event of sent) pub.publishEvent(event);
    await waitUntil(() => watcher.on(EVENT_TOPIC).length === 2);

    const received = watcher.on(EVENT_TOPIC);
    expect(received.map((m) => ({ qos: m.qos, retain: m.retain }))).toEqual([
      { qos: 1, retain: false },
      { qos: 1, retain: false },
    ]);
    const payloads = received.map((m) => JSON.parse(m.payload) as unknown);
    expect(payloads).toEqual(sent);
    for (const payload of payloads) expect(validateEvent(payload), JSON.stringify(validateEvent.errors)).toBe(true);
    await waitUntil(() => pub.counters.published === 2);
    expect(pub.counters).toEqual({ published: 2, queued: 0, queuedBytes: 0, dropped: 0 });
    expect(states).toEqual(['connecting', 'connected']);

    // Not retained: a subscriber arriving later gets nothing.
    const late = await subscriber([EVENT_TOPIC, STATUS_TOPIC]);
    await waitUntil(() => late.on(STATUS_TOPIC).length === 1);
    expect(late.on(EVENT_TOPIC)).toEqual([]);
  });

  it('announces online retained, and offline retained on a clean stop, leaving no client behind', async () => {
    const { publisher: pub, states } = publisher();
    await pub.start();
    await pub.start();
    await connected(pub);

    const late = await subscriber([STATUS_TOPIC]);
    await waitUntil(() => late.on(STATUS_TOPIC).length === 1);
    expect(late.on(STATUS_TOPIC)).toEqual([{ topic: STATUS_TOPIC, payload: 'online', retain: true, qos: 1 }]);

    await Promise.all([pub.stop(), pub.stop()]);
    await pub.stop();
    await waitUntil(() => late.on(STATUS_TOPIC).length === 2);
    expect(late.on(STATUS_TOPIC)[1]?.payload).toBe('offline');
    expect(pub.state).toBe('disconnected');
    expect(states).toEqual(['connecting', 'connected', 'disconnected']);

    const after = await subscriber([STATUS_TOPIC]);
    await waitUntil(() => after.on(STATUS_TOPIC).length === 1);
    expect(after.on(STATUS_TOPIC)[0]).toMatchObject({ payload: 'offline', retain: true });
    // Only the two subscribers remain connected.
    await waitUntil(() => broker.connectedClients() === 2);
  });

  it('leaves offline as its last will when its socket dies, then reconnects', async () => {
    const clients: MqttClient[] = [];
    const watcher = await subscriber([STATUS_TOPIC]);
    const { publisher: pub } = publisher({
      reconnect: { minMs: 50, maxMs: 50 },
      connect: (url: string, options: IClientOptions) => {
        const client = connect(url, options);
        clients.push(client);
        return client;
      },
    });
    await pub.start();
    await connected(pub);
    await waitUntil(() => watcher.on(STATUS_TOPIC).length === 1);

    clients[0]?.stream.destroy();
    await waitUntil(() => watcher.on(STATUS_TOPIC).length === 3);
    expect(watcher.on(STATUS_TOPIC).map((m) => m.payload)).toEqual(['online', 'offline', 'online']);
    expect(clients).toHaveLength(2);
  });

  it('publishes health retained', async () => {
    const { publisher: pub } = publisher();
    await pub.start();
    await connected(pub);
    const report = health();
    pub.publishHealth(report);

    const late = await subscriber([HEALTH_TOPIC]);
    await waitUntil(() => late.on(HEALTH_TOPIC).length === 1);
    const [message] = late.on(HEALTH_TOPIC);
    expect(message?.retain).toBe(true);
    expect(JSON.parse(message?.payload ?? '')).toEqual(report);
  });

  it('publishes Home Assistant discovery retained, again when Home Assistant comes online', async () => {
    const { publisher: pub } = publisher({
      device: { name: 'Lobby kiosk', model: 'ser-cnn-lstm', swVersion: '0.1.0' },
    });
    await pub.start();
    await connected(pub);

    const ha = await subscriber(['homeassistant/#']);
    // The two sensors and one entity per runtime setting.
    await waitUntil(() => ha.messages.length === 2 + RUNTIME_SETTING_KEYS.length);
    const configs = new Map(ha.messages.map((m) => [m.topic, JSON.parse(m.payload) as Record<string, unknown>]));
    expect(ha.messages.every((m) => m.retain)).toBe(true);
    const device = {
      identifiers: [DEVICE],
      name: 'Lobby kiosk',
      model: 'ser-cnn-lstm',
      manufacturer: 'ser-agent',
      sw_version: '0.1.0',
    };
    const availability = {
      availability_topic: STATUS_TOPIC,
      payload_available: 'online',
      payload_not_available: 'offline',
    };
    expect(configs.get(`homeassistant/sensor/${DEVICE}/emotion/config`)).toMatchObject({
      ...availability,
      device,
      unique_id: `${DEVICE}_emotion`,
      state_topic: EVENT_TOPIC,
      value_template: '{{ value_json.emotion }}',
      json_attributes_topic: EVENT_TOPIC,
    });
    expect(configs.get(`homeassistant/sensor/${DEVICE}/confidence/config`)).toMatchObject({
      ...availability,
      device,
      unique_id: `${DEVICE}_confidence`,
      state_topic: EVENT_TOPIC,
      unit_of_measurement: '%',
    });
    expect(configs.get(`homeassistant/number/${DEVICE}/window_min_confidence/config`)).toEqual({
      ...availability,
      device,
      origin: { name: 'ser-agent', sw_version: '0.1.0' },
      name: 'Minimum confidence',
      unique_id: `${DEVICE}_window_min_confidence`,
      entity_category: 'config',
      command_topic: SET_TOPIC,
      command_template: '{"window.minConfidence": {{ value }}}',
      state_topic: SETTINGS_TOPIC,
      value_template: "{{ value_json['window.minConfidence'] }}",
      min: 0,
      max: 1,
      step: 0.01,
      mode: 'box',
    });
    expect(configs.get(`homeassistant/number/${DEVICE}/window_min_speech_ratio/config`)).toMatchObject({
      name: 'Minimum speech ratio',
      entity_category: 'config',
      command_topic: SET_TOPIC,
      command_template: '{"window.minSpeechRatio": {{ value }}}',
      state_topic: SETTINGS_TOPIC,
      value_template: "{{ value_json['window.minSpeechRatio'] }}",
      min: 0,
      max: 1,
      step: 0.05,
    });
    expect(configs.get(`homeassistant/select/${DEVICE}/window_smoothing/config`)).toMatchObject({
      command_topic: SET_TOPIC,
      command_template: '{"window.smoothing": "{{ value }}"}',
      options: ['none', 'majority', 'mean'],
      entity_category: 'config',
    });
    expect(configs.get(`homeassistant/switch/${DEVICE}/paused/config`)).toMatchObject({
      command_topic: SET_TOPIC,
      payload_on: '{"paused":true}',
      payload_off: '{"paused":false}',
      state_topic: SETTINGS_TOPIC,
      value_template: "{{ 'ON' if value_json['paused'] else 'OFF' }}",
      state_on: 'ON',
      state_off: 'OFF',
      entity_category: 'config',
    });

    // Home Assistant's birth message: `offline` is ignored, `online` brings the configs again.
    await ha.publish('homeassistant/status', 'offline');
    await ha.publish('homeassistant/status', 'online');
    await waitUntil(() => ha.messages.filter((m) => m.topic.endsWith('/config')).length === 2 * configs.size);
    expect(ha.messages.map((m) => m.topic).filter((topic) => topic.endsWith('/config')).sort()).toEqual(
      [...configs.keys(), ...configs.keys()].sort(),
    );
  });

  it('shows the running model on the Home Assistant device, and a model replaced by a reload at once', async () => {
    const { publisher: pub } = publisher({
      device: { ...deviceModel({ name: 'ser-cnn-lstm', version: '1.0.0', sha256: SHA }), swVersion: '0.1.0' },
    });
    await pub.start();
    await connected(pub);
    const ha = await subscriber(['homeassistant/#']);
    const configs = 2 + RUNTIME_SETTING_KEYS.length;
    await waitUntil(() => ha.messages.length === configs);
    const devices = () => ha.messages.map((m) => (JSON.parse(m.payload) as { device: Record<string, unknown> }).device);
    for (const device of devices()) {
      expect(device).toMatchObject({ model: 'ser-cnn-lstm 1.0.0', model_id: SHA, sw_version: '0.1.0' });
    }

    const site = { name: 'ser-cnn-lstm-lobby', version: '1.0.0-site.2', sha256: 'ef'.repeat(32) };
    pub.showModel(site);
    await waitUntil(() => ha.messages.length === 2 * configs);
    for (const device of devices().slice(configs)) {
      expect(device).toMatchObject({ model: 'ser-cnn-lstm-lobby 1.0.0-site.2', model_id: site.sha256, sw_version: '0.1.0' });
    }
    // Retained: a client arriving now, as Home Assistant after its own restart, gets the new model.
    const late = await subscriber(['homeassistant/sensor/#']);
    await waitUntil(() => late.messages.length === 2);
    expect(late.messages[0]?.retain).toBe(true);
    expect(JSON.parse(late.messages[0]?.payload ?? '{}')).toMatchObject({ device: { model_id: site.sha256 } });
  });

  it('publishes no discovery when it is disabled', async () => {
    const { publisher: pub } = publisher({ discovery: { enabled: false } });
    await pub.start();
    await connected(pub);
    const ha = await subscriber(['homeassistant/#', STATUS_TOPIC]);
    await waitUntil(() => ha.on(STATUS_TOPIC).length === 1);
    expect(ha.messages.filter((m) => m.topic.startsWith('homeassistant/'))).toEqual([]);
  });

  it('hands messages on its set topic to the settings handler, and answers a retained one without handing it over', async () => {
    const logs = captureLogs();
    const { publisher: pub } = publisher({ discovery: { enabled: false }, logger: logs.logger });
    const commands: string[] = [];
    pub.onSettingsCommand((payload) => {
      commands.push(payload);
      if (payload === 'boom') throw new Error('handler failed');
    });
    // Left retained by someone before the agent connects: it would be applied at every reconnect.
    const operator = await subscriber([`${SET_TOPIC}/result`]);
    await operator.publishRetained(SET_TOPIC, '{"paused": true}');
    await pub.start();
    await connected(pub);
    await waitUntil(() => operator.on(`${SET_TOPIC}/result`).length === 1);
    expect(JSON.parse(operator.on(`${SET_TOPIC}/result`)[0]?.payload ?? '')).toMatchObject({
      ok: false,
      error: expect.stringContaining('a retained message on the set topic is ignored') as unknown,
    });
    expect(commands).toEqual([]);

    // Clearing the retained message (an empty one) asks nothing; a failing handler does not stop the publisher.
    await operator.publishRetained(SET_TOPIC, '');
    await operator.publish(SET_TOPIC, 'boom');
    await operator.publish(SET_TOPIC, '{"window.smoothing": "mean"}');
    await waitUntil(() => commands.length === 2);
    expect(commands).toEqual(['boom', '{"window.smoothing": "mean"}']);
    expect(logs.lines.find((line) => line['msg'] === 'settings command failed')).toMatchObject({ level: 50, err: { message: 'handler failed' } });

    pub.publishSetResult({ ok: true, applied: { 'window.smoothing': 'mean' }, settings: SETTINGS });
    await waitUntil(() => operator.on(`${SET_TOPIC}/result`).length === 2);
    expect(operator.on(`${SET_TOPIC}/result`)[1]).toMatchObject({ retain: false, qos: 1 });
  });

  it('publishes the settings retained, and again on every connection, as a restarted broker has lost them', async () => {
    const scheduler = new ManualClock();
    const { publisher: pub } = publisher({ discovery: { enabled: false }, clock: scheduler, reconnect: { minMs: 100, maxMs: 1000 } });
    pub.publishSettings(SETTINGS);
    await pub.start();
    await connected(pub);
    const late = await subscriber([SETTINGS_TOPIC]);
    await waitUntil(() => late.on(SETTINGS_TOPIC).length === 1);
    expect(late.on(SETTINGS_TOPIC)[0]).toMatchObject({ retain: true, payload: JSON.stringify(SETTINGS) });

    const { port } = broker;
    await broker.close();
    await waitUntil(() => pub.state === 'disconnected');
    const changed = { ...SETTINGS, paused: true };
    pub.publishSettings(changed);
    broker = await startTestBroker({ port });
    scheduler.fireNext();
    await connected(pub);
    const afterRestart = await subscriber([SETTINGS_TOPIC]);
    await waitUntil(() => afterRestart.on(SETTINGS_TOPIC).length === 1);
    expect(afterRestart.on(SETTINGS_TOPIC)[0]).toMatchObject({ retain: true, payload: JSON.stringify(changed) });
  });

  it('queues events while the broker is down, drops the oldest, and delivers the rest in order', async () => {
    const scheduler = new ManualClock();
    const { publisher: pub, states } = publisher({ clock: scheduler, queueLimit: 3, reconnect: { minMs: 100, maxMs: 1000 } });
    await pub.start();
    await connected(pub);

    const { port } = broker;
    await broker.close();
    await waitUntil(() => pub.state === 'disconnected');
    const events = [makeEvent(), makeEvent(), makeEvent(), makeEvent(), makeEvent()];
    for (const event of events) pub.publishEvent(event);
    const queuedBytes = events.slice(2).reduce((sum, event) => sum + Buffer.byteLength(JSON.stringify(event)), 0);
    expect(pub.counters).toEqual({ published: 0, queued: 3, queuedBytes, dropped: 2 });

    // The broker comes back on the same port; a subscriber is there before the publisher retries.
    broker = await startTestBroker({ port });
    const watcher = await subscriber([EVENT_TOPIC]);
    scheduler.fireNext();
    await waitUntil(() => watcher.on(EVENT_TOPIC).length === 3);
    expect(watcher.on(EVENT_TOPIC).map((m) => (JSON.parse(m.payload) as EmotionEvent).id)).toEqual(
      events.slice(2).map((event) => event.id),
    );
    await waitUntil(() => pub.counters.queued === 0);
    expect(pub.counters).toEqual({ published: 3, queued: 0, queuedBytes: 0, dropped: 2 });
    expect(states).toEqual(['connecting', 'connected', 'disconnected', 'connecting', 'connected']);
    expect(scheduler.requested).toEqual([100]);
  });

  it('says when the broker has every queued event: at once when none wait, on the last PUBACK, or false at the deadline or a stop', async () => {
    const scheduler = new ManualClock();
    const { port } = broker;
    await broker.close();
    const { publisher: pub } = publisher({ url: `mqtt://127.0.0.1:${port}`, clock: scheduler, reconnect: { minMs: 100, maxMs: 100 } });
    expect(await pub.delivered(5_000)).toBe(true);
    await pub.start();
    await waitUntil(() => pub.state === 'disconnected');
    const events = [makeEvent(), makeEvent()];
    for (const event of events) pub.publishEvent(event);

    // Unreachable until the deadline: not delivered, both still queued.
    const late = pub.delivered(5_000);
    scheduler.advance(5_000);
    expect(await late).toBe(false);
    expect(pub.counters.queued).toBe(2);
    // The retry the advance fired has failed and the next one is scheduled.
    await waitUntil(() => pub.state === 'disconnected');

    // The broker comes back: true once its PUBACKs are in and the queue is empty.
    const waiting = pub.delivered(60_000);
    broker = await startTestBroker({ port });
    const watcher = await subscriber([EVENT_TOPIC]);
    scheduler.fireNext();
    expect(await waiting).toBe(true);
    expect(pub.counters).toMatchObject({ published: 2, queued: 0 });
    await waitUntil(() => watcher.on(EVENT_TOPIC).length === 2);

    // A stop settles a caller still waiting: the event stays queued for the next start.
    await broker.close();
    await waitUntil(() => pub.state === 'disconnected');
    pub.publishEvent(makeEvent());
    const stopped = pub.delivered(60_000);
    await pub.stop();
    expect(await stopped).toBe(false);
    expect(pub.counters.queued).toBe(1);
    broker = await startTestBroker({ port });
  });

  it('keeps events a stopped publisher never delivered in its DurableQueue; the next one delivers them in order', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ser-publisher-'));
    cleanups.push(() => Promise.resolve(rmSync(dir, { recursive: true, force: true })));
    const openQueue = () => DurableQueue.open({ directory: dir, limits: { count: 100, bytes: 1e6 }, logger: pino({ level: 'silent' }) });
    const { port } = broker;
    await broker.close();
    const firstQueue = openQueue();
    const first = publisher({ url: `mqtt://127.0.0.1:${port}`, queue: firstQueue, clock: new ManualClock() }).publisher;
    await first.start();
    const events = [makeEvent(), makeEvent(), makeEvent(), makeEvent()];
    for (const event of events) first.publishEvent(event);
    await first.stop();
    await firstQueue.close();

    broker = await startTestBroker({ port });
    const watcher = await subscriber([EVENT_TOPIC]);
    const secondQueue = openQueue();
    const second = publisher({ url: broker.url, queue: secondQueue }).publisher;
    await second.start();
    await waitUntil(() => watcher.on(EVENT_TOPIC).length === events.length);
    expect(watcher.on(EVENT_TOPIC).map((m) => m.payload)).toEqual(events.map((event) => JSON.stringify(event)));
    // Removed only on the PUBACKs: once they are in, a reopened queue is empty.
    await waitUntil(() => second.counters.queued === 0);
    await second.stop();
    await secondQueue.close();
    const reopened = openQueue();
    expect(reopened.size).toBe(0);
    await reopened.close();
  });

  it('removes an event from its DurableQueue only on the PUBACK: one sent but never acknowledged is sent again', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ser-publisher-'));
    cleanups.push(() => Promise.resolve(rmSync(dir, { recursive: true, force: true })));
    const openQueue = () => DurableQueue.open({ directory: dir, limits: { count: 100, bytes: 1e6 }, logger: pino({ level: 'silent' }) });
    const { port } = broker;
    await broker.close();
    // A broker that accepts the connection (MQTT 3.1.1 CONNACK) and then acknowledges nothing.
    const publishes: Buffer[] = [];
    const sockets: Socket[] = [];
    const silent = createServer((socket) => {
      sockets.push(socket);
      socket.once('data', () => socket.write(Buffer.from([0x20, 0x02, 0x00, 0x00])));
      socket.on('data', (data) => {
        if (data[0] !== undefined && data[0] >> 4 === 3) publishes.push(data);
      });
    });
    await new Promise<void>((resolve) => silent.listen(port, '127.0.0.1', resolve));
    const closeSilent = async () => {
      for (const socket of sockets) socket.destroy();
      if (silent.listening) await new Promise((resolve) => silent.close(resolve));
    };
    // Also when an assertion fails first: a leaked socket would hang afterEach's handle check.
    cleanups.push(closeSilent);

    const queue = openQueue();
    cleanups.push(() => queue.close());
    const scheduler = new ManualClock();
    const pub = publisher({ url: `mqtt://127.0.0.1:${port}`, queue, clock: scheduler, discovery: { enabled: false } }).publisher;
    await pub.start();
    await connected(pub);
    const event = makeEvent();
    pub.publishEvent(event);
    await waitUntil(() => publishes.some((data) => data.includes(event.id)));
    // Sent, not acknowledged: still queued, and still in the file.
    expect(pub.counters).toMatchObject({ published: 0, queued: 1 });
    const meanwhile = openQueue();
    expect(meanwhile.firstUnsent()?.item.payload).toBe(JSON.stringify(event));
    await meanwhile.close();

    await closeSilent();
    await waitUntil(() => pub.state === 'disconnected');
    broker = await startTestBroker({ port });
    const watcher = await subscriber([EVENT_TOPIC]);
    scheduler.fireNext();
    await waitUntil(() => watcher.on(EVENT_TOPIC).length === 1);
    expect(watcher.on(EVENT_TOPIC)[0]?.payload).toBe(JSON.stringify(event));
    await waitUntil(() => pub.counters.queued === 0);
  });

  it('drops backlog events an MQTT 5 broker refuses (PUBACK reason code) instead of stalling on them', async () => {
    const { port } = broker;
    await broker.close();
    // An MQTT 5 broker that accepts the connection and refuses every publish with 135 (not authorized).
    const refusedIds: number[] = [];
    const sockets: Socket[] = [];
    const refusing = createServer((socket) => {
      sockets.push(socket);
      let connected = false;
      let pending = Buffer.alloc(0);
      socket.on('data', (data) => {
        pending = Buffer.concat([pending, data]);
        for (;;) {
          const packet = mqttPacketAt(pending);
          if (packet === undefined) return;
          pending = pending.subarray(packet.length);
          if (!connected) {
            connected = true;
            socket.write(Buffer.from([0x20, 0x03, 0x00, 0x00, 0x00]));
          } else if (packet.type === 3 && (packet.flags & 0x06) === 0x02) {
            const topicLength = packet.body.readUInt16BE(0);
            const messageId = packet.body.readUInt16BE(2 + topicLength);
            refusedIds.push(messageId);
            socket.write(Buffer.from([0x40, 0x03, messageId >> 8, messageId & 0xff, 0x87]));
          }
        }
      });
    });
    await new Promise<void>((resolve) => refusing.listen(port, '127.0.0.1', resolve));
    cleanups.push(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => refusing.close(resolve));
    });

    const logs = captureLogs();
    const scheduler = new ManualClock();
    const pub = publisher({
      url: `mqtt://127.0.0.1:${port}`,
      clock: scheduler,
      protocolVersion: 5,
      discovery: { enabled: false },
      logger: logs.logger,
    }).publisher;
    // Queued before the broker is reachable, so all of them are backlog.
    for (let n = 0; n < 25; n++) pub.publishEvent(makeEvent());
    await pub.start();
    await connected(pub);
    await waitUntil(() => pub.counters.queued === 0);
    // The 25 events and the retained status, each refused once; none published.
    expect(refusedIds).toHaveLength(26);
    expect(pub.counters).toMatchObject({ published: 0, queued: 0 });
    expect(logs.lines.filter((line) => line['msg'] === 'the MQTT broker refused an event; dropping it (check its ACL for this user)')).toHaveLength(25);
  });

  it('drains a backlog a few unacknowledged events at a time, sending live events at once, ahead of it', async () => {
    const { port } = broker;
    await broker.close();
    let outstanding = new Set<number>();
    let mostOutstanding = 0;
    // Event ids in the order the publisher wrote them to the socket: what it decided, whatever
    // the broker's timing. The second live event is made the moment the 100th is written.
    const written: string[] = [];
    let writtenBeforeSecondLive = -1;
    const scheduler = new ManualClock();
    const live: EmotionEvent[] = [makeEvent(), makeEvent()];
    const pub: MqttPublisher = publisher({
      url: `mqtt://127.0.0.1:${port}`,
      clock: scheduler,
      queueLimit: 1000,
      connect: (url: string, options: IClientOptions) => {
        const client = connect(url, options);
        outstanding = new Set();
        client.on('packetsend', (packet) => {
          if (packet.cmd === 'publish' && packet.topic === EVENT_TOPIC && packet.messageId !== undefined) {
            outstanding.add(packet.messageId);
            mostOutstanding = Math.max(mostOutstanding, outstanding.size);
            written.push((JSON.parse(packet.payload.toString()) as EmotionEvent).id);
            if (written.length === 100) {
              setImmediate(() => {
                writtenBeforeSecondLive = written.length;
                pub.publishEvent(live[1]!);
              });
            }
          }
        });
        client.on('packetreceive', (packet) => {
          if (packet.cmd === 'puback' && packet.messageId !== undefined) outstanding.delete(packet.messageId);
        });
        return client;
      },
    }).publisher;
    // An event made the moment the connection comes up is live, not backlog.
    pub.onStateChange((state) => {
      if (state === 'connected') pub.publishEvent(live[0]!);
    });
    await pub.start();
    await waitUntil(() => pub.state === 'disconnected');
    const backlog = Array.from({ length: 200 }, () => makeEvent());
    for (const event of backlog) pub.publishEvent(event);

    broker = await startTestBroker({ port });
    const watcher = await subscriber([EVENT_TOPIC]);
    const ids = () => watcher.on(EVENT_TOPIC).map((m) => (JSON.parse(m.payload) as EmotionEvent).id);
    scheduler.fireNext();
    await waitUntil(() => ids().length === 202);

    const received = ids();
    expect(received[0]).toBe(live[0]?.id);
    expect(received.filter((id) => id !== live[0]?.id && id !== live[1]?.id)).toEqual(backlog.map((event) => event.id));
    // The second live event went out the moment it was made, while most of the backlog was
    // still waiting, not behind it.
    expect(writtenBeforeSecondLive).toBeLessThan(150);
    expect(written.indexOf(live[1]!.id)).toBe(writtenBeforeSecondLive);
    expect(new Set(received)).toEqual(new Set(written));
    // Ten backlog events in flight, plus the live one.
    expect(mostOutstanding).toBeLessThanOrEqual(11);
    expect(mostOutstanding).toBeGreaterThanOrEqual(10);
  });

  it('waits longer after each failed attempt, logging the broker and the reason but never the password', async () => {
    const { port } = broker;
    await broker.close();
    const logs = captureLogs();
    const scheduler = new ManualClock();
    const { publisher: pub } = publisher({
      url: `mqtt://agent:url-secret@127.0.0.1:${port}`,
      username: 'agent',
      password: 'option-secret',
      clock: scheduler,
      logger: logs.logger,
      reconnect: { minMs: 100, maxMs: 800 },
    });
    await pub.start();
    for (let attempt = 1; attempt <= 5; attempt++) {
      await waitUntil(() => scheduler.active === 1);
      scheduler.fireNext();
    }
    await waitUntil(() => scheduler.active === 1);
    expect(scheduler.requested).toEqual([100, 200, 400, 800, 800, 800]);

    const failures = logs.lines.filter((line) => line['msg'] === 'cannot connect to the MQTT broker');
    expect(failures.map((line) => line['attempt'])).toEqual([1, 2, 3, 4, 5, 6]);
    expect(failures[0]).toMatchObject({
      module: 'mqtt',
      level: 40,
      url: `mqtt://agent:REDACTED@127.0.0.1:${port}`,
      reason: expect.stringContaining('ECONNREFUSED') as unknown,
      retryInMs: 100,
    });
    expect(logs.raw()).not.toContain('secret');
    expect(pub.state).toBe('disconnected');

    // Stopping cancels the pending retry.
    await pub.stop();
    expect(scheduler.active).toBe(0);
    // The broker is started again only so afterEach can close it.
    broker = await startTestBroker();
  });

  it('can stop while never connected, and start again', async () => {
    const { port } = broker;
    await broker.close();
    const scheduler = new ManualClock();
    const { publisher: pub } = publisher({ url: `mqtt://127.0.0.1:${port}`, clock: scheduler });
    await pub.start();
    await waitUntil(() => scheduler.active === 1);
    await pub.stop();
    expect(pub.state).toBe('disconnected');

    broker = await startTestBroker({ port });
    await pub.start();
    await connected(pub);
    await pub.stop();
    await waitUntil(() => broker.connectedClients() === 0);
  });

  it('refuses unusable options before connecting', () => {
    const base = {
      deviceId: DEVICE,
      url: broker.url,
      device: { model: 'm', swVersion: '1' },
      logger: pino({ level: 'silent' }),
    };
    expect(() => new MqttPublisher({ ...base, url: 'http://127.0.0.1:1883' })).toThrow(/mqtt\.url .*scheme http:/);
    expect(() => new MqttPublisher({ ...base, deviceId: 'a/b' })).toThrow(/deviceId is "a\/b"/);
    expect(() => new MqttPublisher({ ...base, topicPrefix: 'ser/#' })).toThrow(/mqtt\.topicPrefix/);
    const noPrefix = { enabled: true, prefix: '' };
    expect(() => new MqttPublisher({ ...base, discovery: noPrefix })).toThrow(/mqtt\.discovery\.prefix/);
    expect(() => new MqttPublisher({ ...base, reconnect: { minMs: 10, maxMs: 5 } })).toThrow(/backoff/);
    expect(() => new MqttPublisher({ ...base, queueLimit: 0 })).toThrow(/queue limit/);
  });
});
