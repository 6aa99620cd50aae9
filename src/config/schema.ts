import { LOG_LEVELS } from '../logging/logger.js';

export const BACKEND_CHOICES = ['auto', 'tfjs-node', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];

/**
 * The convict schema: every key has a doc, a format, a default and an environment variable.
 * Defaults that depend on where the agent is installed (the shipped model) are filled in by
 * the loader, so this module stays free of I/O.
 */
export const configSchema = {
  model: {
    dir: {
      doc: 'Model directory (model.json, weights, metadata.json). Empty: the model shipped in models/.',
      format: String,
      default: '',
      env: 'SER_MODEL_DIR',
    },
    backend: {
      doc: 'Inference backend: auto (tfjs-node if installed, else wasm, else cpu), or one by name.',
      format: BACKEND_CHOICES as unknown as string[],
      default: 'auto',
      env: 'SER_MODEL_BACKEND',
    },
  },
  log: {
    level: {
      doc: 'Log level of the JSON lines written to stderr.',
      format: LOG_LEVELS as unknown as string[],
      default: 'info',
      env: 'SER_LOG_LEVEL',
    },
  },
  cache: {
    dir: {
      doc: 'Where computed training/evaluation features are cached. Empty: $XDG_CACHE_HOME/ser-agent or ~/.cache/ser-agent.',
      format: String,
      default: '',
      env: 'SER_CACHE_DIR',
    },
  },
};
