import * as tf from '@tensorflow/tfjs';
import { N_FEATURES, N_FRAMES } from '../../dsp/constants.js';
import { describeError } from '../../errors.js';
import type { BackendAttempt, BackendName } from './backend.js';
import { type InferenceEngine } from './inference-engine.js';
import { type VerifiedModelDir } from '../artifact/store.js';
import { buildLayersModel } from '../artifact/tfjs-model.js';

/**
 * TensorFlow.js as an inference engine: activating its backends (tfjs-node, wasm, cpu) and
 * running a model directory's tfjs files on them. The inference path imports TensorFlow.js
 * through this module alone, and only when a TensorFlow.js backend is tried, so a daemon on
 * onnxruntime never loads it (tens of MB resident on a 512 MB board).
 */
export class TfjsEngine implements InferenceEngine {
  readonly #model: tf.LayersModel;

  private constructor(model: tf.LayersModel) {
    this.#model = model;
  }

  /** Builds the verified directory's model on TensorFlow.js's active backend. */
  static async open(verified: VerifiedModelDir): Promise<TfjsEngine> {
    await tf.ready();
    return new TfjsEngine(await buildLayersModel(verified));
  }

  run(input: Float32Array, batch: number): Float32Array {
    return tf.tidy(() => {
      const output = this.#model.predict(tf.tensor3d(input, [batch, N_FRAMES, N_FEATURES])) as tf.Tensor;
      return output.dataSync() as Float32Array;
    });
  }

  /** Every live tensor in TensorFlow.js, not only this model's: a leak anywhere shows. */
  tensorCount(): number {
    return tf.memory().numTensors;
  }

  dispose(): void {
    this.#model.dispose();
  }
}

type TfjsBackendName = Exclude<BackendName, 'onnxruntime'>;

/** The name each backend registers under inside TensorFlow.js. */
const TFJS_NAMES: Record<TfjsBackendName, string> = {
  'tfjs-node': 'tensorflow',
  wasm: 'wasm',
  cpu: 'cpu',
};

/** The backend TensorFlow.js runs on now, as the agent names it. */
export function activeTfjsBackend(): BackendName {
  const active = tf.getBackend();
  return active === 'tensorflow' ? 'tfjs-node' : active === 'wasm' ? 'wasm' : 'cpu';
}

/** Whether TensorFlow.js still runs on `backend` (a test or tool may have switched it since). */
export function isActiveTfjsBackend(backend: TfjsBackendName): boolean {
  return tf.getBackend() === TFJS_NAMES[backend];
}

/**
 * Loads `backend` and makes it TensorFlow.js's active backend, or says why it cannot.
 * `importTfjsNode` loads tfjs-node, which registers the `tensorflow` backend.
 */
export async function activateTfjsBackend(
  backend: TfjsBackendName,
  importTfjsNode: () => Promise<unknown> = importInstalledTfjsNode,
): Promise<BackendAttempt> {
  switch (backend) {
    case 'tfjs-node': {
      try {
        await importTfjsNode();
      } catch (error) {
        return { ok: false, reason: describeTfjsNodeFailure(error) };
      }
      return activate(backend);
    }
    case 'wasm': {
      try {
        // Imported here, not at the top, because registering wasm (priority above cpu) makes
        // every synchronous tf call elsewhere fail until the backend is awaited.
        await import('@tensorflow/tfjs-backend-wasm');
      } catch (error) {
        return { ok: false, reason: `@tensorflow/tfjs-backend-wasm does not load: ${describeError(error)}` };
      }
      const attempt = await activate(backend);
      if (!attempt.ok) return attempt;
      return { ok: true, simd: (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) === true };
    }
    case 'cpu':
      return activate(backend);
  }
}

async function activate(backend: TfjsBackendName): Promise<BackendAttempt> {
  const tfjsName = TFJS_NAMES[backend];
  if (tf.findBackendFactory(tfjsName) === null) {
    return { ok: false, reason: `TensorFlow.js has no '${tfjsName}' backend registered` };
  }
  // setBackend reports failure as `false` and prints the cause through console.warn itself.
  const ok = await tf.setBackend(tfjsName);
  return ok ? { ok: true } : { ok: false, reason: `tf.setBackend('${tfjsName}') failed (TensorFlow.js logged the cause)` };
}

/**
 * tfjs-node is an optional dependency that is usually absent, so its name sits in a variable:
 * a literal specifier would make the type check fail wherever it is not installed.
 */
const TFJS_NODE_PACKAGE: string = '@tensorflow/tfjs-node';

function importInstalledTfjsNode(): Promise<unknown> {
  return import(TFJS_NODE_PACKAGE);
}

function describeTfjsNodeFailure(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'ERR_MODULE_NOT_FOUND' && describeError(error).includes(TFJS_NODE_PACKAGE)) {
    return `${TFJS_NODE_PACKAGE} is not installed (it is an optional dependency whose native binary could not be installed)`;
  }
  return `${TFJS_NODE_PACKAGE} does not load: ${describeError(error)}`;
}
