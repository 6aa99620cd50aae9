import { ConfigError } from '../errors.js';

export const DEFAULT_TOPIC_PREFIX = 'ser';
export const DEFAULT_DISCOVERY_PREFIX = 'homeassistant';

/**
 * The device id is also the MQTT client id. MQTT 3.1.1 (3.1.3.1) only obliges brokers to
 * accept 23 characters; common brokers accept far more, and 64 leaves room for host names
 * while keeping topics and Home Assistant entity ids readable. The embedded broker is set to
 * accept exactly this many.
 */
export const MAX_DEVICE_ID_LENGTH = 64;

/** The topics one device publishes on. */
export interface DeviceTopics {
  /** One message per published window, QoS 1, not retained. */
  event: string;
  /** Retained `online` / `offline`; also the last will. */
  status: string;
  /** Retained health JSON. */
  health: string;
  /** Retained effective runtime settings, keyed by their dotted names. */
  settings: string;
  /** Subscribed: JSON objects of runtime settings to change. */
  set: string;
  /** The answer to each message on `set`: what was applied, or why nothing was. */
  setResult: string;
}

/** Home Assistant MQTT discovery topics for one device. */
export interface DiscoveryTopics {
  emotionConfig: string;
  confidenceConfig: string;
  /** Home Assistant's birth/last-will topic: `online` there means "send your configs again". */
  homeAssistantStatus: string;
}

/** A topic prefix or device id that cannot be used in MQTT topics. `key` is the config key. */
export class TopicValidationError extends ConfigError {
  readonly key: string;
  readonly value: unknown;

  constructor(key: string, value: unknown, problems: readonly string[]) {
    super(problems.join('; '));
    this.key = key;
    this.value = value;
  }
}

const DEVICE_ID_FORM =
  `1-${MAX_DEVICE_ID_LENGTH} printable characters without "/", "+" or "#", not starting with "$", e.g. "kiosk-01"`;
const PREFIX_FORM =
  'one or more topic levels joined by "/", each non-empty and without "+" or "#", ' +
  'no leading or trailing "/", not starting with "$", e.g. "ser" or "site/ser"';

/**
 * Every reason the value cannot be a device id (one topic level and the client id), each naming
 * the key, the value and the allowed form; empty when it is fine. For config validation, which
 * reports all problems together.
 */
export function checkDeviceId(value: unknown, key = 'deviceId'): string[] {
  const problems: string[] = [];
  if (typeof value !== 'string') {
    problems.push('it is not a string');
  } else {
    if (value.length > MAX_DEVICE_ID_LENGTH) problems.push(`it has ${value.length} characters`);
    if (value.includes('/')) problems.push('"/" would split it across topic levels');
    problems.push(...commonProblems(value));
  }
  return problems.map((problem) => describeProblem(key, value, problem, DEVICE_ID_FORM));
}

/** Same as checkDeviceId for a topic prefix, which may have several levels. */
export function checkTopicPrefix(value: unknown, key = 'mqtt.topicPrefix'): string[] {
  const problems: string[] = [];
  if (typeof value !== 'string') {
    problems.push('it is not a string');
  } else {
    problems.push(...commonProblems(value));
    if (value.startsWith('/') || value.endsWith('/')) {
      problems.push('a leading or trailing "/" makes an empty topic level');
    }
    if (value.includes('//')) problems.push('"//" makes an empty topic level');
  }
  return problems.map((problem) => describeProblem(key, value, problem, PREFIX_FORM));
}

/** Returns the device id if checkDeviceId finds no problem, else throws TopicValidationError. */
export function validateDeviceId(value: unknown, key = 'deviceId'): string {
  return orThrow(value, key, checkDeviceId(value, key));
}

/** Returns the prefix if checkTopicPrefix finds no problem, else throws TopicValidationError. */
export function validateTopicPrefix(value: unknown, key = 'mqtt.topicPrefix'): string {
  return orThrow(value, key, checkTopicPrefix(value, key));
}

function orThrow(value: unknown, key: string, problems: string[]): string {
  if (problems.length > 0) throw new TopicValidationError(key, value, problems);
  return value as string;
}

function describeProblem(key: string, value: unknown, problem: string, expected: string): string {
  return `${key} is ${JSON.stringify(value)}: ${problem}; expected ${expected}`;
}

/** Problems shared by device ids and prefixes. */
function commonProblems(value: string): string[] {
  const problems: string[] = [];
  if (value === '') problems.push('it is empty');
  // C0 and C1 controls and DEL: MQTT 3.1.1 (1.5.3) lets servers refuse them, and they garble log lines.
  const control = [...value]
    .map((char) => char.codePointAt(0) ?? 0)
    .find((code) => code < 0x20 || (code >= 0x7f && code <= 0x9f));
  if (control !== undefined) {
    problems.push(`it contains the control character U+${control.toString(16).padStart(4, '0')}`);
  }
  if (value.includes('+') || value.includes('#')) {
    problems.push('"+" and "#" are MQTT wildcards, not allowed in a published topic');
  }
  // Topics starting with "$" are reserved for the broker ($SYS/...): MQTT 3.1.1 section 4.7.2.
  if (value.startsWith('$')) problems.push('topics starting with "$" are reserved for the broker');
  return problems;
}

/** Topics for one device; both parts must have passed validation. */
export function deviceTopics(prefix: string, deviceId: string): DeviceTopics {
  const base = `${prefix}/${deviceId}`;
  return {
    event: `${base}/event`,
    status: `${base}/status`,
    health: `${base}/health`,
    settings: `${base}/settings`,
    set: `${base}/set`,
    setResult: `${base}/set/result`,
  };
}

/**
 * Discovery topics: `<prefix>/sensor/<node_id>/<object_id>/config`. Home Assistant only accepts
 * [a-zA-Z0-9_-] in node ids, so other characters of the device id become "_". Runtime settings'
 * entities have theirs from settingConfigTopic.
 */
export function discoveryTopics(discoveryPrefix: string, deviceId: string): DiscoveryTopics {
  const node = discoveryNodeId(deviceId);
  return {
    emotionConfig: `${discoveryPrefix}/sensor/${node}/emotion/config`,
    confidenceConfig: `${discoveryPrefix}/sensor/${node}/confidence/config`,
    homeAssistantStatus: `${discoveryPrefix}/status`,
  };
}

export function discoveryNodeId(deviceId: string): string {
  return deviceId.replace(/[^a-zA-Z0-9_-]/g, '_');
}

/** `<prefix>/<component>/<node_id>/<object_id>/config` for the entity of a runtime setting, e.g. number/kiosk-01/window_min_confidence. */
export function settingConfigTopic(discoveryPrefix: string, deviceId: string, component: string, key: string): string {
  return `${discoveryPrefix}/${component}/${discoveryNodeId(deviceId)}/${settingObjectId(key)}/config`;
}

/** `window.minConfidence` → `window_min_confidence`: the characters Home Assistant accepts in object ids. */
export function settingObjectId(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/[^a-zA-Z0-9_-]/g, '_').toLowerCase();
}
