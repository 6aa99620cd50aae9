import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import convict from 'convict';
import { ConfigError, describeError } from '../errors.js';
import { type Emotion } from '../labels.js';
import { type LogFormat, type LogLevel } from '../logging/logger.js';
import { type RecorderName } from '../capture/recorder-command.js';
import { type LedDriverChoice } from '../indicators/select-driver.js';
import { type SmoothingMode } from '../pipeline/smoothing.js';
import { type BackendPreference, type OnnxFormatPreference } from '../model/runtime/backend.js';
import { checkDeviceId, checkTopicPrefix } from '../mqtt/topics.js';
import { valueAt } from './dotted-keys.js';
import { checkTlsSettings, type TlsSettings } from '../mqtt/tls-options.js';
import {
  configSchema,
  customFormats,
} from './schema.js';

export interface AgentConfig {
  deviceId: string;
  mqtt: {
    url: string;
    topicPrefix: string;
    username: string;
    /** The password itself, read from mqtt.passwordFile when that is set. Never logged. */
    password: string;
    passwordFile: string;
    protocolVersion: 4 | 5;
    /** File paths; src/mqtt/tls-options.ts reads them when the agent starts. */
    tls: TlsSettings;
    queueLimit: number;
    queueBytes: number;
    healthSeconds: number;
    discovery: { enabled: boolean; prefix: string };
  };
  audio: { recorder: RecorderName; device: string; stallSeconds: number; periodSeconds: number };
  window: {
    hopSeconds: number;
    silenceDbfs: number;
    /** 0: no speech gate. */
    minSpeechRatio: number;
    /** Filled in by the loader: never empty. */
    speechModel: string;
    queueLimit: number;
    smoothing: SmoothingMode;
    smoothingWindows: number;
    minConfidence: number;
  };
  gpio: {
    driver: LedDriverChoice;
    pins: Partial<Record<Emotion, number>>;
    statusPin: number | null;
    holdSeconds: number;
    chipBase: number | null;
  };
  model: { path: string; backend: BackendPreference; threads: number; onnxFormat: OnnxFormatPreference };
  log: { level: LogLevel; format: LogFormat };
  /** `port` 0: no metrics endpoint. */
  metrics: { port: number; host: string };
  cache: { dir: string };
  /** `directory` is resolved: never empty. */
  state: { directory: string };
  /** No window classified while true; usually switched over MQTT (src/settings/runtime-settings.ts). */
  paused: boolean;
  shutdownSeconds: number;
}

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };
export type ConfigOverrides = DeepPartial<AgentConfig>;

/** Where the system-wide configuration lives when --config is not given. */
export const SYSTEM_CONFIG_FILE = '/etc/ser-agent/config.json';

export interface ConfigSources {
  /** A JSON config file given on the command line; it must exist. */
  file?: string;
  /** Read when `file` is absent and it exists (default SYSTEM_CONFIG_FILE). */
  systemFile?: string;
  /** The environment to read SER_* variables from (the CLI passes process.env). */
  env: Readonly<Record<string, string | undefined>>;
  /** Values from command-line flags; they win over everything else. */
  overrides?: ConfigOverrides;
  /** The installed package root: config/default.json and the shipped model live there. */
  installDir: string;
  /** The user's home directory, for the default cache and state paths. */
  homeDir: string;
  /** This machine's host name, the default device id. */
  hostname: string;
}

convict.addFormats(customFormats);

/**
 * Validates the whole configuration once, reporting every problem in one error, and returns
 * it frozen with machine-dependent defaults resolved. Sources, later ones winning: built-in
 * defaults, config/default.json, the --config file (or /etc/ser-agent/config.json),
 * environment, flags.
 */
export function loadConfig(sources: ConfigSources): Readonly<AgentConfig> {
  const config = convict(configSchema, { env: { ...sources.env }, args: [] });
  const packaged = path.join(sources.installDir, 'config', 'default.json');
  const systemFile = sources.systemFile ?? SYSTEM_CONFIG_FILE;
  const files = [
    ...(existsSync(packaged) ? [packaged] : []),
    ...(sources.file !== undefined ? [sources.file] : existsSync(systemFile) ? [systemFile] : []),
  ];
  for (const file of files) {
    try {
      requireJsonObject(file);
      config.loadFile(file);
    } catch (error) {
      throw new ConfigError(
        `config file ${file} cannot be loaded: ${describeError(error)}; ` +
          'pass a readable JSON file (see config/example.json)',
        { cause: error },
      );
    }
  }
  // convict re-applies the environment over anything loaded from files; set() outranks it.
  for (const [key, value] of definedOverrides(sources.overrides ?? {})) {
    config.set(key, value);
  }
  const problems: string[] = [];
  try {
    config.validate({ allowed: 'strict' });
  } catch (error) {
    if (error instanceof TypeError) {
      // convict reports bad values as one Error listing the keys; a TypeError is convict itself
      // tripping over a key it cannot address, e.g. {"": 1} gives "Cannot use 'in' operator
      // to search for 'deviceId' in 1" (found by test/config/load.property.test.ts).
      problems.push(
        `a key with an empty name ("" or a path ending in ".") in ${files.join(' or ') || 'the configuration'} ` +
          `cannot be validated (${error.message}); remove that key`,
      );
    } else {
      const properties = config.getProperties();
      problems.push(
        ...describeError(error)
          .split('\n')
          .filter((line) => line.trim().length > 0)
          .map((line) => withFalsyValue(line, properties)),
      );
    }
  }
  const raw = config.getProperties() as unknown as AgentConfig;
  const deviceId = raw.deviceId || sanitizeHostname(sources.hostname);
  problems.push(...checkDeviceId(deviceId), ...checkTopicPrefix(raw.mqtt.topicPrefix, 'mqtt.topicPrefix'));
  if (raw.mqtt.discovery.enabled) {
    problems.push(...checkTopicPrefix(raw.mqtt.discovery.prefix, 'mqtt.discovery.prefix'));
  }
  problems.push(...checkMqttTransport(raw.mqtt), ...checkCaptureTiming(raw.audio));
  // Only a string: a number that failed validation (e.g. "passwordFile": 2) reached
  // readFileSync as a file descriptor and read, or blocked forever on, one of the process's
  // own streams (found by test/config/load.property.test.ts, which hung on it).
  const passwordFile: unknown = raw.mqtt.passwordFile;
  const password =
    typeof passwordFile === 'string' && passwordFile !== '' ? readPasswordFile(passwordFile, problems) : raw.mqtt.password;
  if (problems.length > 0) {
    throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  const cacheHome = sources.env['XDG_CACHE_HOME'] || path.join(sources.homeDir, '.cache');
  return deepFreeze({
    ...raw,
    deviceId,
    mqtt: { ...raw.mqtt, password },
    window: {
      ...raw.window,
      speechModel: raw.window.speechModel || path.join(sources.installDir, 'models', 'silero-vad', 'silero_vad_16k_op15.onnx'),
    },
    model: { ...raw.model, path: raw.model.path || path.join(sources.installDir, 'models', 'ser-cnn-lstm') },
    cache: { dir: raw.cache.dir || path.join(cacheHome, 'ser-agent') },
    state: { directory: raw.state.directory || defaultStateDirectory(sources) },
  });
}

/**
 * A recorder that hands audio over once a period is silent in between: a stall timeout not
 * well over the period would restart it over and over.
 */
function checkCaptureTiming({ stallSeconds, periodSeconds }: AgentConfig['audio']): string[] {
  if (typeof stallSeconds !== 'number' || typeof periodSeconds !== 'number' || stallSeconds > 2 * periodSeconds) return [];
  return [
    `audio.stallSeconds (${stallSeconds}) must be more than twice audio.periodSeconds (${periodSeconds}): ` +
      'the recorder is silent between hand-overs, and would be restarted as stalled; raise audio.stallSeconds or shorten the period',
  ];
}

/**
 * convict's line for a bad key, with the value named where convict leaves it out: it names a
 * value only if it is truthy, so `"hopSeconds": 0` was refused without saying what it was.
 * Only 0 and false are added; an empty string is never a secret but says nothing either (the
 * formats that take text say it themselves).
 */
function withFalsyValue(line: string, properties: object): string {
  const key = /^([\w.]+): /.exec(line)?.[1];
  if (key === undefined || line.includes(': value was ') || valueAt(configSchema, `${key}.sensitive`) === true) return line;
  const value = valueAt(properties, key);
  return value === 0 || value === false ? `${line}: value was ${String(value)}` : line;
}

/** The configuration as `ser-agent config` prints it: secrets replaced, never shown. */
export function redactConfig(config: Readonly<AgentConfig>): AgentConfig {
  return {
    ...config,
    mqtt: { ...config.mqtt, password: config.mqtt.password ? '[redacted]' : '' },
  };
}

/**
 * convict reads a top-level string or array key by key ("configuration param '0' not declared
 * in the schema"; found by test/config/load.property.test.ts), so say what is wrong instead.
 */
function requireJsonObject(file: string): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return; // convict's loadFile reports unreadable files and JSON syntax errors itself.
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    const found = Array.isArray(parsed) ? 'an array' : parsed === null ? 'null' : `a ${typeof parsed}`;
    throw new Error(`it holds ${found}, not a JSON object of settings`);
  }
}

/**
 * TLS settings that contradict each other or the URL, and MQTT 5 with the embedded broker. Skipped
 * when a value has the wrong type: validation has named that key already.
 */
function checkMqttTransport(mqtt: AgentConfig['mqtt']): string[] {
  const tls: unknown = mqtt.tls;
  const url: unknown = mqtt.url;
  if (typeof url !== 'string') return [];
  const problems: string[] = [];
  if (mqtt.protocolVersion === 5 && url === '') {
    problems.push('mqtt.protocolVersion is 5 but mqtt.url is empty: the embedded broker speaks MQTT 3.1.1 only; use 4 or set mqtt.url');
  }
  if (isTlsSettings(tls)) problems.push(...checkTlsSettings(tls, url));
  return problems;
}

function isTlsSettings(value: unknown): value is TlsSettings {
  if (typeof value !== 'object' || value === null) return false;
  const tls = value as Record<string, unknown>;
  return (
    ['caFile', 'certFile', 'keyFile', 'servername'].every((key) => typeof tls[key] === 'string') &&
    typeof tls['rejectUnauthorized'] === 'boolean'
  );
}

/**
 * systemd's StateDirectory= sets STATE_DIRECTORY (a colon-separated list when the unit names
 * several; the agent's is the first). Outside systemd: the XDG state directory.
 */
function defaultStateDirectory(sources: ConfigSources): string {
  const systemd = sources.env['STATE_DIRECTORY']?.split(':')[0];
  if (systemd) return systemd;
  const stateHome = sources.env['XDG_STATE_HOME'] || path.join(sources.homeDir, '.local', 'state');
  return path.join(stateHome, 'ser-agent');
}

/** Host names may hold dots; a device id is one topic level, so keep the first label. */
function sanitizeHostname(hostname: string): string {
  return hostname.split('.')[0] ?? hostname;
}

function readPasswordFile(file: string, problems: string[]): string {
  try {
    return (readFileSync(file, 'utf8').split(/\r?\n/)[0] ?? '').trim();
  } catch (error) {
    problems.push(
      `mqtt.passwordFile: ${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? describeError(error)}); ` +
        'create it readable by the agent user, or leave mqtt.passwordFile empty',
    );
    return '';
  }
}

/** Flags that were not given arrive as undefined; they must not erase file or env values. */
function definedOverrides(overrides: object, prefix = ''): Array<[string, unknown]> {
  return Object.entries(overrides).flatMap(([key, value]): Array<[string, unknown]> => {
    if (value === undefined) return [];
    const keyPath = `${prefix}${key}`;
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      return definedOverrides(value as object, `${keyPath}.`);
    }
    return [[keyPath, value]];
  });
}

function deepFreeze<T extends object>(value: T): Readonly<T> {
  for (const child of Object.values(value)) {
    if (child !== null && typeof child === 'object') deepFreeze(child as object);
  }
  return Object.freeze(value);
}
