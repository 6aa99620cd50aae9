import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';

const base = { env: {}, installDir: '/opt/ser-agent', homeDir: '/home/pi' };

async function writeConfig(content: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ser-config-'));
  const file = path.join(dir, 'config.json');
  await writeFile(file, content);
  return file;
}

describe('loadConfig', () => {
  it('resolves install-relative defaults and freezes the result', () => {
    const config = loadConfig(base);
    expect(config).toEqual({
      model: { dir: '/opt/ser-agent/models/ser-cnn-lstm', backend: 'auto' },
      log: { level: 'info' },
      cache: { dir: '/home/pi/.cache/ser-agent' },
    });
    expect(Object.isFrozen(config.model)).toBe(true);
  });

  it('applies file < environment < flags', async () => {
    const file = await writeConfig(JSON.stringify({ model: { backend: 'cpu', dir: '/models/a' } }));
    const fromFile = loadConfig({ ...base, file });
    expect(fromFile.model).toEqual({ dir: '/models/a', backend: 'cpu' });
    const fromEnv = loadConfig({ ...base, file, env: { SER_MODEL_BACKEND: 'wasm', XDG_CACHE_HOME: '/var/cache' } });
    expect(fromEnv.model.backend).toBe('wasm');
    expect(fromEnv.cache.dir).toBe('/var/cache/ser-agent');
    const fromFlags = loadConfig({
      ...base,
      file,
      env: { SER_MODEL_BACKEND: 'wasm' },
      overrides: { model: { backend: 'auto', dir: undefined } },
    });
    expect(fromFlags.model).toEqual({ dir: '/models/a', backend: 'auto' });
  });

  it('reports every invalid value at once, naming key and value', async () => {
    const file = await writeConfig(JSON.stringify({ model: { backend: 'gpu' }, log: { level: 'loud' } }));
    let error: unknown;
    try {
      loadConfig({ ...base, file });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toMatch(/model\.backend.*gpu/);
    expect(message).toMatch(/log\.level.*loud/);
  });

  it('rejects unknown keys, unreadable files and broken JSON', async () => {
    const unknown = await writeConfig(JSON.stringify({ model: { dirr: '/x' } }));
    expect(() => loadConfig({ ...base, file: unknown })).toThrow(/model\.dirr/);
    expect(() => loadConfig({ ...base, file: '/nonexistent.json' })).toThrow(/\/nonexistent\.json/);
    const broken = await writeConfig('{ "model": ');
    expect(() => loadConfig({ ...base, file: broken })).toThrow(ConfigError);
  });
});
