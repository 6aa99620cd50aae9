import type { AudioSink, AudioSource, CaptureState } from '../../src/capture/audio-source.js';
import type { EmotionIndicators, EventPublisher, ProcessProbe } from '../../src/daemon.js';
import type { IndicatorStatus } from '../../src/indicators/indicators.js';
import { EMOTIONS, type Emotion } from '../../src/labels.js';
import type { BrokerState, EmotionEvent, HealthReport, ModelIdentity } from '../../src/mqtt/payloads.js';
import type { PublisherCounters } from '../../src/mqtt/publisher.js';
import type { RuntimeSettingValues, SetResult } from '../../src/settings/runtime-settings.js';
import type { TimedPrediction, WindowResult } from '../../src/pipeline/window-classifier.js';
import type { Notifier } from '../../src/system/sd-notify.js';

/**
 * Hand-made stand-ins for the daemon's hardware and network edges. Each records what the
 * daemon asked of it; `calls` (shared) records start/stop order across parts.
 */

/** A capture source the test drives: push samples and states through the sink the daemon gave. */
export class FakeSource implements AudioSource {
  readonly sampleRate = 22_050;
  readonly description = 'fake source';
  #sink: AudioSink | undefined;
  stopError: Error | undefined;

  constructor(private readonly calls: string[]) {}

  start(sink: AudioSink): Promise<void> {
    this.calls.push('source.start');
    this.#sink = sink;
    return Promise.resolve();
  }

  stop(): Promise<void> {
    this.calls.push('source.stop');
    return this.stopError ? Promise.reject(this.stopError) : Promise.resolve();
  }

  get sink(): AudioSink {
    if (this.#sink === undefined) throw new Error('FakeSource: not started');
    return this.#sink;
  }

  push(samples: Float32Array): void {
    this.sink.samples(samples);
  }

  state(state: CaptureState, reason?: string): void {
    this.sink.state(state, reason);
  }

  end(): void {
    this.sink.end();
  }
}

/** Returns the queued results (or throws the queued errors) in order, keeping each window's samples. */
export class ScriptedClassifier {
  /** Copies of each window's samples: the daemon reuses a window's buffer once it is classified. */
  readonly seen: Float32Array[] = [];
  /** The arrays the daemon handed over, to tell which buffers it reused. */
  readonly buffers = new Set<Float32Array>();
  readonly #script: Array<WindowResult | Error> = [];
  /** Used once the script runs out. */
  fallback: TimedPrediction = timedPrediction('neutral', 0.9);

  script(...steps: Array<WindowResult | Error>): this {
    this.#script.push(...steps);
    return this;
  }

  classify(samples: Float32Array): WindowResult {
    this.seen.push(samples.slice());
    this.buffers.add(samples);
    const step = this.#script.shift() ?? this.fallback;
    if (step instanceof Error) throw step;
    return step;
  }
}

/** A prediction of `emotion` with `confidence`, the rest shared equally by the other emotions. */
export function timedPrediction(emotion: Emotion, confidence: number, inferenceMs = 12): TimedPrediction {
  const rest = (1 - confidence) / (EMOTIONS.length - 1);
  const probabilities = Object.fromEntries(EMOTIONS.map((e) => [e, e === emotion ? confidence : rest])) as Record<Emotion, number>;
  return { outcome: 'classified', prediction: { emotion, confidence, probabilities }, inferenceMs, speechRatio: null };
}

export class RecordingPublisher implements EventPublisher {
  #state: BrokerState = 'connected';
  #onStateChange: ((state: BrokerState) => void) | undefined;
  counters: PublisherCounters = { published: 0, queued: 0, queuedBytes: 0, dropped: 0 };
  readonly events: EmotionEvent[] = [];
  readonly health: HealthReport[] = [];
  readonly settings: RuntimeSettingValues[] = [];
  readonly setResults: SetResult[] = [];
  /** What the daemon gave for messages on the set topic: call it to send one. */
  settingsCommand: ((payload: string) => void) | undefined;
  stopError: Error | undefined;

  constructor(private readonly calls: string[]) {}

  get state(): BrokerState {
    return this.#state;
  }

  /** Sets the broker state as MqttPublisher does: its listener hears of each change at once. */
  set state(state: BrokerState) {
    if (state === this.#state) return;
    this.#state = state;
    this.#onStateChange?.(state);
  }

  onStateChange(listener: (state: BrokerState) => void): void {
    this.#onStateChange = listener;
  }

  start(): Promise<void> {
    this.calls.push('publisher.start');
    return Promise.resolve();
  }

  stop(): Promise<void> {
    this.calls.push('publisher.stop');
    return this.stopError ? Promise.reject(this.stopError) : Promise.resolve();
  }

  /** What delivered() answers: the broker took every event (true), or not in time (false). */
  deliveredAnswer = true;
  readonly deliveredTimeouts: number[] = [];

  delivered(timeoutMs: number): Promise<boolean> {
    this.deliveredTimeouts.push(timeoutMs);
    return Promise.resolve(this.deliveredAnswer);
  }

  publishEvent(event: EmotionEvent): void {
    this.events.push(event);
  }

  publishHealth(report: HealthReport): void {
    this.health.push(report);
  }

  publishSettings(settings: RuntimeSettingValues): void {
    this.calls.push('publisher.settings');
    this.settings.push(settings);
  }

  publishSetResult(result: SetResult): void {
    this.calls.push('publisher.setResult');
    this.setResults.push(result);
  }

  onSettingsCommand(handler: (payload: string) => void): void {
    this.settingsCommand = handler;
  }

  /** The models shown on the Home Assistant device after start, oldest first. */
  readonly shownModels: ModelIdentity[] = [];

  showModel(model: ModelIdentity): void {
    this.shownModels.push(model);
  }
}

export class RecordingIndicators implements EmotionIndicators {
  readonly statuses: IndicatorStatus[] = [];
  readonly emotions: Emotion[] = [];

  constructor(private readonly calls: string[]) {}

  get status(): IndicatorStatus | undefined {
    return this.statuses.at(-1);
  }

  start(): Promise<void> {
    this.calls.push('indicators.start');
    return Promise.resolve();
  }

  stop(): Promise<void> {
    this.calls.push('indicators.stop');
    return Promise.resolve();
  }

  showEmotion(emotion: Emotion): void {
    this.emotions.push(emotion);
  }

  setStatus(status: IndicatorStatus): void {
    this.statuses.push(status);
  }
}

export class RecordingNotifier implements Notifier {
  readyCount = 0;
  watchdogCount = 0;

  constructor(
    private readonly calls: string[],
    readonly watchdogIntervalMs: number | undefined,
  ) {}

  ready(): void {
    this.readyCount++;
  }

  watchdog(): void {
    this.watchdogCount++;
  }

  stopping(): void {
    this.calls.push('notifier.stopping');
  }
}

export class FakeProcessProbe implements ProcessProbe {
  rss = 50_000_000;
  cpu = 0;
  tensors = 42;

  rssBytes(): number {
    return this.rss;
  }

  cpuMicros(): number {
    return this.cpu;
  }

  liveTensors(): number {
    return this.tensors;
  }
}
