import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import convict from 'convict';
import { describeError } from '../errors.js';
import type { AgentConfig } from '../config/load.js';
import { setAt, valueAt } from '../config/dotted-keys.js';
import { configSchema, customFormats } from '../config/schema.js';
import type { Logger } from '../logging/logger.js';

/** How Home Assistant shows a setting (src/mqtt/discovery.ts turns it into an entity). */
export type SettingControl =
  | { kind: 'number'; min: number; max: number; step: number; unit?: string }
  | { kind: 'select' }
  | { kind: 'switch' };

/**
 * The configuration keys an operator may change while the agent runs, over MQTT
 * (`<prefix>/<deviceId>/set`) or from Home Assistant. Adding one is one line here: its
 * validation is the configuration schema's, its type the configuration's; the daemon applies
 * the window.* keys to its pipeline in Daemon.#prepareSettings and Daemon.#applySettings.
 */
export const RUNTIME_SETTINGS = {
  'window.minConfidence': { name: 'Minimum confidence', control: { kind: 'number', min: 0, max: 1, step: 0.01 } },
  'window.smoothing': { name: 'Smoothing', control: { kind: 'select' } },
  'window.smoothingWindows': { name: 'Smoothing windows', control: { kind: 'number', min: 1, max: 20, step: 1 } },
  'window.silenceDbfs': { name: 'Silence threshold', control: { kind: 'number', min: -100, max: 0, step: 1, unit: 'dBFS' } },
  'window.hopSeconds': { name: 'Window hop', control: { kind: 'number', min: 0.5, max: 10, step: 0.5, unit: 's' } },
  'window.minSpeechRatio': { name: 'Minimum speech ratio', control: { kind: 'number', min: 0, max: 1, step: 0.05 } },
  paused: { name: 'Paused', control: { kind: 'switch' } },
} as const satisfies Record<string, { name: string; control: SettingControl }>;

export type RuntimeSettingKey = keyof typeof RUNTIME_SETTINGS;
export const RUNTIME_SETTING_KEYS = Object.keys(RUNTIME_SETTINGS) as RuntimeSettingKey[];

/** The value type of a dotted configuration key, e.g. ConfigValue<'window.smoothing'> is SmoothingMode. */
type ConfigValue<T, P extends string> = P extends `${infer Head}.${infer Rest}`
  ? Head extends keyof T
    ? ConfigValue<T[Head], Rest>
    : never
  : P extends keyof T
    ? T[P]
    : never;

/** The effective runtime settings, keyed by their dotted names, as published on `<prefix>/<deviceId>/settings`. */
export type RuntimeSettingValues = { [K in RuntimeSettingKey]: ConfigValue<AgentConfig, K> };

/** One value refused, with what would have been accepted. */
export interface SettingProblem {
  /** The dotted key, or null when the message as a whole is wrong (not JSON, not an object). */
  key: string | null;
  value: unknown;
  expected: string;
}

/** The answer on `<prefix>/<deviceId>/set/result`. */
export type SetResult =
  | { ok: true; applied: Partial<RuntimeSettingValues>; settings: RuntimeSettingValues }
  | { ok: false; error: string; problems: SettingProblem[]; settings: RuntimeSettingValues };

/**
 * What the pipeline makes of a change before it is taken (Daemon.#prepareSettings): `commit`
 * puts it in place and cannot fail; `abandon` frees what was built for it, when the change is
 * not made after all.
 */
export interface PreparedChange {
  commit(): void;
  abandon(): void;
}

/** The file in the state directory holding the settings changed over MQTT, and only those. */
export const SETTINGS_FILE = 'runtime-settings.json';
const FILE_SCHEMA_VERSION = 1;

export interface RuntimeSettingsOptions {
  config: Readonly<AgentConfig>;
  /** The state directory (config.state.directory), shared with the event queue. */
  directory: string;
  logger: Logger;
}

// The same formats the configuration file is validated with (loadConfig registers them too;
// registering twice replaces a format by itself).
convict.addFormats(customFormats);

/**
 * Owns the runtime settings: which keys they are, their validation (the configuration
 * schema's own, through convict), their persistence in the state directory, and the parsing
 * of change messages. Changes are all-or-nothing: one bad key in a message changes nothing.
 *
 * Only keys changed at run time are persisted, so a key never changed over MQTT keeps
 * following the configuration file.
 */
export class RuntimeSettings {
  readonly file: string;
  readonly #log: Logger;
  #fromConfig: RuntimeSettingValues;
  /** The keys changed at run time, as persisted. */
  #changed: Partial<RuntimeSettingValues>;

  private constructor(options: RuntimeSettingsOptions, changed: Partial<RuntimeSettingValues>) {
    this.file = path.join(options.directory, SETTINGS_FILE);
    this.#log = options.logger.child({ module: 'settings' });
    this.#fromConfig = settingsFromConfig(options.config);
    this.#changed = changed;
  }

  /**
   * Reads the settings persisted by earlier runs, validating them again. A file that cannot be
   * read, parsed or validated is logged and ignored, never fatal: the configuration's values
   * are used and the next change rewrites it.
   */
  static open(options: RuntimeSettingsOptions): RuntimeSettings {
    const log = options.logger.child({ module: 'settings' });
    const file = path.join(options.directory, SETTINGS_FILE);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        log.warn({ file, err: error }, 'cannot read the persisted runtime settings; using the configuration\'s');
      }
      return new RuntimeSettings(options, {});
    }
    const persisted = parsePersisted(text);
    if ('problem' in persisted) {
      log.warn(
        { file, problem: persisted.problem },
        'persisted runtime settings are damaged or invalid: ignored, using the configuration\'s; the next change rewrites the file',
      );
      return new RuntimeSettings(options, {});
    }
    const settings = new RuntimeSettings(options, persisted.values);
    if (Object.keys(persisted.values).length > 0) {
      log.info({ file, persisted: persisted.values }, 'runtime settings changed over MQTT earlier are in force');
    }
    return settings;
  }

  /** The effective settings: the configuration's, overridden by those changed at run time. */
  get current(): RuntimeSettingValues {
    return { ...this.#fromConfig, ...this.#changed };
  }

  /**
   * Takes the values of a configuration read again (a reload): keys never changed over MQTT
   * follow it, as after a restart; keys changed over MQTT keep their MQTT values, as they would
   * after a restart too, and are returned so that the reload can say so.
   */
  reconfigure(config: Readonly<AgentConfig>): { settings: RuntimeSettingValues; overridden: Partial<RuntimeSettingValues> } {
    this.#fromConfig = settingsFromConfig(config);
    const overridden = Object.fromEntries(
      Object.entries(this.#changed).filter(([key, value]) => this.#fromConfig[key as RuntimeSettingKey] !== value),
    ) as Partial<RuntimeSettingValues>;
    return { settings: this.current, overridden };
  }

  /**
   * What the settings would be with `config`'s values, without taking them: a reload checks
   * them before it changes anything.
   */
  preview(config: Readonly<AgentConfig>): RuntimeSettingValues {
    return { ...settingsFromConfig(config), ...this.#changed };
  }

  /**
   * The configuration with the effective runtime settings in place of its own values: what
   * the model side is built from (at start and on a reload), so that the speech gate follows a
   * window.minSpeechRatio changed over MQTT rather than the file's.
   */
  applyTo(config: Readonly<AgentConfig>): Readonly<AgentConfig> {
    const applied = structuredClone(config) as AgentConfig;
    for (const [key, value] of Object.entries(this.preview(config))) setAt(applied, key, value);
    return Object.freeze(applied);
  }

  /**
   * Parses and validates a change message (a JSON object of dotted keys) and, if every key is
   * good, has the pipeline `prepare` the new effective settings (it refuses them by throwing,
   * e.g. a speech gate whose model does not load), persists them, commits them and answers
   * what was applied. Anything wrong changes nothing and is answered with each problem. Never
   * rejects. The caller runs one change at a time.
   */
  async change(payload: string, prepare: (next: RuntimeSettingValues) => Promise<PreparedChange>): Promise<SetResult> {
    const parsed = parseChange(payload);
    if ('problems' in parsed) return this.#refuse(parsed.problems);
    const next = { ...this.current, ...parsed.values };
    let prepared: PreparedChange;
    try {
      prepared = await prepare(next);
    } catch (error) {
      return this.#refuse([{ key: null, value: parsed.values, expected: `settings the pipeline can run with (${describeError(error)})` }]);
    }
    const changed = { ...this.#changed, ...parsed.values };
    try {
      this.#persist(changed);
    } catch (error) {
      // All or nothing: a change that would be lost at the next restart is not made at all.
      prepared.abandon();
      this.#log.error({ file: this.file, err: error }, 'cannot persist runtime settings; change not applied');
      return this.#refuse([
        {
          key: null,
          value: parsed.values,
          expected: `a writable state directory (${describeError(error)}); check state.directory`,
        },
      ]);
    }
    this.#changed = changed;
    prepared.commit();
    this.#log.info({ applied: parsed.values, settings: this.current }, 'runtime settings changed');
    return { ok: true, applied: parsed.values, settings: this.current };
  }

  #refuse(problems: SettingProblem[]): SetResult {
    const error = `${problems.map(describeProblem).join('; ')}; nothing was changed`;
    this.#log.warn({ problems }, `settings change refused: ${error}`);
    return { ok: false, error, problems, settings: this.current };
  }

  /** Written to a temporary file and renamed over the old one, so a power cut leaves one or the other whole. */
  #persist(changed: Partial<RuntimeSettingValues>): void {
    mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const temporary = `${this.file}.new`;
    writeFileSync(temporary, `${JSON.stringify({ schema: FILE_SCHEMA_VERSION, settings: changed })}\n`, { mode: 0o600 });
    renameSync(temporary, this.file);
  }
}

function settingsFromConfig(config: Readonly<AgentConfig>): RuntimeSettingValues {
  return Object.fromEntries(RUNTIME_SETTING_KEYS.map((key) => [key, valueAt(config, key)])) as RuntimeSettingValues;
}

function describeProblem(problem: SettingProblem): string {
  if (problem.key === null) return problem.expected;
  return `${problem.key}: ${JSON.stringify(problem.value)} is not accepted: ${problem.expected}`;
}

const EXAMPLE = '{"window.minConfidence": 0.6, "window.smoothing": "mean"}';

/** A change message: a JSON object of runtime setting keys to values. */
function parseChange(payload: string): { values: Partial<RuntimeSettingValues> } | { problems: SettingProblem[] } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload);
  } catch (error) {
    return { problems: [{ key: null, value: payload, expected: `the message is not JSON (${describeError(error)}); send a JSON object such as ${EXAMPLE}` }] };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    const found = Array.isArray(parsed) ? 'an array' : parsed === null ? 'null' : `a ${typeof parsed}`;
    return { problems: [{ key: null, value: parsed, expected: `the message is ${found}; send a JSON object of settings such as ${EXAMPLE}` }] };
  }
  if (Object.keys(parsed).length === 0) {
    return { problems: [{ key: null, value: parsed, expected: `the message names no setting; send e.g. ${EXAMPLE}` }] };
  }
  return validateValues(parsed as Record<string, unknown>);
}

/** The persisted file: `{"schema": 1, "settings": {...}}`, validated like a change message. */
function parsePersisted(text: string): { values: Partial<RuntimeSettingValues> } | { problem: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return { problem: `not JSON: ${describeError(error)}` };
  }
  const record = parsed as { schema?: unknown; settings?: unknown } | null;
  if (typeof record !== 'object' || record === null || record.schema !== FILE_SCHEMA_VERSION) {
    return { problem: `not a settings file of schema ${FILE_SCHEMA_VERSION}` };
  }
  if (typeof record.settings !== 'object' || record.settings === null || Array.isArray(record.settings)) {
    return { problem: '"settings" is not an object' };
  }
  const validated = validateValues(record.settings as Record<string, unknown>);
  return 'problems' in validated ? { problem: validated.problems.map(describeProblem).join('; ') } : validated;
}

/**
 * Validates values with the configuration schema's own entries for these keys, through
 * convict as loadConfig does, reporting every problem. Unlike a config file or the
 * environment, a message carries typed JSON: text where a number or a switch is expected is
 * refused rather than coerced ("yes" would otherwise pause the agent).
 */
function validateValues(values: Record<string, unknown>): { values: Partial<RuntimeSettingValues> } | { problems: SettingProblem[] } {
  const problems: SettingProblem[] = [];
  const known = Object.entries(values).filter(([key, value]) => {
    if ((RUNTIME_SETTING_KEYS as string[]).includes(key)) return true;
    const entry = valueAt(configSchema, key);
    const reason =
      entry === undefined
        ? 'no such setting'
        : Object.hasOwn(entry as object, 'format')
          ? 'set in the configuration file only'
          : 'a section, not a setting: use dotted names';
    problems.push({ key, value, expected: `${reason}; runtime settings are ${RUNTIME_SETTING_KEYS.join(', ')}` });
    return false;
  });
  const schema = Object.fromEntries(known.map(([key]) => [key.replaceAll('.', '__'), schemaEntry(key)]));
  const config = convict(schema as convict.Schema<Record<string, unknown>>, { env: {}, args: [] });
  const convictProblems = new Map<string, string>();
  for (const [key, value] of known) config.set(key.replaceAll('.', '__'), value);
  try {
    config.validate({ allowed: 'strict' });
  } catch (error) {
    // One line per bad key: "<key>: <what is expected>: value was <value>".
    for (const line of describeError(error).split('\n')) {
      const match = /^([^:]+): (.*?)(?:: value was .*)?$/.exec(line);
      if (match?.[1] !== undefined && match[2] !== undefined) convictProblems.set(match[1].replaceAll('__', '.'), match[2]);
    }
  }
  for (const [key, value] of known) {
    const expected = convictProblems.get(key);
    const type = typeof schemaEntry(key).default;
    if (expected !== undefined) {
      problems.push({ key, value, expected: typeof value === 'string' && type !== 'string' ? `${expected} (a JSON ${type})` : expected });
    } else if (typeof value !== type) {
      problems.push({ key, value, expected: `a JSON ${type}, not ${typeof value}, e.g. {"${key}": ${JSON.stringify(schemaEntry(key).default)}}` });
    }
  }
  if (problems.length > 0) return { problems };
  return { values: Object.fromEntries(known) };
}

/** The values a `select` setting accepts: its configuration format's list. */
export function settingChoices(key: RuntimeSettingKey): string[] {
  const { format } = valueAt(configSchema, key) as { format: unknown };
  return Array.isArray(format) ? format.map(String) : [];
}

/** The configuration schema's entry for a dotted key (flattened, since convict would otherwise nest it). */
function schemaEntry(key: string): { default: unknown } {
  return valueAt(configSchema, key) as { default: unknown };
}
