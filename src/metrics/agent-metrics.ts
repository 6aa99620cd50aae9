import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { type CaptureState } from '../capture/audio-source.js';
import { type DaemonMetrics, type DaemonReadings } from '../daemon.js';
import { EMOTIONS, type Emotion } from '../labels.js';
import { type Logger } from '../logging/logger.js';
import { type BrokerState, type ReloadReport } from '../mqtt/payloads.js';
import { MetricsServer, type Exposition } from './metrics-server.js';

const CAPTURE_STATES: readonly CaptureState[] = ['starting', 'running', 'degraded', 'stopped'];
const BROKER_STATES: readonly BrokerState[] = ['connecting', 'connected', 'disconnected'];
const RELOAD_OUTCOMES: readonly ReloadReport['outcome'][] = ['ok', 'refused'];

export interface AgentMetricsOptions {
  host: string;
  port: number;
  logger: Logger;
}

/**
 * The daemon's Prometheus metrics and the endpoint that serves them, on a registry of its own
 * (not prom-client's global one), so two daemons in one process, as in tests, never share a
 * number.
 *
 * One owner per number: what the daemon already counts for its health report (windows,
 * publisher counters, capture and broker state, the process probe) is read from it at each
 * scrape, through `read`, never counted a second time here. Only what nothing else counts is
 * counted here: events by emotion, capture restarts, reloads and the two latency histograms.
 *
 * prom-client's default process metrics are left out: collectDefaultMetrics starts an
 * event-loop-delay sampler (a 10 ms timer) and a GC observer that it offers no way to stop, so
 * they would outlive a stopped daemon. The standard process_resident_memory_bytes and
 * process_cpu_seconds_total come from the health report's process probe instead, at scrape
 * time only.
 */
export class AgentMetrics implements DaemonMetrics {
  readonly #registry = new Registry();
  readonly #server: MetricsServer;
  #read: (() => DaemonReadings) | undefined;
  /** The readings of the scrape being rendered: one snapshot for every metric in it. */
  #scrape: DaemonReadings | undefined;
  readonly #events: Counter<'emotion'>;
  readonly #captureRestarts: Counter;
  readonly #reloads: Counter<'outcome'>;
  readonly #inferenceSeconds: Histogram;
  readonly #windowToEventSeconds: Histogram;

  constructor(options: AgentMetricsOptions) {
    this.#server = new MetricsServer({ ...options, render: () => this.#render() });
    const registers = [this.#registry];
    const scrape = (): DaemonReadings | undefined => this.#scrape;

    new Counter({
      name: 'ser_windows_total',
      help: 'Cut windows by outcome: classified, skipped as silent, non_speech (loud enough but too little speech), failed (speech detector or model), or dropped because inference fell behind.',
      labelNames: ['outcome'],
      registers,
      collect() {
        const readings = scrape();
        if (readings === undefined) return;
        this.reset();
        for (const [outcome, count] of Object.entries(readings.windows)) this.labels(outcome).inc(count);
      },
    });
    this.#events = new Counter({
      name: 'ser_events_total',
      help: 'Emotion events handed to MQTT, by emotion.',
      labelNames: ['emotion'],
      registers,
    });
    for (const emotion of EMOTIONS) this.#events.labels(emotion).inc(0);
    new Counter({
      name: 'ser_mqtt_events_published_total',
      help: 'Events the MQTT broker acknowledged (PUBACK).',
      registers,
      collect: readingCounter(scrape, (readings) => readings.events.published),
    });
    new Counter({
      name: 'ser_event_queue_dropped_total',
      help: 'Events dropped, oldest first, from the full event queue while the broker was unreachable.',
      registers,
      collect: readingCounter(scrape, (readings) => readings.events.dropped),
    });
    this.#captureRestarts = new Counter({
      name: 'ser_capture_restarts_total',
      help: 'Capture failures, each followed by a restart of the recorder (or, replaying files, by the next file).',
      registers,
    });
    this.#reloads = new Counter({
      name: 'ser_reloads_total',
      help: 'Reloads of the configuration file and model directory (SIGHUP, systemctl reload) by outcome: ok, or refused (the agent ran on as before; the health report says why).',
      labelNames: ['outcome'],
      registers,
    });
    for (const outcome of RELOAD_OUTCOMES) this.#reloads.labels(outcome).inc(0);
    new Gauge({
      name: 'ser_event_queue_depth',
      help: 'Events waiting for the broker\'s acknowledgement.',
      registers,
      collect: readingGauge(scrape, (readings) => readings.events.queued),
    });
    new Gauge({
      name: 'ser_event_queue_bytes',
      help: 'Size of the queued events, as counted against mqtt.queueBytes.',
      registers,
      collect: readingGauge(scrape, (readings) => readings.events.queuedBytes),
    });
    new Gauge({
      name: 'ser_capture_state',
      help: 'Capture state: 1 for the current one, 0 for the others.',
      labelNames: ['state'],
      registers,
      collect: stateGauge(scrape, CAPTURE_STATES, (readings) => readings.captureState),
    });
    new Gauge({
      name: 'ser_broker_state',
      help: 'MQTT broker connection state: 1 for the current one, 0 for the others.',
      labelNames: ['state'],
      registers,
      collect: stateGauge(scrape, BROKER_STATES, (readings) => readings.brokerState),
    });
    // Inference on a Pi-class CPU takes tens to hundreds of milliseconds per window.
    this.#inferenceSeconds = new Histogram({
      name: 'ser_inference_duration_seconds',
      help: 'Time to classify one window: clip preparation, features and the model.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    // Waiting behind other windows adds whole inferences; beyond a hop (3 s) the box cannot keep up.
    this.#windowToEventSeconds = new Histogram({
      name: 'ser_window_to_event_seconds',
      help: 'From the end of a window (its last sample heard) to its event being handed to MQTT.',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    new Gauge({
      name: 'process_resident_memory_bytes',
      help: 'Resident memory size in bytes.',
      registers,
      collect: readingGauge(scrape, (readings) => readings.process.rssBytes),
    });
    new Counter({
      name: 'process_cpu_seconds_total',
      help: 'User and system CPU time spent in seconds.',
      registers,
      collect: readingCounter(scrape, (readings) => readings.process.cpuMicros / 1e6),
    });
    new Gauge({
      name: 'ser_tfjs_tensors',
      help: 'Live TensorFlow.js tensors: constant while the agent runs, so growth is a leak.',
      registers,
      collect: readingGauge(scrape, (readings) => readings.process.tensors),
    });
  }

  /** The endpoint's URL once it listens (tests read the port from it). */
  get url(): string | undefined {
    return this.#server.url;
  }

  async start(read: () => DaemonReadings): Promise<void> {
    this.#read = read;
    await this.#server.start();
  }

  async stop(): Promise<void> {
    await this.#server.stop();
  }

  windowClassified(inferenceMs: number): void {
    this.#inferenceSeconds.observe(inferenceMs / 1000);
  }

  eventEmitted(emotion: Emotion, latencyMs: number): void {
    this.#events.labels(emotion).inc();
    // A wall clock stepped back (NTP on a box without a real-time clock) must not make it negative.
    this.#windowToEventSeconds.observe(Math.max(0, latencyMs) / 1000);
  }

  captureFailed(): void {
    this.#captureRestarts.inc();
  }

  reloaded(outcome: ReloadReport['outcome']): void {
    this.#reloads.labels(outcome).inc();
  }

  /** One scrape: the daemon's readings taken once, then every metric rendered from them. */
  async #render(): Promise<Exposition> {
    this.#scrape = this.#read?.();
    try {
      return { contentType: this.#registry.contentType, body: await this.#registry.metrics() };
    } finally {
      this.#scrape = undefined;
    }
  }
}

type Scrape = () => DaemonReadings | undefined;

function readingCounter(scrape: Scrape, value: (readings: DaemonReadings) => number) {
  return function collect(this: Counter): void {
    const readings = scrape();
    if (readings === undefined) return;
    this.reset();
    this.inc(value(readings));
  };
}

function readingGauge(scrape: Scrape, value: (readings: DaemonReadings) => number) {
  return function collect(this: Gauge): void {
    const readings = scrape();
    if (readings !== undefined) this.set(value(readings));
  };
}

function stateGauge<S extends string>(scrape: Scrape, states: readonly S[], current: (readings: DaemonReadings) => S) {
  return function collect(this: Gauge<'state'>): void {
    const readings = scrape();
    if (readings === undefined) return;
    const now = current(readings);
    for (const state of states) this.labels(state).set(state === now ? 1 : 0);
  };
}
