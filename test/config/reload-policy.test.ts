import { describe, expect, it } from 'vitest';
import { configKeys, planReload, RELOAD_EFFECTS } from '../../src/config/reload-policy.js';
import { RUNTIME_SETTING_KEYS } from '../../src/settings/runtime-settings.js';
import { testConfig } from '../helpers/config.js';


describe('what a reload does with each configuration key', () => {
  it('decides for every key of the schema, and for nothing else', () => {
    expect(Object.keys(RELOAD_EFFECTS).sort()).toEqual(configKeys().sort());
  });

  it('applies every runtime setting (those MQTT can change) live', () => {
    for (const key of RUNTIME_SETTING_KEYS) expect(RELOAD_EFFECTS[key], key).toBe('live');
  });

  it('needs a restart for the parts built once at start: the broker connection, the device id, capture, GPIO, logging', () => {
    for (const key of ['deviceId', 'mqtt.url', 'mqtt.topicPrefix', 'mqtt.password', 'audio.device', 'gpio.pins', 'log.level', 'window.queueLimit']) {
      expect(RELOAD_EFFECTS[key], key).toBe('restart');
    }
  });
});

describe('planReload', () => {
  it('takes the live keys from the new configuration and keeps the running values of the others', () => {
    const running = testConfig();
    const next = testConfig({
      deviceId: 'renamed',
      audio: { device: 'plughw:1,0' },
      window: { minConfidence: 0.6, smoothing: 'mean', speechModel: '/opt/vad.onnx' },
      model: { path: '/opt/models/site', threads: 2 },
      mqtt: { healthSeconds: 30 },
    });
    const plan = planReload(running, next);
    expect(plan.applied.map((change) => change.key)).toEqual([
      'mqtt.healthSeconds',
      'window.speechModel',
      'window.smoothing',
      'window.minConfidence',
      'model.path',
      'model.threads',
    ]);
    expect(plan.applied).toContainEqual({ key: 'window.minConfidence', from: 0, to: 0.6 });
    expect(plan.needsRestart).toEqual([
      { key: 'deviceId', from: 'box', to: 'renamed' },
      { key: 'audio.device', from: 'default', to: 'plughw:1,0' },
    ]);
    expect(plan.config).toMatchObject({
      deviceId: 'box',
      audio: { device: 'default' },
      window: { minConfidence: 0.6, smoothing: 'mean', speechModel: '/opt/vad.onnx' },
      model: { path: '/opt/models/site', threads: 2 },
      mqtt: { healthSeconds: 30 },
    });
    // Frozen like every configuration, and the running one untouched.
    expect(Object.isFrozen(plan.config.window)).toBe(true);
    expect(running.window.minConfidence).toBe(0);
  });

  it('finds no change in an identical configuration, the GPIO pin map included', () => {
    const plan = planReload(testConfig({ gpio: { pins: { anger: 17, happiness: 27 } } }), testConfig({ gpio: { pins: { happiness: 27, anger: 17 } } }));
    expect(plan).toMatchObject({ applied: [], needsRestart: [] });
  });

  it('names a changed password without its values', () => {
    const plan = planReload(testConfig({ mqtt: { password: 'old-secret' } }), testConfig({ mqtt: { password: 'new-secret' } }));
    expect(plan.needsRestart).toEqual([{ key: 'mqtt.password' }]);
    expect(JSON.stringify(plan.needsRestart)).not.toContain('secret');
    expect(plan.config.mqtt.password).toBe('old-secret');
  });

  it('ignores a key `run` never reads', () => {
    expect(planReload(testConfig(), testConfig({ cache: { dir: '/elsewhere' } }))).toMatchObject({ applied: [], needsRestart: [] });
  });
});
