import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EMOTIONS } from '../../src/labels.js';
import { createEventIdGenerator } from '../../src/mqtt/event-id.js';
import { createEmotionEvent, type EmotionEvent } from '../../src/mqtt/payloads.js';
import { MqttPublisher, type MqttPublisherOptions } from '../../src/mqtt/publisher.js';
import { readTlsOptions, type TlsSettings } from '../../src/mqtt/tls-options.js';
import { startAgentProcess, waitFor, writeAgentConfig } from '../helpers/agent-process.js';
import { messageLines, runSerAgent } from '../helpers/cli.js';
import { DATASETS_DIR } from '../helpers/golden.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { createTestPki, type TestPki } from '../helpers/pki.js';
import { captureLogs } from '../helpers/logs.js';
import { ManualClock } from '../helpers/manual-clock.js';

/**
 * The publisher against a real mosquitto with mutual TLS, password authentication and an ACL
 * that confines each device to its own topics, as a production broker would be set up.
 */
const DEVICE = 'kiosk-01';
const DEVICE_PASSWORD = 'device-pw-7f3a9c';
const WATCHER = 'watcher';
const WATCHER_PASSWORD = 'watcher-pw-41be0d';

// The device user may write only its own tree and its own discovery configs, read the settings
// sent to it (its own set topic, nobody else's) and Home Assistant's status; %u is the user
// name, which is the device id. The watcher stands for Home Assistant and operators.
const ACL = `pattern write ser/%u/#
pattern read ser/%u/set
pattern write homeassistant/+/%u/#
pattern read homeassistant/status

user ${WATCHER}
topic read #
topic write homeassistant/status
topic write ser/+/set
`;

let work: string;
let pki: TestPki;
let broker: Mosquitto;
const cleanups: Array<() => Promise<void>> = [];

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'ser-mosquitto-'));
  pki = await createTestPki(work);
  broker = await startMosquitto({
    dir: work,
    listeners: {
      trusted: { cafile: pki.ca.cert, certfile: pki.server.cert, keyfile: pki.server.key, requireCertificate: true },
      // An impostor: same client CA, but its own certificate comes from a CA the agent does not trust.
      impostor: { cafile: pki.ca.cert, certfile: pki.rogueServer.cert, keyfile: pki.rogueServer.key, requireCertificate: true },
    },
    users: { [DEVICE]: DEVICE_PASSWORD, [WATCHER]: WATCHER_PASSWORD },
    acl: ACL,
  });
});

afterAll(async () => {
  await broker?.stop();
  await rm(work, { recursive: true, force: true });
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

// --- helpers -------------------------------------------------------------------------------

const url = (listener = 'trusted'): string => `mqtts://127.0.0.1:${broker.ports[listener]}`;

function tlsSettings(overrides: Partial<TlsSettings> = {}): TlsSettings {
  return { caFile: pki.ca.cert, certFile: pki.client.cert, keyFile: pki.client.key, rejectUnauthorized: true, servername: '', ...overrides };
}

function agent(options: { tlsSettings?: Partial<TlsSettings>; listener?: string } & Partial<MqttPublisherOptions>) {
  const { tlsSettings: settings, listener, ...publisherOptions } = options;
  const logs = captureLogs();
  const brokerUrl = url(listener);
  const tls = readTlsOptions(tlsSettings(settings), brokerUrl, logs.logger);
  const publisher = new MqttPublisher({
    url: brokerUrl,
    deviceId: DEVICE,
    username: DEVICE,
    password: DEVICE_PASSWORD,
    ...(tls === undefined ? {} : { tls }),
    device: { model: 'ser-cnn-lstm', swVersion: '0.1.0' },
    logger: logs.logger,
    ...publisherOptions,
  });
  cleanups.push(() => publisher.stop());
  return { publisher, logs };
}

/** An MQTT.js client with the given credentials and certificate, connected. */
async function client(options: IClientOptions & { listener?: string }): Promise<MqttClient> {
  const created = connect(url(options.listener), {
    reconnectPeriod: 0,
    ca: readPem(pki.ca.cert),
    cert: readPem(pki.client.cert),
    key: readPem(pki.client.key),
    ...options,
  });
  cleanups.push(() => created.endAsync());
  await new Promise<void>((resolve, reject) => {
    created.once('connect', () => resolve());
    created.once('error', reject);
  });
  return created;
}

async function watcher(topics: string[]): Promise<{ client: MqttClient; messages: Array<{ topic: string; payload: string }> }> {
  const created = await client({ username: WATCHER, password: WATCHER_PASSWORD, clientId: `watcher-${Math.random()}` });
  const messages: Array<{ topic: string; payload: string }> = [];
  // Retained messages left by earlier tests are history, not what this test published.
  created.on('message', (topic, payload, packet) => {
    if (!packet.retain) messages.push({ topic, payload: payload.toString() });
  });
  await created.subscribeAsync(topics, { qos: 1 });
  return { client: created, messages };
}

function readPem(file: string): Buffer {
  return readFileSync(file);
}

async function waitUntil(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 10));
}

const nextId = createEventIdGenerator();
function makeEvent(): EmotionEvent {
  const end = Date.now();
  const probabilities = Object.fromEntries(EMOTIONS.map((emotion) => [emotion, emotion === 'anger' ? 0.94 : 0.01]));
  return createEmotionEvent(
    {
      deviceId: DEVICE,
      windowStart: new Date(end - 3000),
      windowEnd: new Date(end),
      prediction: { emotion: 'anger', confidence: 0.94, probabilities: probabilities as EmotionEvent['probabilities'] },
      speechRatio: 0.8,
      model: { name: 'ser-cnn-lstm', version: '1.0.0', sha256: 'ab'.repeat(32) },
    },
    nextId,
  );
}

/** Lets attempts run until the publisher has asked for `count` reconnect waits. */
async function failedAttempts(scheduler: ManualClock, count: number): Promise<void> {
  for (;;) {
    await waitUntil(() => scheduler.active === 1);
    if (scheduler.requested.length === count) return;
    scheduler.fireNext();
  }
}

const connectionFailures = (lines: Record<string, unknown>[]) =>
  lines.filter((line) => line['msg'] === 'cannot connect to the MQTT broker');

// --- tests ---------------------------------------------------------------------------------

describe('MqttPublisher against mosquitto with mutual TLS, passwords and an ACL', { timeout: 60_000 }, () => {
  it.each([4, 5] as const)(
    'connects with its certificate and password over MQTT %i; events, status and discovery arrive',
    async (protocolVersion) => {
      const watching = await watcher(['ser/#', 'homeassistant/#']);
      const { publisher, logs } = agent({ protocolVersion });
      await publisher.start();
      await waitUntil(() => publisher.state === 'connected');
      const event = makeEvent();
      publisher.publishEvent(event);

      const on = (topic: string) => watching.messages.filter((message) => message.topic === topic);
      await waitUntil(() => on(`ser/${DEVICE}/event`).length === 1);
      expect((JSON.parse(on(`ser/${DEVICE}/event`)[0]?.payload ?? '{}') as EmotionEvent).id).toBe(event.id);
      await waitUntil(() => on(`ser/${DEVICE}/status`).some((message) => message.payload === 'online'));
      const discovery = `homeassistant/sensor/${DEVICE}/emotion/config`;
      await waitUntil(() => on(discovery).length === 1);

      // The ACL lets the device read Home Assistant's status: its birth message brings the configs again.
      await watching.client.publishAsync('homeassistant/status', 'online', { qos: 1 });
      await waitUntil(() => on(discovery).length === 2);

      const complaints = logs.lines.filter((line) => (line['level'] as number) >= 40);
      expect(complaints).toEqual([]);
      expect(logs.raw()).not.toContain(DEVICE_PASSWORD);
    },
  );

  it.each([
    // mosquitto answers a wrong password with "not authorized", not with "bad user name or password".
    [4, 'not authorized (code 5)'],
    [5, 'not authorized (code 135)'],
  ] as const)(
    'MQTT %i: a wrong password is refused with one clear error line per attempt, retried with growing waits',
    async (protocolVersion, reason) => {
      const scheduler = new ManualClock();
      const { publisher, logs } = agent({
        protocolVersion,
        password: 'not-the-password',
        clock: scheduler,
        reconnect: { minMs: 100, maxMs: 400, jitter: 0.5 },
        random: () => 0.5,
      });
      await publisher.start();
      await failedAttempts(scheduler, 4);
      // 100, 200, 400, 400 less a quarter (jitter 0.5 × random 0.5): growing, never a tight loop.
      expect(scheduler.requested).toEqual([75, 150, 300, 300]);
      expect(publisher.state).toBe('disconnected');

      const failures = connectionFailures(logs.lines);
      expect(failures).toHaveLength(4);
      expect(failures[0]).toMatchObject({
        level: 50,
        module: 'mqtt',
        url: url(),
        reason,
        fix: expect.stringContaining('mqtt.passwordFile') as unknown,
        attempt: 1,
        retryInMs: 75,
      });
      expect(logs.raw()).not.toContain('not-the-password');
    },
  );

  it('refuses a broker whose certificate an untrusted CA signed, before sending any credentials', async () => {
    const scheduler = new ManualClock();
    const { publisher, logs } = agent({ listener: 'impostor', clock: scheduler });
    const before = broker.log();
    await publisher.start();
    await failedAttempts(scheduler, 1);
    expect(connectionFailures(logs.lines)[0]).toMatchObject({
      level: 50,
      url: url('impostor'),
      reason: expect.stringMatching(/^server certificate not trusted: /) as unknown,
      fix: expect.stringContaining('mqtt.tls.caFile') as unknown,
    });
    // mosquitto never saw a CONNECT (which would carry the password) from the device.
    expect(broker.log().slice(before.length)).not.toMatch(new RegExp(`as ${DEVICE}`));
  });

  it('checks the broker certificate against mqtt.tls.servername when set', async () => {
    const wrongName = agent({ tlsSettings: { servername: 'broker.example.org' }, clock: new ManualClock() });
    await wrongName.publisher.start();
    await waitUntil(() => connectionFailures(wrongName.logs.lines).length === 1);
    expect(connectionFailures(wrongName.logs.lines)[0]).toMatchObject({
      reason: expect.stringMatching(/^server certificate not trusted: .*broker\.example\.org/) as unknown,
      fix: expect.stringContaining('mqtt.tls.servername') as unknown,
    });

    // The certificate names localhost, so that name passes though the URL says 127.0.0.1.
    const rightName = agent({ tlsSettings: { servername: 'localhost' } });
    await rightName.publisher.start();
    await waitUntil(() => rightName.publisher.state === 'connected');
  });

  it('is refused without a client certificate, and with one from a CA the broker does not trust', async () => {
    const without = agent({ tlsSettings: { certFile: '', keyFile: '' }, clock: new ManualClock() });
    await without.publisher.start();
    await waitUntil(() => connectionFailures(without.logs.lines).length === 1);
    expect(connectionFailures(without.logs.lines)[0]).toMatchObject({
      level: 50,
      reason: 'client certificate required',
      fix: 'set mqtt.tls.certFile and mqtt.tls.keyFile',
    });

    const rogue = agent({
      tlsSettings: { certFile: pki.rogueClient.cert, keyFile: pki.rogueClient.key },
      clock: new ManualClock(),
    });
    await rogue.publisher.start();
    await waitUntil(() => connectionFailures(rogue.logs.lines).length === 1);
    expect(connectionFailures(rogue.logs.lines)[0]).toMatchObject({
      level: 50,
      reason: 'client certificate not accepted: the broker does not trust the CA that signed it',
    });
    expect(without.publisher.state).not.toBe('connected');
    expect(rogue.publisher.state).not.toBe('connected');
  });

  it('MQTT 5: the broker refuses (PUBACK 135) a publish outside the device\'s own topics', async () => {
    const watching = await watcher(['#']);
    const device = await client({ username: DEVICE, password: DEVICE_PASSWORD, clientId: DEVICE, protocolVersion: 5 });
    for (const topic of ['ser/other-box/event', 'homeassistant/sensor/other-box/emotion/config', 'elsewhere']) {
      await expect(device.publishAsync(topic, 'x', { qos: 1 }), topic).rejects.toMatchObject({ code: 135 });
    }
    await device.publishAsync(`ser/${DEVICE}/event`, 'own', { qos: 1 });
    await waitUntil(() => watching.messages.length > 0);
    expect(watching.messages).toEqual([{ topic: `ser/${DEVICE}/event`, payload: 'own' }]);
  });

  it('MQTT 3.1.1: a publish outside the device\'s own topics is not delivered', async () => {
    const watching = await watcher(['#']);
    const device = await client({ username: DEVICE, password: DEVICE_PASSWORD, clientId: DEVICE, protocolVersion: 4 });
    // 3.1.1 has no way to say no: the broker acknowledges and drops it.
    await device.publishAsync('ser/other-box/event', 'forbidden', { qos: 1 });
    await device.publishAsync(`ser/${DEVICE}/event`, 'own', { qos: 1 });
    await waitUntil(() => watching.messages.length > 0);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(watching.messages).toEqual([{ topic: `ser/${DEVICE}/event`, payload: 'own' }]);
  });

  it.each([4, 5] as const)(
    'MQTT %i: the device receives the settings sent to its own set topic, never another device\'s',
    async (protocolVersion) => {
      const watching = await watcher([`ser/${DEVICE}/#`]);
      const { publisher, logs } = agent({ protocolVersion, discovery: { enabled: false } });
      const commands: string[] = [];
      publisher.onSettingsCommand((payload) => commands.push(payload));
      await publisher.start();
      await waitUntil(() => publisher.state === 'connected');
      // The device itself, trying to read every device's set topic: the ACL lets through only its own.
      const device = await client({ username: DEVICE, password: DEVICE_PASSWORD, clientId: `${DEVICE}-snoop`, protocolVersion });
      const snooped: string[] = [];
      device.on('message', (topic) => snooped.push(topic));
      await device.subscribeAsync(['ser/+/set', 'ser/other-device/set'], { qos: 1 });

      await watching.client.publishAsync('ser/other-device/set', '{"window.minConfidence": 0.99}', { qos: 1 });
      await watching.client.publishAsync(`ser/${DEVICE}/set`, '{"window.smoothing": "mean"}', { qos: 1 });
      await waitUntil(() => commands.length >= 1 && snooped.length >= 1);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(commands).toEqual(['{"window.smoothing": "mean"}']);
      expect(snooped).toEqual([`ser/${DEVICE}/set`]);
      // The subscription to its own set topic was granted: no warning about it.
      expect(logs.lines.filter((line) => (line['level'] as number) >= 40)).toEqual([]);
    },
  );

  it('MQTT 5: logs which of its publishes the broker refused, and why', async () => {
    // A topic prefix the ACL does not grant: the broker refuses status, discovery and events.
    const { publisher, logs } = agent({ protocolVersion: 5, topicPrefix: 'elsewhere', discovery: { enabled: false } });
    await publisher.start();
    await waitUntil(() => logs.lines.some((line) => line['msg'] === 'the MQTT broker refused a publish; check its ACL for this user'));
    const refused = logs.lines.find((line) => line['msg'] === 'the MQTT broker refused a publish; check its ACL for this user');
    expect(refused).toMatchObject({ level: 40, topic: `elsewhere/${DEVICE}/status`, err: { code: 135 } });
  });
});

describe('ser-agent with a secured broker', { timeout: 180_000 }, () => {
  async function configFile(name: string, mqtt: Record<string, unknown>): Promise<string> {
    const passwordFile = path.join(work, `${name}.password`);
    await writeFile(passwordFile, `${DEVICE_PASSWORD}\n`, { mode: 0o600 });
    return writeAgentConfig(work, {
      deviceId: DEVICE,
      mqtt: { url: url(), username: DEVICE, passwordFile, tls: { caFile: pki.ca.cert, certFile: pki.client.cert, keyFile: pki.client.key }, ...mqtt },
      gpio: { driver: 'simulated' },
      shutdownSeconds: 10,
    }, name);
  }

  it('publishes over mutual TLS with the password from mqtt.passwordFile, which no output shows', async () => {
    const watching = await watcher([`ser/${DEVICE}/event`]);
    const config = await configFile('agent', {});
    // Longer than one 3 s window, so at least one event is published.
    const speech = path.join(DATASETS_DIR, 'ravdess', 'Actor_01', '03-01-05-02-01-01-01.flac');
    const result = await runSerAgent(['run', '--config', config, '--input', speech], {
      SER_CACHE_DIR: path.join(work, 'cache'),
      XDG_STATE_HOME: path.join(work, 'state'),
    });
    expect(result.code, result.stderr).toBe(0);
    expect(watching.messages.length, result.stdout).toBeGreaterThan(0);
    expect((JSON.parse(watching.messages[0]?.payload ?? '{}') as EmotionEvent).deviceId).toBe(DEVICE);
    const logLines = result.stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(logLines.filter((line) => line['msg'] === 'connected to MQTT broker')).toHaveLength(1);
    expect(result.stdout + result.stderr).not.toContain(DEVICE_PASSWORD);

    const shown = await runSerAgent(['config', '--config', config]);
    expect(shown.code).toBe(0);
    expect(shown.stdout + shown.stderr).not.toContain(DEVICE_PASSWORD);
    const effective = JSON.parse(shown.stdout) as { mqtt: { password: string; tls: Record<string, unknown> } };
    expect(effective.mqtt.password).toBe('[redacted]');
    expect(effective.mqtt.tls).toEqual({
      caFile: pki.ca.cert,
      certFile: pki.client.cert,
      keyFile: pki.client.key,
      rejectUnauthorized: true,
      servername: '',
    });
  });

  it('obeys settings sent to its own set topic and ignores those sent to another device\'s', async () => {
    const watching = await watcher([`ser/${DEVICE}/#`]);
    const on = (leaf: string) => watching.messages.filter((message) => message.topic === `ser/${DEVICE}/${leaf}`);
    const config = await configFile('settings', {});
    const speech = path.join(DATASETS_DIR, 'ravdess', 'Actor_01', '03-01-05-02-01-01-01.flac');
    const running = startAgentProcess(['run', '--config', config, '--input', ...Array.from({ length: 30 }, () => speech)], {
      SER_CACHE_DIR: path.join(work, 'cache'),
      SER_STATE_DIRECTORY: path.join(work, 'settings-state'),
    });
    cleanups.push(async () => {
      await running.stop();
    });
    const initial = await waitFor('the settings', () => on('settings')[0], 120_000);
    expect(JSON.parse(initial.payload)).toMatchObject({ 'window.minConfidence': 0, 'window.smoothing': 'none' });

    await watching.client.publishAsync('ser/other-device/set', '{"window.minConfidence": 0.99}', { qos: 1 });
    await watching.client.publishAsync(`ser/${DEVICE}/set`, '{"window.smoothing": "mean"}', { qos: 1 });
    const [result] = await waitFor('the answer', () => (on('set/result').length > 0 ? on('set/result') : undefined));
    expect(JSON.parse(result?.payload ?? '')).toMatchObject({ ok: true, applied: { 'window.smoothing': 'mean' } });
    const settings = await waitFor('the new settings', () => on('settings')[1]);
    // Only its own topic's change: minConfidence is as configured.
    expect(JSON.parse(settings.payload)).toMatchObject({ 'window.minConfidence': 0, 'window.smoothing': 'mean' });
    expect(on('set/result')).toHaveLength(1);
    expect(running.logged('runtime settings changed')).toHaveLength(1);
    expect(running.lines.filter((line) => (line['level'] as number) >= 40)).toEqual([]);
    expect((await running.stop()).code).toBe(0);
  });

  it('exits 78 before loading the model when a TLS file is missing, naming the key and the path', async () => {
    const missing = path.join(work, 'no-such-cert.pem');
    const config = await configFile('broken', { tls: { caFile: pki.ca.cert, certFile: missing, keyFile: pki.client.key } });
    const result = await runSerAgent(['run', '--config', config]);
    expect(result.code).toBe(78);
    expect(messageLines(result.stderr).join('\n')).toContain(`mqtt.tls.certFile: ${missing} does not exist`);
    expect(result.stdout).not.toContain('model loaded');
  });
});
