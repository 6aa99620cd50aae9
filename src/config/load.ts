import path from 'node:path';
import convict from 'convict';
import { ConfigError, describeError } from '../errors.js';
import { type LogLevel } from '../logging/logger.js';
import { configSchema, type BackendChoice } from './schema.js';

export interface AgentConfig {
  model: { dir: string; backend: BackendChoice };
  log: { level: LogLevel };
  cache: { dir: string };
}

export type ConfigOverrides = { [K in keyof AgentConfig]?: Partial<AgentConfig[K]> };

export interface ConfigSources {
  /** A JSON config file; absent means defaults, environment and overrides only. */
  file?: string;
  /** The environment to read SER_* variables from (the CLI passes process.env). */
  env: Readonly<Record<string, string | undefined>>;
  /** Values from command-line flags; they win over the file and the environment. */
  overrides?: ConfigOverrides;
  /** The installed package root, for the default shipped-model path. */
  installDir: string;
  /** The user's home directory, for the default cache path. */
  homeDir: string;
}

/**
 * Validates the whole configuration once, reporting every problem in one error, and returns
 * it frozen with install-relative defaults resolved. Precedence: flags > environment > file >
 * defaults.
 */
export function loadConfig(sources: ConfigSources): Readonly<AgentConfig> {
  const config = convict(configSchema, { env: { ...sources.env }, args: [] });
  if (sources.file !== undefined) {
    try {
      config.loadFile(sources.file);
    } catch (error) {
      throw new ConfigError(
        `config file ${sources.file} cannot be loaded: ${describeError(error)}; ` +
          'pass a readable JSON file (see config/ser-agent.example.json)',
        { cause: error },
      );
    }
  }
  // convict re-applies the environment over anything load()ed; set() is what outranks it.
  for (const [key, value] of definedOverrides(sources.overrides ?? {})) {
    config.set(key, value);
  }
  try {
    config.validate({ allowed: 'strict' });
  } catch (error) {
    throw new ConfigError(`invalid configuration: ${describeError(error)}`, { cause: error });
  }
  const raw = config.getProperties() as AgentConfig;
  const cacheHome = sources.env['XDG_CACHE_HOME'] || path.join(sources.homeDir, '.cache');
  return deepFreeze({
    model: {
      dir: raw.model.dir || path.join(sources.installDir, 'models', 'ser-cnn-lstm'),
      backend: raw.model.backend,
    },
    log: { level: raw.log.level },
    cache: { dir: raw.cache.dir || path.join(cacheHome, 'ser-agent') },
  });
}

/** Flags that were not given arrive as undefined; they must not erase file or env values. */
function definedOverrides(overrides: ConfigOverrides): Array<[string, unknown]> {
  return Object.entries(overrides).flatMap(([section, values]) =>
    Object.entries(values ?? {})
      .filter(([, value]) => value !== undefined)
      .map(([key, value]): [string, unknown] => [`${section}.${key}`, value]),
  );
}

function deepFreeze<T extends object>(value: T): Readonly<T> {
  for (const child of Object.values(value)) {
    if (child !== null && typeof child === 'object') deepFreeze(child as object);
  }
  return Object.freeze(value);
}
