import { isDeepStrictEqual } from 'node:util';
import { type AgentConfig } from './load.js';
import { configSchema } from './schema.js';
import { setAt, valueAt } from './dotted-keys.js';

/**
 * What a reload (SIGHUP, `systemctl reload ser-agent`) does with a changed key:
 * - `live`: applied to the running agent from the next window on;
 * - `restart`: kept at the value the agent started with, and logged as needing a restart,
 *   because the part that reads it (the MQTT connection, capture, GPIO, the logger...) is
 *   built once at start and would otherwise be half changed;
 * - `unused`: `ser-agent run` never reads it.
 */
export type ReloadEffect = 'live' | 'restart' | 'unused';

/**
 * Every configuration key and what a reload does with it (test/config/reload-policy.test.ts
 * checks that the schema has no key missing here, so a new key needs a decision).
 */
export const RELOAD_EFFECTS: Readonly<Record<string, ReloadEffect>> = {
  deviceId: 'restart',
  'mqtt.url': 'restart',
  'mqtt.topicPrefix': 'restart',
  'mqtt.username': 'restart',
  'mqtt.password': 'restart',
  'mqtt.passwordFile': 'restart',
  'mqtt.protocolVersion': 'restart',
  'mqtt.tls.caFile': 'restart',
  'mqtt.tls.certFile': 'restart',
  'mqtt.tls.keyFile': 'restart',
  'mqtt.tls.rejectUnauthorized': 'restart',
  'mqtt.tls.servername': 'restart',
  'mqtt.queueLimit': 'restart',
  'mqtt.queueBytes': 'restart',
  'mqtt.healthSeconds': 'live',
  'mqtt.discovery.enabled': 'restart',
  'mqtt.discovery.prefix': 'restart',
  'audio.recorder': 'restart',
  'audio.device': 'restart',
  'audio.stallSeconds': 'restart',
  'audio.periodSeconds': 'restart',
  'window.hopSeconds': 'live',
  'window.silenceDbfs': 'live',
  'window.minSpeechRatio': 'live',
  'window.speechModel': 'live',
  // The window buffers are allocated for it at start.
  'window.queueLimit': 'restart',
  'window.smoothing': 'live',
  'window.smoothingWindows': 'live',
  'window.minConfidence': 'live',
  'gpio.driver': 'restart',
  'gpio.pins': 'restart',
  'gpio.statusPin': 'restart',
  'gpio.holdSeconds': 'restart',
  'gpio.chipBase': 'restart',
  'model.path': 'live',
  'model.backend': 'live',
  'model.threads': 'live',
  'model.onnxFormat': 'live',
  // The logger and its children are made once, at start.
  'log.level': 'restart',
  'log.format': 'restart',
  'metrics.port': 'restart',
  'metrics.host': 'restart',
  'cache.dir': 'unused',
  'state.directory': 'restart',
  paused: 'live',
  shutdownSeconds: 'live',
};

/** Keys whose values are never logged. */
const SENSITIVE = new Set(['mqtt.password']);

/** Every key of the configuration schema, dotted (`window.hopSeconds`). */
export function configKeys(): string[] {
  const keys: string[] = [];
  const walk = (node: Record<string, unknown>, prefix: string): void => {
    for (const [name, child] of Object.entries(node)) {
      if (typeof child !== 'object' || child === null) continue;
      if (Object.hasOwn(child, 'doc')) keys.push(`${prefix}${name}`);
      else walk(child as Record<string, unknown>, `${prefix}${name}.`);
    }
  };
  walk(configSchema, '');
  return keys;
}

/** One key that differs between the running configuration and the file read again. */
export interface ConfigChange {
  key: string;
  /** Absent for sensitive keys (the MQTT password), which are never logged. */
  from?: unknown;
  to?: unknown;
}

export interface ReloadPlan {
  /** What the agent runs with after the reload: the file's live keys, the running values of the others. */
  config: Readonly<AgentConfig>;
  /** Live keys whose values change now. */
  applied: ConfigChange[];
  /** Keys whose new values wait for a restart; the agent keeps running with the old ones. */
  needsRestart: ConfigChange[];
}

/**
 * Compares the configuration read again with the one running. The result never half applies
 * a key: a restart-only key keeps its running value whole, and a live key takes the new one
 * whole. Resolved values are compared (the default model path, the password read from
 * mqtt.passwordFile), so a change in what a key resolves to counts too.
 */
export function planReload(running: Readonly<AgentConfig>, next: Readonly<AgentConfig>): ReloadPlan {
  const merged = structuredClone(running) as AgentConfig;
  const applied: ConfigChange[] = [];
  const needsRestart: ConfigChange[] = [];
  for (const key of Object.keys(RELOAD_EFFECTS)) {
    const from = valueAt(running, key);
    const to = valueAt(next, key);
    if (isDeepStrictEqual(from, to)) continue;
    const change: ConfigChange = SENSITIVE.has(key) ? { key } : { key, from, to };
    const effect = RELOAD_EFFECTS[key];
    if (effect === 'live') {
      setAt(merged, key, structuredClone(to));
      applied.push(change);
    } else if (effect === 'restart') {
      needsRestart.push(change);
    }
  }
  return { config: deepFreeze(merged), applied, needsRestart };
}

function deepFreeze<T extends object>(value: T): Readonly<T> {
  for (const child of Object.values(value)) {
    if (child !== null && typeof child === 'object') deepFreeze(child as object);
  }
  return Object.freeze(value);
}
