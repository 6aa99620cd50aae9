import type { Emotion } from '../labels.js';
import type { Prediction } from '../model/runtime/classifier.js';
import type { ModelMetadata } from '../model/artifact/metadata.js';
import type { EventIdGenerator } from './event-id.js';

/** Bumped when a field of the event changes meaning or is removed; documented in schemas/event.schema.json. */
export const EVENT_SCHEMA_VERSION = 1;
/** Same for the health payload; schemas/health.schema.json. */
export const HEALTH_SCHEMA_VERSION = 1;

/**
 * Probabilities come out of float32 tensors, so JSON would carry 17 digits of noise
 * (0.8899999856948853) per value; four decimals are finer than any decision made on them.
 */
const PROBABILITY_DECIMALS = 4;

/** Which model produced an event: enough to tell two deployments' results apart. */
export interface ModelIdentity {
  name: string;
  version: string;
  /** sha256 of the weight files, as in metadata.json `weights.sha256`. */
  sha256: string;
}

/** The payload on `<prefix>/<deviceId>/event`. */
export interface EmotionEvent {
  schema: typeof EVENT_SCHEMA_VERSION;
  /** ULID-like: unique, and sorting ids as strings sorts events by window end. */
  id: string;
  deviceId: string;
  /** ISO-8601 time of the window end: when the speech was heard, not when it was published. */
  ts: string;
  windowStart: string;
  windowEnd: string;
  emotion: Emotion;
  confidence: number;
  probabilities: Record<Emotion, number>;
  /** Share (0-1) of the window's 32 ms chunks that the speech detector heard as speech; null when the speech gate is off. */
  speechRatio: number | null;
  model: ModelIdentity;
}

/** One classified window, as the pipeline hands it to createEmotionEvent. */
export interface ClassifiedWindow {
  deviceId: string;
  windowStart: Date;
  windowEnd: Date;
  prediction: Prediction;
  speechRatio: number | null;
  model: ModelIdentity;
}

export type BrokerState = 'connecting' | 'connected' | 'disconnected';

/** The retained payload on `<prefix>/<deviceId>/health`; the daemon fills it in every N seconds. */
export interface HealthReport {
  schema: typeof HEALTH_SCHEMA_VERSION;
  deviceId: string;
  /** ISO-8601 time the report was made. */
  ts: string;
  uptimeSeconds: number;
  windows: {
    processed: number;
    skippedSilence: number;
    /** Loud enough, but too little speech in them (window.minSpeechRatio). */
    skippedNonSpeech: number;
    /** The speech detector or the model failed on them (each logged). */
    failed: number;
    /** Dropped because inference fell behind. */
    dropped: number;
  };
  events: {
    published: number;
    /** Waiting for the broker (unreachable, or not yet acknowledged), in the queue file in the state directory. */
    queued: number;
    /** Their size, as counted against mqtt.queueBytes. */
    queuedBytes: number;
    /** Dropped from a full queue while the broker was unreachable, since the agent started. */
    dropped: number;
  };
  /** null until the first window has been classified. */
  inferenceMs: { p50: number | null; p95: number | null };
  /** `tensors`: live TensorFlow.js tensors; constant while the agent runs, so growth is a leak. */
  process: { rssBytes: number; cpuPercent: number; tensors: number };
  /** The capture source's own state name (e.g. `running`, `degraded`) and, when degraded, why. */
  capture: { state: string; detail: string | null };
  /** `url` without credentials. */
  broker: { state: BrokerState; url: string };
  /** The model running now: after a reload, the new one. */
  model: ModelIdentity;
  /** How the last reload ended; null when there was none since start. */
  reload: ReloadReport | null;
}

/** How the last reload (SIGHUP) ended, as the health report carries it (src/reloader.ts makes it). */
export interface ReloadReport {
  /** When it ended (ISO-8601 UTC). */
  ts: string;
  /** `refused`: nothing was changed, the agent runs on as before. */
  outcome: 'ok' | 'refused';
  /** Why it was refused, naming the file or key and the fix; null when ok. */
  reason: string | null;
  /** A new model runs from the next window. */
  modelChanged: boolean;
  /** Keys whose new values were applied. */
  applied: string[];
  /** Keys changed in the configuration file that take effect only at a restart; their old values stay in force. */
  needsRestart: string[];
}

export function modelIdentity(metadata: Pick<ModelMetadata, 'name' | 'version' | 'weights'>): ModelIdentity {
  return { name: metadata.name, version: metadata.version, sha256: metadata.weights.sha256 };
}

/** Builds the event for a window; the id's time is the window end, so ids sort like `ts`. */
export function createEmotionEvent(window: ClassifiedWindow, nextId: EventIdGenerator): EmotionEvent {
  const { prediction } = window;
  const probabilities = Object.fromEntries(
    Object.entries(prediction.probabilities).map(([emotion, value]) => [emotion, roundProbability(value)]),
  ) as Record<Emotion, number>;
  const windowEnd = window.windowEnd.toISOString();
  return {
    schema: EVENT_SCHEMA_VERSION,
    id: nextId(window.windowEnd.getTime()),
    deviceId: window.deviceId,
    ts: windowEnd,
    windowStart: window.windowStart.toISOString(),
    windowEnd,
    emotion: prediction.emotion,
    // Rounded like the probabilities so that confidence === probabilities[emotion] in the payload.
    confidence: roundProbability(prediction.confidence),
    probabilities,
    speechRatio: window.speechRatio === null ? null : roundProbability(window.speechRatio),
    model: { ...window.model },
  };
}

function roundProbability(value: number): number {
  const scale = 10 ** PROBABILITY_DECIMALS;
  return Math.round(value * scale) / scale;
}
