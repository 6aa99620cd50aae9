import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig, type ConfigOverrides } from '../../src/config/load.js';
import {
  RUNTIME_SETTING_KEYS,
  RuntimeSettings,
  SETTINGS_FILE,
  type RuntimeSettingValues,
  type SetResult,
} from '../../src/settings/runtime-settings.js';
import { captureLogs } from '../helpers/logs.js';

/** The settings store on a real state directory, with the real configuration loader. */
const directories: string[] = [];
afterEach(() => {
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true });
});

function stateDirectory(): string {
  const directory = mkdtempSync(path.join(tmpdir(), 'ser-settings-'));
  directories.push(directory);
  return directory;
}

function open(directory: string, overrides: ConfigOverrides = {}) {
  const config = loadConfig({
    env: {},
    installDir: '/nonexistent/ser-agent',
    systemFile: '/nonexistent/etc/ser-agent/config.json',
    homeDir: '/home/test',
    hostname: 'test-box',
    overrides,
  });
  const logs = captureLogs();
  return { settings: RuntimeSettings.open({ config, directory, logger: logs.logger }), logs };
}

/** Changes through `settings`, recording what the pipeline was asked to apply. */
function change(settings: RuntimeSettings, payload: string): { result: SetResult; applied: RuntimeSettingValues[] } {
  const applied: RuntimeSettingValues[] = [];
  const result = settings.change(payload, (next) => applied.push(next));
  return { result, applied };
}

const DEFAULTS: RuntimeSettingValues = {
  'window.minConfidence': 0,
  'window.smoothing': 'none',
  'window.smoothingWindows': 3,
  'window.silenceDbfs': -50,
  'window.hopSeconds': 3,
  paused: false,
};

describe('RuntimeSettings', () => {
  it('starts from the configuration, keyed by dotted names', () => {
    const { settings } = open(stateDirectory(), { window: { minConfidence: 0.4 } });
    expect(settings.current).toEqual({ ...DEFAULTS, 'window.minConfidence': 0.4 });
    expect(Object.keys(settings.current)).toEqual(RUNTIME_SETTING_KEYS);
  });

  it('applies a good change, answers what was applied, logs it and persists only the changed keys', () => {
    const directory = stateDirectory();
    const { settings, logs } = open(directory);
    const { result, applied } = change(settings, '{"window.minConfidence": 0.6, "window.smoothing": "mean", "paused": true}');
    const expected = { ...DEFAULTS, 'window.minConfidence': 0.6, 'window.smoothing': 'mean', paused: true };
    expect(result).toEqual({
      ok: true,
      applied: { 'window.minConfidence': 0.6, 'window.smoothing': 'mean', paused: true },
      settings: expected,
    });
    expect(applied).toEqual([expected]);
    expect(settings.current).toEqual(expected);
    expect(logs.lines.find((line) => line['msg'] === 'runtime settings changed')).toMatchObject({
      module: 'settings',
      applied: { 'window.minConfidence': 0.6 },
    });
    expect(JSON.parse(readFileSync(path.join(directory, SETTINGS_FILE), 'utf8'))).toEqual({
      schema: 1,
      settings: { 'window.minConfidence': 0.6, 'window.smoothing': 'mean', paused: true },
    });
    expect(statSync(path.join(directory, SETTINGS_FILE)).mode & 0o777).toBe(0o600);
    expect(readdirSync(directory)).toEqual([SETTINGS_FILE]);
  });

  it('survives a restart: persisted changes win over the configuration, other keys follow it', () => {
    const directory = stateDirectory();
    change(open(directory).settings, '{"window.minConfidence": 0.99}');
    const { settings, logs } = open(directory, { window: { minConfidence: 0.2, silenceDbfs: -40 } });
    expect(settings.current).toEqual({ ...DEFAULTS, 'window.minConfidence': 0.99, 'window.silenceDbfs': -40 });
    expect(logs.lines.find((line) => line['msg'] === 'runtime settings changed over MQTT earlier are in force')).toMatchObject({
      persisted: { 'window.minConfidence': 0.99 },
    });
  });

  it.each([
    ['a value of the wrong form', '{"window.minConfidence": "high"}', 'window.minConfidence: "high" is not accepted: must be a number from 0 to 1'],
    ['a value out of range', '{"window.minConfidence": 1.5}', 'window.minConfidence: 1.5 is not accepted: must be a number from 0 to 1'],
    ['a number as text', '{"window.minConfidence": "0.6"}', 'window.minConfidence: "0.6" is not accepted: a JSON number, not string'],
    ['a switch as text', '{"paused": "yes"}', 'paused: "yes" is not accepted: a JSON boolean, not string'],
    ['a choice not offered', '{"window.smoothing": "median"}', 'window.smoothing: "median" is not accepted: must be one of the possible values: ["none","majority","mean"]'],
    ['no windows to smooth over', '{"window.smoothingWindows": 0}', 'window.smoothingWindows: 0 is not accepted: must be a whole number of at least 1'],
    ['a silence level above 0 dBFS', '{"window.silenceDbfs": 6}', 'window.silenceDbfs: 6 is not accepted: must be a level in dBFS'],
    ['an unknown key', '{"window.minConfidance": 0.5}', 'window.minConfidance: 0.5 is not accepted: no such setting; runtime settings are window.minConfidence, '],
    ['a key of the configuration file only', '{"mqtt.url": "mqtt://elsewhere"}', 'mqtt.url: "mqtt://elsewhere" is not accepted: set in the configuration file only'],
    ['a nested object', '{"window": {"minConfidence": 0.5}}', 'window: {"minConfidence":0.5} is not accepted: a section, not a setting: use dotted names'],
    ['an array', '[1, 2]', 'the message is an array; send a JSON object of settings such as {"window.minConfidence": 0.6'],
    ['a number', '0.6', 'the message is a number; send a JSON object'],
    ['invalid JSON', '{"window.minConfidence": 0.6', 'the message is not JSON ('],
    ['an empty object', '{}', 'the message names no setting'],
    ['one bad key among good ones', '{"window.smoothing": "mean", "window.minConfidence": "high"}', 'window.minConfidence: "high" is not accepted'],
  ])('refuses %s, names the key, value and expected form, and changes nothing', (_what, payload, message) => {
    const directory = stateDirectory();
    const { settings, logs } = open(directory);
    const { result, applied } = change(settings, payload);
    expect(result.ok).toBe(false);
    expect(result).toMatchObject({ settings: DEFAULTS });
    expect(result.ok === false && result.error).toContain(message);
    expect(result.ok === false && result.error).toMatch(/; nothing was changed$/);
    expect(applied).toEqual([]);
    expect(settings.current).toEqual(DEFAULTS);
    expect(readdirSync(directory)).toEqual([]);
    expect(logs.lines.find((line) => line['level'] === 40)?.['msg']).toContain('settings change refused');
  });

  it('lists every bad key of a message, each with its value and expected form', () => {
    const { settings } = open(stateDirectory());
    const { result } = change(settings, '{"window.minConfidence": "high", "window.hopSeconds": -1, "nope": 1}');
    expect(result.ok === false && result.problems).toEqual([
      { key: 'nope', value: 1, expected: expect.stringContaining('no such setting') as unknown },
      { key: 'window.minConfidence', value: 'high', expected: 'must be a number from 0 to 1 (a JSON number)' },
      { key: 'window.hopSeconds', value: -1, expected: 'must be a number greater than 0' },
    ]);
  });

  it('changes nothing when the pipeline refuses the new settings', () => {
    const { settings } = open(stateDirectory());
    const result = settings.change('{"window.hopSeconds": 0.00001}', () => {
      throw new RangeError('window hop 0.00001 s is not usable');
    });
    expect(result).toMatchObject({ ok: false, error: expect.stringContaining('window hop 0.00001 s is not usable') as unknown });
    expect(settings.current).toEqual(DEFAULTS);
  });

  it('changes nothing, and puts the pipeline back, when the state directory cannot be written', () => {
    const directory = stateDirectory();
    const { settings } = open(path.join(directory, 'file-not-dir'));
    writeFileSync(path.join(directory, 'file-not-dir'), 'a file where the state directory should be');
    const { result, applied } = change(settings, '{"window.minConfidence": 0.7}');
    expect(result).toMatchObject({ ok: false, error: expect.stringContaining('check state.directory') as unknown });
    expect(applied).toEqual([{ ...DEFAULTS, 'window.minConfidence': 0.7 }, DEFAULTS]);
    expect(settings.current).toEqual(DEFAULTS);
  });

  it.each([
    ['not JSON', '{"schema": 1, "settings": {"window.minConf'],
    ['of another schema', '{"schema": 7, "settings": {}}'],
    ['holding an invalid value', '{"schema": 1, "settings": {"window.minConfidence": 3}}'],
    ['holding an unknown key', '{"schema": 1, "settings": {"window.queueLimit": 3}}'],
  ])('logs and ignores a persisted file %s, starting from the configuration', (_what, text) => {
    const directory = stateDirectory();
    writeFileSync(path.join(directory, SETTINGS_FILE), text);
    const { settings, logs } = open(directory);
    expect(settings.current).toEqual(DEFAULTS);
    expect(logs.lines.find((line) => line['level'] === 40)).toMatchObject({
      module: 'settings',
      file: path.join(directory, SETTINGS_FILE),
      msg: expect.stringContaining('persisted runtime settings are damaged or invalid: ignored') as unknown,
    });
    // The next change rewrites it whole.
    expect(change(settings, '{"paused": true}').result.ok).toBe(true);
    expect(JSON.parse(readFileSync(path.join(directory, SETTINGS_FILE), 'utf8'))).toEqual({ schema: 1, settings: { paused: true } });
  });
});
