import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type ConfigOverrides } from '../../src/config/load.js';
import {
  RUNTIME_SETTING_KEYS,
  RuntimeSettings,
  SETTINGS_FILE,
  type RuntimeSettingValues,
  type SetResult,
} from '../../src/settings/runtime-settings.js';
import { testConfig } from '../helpers/config.js';
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
  const config = testConfig(overrides);
  const logs = captureLogs();
  return { settings: RuntimeSettings.open({ config, directory, logger: logs.logger }), logs };
}

/**
 * Changes through `settings`, recording what the pipeline was asked to prepare, and what of
 * that it was then told to commit or abandon.
 */
async function change(
  settings: RuntimeSettings,
  payload: string,
): Promise<{ result: SetResult; prepared: RuntimeSettingValues[]; committed: RuntimeSettingValues[]; abandoned: RuntimeSettingValues[] }> {
  const prepared: RuntimeSettingValues[] = [];
  const committed: RuntimeSettingValues[] = [];
  const abandoned: RuntimeSettingValues[] = [];
  const result = await settings.change(payload, (next) => {
    prepared.push(next);
    return Promise.resolve({ commit: () => committed.push(next), abandon: () => abandoned.push(next) });
  });
  return { result, prepared, committed, abandoned };
}

const DEFAULTS: RuntimeSettingValues = {
  'window.minConfidence': 0,
  'window.smoothing': 'none',
  'window.smoothingWindows': 3,
  'window.silenceDbfs': -50,
  'window.hopSeconds': 3,
  'window.minSpeechRatio': 0.3,
  paused: false,
};

describe('RuntimeSettings', () => {
  it('starts from the configuration, keyed by dotted names', () => {
    const { settings } = open(stateDirectory(), { window: { minConfidence: 0.4 } });
    expect(settings.current).toEqual({ ...DEFAULTS, 'window.minConfidence': 0.4 });
    expect(Object.keys(settings.current)).toEqual(RUNTIME_SETTING_KEYS);
  });

  it('applies a good change, answers what was applied, logs it and persists only the changed keys', async () => {
    const directory = stateDirectory();
    const { settings, logs } = open(directory);
    const { result, prepared, committed } = await change(settings, '{"window.minConfidence": 0.6, "window.smoothing": "mean", "paused": true}');
    const expected = { ...DEFAULTS, 'window.minConfidence': 0.6, 'window.smoothing': 'mean', paused: true };
    expect(result).toEqual({
      ok: true,
      applied: { 'window.minConfidence': 0.6, 'window.smoothing': 'mean', paused: true },
      settings: expected,
    });
    expect(prepared).toEqual([expected]);
    expect(committed).toEqual([expected]);
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

  it('survives a restart: persisted changes win over the configuration, other keys follow it', async () => {
    const directory = stateDirectory();
    await change(open(directory).settings, '{"window.minConfidence": 0.99}');
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
    ['a speech ratio above 1', '{"window.minSpeechRatio": 1.5}', 'window.minSpeechRatio: 1.5 is not accepted: '],
    ['a speech ratio as text', '{"window.minSpeechRatio": "0.5"}', 'window.minSpeechRatio: "0.5" is not accepted: '],
    ['an unknown key', '{"window.minConfidance": 0.5}', 'window.minConfidance: 0.5 is not accepted: no such setting; runtime settings are window.minConfidence, '],
    ['a key of the configuration file only', '{"mqtt.url": "mqtt://elsewhere"}', 'mqtt.url: "mqtt://elsewhere" is not accepted: set in the configuration file only'],
    ['a nested object', '{"window": {"minConfidence": 0.5}}', 'window: {"minConfidence":0.5} is not accepted: a section, not a setting: use dotted names'],
    ['an array', '[1, 2]', 'the message is an array; send a JSON object of settings such as {"window.minConfidence": 0.6'],
    ['a number', '0.6', 'the message is a number; send a JSON object'],
    ['invalid JSON', '{"window.minConfidence": 0.6', 'the message is not JSON ('],
    ['an empty object', '{}', 'the message names no setting'],
    ['one bad key among good ones', '{"window.smoothing": "mean", "window.minConfidence": "high"}', 'window.minConfidence: "high" is not accepted'],
  ])('refuses %s, names the key, value and expected form, and changes nothing', async (_what, payload, message) => {
    const directory = stateDirectory();
    const { settings, logs } = open(directory);
    const { result, prepared } = await change(settings, payload);
    expect(result.ok).toBe(false);
    expect(result).toMatchObject({ settings: DEFAULTS });
    expect(result.ok === false && result.error).toContain(message);
    expect(result.ok === false && result.error).toMatch(/; nothing was changed$/);
    expect(prepared).toEqual([]);
    expect(settings.current).toEqual(DEFAULTS);
    expect(readdirSync(directory)).toEqual([]);
    expect(logs.lines.find((line) => line['level'] === 40)?.['msg']).toContain('settings change refused');
  });

  it('lists every bad key of a message, each with its value and expected form', async () => {
    const { settings } = open(stateDirectory());
    const { result } = await change(settings, '{"window.minConfidence": "high", "window.hopSeconds": -1, "nope": 1}');
    expect(result.ok === false && result.problems).toEqual([
      { key: 'nope', value: 1, expected: expect.stringContaining('no such setting') as unknown },
      { key: 'window.minConfidence', value: 'high', expected: 'must be a number from 0 to 1 (a JSON number)' },
      { key: 'window.hopSeconds', value: -1, expected: 'must be a number greater than 0' },
    ]);
  });

  it('changes nothing when the pipeline refuses the new settings', async () => {
    const directory = stateDirectory();
    const { settings } = open(directory);
    const result = await settings.change('{"window.minSpeechRatio": 0.5}', () =>
      Promise.reject(new Error('speech model /opt/vad.onnx cannot be read (ENOENT)')),
    );
    expect(result).toMatchObject({ ok: false, error: expect.stringContaining('speech model /opt/vad.onnx cannot be read (ENOENT)') as unknown });
    expect(settings.current).toEqual(DEFAULTS);
    expect(readdirSync(directory)).toEqual([]);
  });

  it('changes nothing, and abandons what the pipeline prepared, when the state directory cannot be written', async () => {
    const directory = stateDirectory();
    const { settings } = open(path.join(directory, 'file-not-dir'));
    writeFileSync(path.join(directory, 'file-not-dir'), 'a file where the state directory should be');
    const { result, prepared, committed, abandoned } = await change(settings, '{"window.minConfidence": 0.7}');
    expect(result).toMatchObject({ ok: false, error: expect.stringContaining('check state.directory') as unknown });
    expect(prepared).toEqual([{ ...DEFAULTS, 'window.minConfidence': 0.7 }]);
    expect(abandoned).toEqual(prepared);
    expect(committed).toEqual([]);
    expect(settings.current).toEqual(DEFAULTS);
  });

  it('gives the configuration with the effective settings in place of its values, for the model side to be built from', async () => {
    const directory = stateDirectory();
    await change(open(directory).settings, '{"window.minSpeechRatio": 0.5}');
    const { settings } = open(directory);
    const config = testConfig({ window: { minSpeechRatio: 0, minConfidence: 0.4, hopSeconds: 1 } });
    const applied = settings.applyTo(config);
    // The MQTT value wins; keys never changed over MQTT follow the configuration given.
    expect(applied.window).toEqual({ ...config.window, minSpeechRatio: 0.5 });
    expect(applied.mqtt).toEqual(config.mqtt);
    expect(config.window.minSpeechRatio).toBe(0);
  });

  it.each([
    ['not JSON', '{"schema": 1, "settings": {"window.minConf'],
    ['of another schema', '{"schema": 7, "settings": {}}'],
    ['holding an invalid value', '{"schema": 1, "settings": {"window.minConfidence": 3}}'],
    ['holding an unknown key', '{"schema": 1, "settings": {"window.queueLimit": 3}}'],
  ])('logs and ignores a persisted file %s, starting from the configuration', async (_what, text) => {
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
    expect((await change(settings, '{"paused": true}')).result.ok).toBe(true);
    expect(JSON.parse(readFileSync(path.join(directory, SETTINGS_FILE), 'utf8'))).toEqual({ schema: 1, settings: { paused: true } });
  });
});
