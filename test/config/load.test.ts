import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { loadConfig, redactConfig, type ConfigSources } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';

let dir: string;
let base: ConfigSources;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ser-config-'));
  base = {
    env: {},
    installDir: path.join(dir, 'install'),
    homeDir: '/home/pi',
    hostname: 'kiosk-7.example.org',
    systemFile: path.join(dir, 'etc-config.json'),
  };
});

async function writeJson(name: string, content: unknown): Promise<string> {
  const file = path.join(dir, name);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected an error');
}

describe('loadConfig', () => {
  it('resolves machine defaults and freezes the result', () => {
    const config = loadConfig(base);
    expect(config.deviceId).toBe('kiosk-7');
    expect(config.model).toEqual({ path: path.join(dir, 'install', 'models', 'ser-cnn-lstm'), backend: 'auto', threads: 1, onnxFormat: 'auto' });
    expect(config.cache.dir).toBe('/home/pi/.cache/ser-agent');
    expect(config.mqtt.url).toBe('');
    expect(config.mqtt.topicPrefix).toBe('ser');
    expect(config.window.hopSeconds).toBe(3);
    expect(config.window.minSpeechRatio).toBe(0.3);
    expect(config.window.speechModel).toBe(path.join(dir, 'install', 'models', 'silero-vad', 'silero_vad_16k_op15.onnx'));
    expect(config.gpio.pins).toEqual({});
    expect(Object.isFrozen(config.mqtt.discovery)).toBe(true);
  });

  it('layers config/default.json < the system file < environment < flags', async () => {
    await writeJson('install/config/default.json', { deviceId: 'packaged', audio: { device: 'plughw:1,0' } });
    await writeJson('etc-config.json', { deviceId: 'system', window: { hopSeconds: 1.5 } });
    expect(loadConfig(base)).toMatchObject({ deviceId: 'system', audio: { device: 'plughw:1,0' }, window: { hopSeconds: 1.5 } });

    const env = { SER_DEVICE_ID: 'from-env', SER_WINDOW_HOP_SECONDS: '1', SER_GPIO_PINS: '{"anger":17}', SER_GPIO_STATUS_PIN: '24' };
    const fromEnv = loadConfig({ ...base, env });
    expect(fromEnv).toMatchObject({ deviceId: 'from-env', window: { hopSeconds: 1 }, gpio: { pins: { anger: 17 }, statusPin: 24 } });

    const fromFlags = loadConfig({ ...base, env, overrides: { deviceId: 'from-flag', model: { path: undefined, backend: 'cpu' } } });
    expect(fromFlags.deviceId).toBe('from-flag');
    expect(fromFlags.model.backend).toBe('cpu');
  });

  it('keeps the event queue in systemd\'s StateDirectory, else the XDG state directory, unless state.directory says', () => {
    expect(loadConfig(base).state.directory).toBe('/home/pi/.local/state/ser-agent');
    expect(loadConfig({ ...base, env: { XDG_STATE_HOME: '/xdg/state' } }).state.directory).toBe('/xdg/state/ser-agent');
    // systemd lists several directories with colons when a unit names several; the agent's is first.
    const systemd = { STATE_DIRECTORY: '/var/lib/ser-agent:/var/lib/other', XDG_STATE_HOME: '/xdg/state' };
    expect(loadConfig({ ...base, env: systemd }).state.directory).toBe('/var/lib/ser-agent');
    expect(loadConfig({ ...base, env: { ...systemd, SER_STATE_DIRECTORY: '/data/ser' } }).state.directory).toBe('/data/ser');
  });

  it('bounds the event queue by count and bytes, each at least 1', () => {
    expect(loadConfig(base).mqtt).toMatchObject({ queueLimit: 10_000, queueBytes: 8 * 1024 * 1024 });
    expect(loadConfig({ ...base, env: { SER_MQTT_QUEUE_BYTES: '65536' } }).mqtt.queueBytes).toBe(65_536);
    const error = errorOf(() => loadConfig({ ...base, env: { SER_MQTT_QUEUE_LIMIT: '0', SER_MQTT_QUEUE_BYTES: '1.5' } }));
    expect(error.message).toMatch(/mqtt\.queueLimit: must be a whole number of at least 1/);
    expect(error.message).toMatch(/mqtt\.queueBytes: must be a whole number of at least 1: value was 1\.5/);
  });

  it('turns the metrics endpoint on with a port, on 127.0.0.1 unless metrics.host says, and names a bad port or host', () => {
    expect(loadConfig(base).metrics).toEqual({ port: 0, host: '127.0.0.1' });
    expect(loadConfig({ ...base, env: { SER_METRICS_PORT: '9464', SER_METRICS_HOST: '0.0.0.0' } }).metrics).toEqual({ port: 9464, host: '0.0.0.0' });
    const error = errorOf(() => loadConfig({ ...base, env: { SER_METRICS_PORT: '70000', SER_METRICS_HOST: '' } }));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toContain('metrics.port: must be a TCP port from 1 to 65535, or 0 for no metrics endpoint: value was 70000');
    expect(error.message).toContain('metrics.host: is empty; give an address to listen on, e.g. 127.0.0.1');
    const words = errorOf(() => loadConfig({ ...base, env: { SER_METRICS_PORT: 'http', SER_METRICS_HOST: 'my host' } })).message;
    expect(words).toMatch(/metrics\.port: must be a TCP port .*: value was "http"/);
    expect(words).toMatch(/metrics\.host: must be an address to listen on, .*: value was "my host"/);
  });

  it('writes logs in the format log.format names: auto (default), json or pretty', () => {
    expect(loadConfig(base).log).toEqual({ level: 'info', format: 'auto' });
    expect(loadConfig({ ...base, env: { SER_LOG_FORMAT: 'json' } }).log.format).toBe('json');
    expect(loadConfig({ ...base, env: { SER_LOG_FORMAT: 'json' }, overrides: { log: { format: 'pretty' } } }).log.format).toBe('pretty');
    expect(errorOf(() => loadConfig({ ...base, overrides: { log: { format: 'xml' as 'json' } } })).message).toMatch(
      /log\.format: must be one of the possible values: \["auto","json","pretty"\]: value was "xml"/,
    );
  });

  it('reads --config instead of the system file', async () => {
    await writeJson('etc-config.json', { deviceId: 'system' });
    const file = await writeJson('mine.json', { deviceId: 'mine' });
    expect(loadConfig({ ...base, file }).deviceId).toBe('mine');
    expect(() => loadConfig({ ...base, file: path.join(dir, 'absent.json') })).toThrow(/absent\.json cannot be loaded/);
  });

  it('reports every invalid value at once, naming key and value', async () => {
    const file = await writeJson('bad.json', {
      deviceId: 'kiosk/01',
      mqtt: { topicPrefix: 'ser/#' },
      model: { backend: 'gpu' },
      window: { hopSeconds: -1 },
      gpio: { pins: { joy: 17, anger: 40 } },
    });
    const error = errorOf(() => loadConfig({ ...base, file }));
    expect(error).toBeInstanceOf(ConfigError);
    for (const part of [/model\.backend.*gpu/, /window\.hopSeconds.*-1/, /"joy" is not an emotion/, /anger: pin 40/, /deviceId.*kiosk\/01/, /mqtt\.topicPrefix.*ser\/#/]) {
      expect(error.message).toMatch(part);
    }
  });

  it('takes window.minSpeechRatio from 0 (no speech gate) to 1, and names the key, the value and the range otherwise', async () => {
    expect(loadConfig({ ...base, env: { SER_WINDOW_MIN_SPEECH_RATIO: '0' } }).window.minSpeechRatio).toBe(0);
    expect(() => loadConfig({ ...base, env: { SER_WINDOW_MIN_SPEECH_RATIO: 'half' } })).toThrow(/window\.minSpeechRatio: .*value was "half"/);
    expect(loadConfig({ ...base, file: await writeJson('all.json', { window: { minSpeechRatio: 1 } }) }).window.minSpeechRatio).toBe(1);
    for (const [name, value] of [['over.json', 1.5], ['negative.json', -0.1], ['text.json', 'lots']] as const) {
      const file = await writeJson(name, { window: { minSpeechRatio: value } });
      const error = errorOf(() => loadConfig({ ...base, file }));
      expect(error).toBeInstanceOf(ConfigError);
      expect(error.message).toMatch(/window\.minSpeechRatio: must be the share of a window that must be speech, from 0 to 1, e\.g\. 0\.3; 0 turns the speech gate off/);
      expect(error.message).toContain(`value was ${JSON.stringify(value)}`);
    }
  });

  it('takes audio.periodSeconds from 0.01 to 1 s (default 0.2), and names the key, the value and the range otherwise', async () => {
    expect(loadConfig(base).audio.periodSeconds).toBe(0.2);
    expect(loadConfig({ ...base, env: { SER_AUDIO_PERIOD_SECONDS: '0.04' } }).audio.periodSeconds).toBe(0.04);
    for (const [name, value] of [['zero.json', 0], ['long.json', 2], ['text.json', 'fast']] as const) {
      const file = await writeJson(name, { audio: { periodSeconds: value } });
      const error = errorOf(() => loadConfig({ ...base, file }));
      expect(error).toBeInstanceOf(ConfigError);
      expect(error.message).toMatch(/audio\.periodSeconds: must be a capture period from 0\.01 to 1 seconds, e\.g\. 0\.2 \(fewer wake-ups\) or 0\.04 \(less latency\)/);
      expect(error.message).toContain(`value was ${JSON.stringify(value)}`);
    }
  });

  it('names a value of 0, which convict leaves out of its message, unless the key is a secret', async () => {
    const file = await writeJson('zero-hop.json', { window: { hopSeconds: 0 }, mqtt: { password: 0 } });
    const error = errorOf(() => loadConfig({ ...base, file }));
    expect(error.message).toMatch(/window\.hopSeconds: must be a number greater than 0: value was 0$/m);
    expect(error.message).toMatch(/^ *mqtt\.password: /m);
    expect(error.message).not.toMatch(/mqtt\.password: .*value was 0/);
  });

  it('refuses a stall timeout that is not well over the capture period, naming both', async () => {
    const file = await writeJson('stall.json', { audio: { stallSeconds: 0.5, periodSeconds: 1 } });
    const error = errorOf(() => loadConfig({ ...base, file }));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toContain('audio.stallSeconds (0.5) must be more than twice audio.periodSeconds (1)');
    expect(loadConfig({ ...base, env: { SER_AUDIO_STALL_SECONDS: '0.5', SER_AUDIO_PERIOD_SECONDS: '0.2' } }).audio.stallSeconds).toBe(0.5);
  });

  it('rejects unknown keys and broken JSON', async () => {
    const unknown = await writeJson('unknown.json', { model: { dirr: '/x' } });
    expect(() => loadConfig({ ...base, file: unknown })).toThrow(/model\.dirr/);
    const broken = await writeJson('broken.json', '{ "model": ');
    expect(() => loadConfig({ ...base, file: broken })).toThrow(ConfigError);
  });

  it('reads the password from mqtt.passwordFile and never shows it', async () => {
    const secret = await writeJson('secret', 's3cr3t\n');
    const config = loadConfig({ ...base, env: { SER_MQTT_PASSWORD_FILE: secret } });
    expect(config.mqtt.password).toBe('s3cr3t');
    expect(JSON.stringify(redactConfig(config))).not.toContain('s3cr3t');
    expect(redactConfig(config).mqtt.password).toBe('[redacted]');
    const missing = errorOf(() => loadConfig({ ...base, env: { SER_MQTT_PASSWORD_FILE: path.join(dir, 'nope') } }));
    expect(missing.message).toMatch(/mqtt\.passwordFile: .*nope cannot be read \(ENOENT\)/);
  });

  it('reads mqtt.tls and mqtt.protocolVersion from the environment, checking them for sense', () => {
    const config = loadConfig({
      ...base,
      env: {
        SER_MQTT_URL: 'mqtts://broker.example.org:8883',
        SER_MQTT_PROTOCOL_VERSION: '5',
        SER_MQTT_TLS_CA_FILE: '/etc/ser-agent/ca.pem',
        SER_MQTT_TLS_CERT_FILE: '/etc/ser-agent/box.pem',
        SER_MQTT_TLS_KEY_FILE: '/etc/ser-agent/box.key',
        SER_MQTT_TLS_REJECT_UNAUTHORIZED: 'false',
        SER_MQTT_TLS_SERVERNAME: 'broker.internal',
      },
    });
    expect(config.mqtt.protocolVersion).toBe(5);
    expect(config.mqtt.tls).toEqual({
      caFile: '/etc/ser-agent/ca.pem',
      certFile: '/etc/ser-agent/box.pem',
      keyFile: '/etc/ser-agent/box.key',
      rejectUnauthorized: false,
      servername: 'broker.internal',
    });
    expect(loadConfig(base).mqtt.tls.rejectUnauthorized).toBe(true);
    expect(loadConfig(base).mqtt.protocolVersion).toBe(4);
  });

  it('refuses TLS settings that cannot work, all in one error', () => {
    const error = errorOf(() =>
      loadConfig({
        ...base,
        env: {
          SER_MQTT_URL: 'mqtt://broker.example.org:1883',
          SER_MQTT_TLS_CERT_FILE: '/etc/ser-agent/box.pem',
          SER_MQTT_PROTOCOL_VERSION: '3',
        },
      }),
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toContain('mqtt.protocolVersion: must be 4 (MQTT 3.1.1) or 5 (MQTT 5)');
    expect(error.message).toContain('mqtt.tls.certFile is set but mqtt.tls.keyFile is empty');
    expect(error.message).toContain(
      'mqtt.tls.certFile is set but mqtt.url is "mqtt://broker.example.org:1883", without TLS; use an mqtts://',
    );
    const embedded = errorOf(() =>
      loadConfig({ ...base, env: { SER_MQTT_TLS_CA_FILE: '/ca.pem', SER_MQTT_PROTOCOL_VERSION: '5' } }),
    );
    expect(embedded.message).toContain('mqtt.tls.caFile is set but mqtt.url is empty (the embedded broker');
    expect(embedded.message).toContain('mqtt.protocolVersion is 5 but mqtt.url is empty');
  });
});
