import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMOTIONS } from '../../src/labels.js';
import { startAgentProcess, waitFor, writeAgentConfig, type AgentProcess } from '../helpers/agent-process.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { DATASETS_DIR } from '../helpers/golden.js';
import { freePort } from '../helpers/ports.js';
import { byLabel, sample, scrape, value, type Scrape } from '../helpers/prometheus.js';
import { startSubscriber, type RecordingSubscriber } from '../helpers/subscriber.js';

/**
 * The metrics endpoint of the real `ser-agent run` process: the shipped model classifying an
 * angry TESS recording replayed in real time (`--input`, so no microphone is needed), a real
 * broker, and `SER_METRICS_PORT` turning the endpoint on. Scraped over HTTP and parsed with a
 * Prometheus text-format parser, as Prometheus would.
 */
const DEVICE_ID = 'metrics-box';
const SPEECH = path.join(DATASETS_DIR, 'tess', 'OAF_angry', 'OAF_bath_angry.flac');
/** 1.6 s each, about a minute in all: the agent must outlast the scrapes on a loaded machine. */
const REPLAYS = 40;

let work: string;
let broker: TestBroker;
let subscriber: RecordingSubscriber;
let agent: AgentProcess;
let metricsUrl: string;
/** A loaded CI machine can take a while to load the model and classify the first windows. */
const PATIENCE_MS = 120_000;

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'ser-metrics-e2e-'));
  broker = await startTestBroker();
  subscriber = await startSubscriber(broker.url, 'metrics-e2e-subscriber', `ser/${DEVICE_ID}/event`);

  const config = await writeAgentConfig(work, {
    deviceId: DEVICE_ID,
    mqtt: { url: broker.url },
    gpio: { driver: 'simulated' },
    state: { directory: path.join(work, 'state') },
  });
  const port = await freePort();
  metricsUrl = `http://127.0.0.1:${port}/metrics`;
  const inputs = Array.from({ length: REPLAYS }, () => SPEECH);
  agent = startAgentProcess(['run', '--config', config, '--input', ...inputs], {
    SER_METRICS_PORT: String(port),
    SER_CACHE_DIR: path.join(work, 'cache'),
  });
});

afterAll(async () => {
  await agent.stop();
  await subscriber.close();
  await broker.close();
  await rm(work, { recursive: true, force: true });
});

const classified = (result: Scrape): number => value(result.families, 'ser_windows_total', { outcome: 'classified' });
const eventsTotal = (result: Scrape): number =>
  Object.values(byLabel(result.families, 'ser_events_total', 'emotion')).reduce((sum, count) => sum + count, 0);

describe('ser-agent run with SER_METRICS_PORT', () => {
  it('logs where it serves the metrics', async () => {
    const line = await waitFor('the metrics endpoint', () => agent.logged('serving Prometheus metrics')[0], PATIENCE_MS);
    expect(line).toMatchObject({ module: 'metrics', url: metricsUrl });
  });

  it('counts windows and events as they are classified and published, in the Prometheus text format', async () => {
    const first = await waitFor('a published event in the metrics', async () => {
      const result = await scrape(metricsUrl);
      return value(result.families, 'ser_mqtt_events_published_total') >= 1 ? result : undefined;
    }, PATIENCE_MS);
    expect(first.status).toBe(200);
    expect(first.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(classified(first)).toBeGreaterThanOrEqual(1);
    expect(Object.keys(byLabel(first.families, 'ser_windows_total', 'outcome')).sort()).toEqual(
      ['classified', 'dropped', 'failed', 'non_speech', 'silent'],
    );
    expect(Object.keys(byLabel(first.families, 'ser_events_total', 'emotion')).sort()).toEqual([...EMOTIONS].sort());
    expect(byLabel(first.families, 'ser_broker_state', 'state')).toEqual({ connecting: 0, connected: 1, disconnected: 0 });
    expect(byLabel(first.families, 'ser_capture_state', 'state')).toMatchObject({ running: 1 });
    expect(value(first.families, 'process_resident_memory_bytes')).toBeGreaterThan(10_000_000);

    // Later windows move every count; within one scrape the numbers agree with each other.
    const later = await waitFor('more windows', async () => {
      const result = await scrape(metricsUrl);
      return classified(result) > classified(first) && eventsTotal(result) > eventsTotal(first) ? result : undefined;
    }, PATIENCE_MS);
    for (const result of [first, later]) {
      expect(Number(sample(result.families, 'ser_inference_duration_seconds').count)).toBe(classified(result));
      expect(Number(sample(result.families, 'ser_window_to_event_seconds').count)).toBe(eventsTotal(result));
      expect(value(result.families, 'ser_mqtt_events_published_total')).toBeLessThanOrEqual(eventsTotal(result));
    }
    expect(value(later.families, 'ser_events_total', { emotion: 'anger' })).toBeGreaterThanOrEqual(1);
    // Every event handed to MQTT by the time of the scrape was an event the subscriber could get.
    await waitFor('the events to reach the subscriber', () => (subscriber.messages.length >= eventsTotal(later) ? true : undefined));
  });

  it('answers other paths with 404 and other methods with 405, and keeps serving', async () => {
    expect((await fetch(metricsUrl.replace('/metrics', '/health'))).status).toBe(404);
    expect((await fetch(metricsUrl, { method: 'DELETE' })).status).toBe(405);
    expect((await scrape(metricsUrl)).status).toBe(200);
  });

  it('stops serving when the agent stops on SIGTERM', async () => {
    expect(await agent.stop()).toEqual({ code: 0, signal: null });
    await expect(fetch(metricsUrl)).rejects.toThrow();
  });
});
