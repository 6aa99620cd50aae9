import { isDeepStrictEqual } from 'node:util';
import { type AgentConfig } from './config/load.js';
import { type AudioSource, type CaptureState } from './capture/audio-source.js';
import { describeError, InterruptedError, SpeechDetectionError } from './errors.js';
import { statusFor, type IndicatorStatus } from './indicators/indicators.js';
import { type Emotion } from './labels.js';
import { type Logger } from './logging/logger.js';
import { type EventIdGenerator } from './mqtt/event-id.js';
import {
  createEmotionEvent,
  HEALTH_SCHEMA_VERSION,
  type BrokerState,
  type EmotionEvent,
  type HealthReport,
  type ModelIdentity,
  type ReloadReport,
} from './mqtt/payloads.js';
import { type PublisherCounters } from './mqtt/publisher.js';
import { InferenceQueue } from './pipeline/inference-queue.js';
import { freeUnshared, type ModelSlot, type SlotModel } from './pipeline/model-slot.js';
import { LatencyStats } from './pipeline/latency-stats.js';
import { SilenceGate } from './pipeline/silence.js';
import { SampleBufferPool } from './pipeline/sample-buffer-pool.js';
import { PredictionSmoother, type SmoothingOptions } from './pipeline/smoothing.js';
import { type TimedPrediction, type WindowResult } from './pipeline/window-classifier.js';
import { modelWindowOptions, Windower, type CapturedWindow, type StreamPosition } from './pipeline/windower.js';
import { type PreparedChange, type RuntimeSettings, type RuntimeSettingValues, type SetResult } from './settings/runtime-settings.js';
import { type Notifier } from './system/sd-notify.js';
import { type Clock } from './system/clock.js';
import { type StopList } from './system/stop-list.js';

/** The MQTT side as the daemon uses it; MqttPublisher is one. */
export interface EventPublisher {
  readonly state: BrokerState;
  readonly counters: PublisherCounters;
  start(): Promise<void>;
  stop(): Promise<void>;
  publishEvent(event: EmotionEvent): void;
  /**
   * Resolves true once the broker has acknowledged every queued event, false if some still wait
   * after `timeoutMs` or when the publisher stops first.
   */
  delivered(timeoutMs: number): Promise<boolean>;
  publishHealth(report: HealthReport): void;
  /** Publishes the effective runtime settings retained, now or on connecting, and again on every connection. */
  publishSettings(settings: RuntimeSettingValues): void;
  /** Answers a settings change on `<prefix>/<deviceId>/set/result`. */
  publishSetResult(result: SetResult): void;
  /** Hands over each change of `state` (the status LED follows it); called before start(). */
  onStateChange(listener: (state: BrokerState) => void): void;
  /** Takes the messages sent to `<prefix>/<deviceId>/set`; called before start(). */
  onSettingsCommand(handler: (payload: string) => void): void;
  /** Shows the model now running on the Home Assistant device (its discovery configs are sent again). */
  showModel(model: ModelIdentity): void;
}

/** The model side of the pipeline as the daemon runs it; src/commands/open-window-model.ts builds one. */
export interface DaemonModel extends SlotModel {
  /** Gates on speech (when configured) and classifies; WindowClassifier is one. */
  windowClassifier: { classify(samples: Float32Array, position: StreamPosition): WindowResult };
  /** Named in the events it classifies and in the health report while it runs. */
  identity: ModelIdentity;
}

/** The LEDs as the daemon uses them; Indicators is one. */
export interface EmotionIndicators {
  start(): Promise<void>;
  stop(): Promise<void>;
  showEmotion(emotion: Emotion): void;
  setStatus(status: IndicatorStatus): void;
}

/** Process figures for the health report; a seam so tests need not depend on the real process. */
export interface ProcessProbe {
  rssBytes(): number;
  /** CPU time used so far, in microseconds (user + system). */
  cpuMicros(): number;
  /** Live TensorFlow.js tensors: what a leak in inference would make grow. */
  liveTensors(): number;
}

/**
 * The counts and states the daemon keeps for its health report, as the metrics read them at
 * each scrape: one owner for each number, read by both.
 */
export interface DaemonReadings {
  /** Keyed by outcome, as the metrics label them. */
  windows: { classified: number; silent: number; non_speech: number; failed: number; dropped: number };
  events: PublisherCounters;
  captureState: CaptureState;
  brokerState: BrokerState;
  process: { rssBytes: number; cpuMicros: number; tensors: number };
}

/** What the daemon feeds its metrics endpoint; AgentMetrics (Prometheus) is one. */
export interface DaemonMetrics {
  /** Starts serving; each scrape takes `read()`. Never rejects: the daemon runs on without metrics. */
  start(read: () => DaemonReadings): Promise<void>;
  stop(): Promise<void>;
  /** A window was classified in `inferenceMs`. */
  windowClassified(inferenceMs: number): void;
  /** An event was handed to MQTT, `latencyMs` after its window ended. */
  eventEmitted(emotion: Emotion, latencyMs: number): void;
  /** Capture failed; the recorder is started again after a wait. */
  captureFailed(): void;
  /** A reload (SIGHUP) ended: applied, or refused with the agent running on as before. */
  reloaded(outcome: ReloadReport['outcome']): void;
}

export interface DaemonParts {
  /** The configuration at start; a reload replaces it (see reconfigure). */
  config: Readonly<AgentConfig>;
  /** The window.* settings and the pause switch, changeable over MQTT; they win over `config`. */
  settings: RuntimeSettings;
  logger: Logger;
  source: AudioSource;
  /** The model the windows run on, replaced on a reload (see reconfigure); whoever made it closes it. */
  models: ModelSlot<DaemonModel>;
  /**
   * The model in place (models.current) with the speech gate `window` asks for, its emotion
   * model kept: window.minSpeechRatio changed over MQTT. Returns models.current itself when it
   * has that gate already; rejects, having freed what it built, when the detector cannot be
   * loaded. src/commands/open-window-model.ts withSpeechGate is one.
   */
  withSpeechGate(window: Pick<AgentConfig['window'], 'minSpeechRatio' | 'speechModel'>): Promise<DaemonModel>;
  publisher: EventPublisher;
  /** The broker URL without credentials, for the health report. */
  brokerUrl: string;
  indicators: EmotionIndicators;
  notifier: Notifier;
  /** Dates windows and reports, and times the health reports and the watchdog. */
  clock: Clock;
  nextEventId: EventIdGenerator;
  processProbe: ProcessProbe;
  /** The Prometheus endpoint, when metrics.port is set; its module is loaded only then. */
  metrics?: DaemonMetrics;
  /**
   * The agent's one stop list: start() adds each part as it brings it up, after whatever the
   * caller added before (the event queue, the model), and whoever owns the list stops them all.
   */
  stops: StopList;
}

/**
 * Wires capture → windows → silence gate → inference queue (speech gate, then the model) →
 * smoothing → MQTT events and LEDs, plus health reports and the systemd watchdog. The
 * constructor only wires; start() brings the parts up and adds each to the stop list it was
 * given, whose owner takes them down in reverse order (see StopList).
 */
export class Daemon {
  readonly #parts: DaemonParts;
  /** `parts.config` until a reload replaces it (see reconfigure). */
  #config: Readonly<AgentConfig>;
  readonly #log: Logger;
  readonly #windower: Windower;
  /** Window buffers, back from the silence gate or the inference queue, for the next cuts. */
  readonly #windowBuffers: SampleBufferPool;
  readonly #silence: SilenceGate;
  readonly #queue: InferenceQueue<CapturedWindow, ModelResult>;
  readonly #smoother: PredictionSmoother;
  readonly #latency = new LatencyStats();
  #captureState: CaptureState = 'stopped';
  #captureDetail: string | null = null;
  #modelFault = false;
  /** The model of the last window classified: a new one starts the smoothing afresh. */
  #lastModel: DaemonModel | undefined;
  #lastReload: ReloadReport | null = null;
  #cancelHealth: (() => void) | undefined;
  /** Windows the speech gate turned away; the queue counts them among those it processed. */
  #nonSpeech = 0;
  /** The pause switch (runtime setting `paused`): windows are cut, for the watchdog, but not classified. */
  #paused: boolean;
  #ready = false;
  #windowsSinceWatchdog = 0;
  #startedAt = 0;
  #cpuAtLastReport = { micros: 0, at: 0 };
  #cancelTimers: Array<() => void> = [];
  #started = false;
  /** The last change of the model (a settings change, a reload) queued; see exclusive(). */
  #changes: Promise<unknown> = Promise.resolve();
  #sourceEnded: () => void = () => undefined;
  /**
   * Resolves when a finite source (file replay) has ended, its last window is processed and the
   * broker has its events (or shutdownSeconds have passed).
   */
  readonly finished: Promise<void>;

  constructor(parts: DaemonParts) {
    this.#parts = parts;
    this.#config = parts.config;
    this.#log = parts.logger.child({ module: 'daemon' });
    const { window } = parts.config;
    const settings = parts.settings.current;
    const windowOptions = modelWindowOptions(settings['window.hopSeconds']);
    // Enough for every window the queue can hold, the one in inference and the one being cut.
    this.#windowBuffers = new SampleBufferPool(windowOptions.windowSamples, window.queueLimit + 2);
    this.#windower = new Windower(windowOptions, parts.clock, this.#windowBuffers);
    this.#silence = new SilenceGate(settings['window.silenceDbfs']);
    this.#smoother = new PredictionSmoother(smoothingOptions(settings));
    this.#paused = settings.paused;
    this.#queue = new InferenceQueue({
      capacity: window.queueLimit,
      // The model in place when the window's inference begins runs it to the end, even if a
      // reload replaces the model meanwhile; the event then names the model that classified it.
      work: (captured) =>
        parts.models.use((model) => ({ result: model.windowClassifier.classify(captured.samples, captured.position), model })),
      onResult: (result, captured) => this.#onResult(result, captured),
      onError: (error, captured) => this.#onInferenceError(error, captured),
      onRetired: (captured) => this.#windowBuffers.release(captured.samples),
    });
    this.finished = new Promise((resolve) => {
      this.#sourceEnded = resolve;
    });
  }

  /**
   * Brings the parts up in order, each added to the stop list before its start is awaited; a
   * stop of the list while this waits means nothing more is started.
   */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    const { indicators, publisher, source, notifier, clock, processProbe, metrics, stops } = this.#parts;
    this.#startedAt = clock.now();
    this.#cpuAtLastReport = { micros: processProbe.cpuMicros(), at: this.#startedAt };
    // First, so that a scrape can watch the rest come up (the broker connecting, capture starting).
    if (metrics !== undefined) {
      stops.add('metrics', () => metrics.stop());
      await metrics.start(() => this.#readings());
      if (stops.stopping) return;
    }
    stops.add('indicators', () => indicators.stop());
    await indicators.start();
    if (stops.stopping) return;
    this.#updateStatus();
    publisher.onStateChange(() => this.#updateStatus());
    publisher.onSettingsCommand((payload) => this.#onSettingsCommand(payload));
    publisher.publishSettings(this.#parts.settings.current);
    stops.add('mqtt', () => publisher.stop());
    await publisher.start();
    if (stops.stopping) return;
    // Windows still waiting are dropped (and counted) once capture has stopped cutting them.
    stops.add('inference', () => this.#queue.stop());
    stops.add('capture', () => source.stop());
    // First of all at a stop: systemd hears the stop has begun, and no report or ping goes out during it.
    stops.add('reports', () => {
      notifier.stopping();
      for (const cancel of this.#cancelTimers) cancel();
      this.#cancelTimers = [];
      this.#cancelHealth?.();
      this.#cancelHealth = undefined;
    });
    this.#scheduleHealth();
    if (notifier.watchdogIntervalMs !== undefined) {
      this.#cancelTimers.push(clock.every(notifier.watchdogIntervalMs, () => this.#watchdogTick()));
    }
    await source.start({
      samples: (chunk) => this.#onSamples(chunk),
      state: (state, reason) => this.#onCaptureState(state, reason),
      end: () => {
        void this.#queue
          .drain()
          .then(() => this.#awaitDelivery())
          .then(() => this.#sourceEnded());
      },
    });
    this.#log.info({ source: source.description, model: this.#parts.models.current.identity }, 'listening');
  }

  #onSamples(chunk: Float32Array): void {
    for (const window of this.#windower.push(chunk)) {
      this.#windowsSinceWatchdog++;
      // Paused windows are neither classified nor counted as silence.
      const admitted = !this.#paused && this.#silence.admit(window);
      // Per-window trace: skip building the record unless someone reads debug logs.
      if (this.#log.isLevelEnabled('debug')) {
        this.#log.debug({ end: window.end, levelDbfs: window.levelDbfs, admitted }, 'window');
      }
      if (admitted) this.#queue.offer(window);
      else this.#windowBuffers.release(window.samples);
    }
  }

  /**
   * A replay (`run --input`) ends as soon as its last window is classified, often before the
   * broker has taken its events (the agent is still connecting, or the broker is slow): give it
   * up to the graceful-stop deadline. Events it does not take stay queued for the next start.
   */
  async #awaitDelivery(): Promise<void> {
    const { publisher } = this.#parts;
    const { queued } = publisher.counters;
    if (queued === 0) return;
    const seconds = this.#config.shutdownSeconds;
    this.#log.info({ queued, seconds }, 'input finished; waiting for the broker to take the events');
    if (!(await publisher.delivered(seconds * 1000))) {
      this.#log.warn(
        { queued: publisher.counters.queued, seconds },
        'the broker did not take every event in time; they are kept and sent after the next start',
      );
    }
  }

  #onCaptureState(state: CaptureState, reason: string | undefined): void {
    const previous = this.#captureState;
    this.#captureState = state;
    this.#captureDetail = reason ?? null;
    if (state === 'degraded') {
      this.#parts.metrics?.captureFailed();
      // Audio from before and after a gap must never be stitched into one window, nor
      // outvote what is heard after it in the smoothing.
      this.#windower.reset();
      this.#smoother.reset();
      this.#log.warn({ reason }, 'capture degraded');
    } else if (state === 'running' && previous !== 'running') {
      this.#log.info({}, 'audio is flowing');
      if (!this.#ready) {
        this.#ready = true;
        this.#parts.notifier.ready();
      }
    }
    this.#updateStatus();
  }

  #onResult({ result, model }: ModelResult, window: CapturedWindow): void {
    if (result.outcome === 'classified') {
      this.#onPrediction(result, model, window);
      return;
    }
    this.#nonSpeech++;
    if (this.#log.isLevelEnabled('debug')) {
      this.#log.debug({ end: window.end, speechRatio: result.speechRatio }, 'not speech');
    }
  }

  #onPrediction(result: TimedPrediction, model: DaemonModel, window: CapturedWindow): void {
    this.#latency.record(result.inferenceMs);
    this.#parts.metrics?.windowClassified(result.inferenceMs);
    // Only a classified window proves both the speech detector and the model work again.
    if (this.#modelFault) {
      this.#modelFault = false;
      this.#updateStatus();
    }
    // Predictions of an emotion model replaced by a reload must not outvote the new model's.
    // Compared by identity object: a reload builds a new one, a speech gate changed over MQTT
    // keeps the running model's (withSpeechGate), since the same model still classifies.
    if (model.identity !== this.#lastModel?.identity) {
      if (this.#lastModel !== undefined) this.#smoother.reset();
      this.#lastModel = model;
    }
    // A window classified before a pause began publishes nothing either.
    if (this.#paused) return;
    const prediction = this.#smoother.push(result.prediction);
    if (this.#log.isLevelEnabled('debug')) {
      this.#log.debug(
        { raw: result.prediction.emotion, inferenceMs: result.inferenceMs, published: prediction !== undefined },
        'classified',
      );
    }
    if (prediction === undefined) return;
    const { publisher, indicators, nextEventId, metrics, clock } = this.#parts;
    publisher.publishEvent(
      createEmotionEvent(
        {
          deviceId: this.#config.deviceId,
          windowStart: window.start,
          windowEnd: window.end,
          prediction,
          speechRatio: result.speechRatio,
          model: model.identity,
        },
        nextEventId,
      ),
    );
    metrics?.eventEmitted(prediction.emotion, clock.now() - window.end.getTime());
    indicators.showEmotion(prediction.emotion);
  }

  #onSettingsCommand(payload: string): void {
    // One at a time and in order: a change may wait for a speech gate to load or a reload to end.
    void this.exclusive(async () => {
      const { settings, publisher } = this.#parts;
      const result = await settings.change(payload, (next) => this.#prepareSettings(next));
      // The retained state first, then the answer: a broker that keeps its clients' order
      // (mosquitto) shows the new settings to whoever reads them on seeing the answer.
      if (result.ok) publisher.publishSettings(result.settings);
      publisher.publishSetResult(result);
    }).catch((error: unknown) => this.#log.error({ err: error }, 'settings change failed'));
  }

  /**
   * Runs `change` after the changes of the model queued before it (settings changes over MQTT,
   * reloads), and before those queued after it, whether they succeed or fail.
   */
  exclusive<R>(change: () => Promise<R>): Promise<R> {
    const run = this.#changes.then(change, change);
    this.#changes = run.catch(() => undefined);
    return run;
  }

  /**
   * Checks and builds what `next` needs before anything changes: a hop the windower can cut,
   * and the speech gate window.minSpeechRatio asks for (the detector loaded when it turns on).
   * Committing then swaps the model, if its gate changed, and applies the rest; it cannot fail.
   */
  async #prepareSettings(next: RuntimeSettingValues): Promise<PreparedChange> {
    modelWindowOptions(next['window.hopSeconds']);
    const { models } = this.#parts;
    const running = models.current;
    const model = await this.#parts.withSpeechGate({
      minSpeechRatio: next['window.minSpeechRatio'],
      speechModel: this.#config.window.speechModel,
    });
    if (this.#parts.stops.stopping) {
      freeUnshared(model, running, this.#log);
      throw new InterruptedError('the agent is stopping; send the change again once it runs');
    }
    return {
      commit: () => {
        if (model !== running) {
          models.replace(model);
          this.#log.info({ minSpeechRatio: next['window.minSpeechRatio'] }, 'speech gate changed: the next window runs with it');
        }
        this.#applySettings(next);
      },
      abandon: () => freeUnshared(model, running, this.#log),
    };
  }

  /**
   * The configuration running now: the one the agent started with, with the live keys of the
   * last reload (see src/config/reload-policy.ts).
   */
  get config(): Readonly<AgentConfig> {
    return this.#config;
  }

  /**
   * Throws if the pipeline cannot run with `config`'s live settings (with the settings changed
   * over MQTT, which stay in force), so a reload can refuse it before it builds or changes anything.
   */
  checkConfig(config: Readonly<AgentConfig>): void {
    modelWindowOptions(this.#parts.settings.preview(config)['window.hopSeconds']);
  }

  /**
   * Puts a reloaded configuration and model in place; both have been checked (checkConfig) and
   * the model built and tested, so nothing here can fail half way. Restart-only keys must
   * already hold their running values (planReload does that). The model replaces the running
   * one from the next window: a window in inference now finishes on the old one.
   */
  reconfigure(config: Readonly<AgentConfig>, model: DaemonModel): void {
    const previous = this.#config;
    this.#config = config;
    const { models, publisher, settings } = this.#parts;
    if (model !== models.current) {
      models.replace(model);
      publisher.showModel(model.identity);
      this.#log.info({ model: model.identity }, 'model replaced: the next window runs on it');
    }
    const before = settings.current;
    const { settings: after, overridden } = settings.reconfigure(config);
    if (!isDeepStrictEqual(before, after)) {
      this.#applySettings(after);
      publisher.publishSettings(after);
    }
    if (Object.keys(overridden).length > 0) {
      this.#log.info(
        { overridden, file: settings.file },
        'settings changed over MQTT stay in force over the configuration file\'s values, as after a restart',
      );
    }
    if (previous.mqtt.healthSeconds !== config.mqtt.healthSeconds && this.#cancelHealth !== undefined) this.#scheduleHealth();
  }

  /** Keeps the last reload's outcome for the health report, and counts it for the metrics. */
  recordReload(report: ReloadReport): void {
    this.#lastReload = report;
    this.#parts.metrics?.reloaded(report.outcome);
  }

  #scheduleHealth(): void {
    this.#cancelHealth?.();
    this.#cancelHealth = this.#parts.clock.every(this.#config.mqtt.healthSeconds * 1000, () => this.#publishHealth());
  }

  /** Applies runtime settings to the running pipeline; only the hop can be refused, and it is checked first. */
  #applySettings(settings: RuntimeSettingValues): void {
    const { hopSamples } = modelWindowOptions(settings['window.hopSeconds']);
    this.#windower.setHop(hopSamples);
    this.#silence.setThreshold(settings['window.silenceDbfs']);
    this.#smoother.configure(smoothingOptions(settings));
    // After a pause, predictions from before it must not outvote what is heard after it.
    if (settings.paused && !this.#paused) this.#smoother.reset();
    this.#paused = settings.paused;
  }

  #onInferenceError(error: unknown, window: CapturedWindow): void {
    // One bad window never stops the daemon; the status LED shows the fault until one succeeds.
    // A failed speech detector says so in its own message (SpeechDetectionError).
    const what = error instanceof SpeechDetectionError ? 'window not classified' : 'inference failed';
    this.#log.error({ err: error, windowEnd: window.end.toISOString() }, `${what}: ${describeError(error)}`);
    this.#modelFault = true;
    this.#updateStatus();
  }

  #updateStatus(): void {
    this.#parts.indicators.setStatus(
      statusFor({
        listening: this.#captureState === 'running',
        brokerReachable: this.#parts.publisher.state === 'connected',
        fault: this.#captureState === 'degraded' || this.#modelFault,
      }),
    );
  }

  /** systemd's watchdog is only fed while windows keep coming: a stalled pipeline gets restarted. */
  #watchdogTick(): void {
    if (this.#windowsSinceWatchdog === 0) return;
    this.#windowsSinceWatchdog = 0;
    this.#parts.notifier.watchdog();
  }

  #publishHealth(): void {
    try {
      this.#parts.publisher.publishHealth(this.healthReport());
    } catch (error) {
      this.#log.error({ err: error }, 'could not publish health');
    }
  }

  #readings(): DaemonReadings {
    const { publisher, processProbe } = this.#parts;
    const queue = this.#queue.counters;
    return {
      windows: {
        classified: queue.processed - this.#nonSpeech,
        silent: this.#silence.skipped,
        non_speech: this.#nonSpeech,
        failed: queue.failed,
        dropped: queue.dropped,
      },
      events: publisher.counters,
      captureState: this.#captureState,
      brokerState: publisher.state,
      process: { rssBytes: processProbe.rssBytes(), cpuMicros: processProbe.cpuMicros(), tensors: processProbe.liveTensors() },
    };
  }

  /** The retained health payload: what an operator needs to trust a box they cannot see. */
  healthReport(): HealthReport {
    const { clock, models, brokerUrl } = this.#parts;
    const config = this.#config;
    const now = clock.now();
    const { windows, events, captureState, brokerState, process: figures } = this.#readings();
    const elapsedMs = now - this.#cpuAtLastReport.at;
    const cpuPercent = elapsedMs > 0 ? ((figures.cpuMicros - this.#cpuAtLastReport.micros) / 1000 / elapsedMs) * 100 : 0;
    this.#cpuAtLastReport = { micros: figures.cpuMicros, at: now };
    const latency = this.#latency.summary();
    return {
      schema: HEALTH_SCHEMA_VERSION,
      deviceId: config.deviceId,
      ts: new Date(now).toISOString(),
      uptimeSeconds: Math.round((now - this.#startedAt) / 1000),
      windows: {
        processed: windows.classified,
        skippedSilence: windows.silent,
        skippedNonSpeech: windows.non_speech,
        failed: windows.failed,
        dropped: windows.dropped,
      },
      events,
      inferenceMs: { p50: latency.p50 ?? null, p95: latency.p95 ?? null },
      process: {
        rssBytes: figures.rssBytes,
        cpuPercent: Math.round(cpuPercent * 100) / 100,
        tensors: figures.tensors,
      },
      capture: { state: captureState, detail: this.#captureDetail },
      broker: { state: brokerState, url: brokerUrl },
      model: models.current.identity,
      reload: this.#lastReload,
    };
  }

}

/** A window's result with the model that computed it. */
interface ModelResult {
  result: WindowResult;
  model: DaemonModel;
}

function smoothingOptions(settings: RuntimeSettingValues): SmoothingOptions {
  return {
    mode: settings['window.smoothing'],
    windows: settings['window.smoothingWindows'],
    minConfidence: settings['window.minConfidence'],
  };
}
