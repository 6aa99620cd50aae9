import { BackendError, describeError } from '../../errors.js';
import { loadOnnxRuntime } from './onnx-session.js';

/** The compute backends the agent can run on, fastest first. */
export type BackendName = 'onnxruntime' | 'tfjs-node' | 'wasm' | 'cpu';
export const BACKEND_PREFERENCES = ['auto', 'onnxruntime', 'tfjs-node', 'wasm', 'cpu'] as const;
export type BackendPreference = (typeof BACKEND_PREFERENCES)[number];
/** Which ONNX file onnxruntime runs: `auto` takes int8 when the model directory has one. */
export const ONNX_FORMAT_PREFERENCES = ['auto', 'int8', 'float32'] as const;
export type OnnxFormatPreference = (typeof ONNX_FORMAT_PREFERENCES)[number];

/** The part of pino's API this module needs, so a plain fake works in tests. */
export interface BackendLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface SkippedBackend {
  backend: BackendName;
  reason: string;
}

export interface BackendSelection {
  name: BackendName;
  /** Whether the wasm backend runs its SIMD build; only set for wasm. */
  simd?: boolean;
  /** Faster backends that `auto` tried first, and why each could not be used. */
  skipped: SkippedBackend[];
}

export interface SelectBackendOptions {
  /** Loads tfjs-node, which registers the `tensorflow` backend; a seam for tests. */
  importTfjsNode?: () => Promise<unknown>;
  /** Loads onnxruntime-node's native binding; a seam for tests. */
  loadOnnxRuntime?: () => Promise<unknown>;
  /**
   * Whether the model to run has an ONNX file, and if not why: onnxruntime runs only ONNX
   * files. Without it `auto` does not consider onnxruntime (callers that only run tfjs models).
   */
  onnxModel?: { available: true } | { available: false; reason: string };
}

const FIXES: Record<BackendName, string> = {
  onnxruntime:
    "reinstall dependencies so node_modules/onnxruntime-node/bin holds the binary for this platform (linux x64/arm64, macOS, Windows) and the model directory has model.onnx (`ser-agent export-onnx`), or choose backend 'auto' or 'wasm'",
  'tfjs-node':
    "install it with `npm install @tensorflow/tfjs-node` on a platform it ships a prebuilt libtensorflow for, or choose backend 'auto' or 'wasm'",
  wasm: "reinstall dependencies so node_modules/@tensorflow/tfjs-backend-wasm/dist/*.wasm exist, or choose backend 'cpu'",
  cpu: 'reinstall dependencies (@tensorflow/tfjs provides the cpu backend)',
};

/** One backend tried: usable (wasm says whether it has SIMD), or why not. */
export type BackendAttempt = { ok: true; simd?: boolean } | { ok: false; reason: string };

let current: { key: string; selection: Promise<BackendSelection> } | undefined;

/**
 * Chooses the backend the model runs on. `auto` takes the fastest one that loads:
 * onnxruntime (native, for models with an ONNX file), then TensorFlow.js on tfjs-node
 * (native libtensorflow), wasm, cpu. A TensorFlow.js choice is made TensorFlow.js's active
 * backend; onnxruntime leaves TensorFlow.js alone. Calling again with the same preference
 * and model returns the same selection without re-initialising anything.
 */
export async function selectBackend(
  preference: BackendPreference,
  logger: BackendLogger,
  options: SelectBackendOptions = {},
): Promise<BackendSelection> {
  const key = `${preference}:${options.onnxModel?.available ?? 'none'}`;
  if (current?.key === key) {
    const previous = await current.selection.catch(() => undefined);
    if (previous?.name === 'onnxruntime') return previous;
    // Only a TensorFlow.js choice loaded the tfjs engine, and TensorFlow.js may have been
    // switched to another backend since (tests and tools do).
    if (previous !== undefined && (await import('./tfjs-engine.js')).isActiveTfjsBackend(previous.name)) return previous;
  }
  const selection = runSelection(preference, logger, options);
  current = { key, selection };
  return selection;
}

async function runSelection(
  preference: BackendPreference,
  logger: BackendLogger,
  options: SelectBackendOptions,
): Promise<BackendSelection> {
  // A caller that offers no ONNX model (training, tfjs-only tools) never gets onnxruntime,
  // and is not told that it was skipped.
  const automatic: BackendName[] = options.onnxModel === undefined ? ['tfjs-node', 'wasm', 'cpu'] : ['onnxruntime', 'tfjs-node', 'wasm', 'cpu'];
  const candidates: BackendName[] = preference === 'auto' ? automatic : [preference];
  const skipped: SkippedBackend[] = [];
  for (const backend of candidates) {
    const attempt = await tryBackend(backend, options);
    if (attempt.ok) {
      const simd = attempt.simd === undefined ? {} : { simd: attempt.simd };
      if (attempt.simd === false) {
        logger.warn(
          { backend, ...simd },
          'wasm backend runs without SIMD: inference is several times slower; use Node.js >= 16 on a CPU with 128-bit SIMD (arm64 or x86-64)',
        );
      } else {
        logger.info({ backend, ...simd }, `using the ${backend} backend`);
      }
      return { name: backend, ...simd, skipped };
    }
    if (preference !== 'auto') {
      throw new BackendError(
        `backend '${backend}' cannot be initialised: ${attempt.reason}; ${FIXES[backend]}`,
      );
    }
    skipped.push({ backend, reason: attempt.reason });
    logger.info({ backend, reason: attempt.reason }, `skipping the ${backend} backend`);
  }
  throw new BackendError(
    `no compute backend can be initialised (${skipped.map((s) => `${s.backend}: ${s.reason}`).join('; ')}); ${FIXES.cpu}`,
  );
}

async function tryBackend(backend: BackendName, options: SelectBackendOptions): Promise<BackendAttempt> {
  if (backend !== 'onnxruntime') {
    // TensorFlow.js loads here, once a backend of its own is tried, never for onnxruntime.
    let engine: typeof import('./tfjs-engine.js');
    try {
      engine = await import('./tfjs-engine.js');
    } catch (error) {
      return { ok: false, reason: `@tensorflow/tfjs does not load: ${describeError(error)}` };
    }
    return engine.activateTfjsBackend(backend, options.importTfjsNode);
  }
  const model = options.onnxModel ?? { available: false, reason: 'no ONNX model was given to run' };
  if (!model.available) return { ok: false, reason: model.reason };
  try {
    await (options.loadOnnxRuntime ?? loadOnnxRuntime)();
  } catch (error) {
    return { ok: false, reason: describeError(error) };
  }
  return { ok: true };
}
