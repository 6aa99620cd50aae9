import { connect as connectTcp } from 'node:net';
import { connectAsync } from 'mqtt';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { BrokerPortInUseError, EmbeddedBroker } from '../../src/mqtt/embedded-broker.js';
import { captureLogs } from '../helpers/logs.js';

const brokers: EmbeddedBroker[] = [];

afterEach(async () => {
  for (const broker of brokers.splice(0)) await broker.stop();
});

function broker(port = 0, logger = pino({ level: 'silent' })): EmbeddedBroker {
  const created = new EmbeddedBroker({ logger, port });
  brokers.push(created);
  return created;
}

describe('EmbeddedBroker', { timeout: 30_000 }, () => {
  it('serves MQTT on 127.0.0.1, says so in its log, and closes its clients on stop', async () => {
    const logs = captureLogs();
    const embedded = broker(0, logs.logger);
    const url = await embedded.start();
    expect(url).toMatch(/^mqtt:\/\/127\.0\.0\.1:\d+$/);
    expect(await embedded.start()).toBe(url);
    expect(logs.lines).toContainEqual(
      expect.objectContaining({
        module: 'broker',
        url,
        msg: expect.stringContaining(`embedded MQTT broker on ${url}`) as unknown,
      }),
    );

    // A real round trip, with a client id longer than MQTT's guaranteed 23 characters.
    const clientId = 'a-device-id-of-forty-characters-length!!';
    const client = await connectAsync(url, { clientId, reconnectPeriod: 0 });
    await client.subscribeAsync('ser/#', { qos: 1 });
    const received = new Promise<string>((resolve) => {
      client.once('message', (_topic, payload) => resolve(payload.toString()));
    });
    await client.publishAsync('ser/x/event', 'hello', { qos: 1 });
    expect(await received).toBe('hello');
    expect(embedded.connectedClients).toBe(1);

    // A connection that never sent CONNECT is closed too.
    const raw = connectTcp(Number(new URL(url).port), '127.0.0.1');
    await new Promise((resolve) => raw.once('connect', resolve));
    const rawClosed = new Promise<void>((resolve) => raw.once('close', () => resolve()));
    const clientClosed = new Promise<void>((resolve) => client.once('close', () => resolve()));

    await embedded.stop();
    await embedded.stop();
    await Promise.all([rawClosed, clientClosed]);
    expect(embedded.connectedClients).toBe(0);
    expect(embedded.url).toBeUndefined();
    await client.endAsync(true);
    await expect(connectAsync(url, { reconnectPeriod: 0, connectTimeout: 2000 })).rejects.toThrow(/ECONNREFUSED/);
  });

  it('says clearly when the port is taken by another broker', async () => {
    const first = broker();
    const url = await first.start();
    const port = Number(new URL(url).port);
    const second = broker(port);
    const error = await second.start().then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(BrokerPortInUseError);
    expect(error).toMatchObject({ code: 'CONFIG', port });
    expect((error as Error).message).toContain(`port ${port} is in use: another broker is running; set mqtt.url to it`);
    expect(second.url).toBeUndefined();

    // The broker that holds the port is unaffected.
    const client = await connectAsync(url, { reconnectPeriod: 0 });
    await client.endAsync();
  });
});
