import { createRequire } from 'node:module';
import { describeError } from '../../errors.js';

/**
 * onnxruntime-node, loaded on first use so that a machine where its native binary cannot
 * load still runs on a TensorFlow.js backend, with the reason logged.
 *
 * The package's public InferenceSession.run is asynchronous only in name: it defers the
 * same synchronous native call with setImmediate. The classifier is synchronous (as tfjs's
 * dataSync is), so this module calls the native session wrap directly; its typings ship in
 * the package as dist/binding.d.ts. If a release changes that surface, loading fails here
 * with a message and `auto` falls back to TensorFlow.js.
 */

/** ONNX Runtime's own package name, in a variable so a missing install fails at run time, not type check. */
const ORT_PACKAGE: string = 'onnxruntime-node';

export interface NativeTensor {
  readonly data: unknown;
  readonly dims: readonly number[];
}

interface TensorConstructor {
  new (type: 'float32', data: Float32Array, dims: readonly number[]): NativeTensor;
  new (type: 'int64', data: BigInt64Array, dims: readonly number[]): NativeTensor;
}

export interface NativeSession {
  loadModel(buffer: ArrayBuffer, byteOffset: number, byteLength: number, options: object): void;
  readonly inputMetadata: ReadonlyArray<{ name: string; shape: number[] }>;
  readonly outputMetadata: ReadonlyArray<{ name: string; shape: number[] }>;
  run(feeds: Record<string, NativeTensor>, fetches: Record<string, null>, options: object): Record<string, NativeTensor>;
  dispose(): void;
}

export interface OrtRuntime {
  Tensor: TensorConstructor;
  createSession: () => NativeSession;
  version: string;
}

let runtime: Promise<OrtRuntime> | undefined;

/**
 * Loads onnxruntime-node's native binding once. Rejects with a sentence naming what failed
 * (package missing, binary for this platform missing or not loadable).
 */
export function loadOnnxRuntime(): Promise<OrtRuntime> {
  runtime ??= new Promise((resolve) => resolve(requireRuntime()));
  return runtime;
}

/** Synchronous: the package is CommonJS and its binary loads through require. */
function requireRuntime(): OrtRuntime {
  const require = createRequire(import.meta.url);
  let main: { Tensor?: unknown; env?: { versions?: { node?: string } } };
  let binding: { binding?: { InferenceSession?: unknown }; initOrt?: unknown };
  try {
    main = require(ORT_PACKAGE) as typeof main;
    binding = require(`${ORT_PACKAGE}/dist/binding.js`) as typeof binding;
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    if (code === 'MODULE_NOT_FOUND' && describeError(error).includes(`'${ORT_PACKAGE}'`)) {
      throw new Error(`${ORT_PACKAGE} is not installed`);
    }
    throw new Error(`${ORT_PACKAGE}'s native binary for ${process.platform}-${process.arch} does not load: ${describeError(error)}`);
  }
  const Session = binding.binding?.InferenceSession;
  const initOrt = binding.initOrt;
  if (typeof main.Tensor !== 'function' || typeof Session !== 'function' || typeof initOrt !== 'function') {
    throw new Error(`${ORT_PACKAGE} has no synchronous session binding (dist/binding.js); install the version package.json names`);
  }
  (initOrt as () => void)();
  return {
    Tensor: main.Tensor as TensorConstructor,
    createSession: () => new (Session as new () => NativeSession)(),
    version: main.env?.versions?.node ?? 'unknown',
  };
}

export interface OnnxSessionOptions {
  /** Threads one operator may use; 1 leaves the other cores to capture and MQTT. */
  threads: number;
}

/**
 * A native session of any input and output layout, with the agent's session options; for
 * models with several named inputs (the speech detector's audio, state and rate). Throws
 * (with ONNX Runtime's message) if the bytes are not a model it can run.
 */
export async function loadNativeSession(
  model: Uint8Array,
  options: OnnxSessionOptions,
): Promise<{ runtime: OrtRuntime; session: NativeSession }> {
  const runtime = await loadOnnxRuntime();
  const session = runtime.createSession();
  session.loadModel(model.buffer as ArrayBuffer, model.byteOffset, model.byteLength, {
    intraOpNumThreads: options.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    // The spinning workers would burn the core the daemon leaves to capture between windows.
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  });
  return { runtime, session };
}

/** One loaded .onnx model with a float input and a float output, run synchronously. */
export class OnnxSession {
  readonly #runtime: OrtRuntime;
  #session: NativeSession | undefined;
  readonly #input: string;
  readonly #output: string;

  private constructor(runtime: OrtRuntime, session: NativeSession) {
    this.#runtime = runtime;
    this.#session = session;
    this.#input = session.inputMetadata[0]?.name ?? '';
    this.#output = session.outputMetadata[0]?.name ?? '';
  }

  /** Throws (with ONNX Runtime's message) if the bytes are not a model it can run. */
  static async create(model: Uint8Array, options: OnnxSessionOptions): Promise<OnnxSession> {
    const { runtime, session } = await loadNativeSession(model, options);
    if (session.inputMetadata.length !== 1 || session.outputMetadata.length !== 1) {
      session.dispose();
      throw new Error(
        `the ONNX model has ${session.inputMetadata.length} inputs and ${session.outputMetadata.length} outputs; expected one of each`,
      );
    }
    return new OnnxSession(runtime, session);
  }

  get inputShape(): readonly number[] {
    return this.#session?.inputMetadata[0]?.shape ?? [];
  }

  get outputShape(): readonly number[] {
    return this.#session?.outputMetadata[0]?.shape ?? [];
  }

  /** Runs the model on a float tensor of `dims`; returns the output's values. */
  run(input: Float32Array, dims: readonly number[]): Float32Array {
    const session = this.#session;
    if (session === undefined) throw new Error('the ONNX session was disposed');
    const outputs = session.run({ [this.#input]: new this.#runtime.Tensor('float32', input, dims) }, { [this.#output]: null }, {});
    return outputs[this.#output]?.data as Float32Array;
  }

  dispose(): void {
    this.#session?.dispose();
    this.#session = undefined;
  }
}
