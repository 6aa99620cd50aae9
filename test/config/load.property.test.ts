import { mkdtemp, rm } from 'node:fs/promises';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type ConfigSources } from '../../src/config/load.js';
import { configSchema } from '../../src/config/schema.js';
import { ConfigError } from '../../src/errors.js';

/**
 * Issue 3, part 4 ("Hostile input"): whatever the config file and the SER_* environment
 * hold, loadConfig returns a deeply frozen config or throws a ConfigError that names a key
 * (or, when the file is not JSON at all, the file). Never another error.
 */
const RUNS = 10_000;

interface SchemaKey {
  path: string;
  env: string;
}

/** Every leaf of the convict schema (a leaf has a `doc`), with its environment variable. */
function schemaKeys(node: object, prefix = ''): SchemaKey[] {
  return Object.entries(node).flatMap(([key, value]): SchemaKey[] => {
    const keyPath = `${prefix}${key}`;
    if (typeof value === 'object' && value !== null && 'doc' in value) {
      return [{ path: keyPath, env: (value as { env: string }).env }];
    }
    return schemaKeys(value as object, `${keyPath}.`);
  });
}

const KEYS = schemaKeys(configSchema);

function setPath(target: Record<string, unknown>, keyPath: string, value: unknown): void {
  const parts = keyPath.split('.');
  let node = target;
  for (const part of parts.slice(0, -1)) {
    const child = node[part];
    if (typeof child !== 'object' || child === null || Array.isArray(child)) node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts[parts.length - 1] as string] = value;
}

/** Values that often sit near the edge of what a key accepts, and anything JSON holds. */
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(0, -1, 1, 0.5, 3, 27, 28, 1e308, -0, '', ' ', 'none', 'mean', 'onoff', 'cpu', 'debug', null, true, false),
  fc.dictionary(fc.constantFrom('anger', 'disgust', 'fear', 'happiness', 'neutral', 'sadness', 'surprise', 'joy'), fc.oneof(fc.integer({ min: -2, max: 30 }), fc.jsonValue({ maxDepth: 1 }))),
);

/** A config file's text: random JSON, random objects, known keys with hostile values, or not JSON. */
const fileText: fc.Arbitrary<string> = fc.oneof(
  fc.json({ maxDepth: 3 }),
  fc.object({ maxDepth: 2 }).map((value) => JSON.stringify(value) ?? 'null'),
  fc
    .array(fc.tuple(fc.constantFrom(...KEYS.map((key) => key.path)), hostileValue), { maxLength: 6 })
    .map((entries) => {
      const config: Record<string, unknown> = {};
      for (const [keyPath, value] of entries) setPath(config, keyPath, value);
      return JSON.stringify(config);
    }),
  fc.string({ maxLength: 40 }),
);

/** Environment text: numbers, JSON, words, junk. */
const envText: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.double().map(String),
  fc.integer({ min: -5, max: 40 }).map(String),
  fc.json({ maxDepth: 2 }),
  fc.constantFrom('', 'true', 'false', 'null', '{"anger":17}', 'NaN', 'Infinity', '-50', 'auto', 'sox'),
);

const environment = fc.dictionary(fc.constantFrom(...KEYS.map((key) => key.env)), envText, { maxKeys: 4 });

function expectDeeplyFrozen(value: object): void {
  expect(Object.isFrozen(value)).toBe(true);
  for (const child of Object.values(value)) {
    if (typeof child === 'object' && child !== null) expectDeeplyFrozen(child as object);
  }
}

/** Key names the file or the environment mentioned, at any depth, for the message check. */
function mentionedKeys(text: string, env: Record<string, string>): string[] {
  const names = new Set<string>(KEYS.map((key) => key.path));
  for (const name of Object.keys(env)) names.add(name);
  const collect = (value: unknown): void => {
    if (typeof value !== 'object' || value === null) return;
    for (const [key, child] of Object.entries(value)) {
      names.add(key);
      collect(child);
    }
  };
  try {
    collect(JSON.parse(text));
  } catch {
    // Not JSON: the message names the file instead.
  }
  return [...names].filter((name) => name.length > 0);
}

describe('loadConfig on hostile files and environments', () => {
  let dir: string;
  let file: string;
  let base: Omit<ConfigSources, 'env'>;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ser-config-fuzz-'));
    file = path.join(dir, 'config.json');
    base = { file, installDir: path.join(dir, 'install'), homeDir: '/home/pi', hostname: 'kiosk-7' };
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('returns a frozen config or throws a ConfigError naming a key', () => {
    fc.assert(
      fc.property(fileText, environment, (text, env) => {
        // One file, rewritten for every case: the loader reads it synchronously.
        writeFileSync(file, text);
        let config;
        try {
          config = loadConfig({ ...base, env });
        } catch (error) {
          expect(error).toBeInstanceOf(ConfigError);
          const configError = error as ConfigError;
          expect(configError.code).toBe('CONFIG');
          const named = [file, ...mentionedKeys(text, env)].some((name) => configError.message.includes(name));
          expect(named, configError.message).toBe(true);
          return;
        }
        expectDeeplyFrozen(config);
      }),
      { numRuns: RUNS },
    );
  });
});
