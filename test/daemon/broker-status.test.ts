import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Daemon, type DaemonModel } from '../../src/daemon.js';
import { createEventIdGenerator } from '../../src/mqtt/event-id.js';
import { MqttPublisher } from '../../src/mqtt/publisher.js';
import { ModelSlot } from '../../src/pipeline/model-slot.js';
import { RuntimeSettings } from '../../src/settings/runtime-settings.js';
import { StopList } from '../../src/system/stop-list.js';
import { waitFor } from '../helpers/agent-process.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { testConfig } from '../helpers/config.js';
import { captureLogs } from '../helpers/logs.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { FakeProcessProbe, FakeSource, RecordingIndicators, RecordingNotifier, ScriptedClassifier } from './fakes.js';

/**
 * The status LED and the health report follow a real broker (Aedes) going away and coming
 * back, through the publisher's own report of each change: the daemon's clock never moves
 * except to fire the publisher's reconnect wait, so nothing could be polling.
 */
const T0 = Date.UTC(2026, 5, 1, 12, 0, 0);
const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('Daemon status with a real broker', () => {
  it('shows broker-down when the broker goes away and listening when it is back, without a poll', async () => {
    let broker: TestBroker = await startTestBroker();
    cleanups.push(() => broker.close());
    const { port } = broker;
    const { logger } = captureLogs();
    const clock = new ManualClock(T0);
    const calls: string[] = [];
    const config = testConfig();
    const source = new FakeSource(calls);
    const indicators = new RecordingIndicators(calls);
    const publisher = new MqttPublisher({
      url: broker.url,
      deviceId: 'status-box',
      device: { model: 'ser-cnn-lstm', swVersion: '0.1.0' },
      discovery: { enabled: false },
      reconnect: { minMs: 100, maxMs: 1000 },
      clock,
      logger,
    });
    const stops = new StopList(logger);
    const daemon = new Daemon({
      config,
      settings: RuntimeSettings.open({
        config,
        directory: mkdtempSync(path.join(process.env['XDG_STATE_HOME'] ?? tmpdir(), 'settings-')),
        logger,
      }),
      logger,
      source,
      models: new ModelSlot<DaemonModel>({
        windowClassifier: new ScriptedClassifier(),
        identity: { name: 'ser-cnn-lstm', version: '1.2.0', sha256: 'ab'.repeat(32) },
        resources: [],
      }),
      publisher,
      brokerUrl: broker.url,
      indicators,
      notifier: new RecordingNotifier(calls, undefined),
      clock,
      nextEventId: createEventIdGenerator(),
      processProbe: new FakeProcessProbe(),
      stops,
    });
    cleanups.push(async () => {
      await stops.stop();
    });
    await daemon.start();
    source.state('running');
    await waitFor('the first connection', () => (indicators.status === 'listening' ? true : undefined), 10_000);
    const health = (): string => daemon.healthReport().broker.state;
    expect(health()).toBe('connected');

    await broker.close();
    await waitFor('broker-down', () => (indicators.status === 'broker-down' ? true : undefined), 10_000);
    expect(health()).toBe('disconnected');
    expect(clock.now()).toBe(T0);

    broker = await startTestBroker({ port });
    // The publisher's own reconnect wait (100 ms) is the only timer due before the health report's.
    expect(clock.requested).toEqual([config.mqtt.healthSeconds * 1000, 100]);
    clock.fireNext();
    await waitFor('listening again', () => (indicators.status === 'listening' ? true : undefined), 10_000);
    expect(health()).toBe('connected');
    expect(clock.now()).toBe(T0 + 100);
    // Each change of broker state is reported, so the same status may be set more than once in a row.
    const shown = indicators.statuses.filter((status, index) => status !== indicators.statuses[index - 1]);
    expect(shown).toEqual(['broker-down', 'listening', 'broker-down', 'listening']);
  });
});
