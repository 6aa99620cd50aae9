import { mkdtempSync } from 'node:fs';
import { connect as connectTcp, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, type AgentConfig, type ConfigOverrides } from '../../src/config/load.js';
import { planReload } from '../../src/config/reload-policy.js';
import { Daemon, type DaemonMetrics, type DaemonModel, type DaemonReadings, type EventPublisher } from '../../src/daemon.js';
import { CLIP_SAMPLES, SAMPLE_RATE } from '../../src/dsp/constants.js';
import { ModelError, SpeechDetectionError } from '../../src/errors.js';
import { EMOTIONS, type Emotion } from '../../src/labels.js';
import { type Logger } from '../../src/logging/logger.js';
import { createEventIdGenerator } from '../../src/mqtt/event-id.js';
import { MqttPublisher } from '../../src/mqtt/publisher.js';
import { HEALTH_SCHEMA_VERSION, type ModelIdentity } from '../../src/mqtt/payloads.js';
import { AgentMetrics } from '../../src/metrics/agent-metrics.js';
import { ModelSlot } from '../../src/pipeline/model-slot.js';
import { RuntimeSettings } from '../../src/settings/runtime-settings.js';
import { StopList } from '../../src/system/stop-list.js';
import { waitFor } from '../helpers/agent-process.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { captureLogs } from '../helpers/logs.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { freePort } from '../helpers/ports.js';
import { byLabel, sample, scrape, value } from '../helpers/prometheus.js';
import {
  FakeProcessProbe,
  FakeSource,
  RecordingIndicators,
  RecordingNotifier,
  RecordingPublisher,
  ScriptedClassifier,
  timedPrediction,
} from './fakes.js';

/**
 * The daemon in-process, wired to hand-made fakes at its edges: capture, classifier, MQTT,
 * LEDs, systemd, timers and clocks. The windower, silence gate, inference queue, smoother and
 * payload builders are the real ones.
 */
const T0 = Date.UTC(2026, 5, 1, 12, 0, 0);
const MODEL: ModelIdentity = { name: 'ser-cnn-lstm', version: '1.2.0', sha256: 'ab'.repeat(32) };
const BROKER_URL = 'mqtt://broker.local:1883';
const WATCHDOG_MS = 5000;
/** Deterministic random part, so the expected event id can be computed by a second generator. */
const fixedRandom = (bytes: number): Uint8Array => new Uint8Array(bytes).fill(7);

interface Harness<P extends EventPublisher = RecordingPublisher> {
  daemon: Daemon;
  /** The stop list the daemon adds its parts to; stopping it stops the daemon. */
  stops: StopList;
  /** The configuration the daemon started with. */
  config: Readonly<AgentConfig>;
  models: ModelSlot<DaemonModel>;
  source: FakeSource;
  classifier: ScriptedClassifier;
  publisher: P;
  indicators: RecordingIndicators;
  notifier: RecordingNotifier;
  /** Dates the windows and runs the daemon's timers. */
  clock: ManualClock;
  probe: FakeProcessProbe;
  calls: string[];
  logLines: Record<string, unknown>[];
  /** What the daemon asked withSpeechGate for. */
  gateRequests: Array<{ minSpeechRatio: number; speechModel: string }>;
  /** Answers withSpeechGate; by default the model in place, as when its gate is already the one asked for. */
  speechGate: (window: { minSpeechRatio: number; speechModel: string }) => Promise<DaemonModel>;
}

function testConfig(overrides: ConfigOverrides = {}): Readonly<AgentConfig> {
  return loadConfig({
    env: {},
    installDir: '/nonexistent/ser-agent',
    systemFile: '/nonexistent/etc/ser-agent/config.json',
    homeDir: '/home/test',
    hostname: 'test-box.example.org',
    overrides,
  });
}

interface HarnessOptions {
  overrides?: ConfigOverrides;
  watchdogIntervalMs?: number | undefined;
  metrics?: (calls: string[]) => DaemonMetrics;
}

function createHarness(options: HarnessOptions = {}): Harness {
  return createHarnessWith((calls) => new RecordingPublisher(calls), options);
}

/** The harness with a publisher of the test's own, e.g. a real MqttPublisher on the harness's clock. */
function createHarnessWith<P extends EventPublisher>(
  makePublisher: (calls: string[], clock: ManualClock, logger: Logger) => P,
  options: HarnessOptions = {},
): Harness<P> {
  const config = testConfig(options.overrides);
  const calls: string[] = [];
  const { logger, lines } = captureLogs();
  const clock = new ManualClock(T0);
  const parts = {
    source: new FakeSource(calls),
    classifier: new ScriptedClassifier(),
    publisher: makePublisher(calls, clock, logger),
    indicators: new RecordingIndicators(calls),
    notifier: new RecordingNotifier(calls, 'watchdogIntervalMs' in options ? options.watchdogIntervalMs : WATCHDOG_MS),
    clock,
    probe: new FakeProcessProbe(),
  };
  const models = new ModelSlot<DaemonModel>({ windowClassifier: parts.classifier, identity: MODEL, resources: [] });
  const gateRequests: Harness['gateRequests'] = [];
  const stops = new StopList(logger);
  const daemon = new Daemon({
    config,
    // A state directory of its own, so persisted changes start empty; test/isolate-state.ts removes XDG_STATE_HOME.
    settings: RuntimeSettings.open({
      config,
      directory: mkdtempSync(path.join(process.env['XDG_STATE_HOME'] ?? tmpdir(), 'settings-')),
      logger,
    }),
    logger,
    source: parts.source,
    models,
    withSpeechGate: (window) => {
      gateRequests.push({ ...window });
      // Through the harness, so that a test can replace it after the daemon is made.
      return harness.speechGate(window);
    },
    publisher: parts.publisher,
    brokerUrl: BROKER_URL,
    indicators: parts.indicators,
    notifier: parts.notifier,
    clock: parts.clock,
    nextEventId: createEventIdGenerator(fixedRandom),
    processProbe: parts.probe,
    ...(options.metrics === undefined ? {} : { metrics: options.metrics(calls) }),
    stops,
  });
  const harness: Harness<P> = {
    daemon,
    stops,
    config,
    models,
    calls,
    logLines: lines,
    gateRequests,
    speechGate: () => Promise.resolve(models.current),
    ...parts,
  };
  return harness;
}

/** A started daemon whose capture reports 'running'. */
async function startedHarness(options: HarnessOptions = {}): Promise<Harness> {
  const harness = createHarness(options);
  await harness.daemon.start();
  harness.source.state('running');
  return harness;
}

/** Constant samples: 0.5 is −6 dBFS (speech-loud), 0.001 is −60 dBFS (below the default −50). */
function samples(seconds: number, value: number): Float32Array {
  return new Float32Array(Math.round(seconds * SAMPLE_RATE)).fill(value);
}
const loud = (seconds: number): Float32Array => samples(seconds, 0.5);
const quiet = (seconds: number): Float32Array => samples(seconds, 0.001);

/** The inference queue yields with setImmediate before each window: let it run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** Sends a message as if it arrived on `<prefix>/<deviceId>/set`; the daemon answers it asynchronously. */
function send(h: Harness, payload: object | string): void {
  const command = h.publisher.settingsCommand;
  if (command === undefined) throw new Error('the daemon did not take the set topic');
  command(typeof payload === 'string' ? payload : JSON.stringify(payload));
}

describe('Daemon windows', () => {
  it('classifies a loud 3 s window once and publishes it as an event dated by the clock', async () => {
    const h = await startedHarness();
    h.classifier.script(timedPrediction('anger', 0.8));
    // Three 1 s chunks: the window ends when its last chunk arrived.
    h.clock.set(T0 + 8000);
    h.source.push(loud(1));
    h.clock.set(T0 + 9000);
    h.source.push(loud(1));
    h.clock.set(T0 + 10_000);
    h.source.push(loud(1));
    await settle();

    expect(h.classifier.seen).toHaveLength(1);
    expect(h.classifier.seen[0]?.length).toBe(CLIP_SAMPLES);
    const end = T0 + 10_000;
    const rest = Math.round((0.2 / 6) * 10_000) / 10_000;
    const probabilities = Object.fromEntries(EMOTIONS.map((e) => [e, e === 'anger' ? 0.8 : rest]));
    expect(h.publisher.events).toEqual([
      {
        schema: 1,
        id: createEventIdGenerator(fixedRandom)(end),
        deviceId: 'test-box',
        ts: iso(end),
        windowStart: iso(end - 3000),
        windowEnd: iso(end),
        emotion: 'anger',
        confidence: 0.8,
        probabilities,
        speechRatio: null,
        model: MODEL,
      },
    ]);
    expect(h.indicators.emotions).toEqual<Emotion[]>(['anger']);
    expect(h.indicators.status).toBe('listening');
  });

  it('classifies every window on its own samples while recycling a bounded set of buffers', async () => {
    const h = await startedHarness({ overrides: { window: { hopSeconds: 1, queueLimit: 4 } } });
    // Second k holds the level 0.1 + k/100, so each window's first and last samples name it.
    const second = (k: number): Float32Array => samples(1, 0.1 + k / 100);
    const windowsSeen = (): Array<[number | undefined, number | undefined]> =>
      h.classifier.seen.map((window) => [window[0], window[CLIP_SAMPLES - 1]]);
    // Five seconds at once: three windows wait in the queue together; then some one by one,
    // then three together again, now in recycled buffers.
    for (let k = 0; k < 5; k++) h.source.push(second(k));
    for (let k = 5; k < 10; k++) {
      await settle();
      h.source.push(second(k));
    }
    await settle();
    for (let k = 10; k < 13; k++) h.source.push(second(k));
    await settle();

    expect(windowsSeen()).toEqual(
      Array.from({ length: 11 }, (_, k) => [Math.fround(0.1 + k / 100), Math.fround(0.1 + (k + 2) / 100)]),
    );
    // Windows classified and silent ones hand their buffers back: far fewer than 10 arrays.
    expect(h.classifier.buffers.size).toBeLessThanOrEqual(4 + 2);
  });

  it('skips windows quieter than window.silenceDbfs: no inference, no event, counted as silence', async () => {
    const h = await startedHarness({ overrides: { window: { silenceDbfs: -50 } } });
    h.source.push(quiet(3));
    await settle();

    expect(h.classifier.seen).toHaveLength(0);
    expect(h.publisher.events).toEqual([]);
    expect(h.indicators.emotions).toEqual([]);
    expect(h.daemon.healthReport().windows).toEqual({ processed: 0, skippedSilence: 1, skippedNonSpeech: 0, failed: 0, dropped: 0 });

    // The same level passes a lower threshold.
    const lenient = await startedHarness({ overrides: { window: { silenceDbfs: -70 } } });
    lenient.source.push(quiet(3));
    await settle();
    expect(lenient.classifier.seen).toHaveLength(1);
    expect(lenient.daemon.healthReport().windows).toEqual({ processed: 1, skippedSilence: 0, skippedNonSpeech: 0, failed: 0, dropped: 0 });
  });

  it('publishes nothing and lights nothing for predictions below window.minConfidence', async () => {
    const h = await startedHarness({ overrides: { window: { minConfidence: 0.6 } } });
    h.classifier.script(timedPrediction('anger', 0.55), timedPrediction('sadness', 0.7));
    h.source.push(loud(3));
    await settle();

    expect(h.classifier.seen).toHaveLength(1);
    expect(h.publisher.events).toEqual([]);
    expect(h.indicators.emotions).toEqual([]);
    // An uncertain window is not a fault.
    expect(h.indicators.status).toBe('listening');

    h.source.push(loud(3));
    await settle();
    expect(h.publisher.events.map((e) => [e.emotion, e.confidence])).toEqual([['sadness', 0.7]]);
    expect(h.indicators.emotions).toEqual<Emotion[]>(['sadness']);
    expect(h.daemon.healthReport().windows.processed).toBe(2);
  });
});

describe('Daemon speech gate', () => {
  it('publishes nothing for a window the speech gate turns away, counts it as non-speech, and carries the ratio of the next speech window', async () => {
    const { h, url } = await withMetrics();
    h.classifier.script({ outcome: 'non_speech', speechRatio: 0.05 }, { ...timedPrediction('anger', 0.8), speechRatio: 0.62 });
    h.source.push(loud(3));
    await settle();
    expect(h.publisher.events).toEqual([]);
    expect(h.indicators.emotions).toEqual([]);
    // Music is not a fault.
    expect(h.indicators.status).toBe('listening');

    h.source.push(loud(3));
    await settle();
    expect(h.publisher.events.map((e) => [e.emotion, e.speechRatio])).toEqual([['anger', 0.62]]);
    expect(h.daemon.healthReport().windows).toEqual({ processed: 1, skippedSilence: 0, skippedNonSpeech: 1, failed: 0, dropped: 0 });
    expect(byLabel((await scrape(url)).families, 'ser_windows_total', 'outcome')).toEqual({
      classified: 1,
      silent: 0,
      non_speech: 1,
      failed: 0,
      dropped: 0,
    });
    await h.stops.stop();
  });

  it('logs and counts a speech detector failure on one window, and classifies the next', async () => {
    const h = await startedHarness();
    h.classifier.script(new SpeechDetectionError(new Error('onnxruntime: invalid state tensor')), timedPrediction('happiness', 0.9));
    h.source.push(loud(3));
    await settle();
    expect(h.publisher.events).toEqual([]);
    expect(h.indicators.status).toBe('error');
    expect(h.logLines.filter((l) => l['level'] === 50).map((l) => l['msg'])).toEqual([
      'window not classified: speech detection failed, so the window was not classified: onnxruntime: invalid state tensor',
    ]);

    h.source.push(loud(3));
    await settle();
    expect(h.publisher.events.map((e) => e.emotion)).toEqual(['happiness']);
    expect(h.indicators.status).toBe('listening');
    expect(h.daemon.healthReport().windows).toMatchObject({ processed: 1, skippedNonSpeech: 0, failed: 1 });
    await h.stops.stop();
  });
});

describe('Daemon runtime settings', () => {
  /** Sends a message as if it arrived on `<prefix>/<deviceId>/set`, and lets the daemon answer it. */
  async function set(h: Harness, payload: object | string): Promise<void> {
    send(h, payload);
    await settle();
  }

  it('publishes the effective settings at start, and again after each accepted change', async () => {
    const h = await startedHarness({ overrides: { window: { minConfidence: 0.3 } } });
    expect(h.publisher.settings).toEqual([
      {
        'window.minConfidence': 0.3,
        'window.smoothing': 'none',
        'window.smoothingWindows': 3,
        'window.silenceDbfs': -50,
        'window.hopSeconds': 3,
        'window.minSpeechRatio': 0.3,
        paused: false,
      },
    ]);
    // Taken before the publisher started, so no message can arrive unhandled.
    expect(h.calls.indexOf('publisher.start')).toBeGreaterThan(-1);

    await set(h, { 'window.smoothing': 'mean' });
    expect(h.publisher.setResults).toEqual([
      { ok: true, applied: { 'window.smoothing': 'mean' }, settings: expect.objectContaining({ 'window.smoothing': 'mean' }) as unknown },
    ]);
    expect(h.publisher.settings.at(-1)).toMatchObject({ 'window.smoothing': 'mean', 'window.minConfidence': 0.3 });
    // The retained settings go out before the answer, so a reader who sees the answer finds them.
    expect(h.calls.slice(-2)).toEqual(['publisher.settings', 'publisher.setResult']);

    await set(h, { 'window.minConfidence': 'high' });
    expect(h.publisher.setResults.at(-1)).toMatchObject({ ok: false, error: expect.stringContaining('window.minConfidence: "high"') as unknown });
    expect(h.publisher.settings).toHaveLength(2);
  });

  it('window.minConfidence applies from the next window', async () => {
    const h = await startedHarness();
    h.classifier.script(timedPrediction('anger', 0.8), timedPrediction('anger', 0.8), timedPrediction('anger', 0.995));
    h.source.push(loud(3));
    await settle();
    expect(h.publisher.events).toHaveLength(1);

    await set(h, { 'window.minConfidence': 0.99 });
    h.source.push(loud(3));
    await settle();
    expect(h.publisher.events).toHaveLength(1);
    h.source.push(loud(3));
    await settle();
    expect(h.publisher.events.map((event) => event.confidence)).toEqual([0.8, 0.995]);
  });

  it('window.silenceDbfs and window.hopSeconds change which windows are cut and classified', async () => {
    const h = await startedHarness();
    h.source.push(quiet(3));
    await settle();
    expect(h.classifier.seen).toHaveLength(0);

    await set(h, { 'window.silenceDbfs': -70, 'window.hopSeconds': 1 });
    // With a 1 s hop, three more seconds make three windows, and the quiet ones now pass.
    h.source.push(quiet(3));
    await settle();
    expect(h.classifier.seen).toHaveLength(3);
    expect(h.daemon.healthReport().windows).toEqual({ processed: 3, skippedSilence: 1, skippedNonSpeech: 0, failed: 0, dropped: 0 });
  });

  it('paused: windows are cut (the watchdog is fed) but none is classified and no event is made, until resumed', async () => {
    const h = await startedHarness();
    await set(h, { paused: true });
    h.source.push(loud(6));
    await settle();
    expect(h.classifier.seen).toHaveLength(0);
    expect(h.publisher.events).toEqual([]);
    h.clock.advance(WATCHDOG_MS);
    expect(h.notifier.watchdogCount).toBe(1);

    await set(h, { paused: false });
    h.source.push(loud(3));
    await settle();
    expect(h.classifier.seen).toHaveLength(1);
    expect(h.publisher.events).toHaveLength(1);
  });

  it('a bad message changes nothing and the daemon goes on', async () => {
    const h = await startedHarness();
    for (const payload of ['not json', '[]', '{"window.queueLimit": 9}', '{"paused": true, "window.smoothingWindows": 0}']) await set(h, payload);
    expect(h.publisher.setResults.map((result) => result.ok)).toEqual([false, false, false, false]);
    h.source.push(loud(3));
    await settle();
    expect(h.publisher.events).toHaveLength(1);
  });

  it('window.minSpeechRatio puts the model with that speech gate in place before answering, for the next window', async () => {
    const h = await startedHarness({ overrides: { window: { minSpeechRatio: 0, smoothing: 'majority', smoothingWindows: 3 } } });
    h.classifier.script(timedPrediction('anger', 0.9), timedPrediction('anger', 0.9));
    h.source.push(loud(6));
    await settle();
    // The same emotion model (its identity), behind a gate that turns the next window away.
    const gated = new ScriptedClassifier().script({ outcome: 'non_speech', speechRatio: 0.1 }, timedPrediction('sadness', 0.9, 12));
    h.speechGate = () => Promise.resolve({ windowClassifier: gated, identity: MODEL, resources: [] });

    await set(h, { 'window.minSpeechRatio': 0.5 });
    expect(h.gateRequests.at(-1)).toEqual({ minSpeechRatio: 0.5, speechModel: h.config.window.speechModel });
    expect(h.publisher.setResults.at(-1)).toMatchObject({ ok: true, applied: { 'window.minSpeechRatio': 0.5 } });
    expect(h.publisher.settings.at(-1)).toMatchObject({ 'window.minSpeechRatio': 0.5 });
    expect(h.models.current.windowClassifier).toBe(gated);

    h.source.push(loud(6));
    await settle();
    expect(gated.seen).toHaveLength(2);
    expect(h.daemon.healthReport().windows).toMatchObject({ processed: 3, skippedNonSpeech: 1 });
    // The emotion model did not change, so its earlier predictions still count in the smoothing.
    expect(h.publisher.events.map((event) => event.emotion)).toEqual(['anger', 'anger', 'anger']);
    expect(h.publisher.shownModels).toEqual([]);
  });

  it('refuses a speech gate that cannot be built, naming why, and changes nothing', async () => {
    const h = await startedHarness({ overrides: { window: { minSpeechRatio: 0 } } });
    h.speechGate = () =>
      Promise.reject(new ModelError('speech model /nonexistent/vad.onnx cannot be read (ENOENT); set window.speechModel to a Silero VAD v5 or v6 ONNX file'));
    const running = h.models.current;
    await set(h, { 'window.minSpeechRatio': 0.5, 'window.minConfidence': 0.9 });
    expect(h.publisher.setResults.at(-1)).toMatchObject({
      ok: false,
      error: expect.stringContaining('speech model /nonexistent/vad.onnx cannot be read (ENOENT)') as unknown,
      settings: { 'window.minSpeechRatio': 0, 'window.minConfidence': 0 },
    });
    expect(h.publisher.settings).toHaveLength(1);
    expect(h.models.current).toBe(running);
    h.source.push(loud(3));
    await settle();
    expect(h.publisher.events).toHaveLength(1);
  });

  it('answers changes in the order they came while a speech gate loads, each after the one before', async () => {
    const h = await startedHarness({ overrides: { window: { minSpeechRatio: 0 } } });
    let loaded: (model: DaemonModel) => void = () => undefined;
    h.speechGate = (window) =>
      window.minSpeechRatio === 0 ? Promise.resolve(h.models.current) : new Promise((resolve) => (loaded = resolve));
    send(h, { 'window.minSpeechRatio': 0.5 });
    send(h, { 'window.minSpeechRatio': 0 });
    await settle();
    expect(h.publisher.setResults).toEqual([]);
    const gated = new ScriptedClassifier();
    loaded({ windowClassifier: gated, identity: MODEL, resources: [] });
    await settle();
    expect(h.publisher.setResults.map((result) => result.ok && result.applied)).toEqual([
      { 'window.minSpeechRatio': 0.5 },
      { 'window.minSpeechRatio': 0 },
    ]);
    expect(h.gateRequests.map((request) => request.minSpeechRatio)).toEqual([0.5, 0]);
  });

  it('frees a speech gate that finishes loading while the agent stops, and refuses the change', async () => {
    const h = await startedHarness({ overrides: { window: { minSpeechRatio: 0 } } });
    let loaded: (model: DaemonModel) => void = () => undefined;
    h.speechGate = () => new Promise((resolve) => (loaded = resolve));
    const running = h.models.current;
    await set(h, { 'window.minSpeechRatio': 0.5 });
    await h.stops.stop();
    let freed = false;
    loaded({ windowClassifier: new ScriptedClassifier(), identity: MODEL, resources: [{ dispose: () => (freed = true) }] });
    await settle();
    expect(freed).toBe(true);
    expect(h.models.current).toBe(running);
    expect(h.publisher.setResults.at(-1)).toMatchObject({ ok: false, error: expect.stringContaining('the agent is stopping') as unknown });
  });

  it('waits for a change of the model already under way (a reload) before it builds a speech gate', async () => {
    const h = await startedHarness({ overrides: { window: { minSpeechRatio: 0 } } });
    let reloaded: () => void = () => undefined;
    const reload = h.daemon.exclusive(() => new Promise<void>((resolve) => (reloaded = resolve)));
    await set(h, { 'window.minSpeechRatio': 0.5 });
    expect(h.gateRequests).toEqual([]);
    reloaded();
    await reload;
    await settle();
    expect(h.gateRequests).toHaveLength(1);
    expect(h.publisher.setResults.at(-1)).toMatchObject({ ok: true });
  });
});

describe('Daemon faults', () => {
  it('survives a window whose inference throws: status error, then back to listening on the next good window', async () => {
    const h = await startedHarness();
    h.classifier.script(new Error('tensor shape mismatch'), timedPrediction('happiness', 0.9));
    h.source.push(loud(3));
    await settle();

    expect(h.publisher.events).toEqual([]);
    expect(h.indicators.status).toBe('error');
    expect(h.logLines.filter((l) => l['level'] === 50).map((l) => l['msg'])).toEqual(['inference failed: tensor shape mismatch']);

    h.source.push(loud(3));
    await settle();
    expect(h.publisher.events.map((e) => e.emotion)).toEqual(['happiness']);
    expect(h.indicators.status).toBe('listening');
    expect(h.indicators.statuses.slice(-3)).toEqual(['listening', 'error', 'listening']);
  });

  it('shows a degraded capture as an error, with the reason in the health report', async () => {
    const h = await startedHarness();
    expect(h.indicators.status).toBe('listening');
    h.source.state('degraded', 'arecord exited 1: no such device plughw:1,0');

    expect(h.indicators.status).toBe('error');
    expect(h.daemon.healthReport().capture).toEqual({ state: 'degraded', detail: 'arecord exited 1: no such device plughw:1,0' });

    h.source.state('running');
    expect(h.indicators.status).toBe('listening');
    expect(h.daemon.healthReport().capture).toEqual({ state: 'running', detail: null });
  });

  it('never stitches samples from before a degraded capture to samples after it', async () => {
    const h = await startedHarness();
    h.source.push(samples(2, 0.3));
    h.source.state('degraded', 'recorder stalled');
    h.source.state('running');
    h.source.push(samples(2, 0.6));
    await settle();
    expect(h.classifier.seen).toHaveLength(0);

    h.source.push(samples(1, 0.6));
    await settle();
    expect(h.classifier.seen).toHaveLength(1);
    // Only post-restart audio: every sample is the second value.
    expect(new Set(h.classifier.seen[0])).toEqual(new Set([Math.fround(0.6)]));
  });
});

describe('Daemon smoothing across a capture gap', () => {
  it('forgets the predictions from before a degraded capture, so old audio cannot outvote new speech', async () => {
    const h = await startedHarness({ overrides: { window: { smoothing: 'majority', smoothingWindows: 3 } } });
    h.classifier.script(timedPrediction('anger', 0.9), timedPrediction('anger', 0.9), timedPrediction('sadness', 0.9));
    h.source.push(loud(6));
    await settle();
    h.source.state('degraded', 'recorder exited');
    h.source.state('running');
    h.source.push(loud(3));
    await settle();
    expect(h.publisher.events.map((e) => e.emotion)).toEqual(['anger', 'anger', 'sadness']);
  });
});

describe('Daemon and its supervisor', () => {
  it('sends READY once, on the first running state', async () => {
    const h = createHarness();
    await h.daemon.start();
    h.source.state('starting');
    expect(h.notifier.readyCount).toBe(0);

    h.source.state('running');
    expect(h.notifier.readyCount).toBe(1);
    h.source.state('degraded', 'recorder stalled');
    h.source.state('running');
    expect(h.notifier.readyCount).toBe(1);
  });

  it('feeds the watchdog only in intervals where windows arrived (silent ones count: a quiet room is alive)', async () => {
    const h = await startedHarness();
    h.clock.advance(WATCHDOG_MS);
    expect(h.notifier.watchdogCount).toBe(0);

    h.source.push(loud(3));
    await settle();
    h.clock.advance(WATCHDOG_MS);
    expect(h.notifier.watchdogCount).toBe(1);

    h.clock.advance(WATCHDOG_MS);
    h.clock.advance(WATCHDOG_MS);
    expect(h.notifier.watchdogCount).toBe(1);

    h.source.push(quiet(3));
    h.clock.advance(WATCHDOG_MS);
    expect(h.notifier.watchdogCount).toBe(2);
  });

  it('schedules no watchdog ping when the notifier has no interval', async () => {
    const withWatchdog = await startedHarness();
    const without = await startedHarness({ watchdogIntervalMs: undefined });
    // Health, plus the watchdog only where asked for.
    expect(withWatchdog.clock.active).toBe(2);
    expect(without.clock.active).toBe(1);
    without.source.push(loud(3));
    without.clock.advance(60_000);
    expect(without.notifier.watchdogCount).toBe(0);
  });

  it('shows broker-down while capture runs and the broker is unreachable, the moment the publisher says so', async () => {
    const h = await startedHarness();
    expect(h.indicators.status).toBe('listening');

    // No time passes: the status follows the publisher's own report of each change.
    h.publisher.state = 'disconnected';
    expect(h.indicators.status).toBe('broker-down');
    h.publisher.state = 'connecting';
    expect(h.indicators.status).toBe('broker-down');
    h.publisher.state = 'connected';
    expect(h.indicators.status).toBe('listening');
    expect(h.clock.requested).not.toContain(1000);
  });
});

describe('Daemon status with a real broker', () => {
  it('shows broker-down when the broker goes away and listening when it is back, without a poll', async () => {
    // The daemon's clock never moves except to fire the publisher's reconnect wait, so nothing
    // could be polling: the status follows the publisher's own report of each change.
    let broker: TestBroker = await startTestBroker();
    const { port } = broker;
    const h = createHarnessWith(
      (_calls, clock, logger) =>
        new MqttPublisher({
          url: broker.url,
          deviceId: 'status-box',
          device: { model: 'ser-cnn-lstm', swVersion: '0.1.0' },
          discovery: { enabled: false },
          reconnect: { minMs: 100, maxMs: 1000 },
          clock,
          logger,
        }),
      { watchdogIntervalMs: undefined },
    );
    try {
      await h.daemon.start();
      h.source.state('running');
      const status = (wanted: string) => () => (h.indicators.status === wanted ? true : undefined);
      const brokerState = (): string => h.daemon.healthReport().broker.state;
      await waitFor('the first connection', status('listening'), 10_000);
      expect(brokerState()).toBe('connected');

      await broker.close();
      await waitFor('broker-down', status('broker-down'), 10_000);
      expect(brokerState()).toBe('disconnected');
      expect(h.clock.now()).toBe(T0);

      broker = await startTestBroker({ port });
      // The publisher's reconnect wait (100 ms) is the only timer due before the health report's.
      expect(h.clock.requested).toEqual([h.config.mqtt.healthSeconds * 1000, 100]);
      h.clock.fireNext();
      await waitFor('listening again', status('listening'), 10_000);
      expect(brokerState()).toBe('connected');
      expect(h.clock.now()).toBe(T0 + 100);
      // Each change of broker state is reported, so the same status may be set more than once in a row.
      const shown = h.indicators.statuses.filter((shownStatus, index) => shownStatus !== h.indicators.statuses[index - 1]);
      expect(shown).toEqual(['broker-down', 'listening', 'broker-down', 'listening']);
    } finally {
      await h.stops.stop();
      await broker.close();
    }
  });
});

describe('Daemon.stop', () => {
  it('says stopping, then stops capture, MQTT and the LEDs in that order, and cancels its timers', async () => {
    const h = await startedHarness();
    h.calls.length = 0;
    await h.stops.stop();

    expect(h.calls).toEqual(['notifier.stopping', 'source.stop', 'publisher.stop', 'indicators.stop']);
    expect(h.clock.active).toBe(0);
  });

  it('is idempotent', async () => {
    const h = await startedHarness();
    h.calls.length = 0;
    const first = h.stops.stop();
    const second = h.stops.stop();
    await Promise.all([first, second]);
    await h.stops.stop();

    expect(second).toBe(first);
    expect(h.calls).toEqual(['notifier.stopping', 'source.stop', 'publisher.stop', 'indicators.stop']);
  });

  it('keeps stopping the other parts when one part cannot stop, and logs which one', async () => {
    const h = await startedHarness();
    h.source.stopError = new Error('recorder ignored SIGKILL');
    h.publisher.stopError = new Error('broker closed the socket');
    h.calls.length = 0;
    await expect(h.stops.stop()).resolves.toEqual({ failed: ['capture', 'mqtt'] });

    expect(h.calls).toEqual(['notifier.stopping', 'source.stop', 'publisher.stop', 'indicators.stop']);
    expect(h.logLines.filter((l) => l['msg'] === 'could not stop cleanly').map((l) => l['part'])).toEqual(['capture', 'mqtt']);
  });

  it('drops (and counts) windows still waiting for inference at stop', async () => {
    const h = await startedHarness();
    h.source.push(loud(3));
    await h.stops.stop();
    await settle();

    expect(h.classifier.seen).toHaveLength(0);
    expect(h.publisher.events).toEqual([]);
    expect(h.daemon.healthReport().windows).toEqual({ processed: 0, skippedSilence: 0, skippedNonSpeech: 0, failed: 0, dropped: 1 });
  });
});

describe('Daemon.stop during start', () => {
  it('starts nothing more once stop() was called while start() waited', async () => {
    const h = createHarness();
    let releasePublisher: () => void = () => undefined;
    h.publisher.start = () => new Promise<void>((resolve) => {
      releasePublisher = resolve;
    });
    const starting = h.daemon.start();
    await settle();
    const stopping = h.stops.stop();
    releasePublisher();
    await Promise.all([starting, stopping]);
    expect(h.calls).not.toContain('source.start');
    expect(h.clock.active).toBe(0);
  });
});

describe('Daemon.finished', () => {
  it('resolves once a finite source has ended and its queued window is processed', async () => {
    const h = await startedHarness();
    let finished = false;
    void h.daemon.finished.then(() => {
      finished = true;
    });
    h.source.push(loud(3));
    await settle();
    expect(h.publisher.events).toHaveLength(1);
    expect(finished).toBe(false);

    // The last window is still queued when the source ends.
    h.source.push(loud(3));
    h.source.end();
    await h.daemon.finished;
    expect(h.publisher.events).toHaveLength(2);
    // Nothing waited to be delivered, so the daemon did not wait for the broker.
    expect(h.publisher.deliveredTimeouts).toEqual([]);
  });

  it('first gives the broker up to shutdownSeconds to take the events still queued, and says when it did not', async () => {
    const h = await startedHarness({ overrides: { shutdownSeconds: 7 } });
    h.source.push(loud(3));
    await settle();
    h.publisher.counters = { ...h.publisher.counters, queued: 1 };
    h.publisher.deliveredAnswer = false;
    h.source.end();
    await h.daemon.finished;
    expect(h.publisher.deliveredTimeouts).toEqual([7_000]);
    expect(h.logLines.filter((line) => line['level'] === 40).map((line) => [line['msg'], line['queued']])).toEqual([
      ['the broker did not take every event in time; they are kept and sent after the next start', 1],
    ]);
  });
});

describe('Daemon reload', () => {
  const SITE_MODEL: ModelIdentity = { name: 'ser-cnn-lstm-lobby', version: '1.2.0-site.1', sha256: 'cd'.repeat(32) };

  /** Another model, and the reload that puts it in place with `overrides` read from the file. */
  function reload(h: Harness, overrides: ConfigOverrides = {}): ScriptedClassifier {
    const classifier = new ScriptedClassifier();
    const plan = planReload(h.daemon.config, testConfig(overrides));
    h.daemon.checkConfig(plan.config);
    h.daemon.reconfigure(plan.config, { windowClassifier: classifier, identity: SITE_MODEL, resources: [] });
    return classifier;
  }

  it('runs every window not yet begun on the new model, names it in their events and the health report, and shows it on the device', async () => {
    const h = await startedHarness({ overrides: { window: { hopSeconds: 1 } } });
    h.source.push(loud(3));
    await settle();
    // Two windows cut and waiting when the reload comes: neither has begun, both run on the new model.
    h.source.push(loud(2));
    const site = reload(h);
    await settle();

    expect(h.classifier.seen).toHaveLength(1);
    expect(site.seen).toHaveLength(2);
    expect(h.publisher.events.map((event) => event.model)).toEqual([MODEL, SITE_MODEL, SITE_MODEL]);
    expect(h.daemon.healthReport().model).toEqual(SITE_MODEL);
    expect(h.publisher.shownModels).toEqual([SITE_MODEL]);
    expect(h.logLines.find((line) => line['msg'] === 'model replaced: the next window runs on it')).toMatchObject({ model: SITE_MODEL });
  });

  it('starts the smoothing afresh on a new model, so the old model\'s predictions cannot outvote it', async () => {
    const h = await startedHarness({ overrides: { window: { smoothing: 'majority', smoothingWindows: 3 } } });
    h.classifier.script(timedPrediction('anger', 0.9), timedPrediction('anger', 0.9));
    h.source.push(loud(6));
    await settle();
    const site = reload(h, { window: { smoothing: 'majority', smoothingWindows: 3 } });
    site.script(timedPrediction('sadness', 0.9));
    h.source.push(loud(3));
    await settle();
    expect(h.publisher.events.map((e) => [e.emotion, e.model.name])).toEqual([
      ['anger', MODEL.name],
      ['anger', MODEL.name],
      ['sadness', SITE_MODEL.name],
    ]);
  });

  it('applies the file\'s runtime settings and publishes them, but keeps those changed over MQTT, as a restart would', async () => {
    const h = await startedHarness();
    h.publisher.settingsCommand?.('{"window.smoothingWindows": 4}');
    await settle();
    const published = h.publisher.settings.length;
    h.daemon.reconfigure(
      planReload(h.daemon.config, testConfig({ window: { minConfidence: 0.95, smoothingWindows: 2 } })).config,
      h.models.current,
    );
    expect(h.publisher.settings.slice(published)).toEqual([
      expect.objectContaining({ 'window.minConfidence': 0.95, 'window.smoothingWindows': 4 }),
    ]);
    expect(h.logLines.find((line) => String(line['msg']).startsWith('settings changed over MQTT stay in force'))).toMatchObject({
      overridden: { 'window.smoothingWindows': 4 },
    });
    // 0.95 now holds back what 0 let through; the model was not replaced.
    h.classifier.script(timedPrediction('anger', 0.9));
    h.source.push(loud(3));
    await settle();
    expect(h.publisher.events).toEqual([]);
    expect(h.publisher.shownModels).toEqual([]);
  });

  it('publishes the health report at a reloaded mqtt.healthSeconds, with the reload\'s outcome', async () => {
    const h = await startedHarness({ overrides: { mqtt: { healthSeconds: 60 } } });
    h.daemon.reconfigure(planReload(h.daemon.config, testConfig({ mqtt: { healthSeconds: 10 } })).config, h.models.current);
    const report = { ts: iso(T0), outcome: 'ok' as const, reason: null, modelChanged: false, applied: ['mqtt.healthSeconds'], needsRestart: [] };
    h.daemon.recordReload(report);
    h.clock.advance(10_000);
    expect(h.publisher.health).toHaveLength(1);
    expect(h.publisher.health[0]?.reload).toEqual(report);
    h.clock.advance(10_000);
    expect(h.publisher.health).toHaveLength(2);
    await h.stops.stop();
    expect(h.clock.active).toBe(0);
  });

  it('refuses, before anything changes, a hop the windower cannot cut', async () => {
    const h = await startedHarness();
    expect(() => h.daemon.checkConfig(testConfig({ window: { hopSeconds: 0.00001 } }))).toThrow(/window hop 0.00001 s is not usable/);
    expect(h.daemon.config).toBe(h.config);
  });
});

describe('Daemon health report', () => {
  it('reports nulls and zeros before any window', async () => {
    const h = await startedHarness();
    const report = h.daemon.healthReport();
    expect(report.inferenceMs).toEqual({ p50: null, p95: null });
    expect(report.windows).toEqual({ processed: 0, skippedSilence: 0, skippedNonSpeech: 0, failed: 0, dropped: 0 });
    expect(report.process.cpuPercent).toBe(0);
  });

  it('publishes every mqtt.healthSeconds the counters, latency, capture, process and broker figures', async () => {
    const h = createHarness({ overrides: { mqtt: { healthSeconds: 30 }, window: { queueLimit: 3 } } });
    h.probe.cpu = 1_000_000;
    await h.daemon.start();
    h.source.state('running');

    // Five windows in one chunk: the queue holds three, the two oldest are dropped.
    h.classifier.script(timedPrediction('fear', 0.9, 30), timedPrediction('fear', 0.9, 10), timedPrediction('fear', 0.9, 20));
    h.source.push(loud(15));
    await settle();
    h.source.push(quiet(3));
    await settle();
    h.source.state('degraded', 'arecord exited 1');
    h.publisher.counters = { published: 7, queued: 2, queuedBytes: 1234, dropped: 1 };
    h.probe.rss = 123_456_789;

    // 7.5 s of CPU over 30 s of wall clock.
    h.probe.cpu = 1_000_000 + 7_500_000;
    h.clock.advance(29_999);
    expect(h.publisher.health).toEqual([]);
    h.clock.advance(1);

    expect(h.publisher.health).toEqual([
      {
        schema: HEALTH_SCHEMA_VERSION,
        deviceId: 'test-box',
        ts: iso(T0 + 30_000),
        uptimeSeconds: 30,
        windows: { processed: 3, skippedSilence: 1, skippedNonSpeech: 0, failed: 0, dropped: 2 },
        events: { published: 7, queued: 2, queuedBytes: 1234, dropped: 1 },
        inferenceMs: { p50: 20, p95: 30 },
        process: { rssBytes: 123_456_789, cpuPercent: 25, tensors: 42 },
        capture: { state: 'degraded', detail: 'arecord exited 1' },
        broker: { state: 'connected', url: BROKER_URL },
        model: MODEL,
        reload: null,
      },
    ]);

    // CPU is measured per interval, not since start: 1 s over the next 10 s.
    h.clock.set(T0 + 40_000);
    h.probe.cpu += 1_000_000;
    expect(h.daemon.healthReport().process.cpuPercent).toBe(10);
  });
});

/** The real Prometheus metrics and endpoint, recording when the daemon starts and stops them. */
class RecordingMetrics extends AgentMetrics {
  constructor(
    private readonly calls: string[],
    port: number,
  ) {
    super({ host: '127.0.0.1', port, logger: captureLogs().logger });
  }

  override start(read: () => DaemonReadings): Promise<void> {
    this.calls.push('metrics.start');
    return super.start(read);
  }

  override stop(): Promise<void> {
    this.calls.push('metrics.stop');
    return super.stop();
  }
}

/** A started daemon with a metrics endpoint on a free port, and that endpoint's URL. */
async function withMetrics(overrides: ConfigOverrides = {}): Promise<{ h: Harness; url: string }> {
  const port = await freePort();
  let metrics: RecordingMetrics | undefined;
  const h = await startedHarness({ overrides, metrics: (calls) => (metrics = new RecordingMetrics(calls, port)) });
  return { h, url: metrics?.url ?? '' };
}

/** Sends raw bytes and resolves with what the server answered before closing. */
function rawRequest(url: string, bytes: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connectTcp(Number(port), hostname, () => socket.end(bytes));
    let answer = '';
    socket.on('data', (data: Buffer) => (answer += data.toString()));
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
  });
}

describe('Daemon metrics endpoint', () => {
  it('serves the health report\'s counts at GET /metrics and moves them as windows are classified and events published', async () => {
    const { h, url } = await withMetrics({ window: { queueLimit: 1 } });
    const before = await scrape(url);
    expect(before.status).toBe(200);
    expect(before.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(byLabel(before.families, 'ser_windows_total', 'outcome')).toEqual({ classified: 0, silent: 0, non_speech: 0, failed: 0, dropped: 0 });
    expect(byLabel(before.families, 'ser_events_total', 'emotion')).toEqual(Object.fromEntries(EMOTIONS.map((e) => [e, 0])));
    expect(byLabel(before.families, 'ser_capture_state', 'state')).toEqual({ starting: 0, running: 1, degraded: 0, stopped: 0 });
    expect(byLabel(before.families, 'ser_broker_state', 'state')).toEqual({ connecting: 0, connected: 1, disconnected: 0 });
    expect(sample(before.families, 'ser_inference_duration_seconds').count).toBe('0');
    expect(byLabel(before.families, 'ser_reloads_total', 'outcome')).toEqual({ ok: 0, refused: 0 });

    // One window classified 30 ms long and published 0.4 s after it ended; one silent window;
    // three windows in one chunk behind a queue of one: the two oldest are dropped.
    h.classifier.script(timedPrediction('anger', 0.8, 30), timedPrediction('sadness', 0.8, 30));
    h.clock.set(T0 + 3000);
    h.source.push(loud(3));
    h.clock.set(T0 + 3400);
    await settle();
    h.source.push(quiet(3));
    await settle();
    h.source.push(loud(9));
    await settle();
    h.source.state('degraded', 'arecord exited 1');
    h.publisher.counters = { published: 2, queued: 3, queuedBytes: 1800, dropped: 4 };
    h.publisher.state = 'disconnected';
    h.probe.rss = 123_456_789;
    h.probe.cpu = 2_500_000;
    const reload = { ts: iso(T0), reason: null, modelChanged: false, applied: [], needsRestart: [] };
    h.daemon.recordReload({ ...reload, outcome: 'refused', reason: 'model: damaged' });
    h.daemon.recordReload({ ...reload, outcome: 'ok' });
    h.daemon.recordReload({ ...reload, outcome: 'ok' });

    const after = (await scrape(url)).families;
    expect(byLabel(after, 'ser_windows_total', 'outcome')).toEqual({ classified: 2, silent: 1, non_speech: 0, failed: 0, dropped: 2 });
    // The same numbers the health report carries: one owner, read by both.
    expect(h.daemon.healthReport().windows).toEqual({ processed: 2, skippedSilence: 1, skippedNonSpeech: 0, failed: 0, dropped: 2 });
    expect(byLabel(after, 'ser_events_total', 'emotion')).toMatchObject({ anger: 1, sadness: 1, neutral: 0 });
    expect(h.publisher.events.map((e) => e.emotion)).toEqual(['anger', 'sadness']);
    expect(value(after, 'ser_mqtt_events_published_total')).toBe(2);
    expect(value(after, 'ser_event_queue_depth')).toBe(3);
    expect(value(after, 'ser_event_queue_bytes')).toBe(1800);
    expect(value(after, 'ser_event_queue_dropped_total')).toBe(4);
    expect(value(after, 'ser_capture_restarts_total')).toBe(1);
    expect(byLabel(after, 'ser_reloads_total', 'outcome')).toEqual({ ok: 2, refused: 1 });
    expect(byLabel(after, 'ser_capture_state', 'state')).toMatchObject({ running: 0, degraded: 1 });
    expect(byLabel(after, 'ser_broker_state', 'state')).toMatchObject({ connected: 0, disconnected: 1 });
    expect(value(after, 'process_resident_memory_bytes')).toBe(123_456_789);
    expect(value(after, 'process_cpu_seconds_total')).toBe(2.5);
    expect(value(after, 'ser_tfjs_tensors')).toBe(42);
    const inference = sample(after, 'ser_inference_duration_seconds');
    expect([inference.count, inference.sum, inference.buckets?.['0.025'], inference.buckets?.['0.05']]).toEqual(['2', '0.06', '0', '2']);
    const windowToEvent = sample(after, 'ser_window_to_event_seconds');
    expect(windowToEvent.count).toBe('2');
    // The first event came 0.4 s after its window: above 0.25 s, within 0.5 s.
    expect([windowToEvent.buckets?.['0.25'], windowToEvent.buckets?.['0.5']]).toEqual(['1', '2']);
    await h.stops.stop();
  });

  it('answers 404 off /metrics, 405 to other methods, HEAD without a body, and survives a malformed request', async () => {
    const { h, url } = await withMetrics();
    const root = url.replace('/metrics', '/');
    expect((await fetch(root)).status).toBe(404);
    expect((await fetch(`${url}/extra`)).status).toBe(404);
    const post = await fetch(url, { method: 'POST', body: 'x' });
    expect([post.status, post.headers.get('allow')]).toEqual([405, 'GET, HEAD']);
    const head = await fetch(url, { method: 'HEAD' });
    expect([head.status, await head.text()]).toEqual([200, '']);
    expect((await fetch(`${url}?name[]=ser_windows_total`)).status).toBe(200);
    expect(await rawRequest(url, 'NONSENSE\r\n\r\n')).toMatch(/^HTTP\/1\.1 400/);

    h.source.push(loud(3));
    await settle();
    expect(value((await scrape(url)).families, 'ser_windows_total', { outcome: 'classified' })).toBe(1);
    await h.stops.stop();
  });

  it('starts first and stops last, freeing its port', async () => {
    const { h, url } = await withMetrics();
    expect(h.calls.filter((call) => call.endsWith('.start')).slice(0, 3)).toEqual(['metrics.start', 'indicators.start', 'publisher.start']);
    h.calls.length = 0;
    await h.stops.stop();
    expect(h.calls).toEqual(['notifier.stopping', 'source.stop', 'publisher.stop', 'indicators.stop', 'metrics.stop']);
    await expect(fetch(url)).rejects.toThrow();
  });

  it('logs a port already in use with the port and the fix, and the daemon runs on without metrics', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const address = taken.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    const { logger, lines } = captureLogs();
    const metrics = new AgentMetrics({ host: '127.0.0.1', port, logger });
    const h = await startedHarness({ metrics: () => metrics });
    try {
      const failure = lines.find((line) => line['module'] === 'metrics' && line['level'] === 50);
      expect(failure?.['msg']).toContain(`cannot listen on 127.0.0.1:${port}`);
      expect(failure?.['fix']).toContain(`port ${port}`);
      expect(failure?.['fix']).toContain('metrics.port');
      expect(metrics.url).toBeUndefined();

      h.source.push(loud(3));
      await settle();
      expect(h.publisher.events).toHaveLength(1);
      await expect(h.stops.stop()).resolves.toEqual({ failed: [] });
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });

  it('keeps each daemon\'s numbers on its own registry', async () => {
    const first = await withMetrics();
    const second = await withMetrics();
    first.h.source.push(loud(3));
    await settle();
    const classified = async (url: string): Promise<number> =>
      value((await scrape(url)).families, 'ser_windows_total', { outcome: 'classified' });
    expect([await classified(first.url), await classified(second.url)]).toEqual([1, 0]);
    await Promise.all([first.h.stops.stop(), second.h.stops.stop()]);
  });
});
