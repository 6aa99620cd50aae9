import { N_FEATURES, N_FRAMES } from '../../dsp/constants.js';
import { BandStatistics } from '../../dsp/band-statistics.js';
import { applyFrontEnd } from '../../dsp/front-end.js';
import { ModelError } from '../../errors.js';
import { EMOTIONS, type Emotion } from '../../labels.js';
import { applyCalibration } from './calibration.js';
import {
  selectBackend,
  type BackendLogger,
  type BackendName,
  type BackendPreference,
  type OnnxFormatPreference,
} from './backend.js';
import type { ModelMetadata, OnnxWeightsDtype } from '../artifact/metadata.js';
import { type InferenceEngine } from './inference-engine.js';
import { ONNX_FILES } from '../artifact/onnx-files.js';
import { verifyModelDir, type VerifiedModelDir } from '../artifact/store.js';
import { OnnxEngine } from './onnx-engine.js';

/** Values in one clip's feature matrix: N_FRAMES rows of N_FEATURES, row-major. */
export const FEATURES_LENGTH = N_FRAMES * N_FEATURES;

export interface Prediction {
  emotion: Emotion;
  /** The probability of `emotion`, the largest of `probabilities`. */
  confidence: number;
  probabilities: Record<Emotion, number>;
}

export interface ClassifierLoadOptions {
  /**
   * Backend to select (see selectBackend). Without it the model runs on whichever backend
   * TensorFlow.js already uses.
   */
  backend?: {
    preference: BackendPreference;
    logger: BackendLogger;
    /** Threads per operator for onnxruntime; default 1. */
    threads?: number;
    /** Which ONNX file onnxruntime runs; default auto (int8 if present). */
    onnxFormat?: OnnxFormatPreference;
  };
}

/** What actually computes the probabilities. */
export interface ClassifierRuntime {
  backend: BackendName;
  /** Set when onnxruntime runs: which of the directory's ONNX files. */
  onnxDtype?: OnnxWeightsDtype;
}

/** Runs a verified model directory on feature matrices; every tensor it makes is freed. */
export class EmotionClassifier {
  #engine: InferenceEngine | undefined;
  readonly #metadata: ModelMetadata;
  readonly #dir: string;
  readonly #runtime: ClassifierRuntime;
  readonly #trainingStatistics: BandStatistics | undefined;

  private constructor(engine: InferenceEngine, metadata: ModelMetadata, dir: string, runtime: ClassifierRuntime) {
    this.#engine = engine;
    this.#metadata = metadata;
    this.#dir = dir;
    this.#runtime = runtime;
    this.#trainingStatistics = metadata.bandStatistics === undefined ? undefined : BandStatistics.fromRecord(metadata.bandStatistics);
  }

  /**
   * Verifies the model directory (every file, both formats), selects the backend and loads
   * the model on it, then runs it once so the first real call is not slow.
   */
  static async load(dir: string, options: ClassifierLoadOptions = {}): Promise<EmotionClassifier> {
    return EmotionClassifier.fromVerified(await verifyModelDir(dir), options);
  }

  /**
   * Loads an already verified model directory (see load), from the bytes that were verified:
   * a directory changed since cannot slip other files in.
   */
  static async fromVerified(verified: VerifiedModelDir, options: ClassifierLoadOptions = {}): Promise<EmotionClassifier> {
    const { engine, runtime } = await openEngine(verified, options);
    const classifier = new EmotionClassifier(engine, verified.metadata, verified.dir, runtime);
    classifier.classify(new Float32Array(FEATURES_LENGTH));
    return classifier;
  }

  get metadata(): ModelMetadata {
    return this.#metadata;
  }

  get runtime(): ClassifierRuntime {
    return this.#runtime;
  }

  /**
   * The training speakers' band statistics, which a voice's running statistics start from;
   * undefined unless the model's front-end is `speaker`.
   */
  get trainingStatistics(): BandStatistics | undefined {
    return this.#trainingStatistics;
  }

  /**
   * `voice`: the band statistics of the voice the features are from, for a model with the
   * `speaker` front-end (the training statistics without it); other models ignore it.
   */
  classify(features: Float32Array, voice?: BandStatistics): Prediction {
    const [prediction] = this.#predict([features], () => 'features', () => voice);
    return prediction as Prediction;
  }

  /**
   * One forward pass for the whole batch: much cheaper per clip than separate calls. `voices`
   * gives each clip's voice statistics, as for classify.
   */
  classifyBatch(batch: readonly Float32Array[], voices?: readonly BandStatistics[]): Prediction[] {
    if (batch.length === 0) return [];
    return this.#predict(batch, (index) => `batch[${index}]`, (index) => voices?.[index]);
  }

  /** Live TensorFlow.js tensors, for the health report; none when onnxruntime runs the model. */
  liveTensors(): number {
    return this.#engine?.tensorCount?.() ?? 0;
  }

  /** Frees the model; the classifier cannot be used afterwards. */
  dispose(): void {
    this.#engine?.dispose();
    this.#engine = undefined;
  }

  #predict(
    batch: readonly Float32Array[],
    nameOf: (index: number) => string,
    voiceAt: (index: number) => BandStatistics | undefined,
  ): Prediction[] {
    const engine = this.#engine;
    if (engine === undefined) {
      throw new ModelError(`the classifier for ${this.#dir} was disposed; load the model again`);
    }
    const input = new Float32Array(batch.length * FEATURES_LENGTH);
    const frontEnd = this.#metadata.frontEnd ?? 'seed';
    batch.forEach((features, index) => {
      checkFeatures(features, nameOf(index));
      input.set(features, index * FEATURES_LENGTH);
      // The model's own normalisation, so every caller (daemon, classify, evaluate) passes the
      // seed features and gets what the model was trained on.
      const clip = input.subarray(index * FEATURES_LENGTH, (index + 1) * FEATURES_LENGTH);
      applyFrontEnd(frontEnd, clip, voiceAt(index) ?? this.#trainingStatistics);
    });
    const probabilities = engine.run(input, batch.length);
    return batch.map((_, index) => this.#toPrediction(probabilities.subarray(index * EMOTIONS.length, (index + 1) * EMOTIONS.length)));
  }

  /** The one place the network's probabilities become a Prediction, whatever the backend. */
  #toPrediction(row: Float32Array): Prediction {
    // Calibrated confidences (temperature scaling) are what the daemon's threshold compares against.
    return toPrediction(applyCalibration(row, this.#metadata.temperature ?? 1, this.#metadata.classBias));
  }
}

/**
 * The engine the selected backend runs. `auto` takes onnxruntime when the directory has an
 * ONNX file and the native binary loads; if ONNX Runtime then refuses the model, `auto`
 * logs why and continues with TensorFlow.js rather than failing.
 */
async function openEngine(
  verified: VerifiedModelDir,
  options: ClassifierLoadOptions,
): Promise<{ engine: InferenceEngine; runtime: ClassifierRuntime }> {
  const backend = options.backend;
  if (backend === undefined) {
    const { TfjsEngine, activeTfjsBackend } = await import('./tfjs-engine.js');
    return { engine: await TfjsEngine.open(verified), runtime: { backend: activeTfjsBackend() } };
  }
  const onnx = chooseOnnxFile(verified, backend.onnxFormat ?? 'auto');
  let selection = await selectBackend(backend.preference, backend.logger, {
    onnxModel: onnx.dtype === undefined ? { available: false, reason: onnx.reason } : { available: true },
  });
  if (selection.name === 'onnxruntime' && onnx.dtype !== undefined) {
    const threads = backend.threads ?? 1;
    try {
      const engine = await OnnxEngine.create(onnx.bytes, threads);
      backend.logger.info({ backend: 'onnxruntime', onnxDtype: onnx.dtype, file: ONNX_FILES[onnx.dtype], threads }, 'onnxruntime runs the model');
      return { engine, runtime: { backend: 'onnxruntime', onnxDtype: onnx.dtype } };
    } catch (error) {
      const reason = `ONNX Runtime cannot run ${ONNX_FILES[onnx.dtype]}: ${(error as Error).message}`;
      if (backend.preference !== 'auto') throw new ModelError(`${verified.dir}: ${reason}; re-export it with \`ser-agent export-onnx\` or choose another backend`);
      backend.logger.warn({ backend: 'onnxruntime', reason }, 'skipping the onnxruntime backend');
      selection = await selectBackend('auto', backend.logger, { onnxModel: { available: false, reason } });
    }
  }
  // Imported only now, so that a model onnxruntime runs never loads TensorFlow.js.
  const { TfjsEngine } = await import('./tfjs-engine.js');
  return { engine: await TfjsEngine.open(verified), runtime: { backend: selection.name } };
}

function chooseOnnxFile(
  verified: VerifiedModelDir,
  format: OnnxFormatPreference,
): { dtype: OnnxWeightsDtype; bytes: Uint8Array } | { dtype?: undefined; reason: string } {
  const order: OnnxWeightsDtype[] = format === 'auto' ? ['int8', 'float32'] : [format];
  for (const dtype of order) {
    const bytes = verified.onnx.get(dtype);
    if (bytes !== undefined) return { dtype, bytes };
  }
  const wanted = order.map((dtype) => ONNX_FILES[dtype]).join(' or ');
  return { reason: `the model directory ${verified.dir} has no ${wanted}; write it with \`ser-agent export-onnx --model ${verified.dir}\`` };
}

function checkFeatures(features: Float32Array, name: string): void {
  if (features.length !== FEATURES_LENGTH) {
    throw new RangeError(
      `${name} has ${features.length} values; expected ${FEATURES_LENGTH} (${N_FRAMES} frames x ${N_FEATURES} features, row-major)`,
    );
  }
  // A plain loop: this runs over 21,840 values per window, and findIndex's call per value
  // stood out in the daemon's CPU profile.
  for (let index = 0; index < features.length; index++) {
    const value = features[index] as number;
    if (!Number.isFinite(value)) throw new RangeError(`${name}[${index}] is ${value}; features must be finite numbers`);
  }
}

function toPrediction(row: Float64Array): Prediction {
  let best = 0;
  for (let i = 1; i < row.length; i++) if ((row[i] as number) > (row[best] as number)) best = i;
  const probabilities = Object.fromEntries(EMOTIONS.map((emotion, i) => [emotion, row[i] as number])) as Record<
    Emotion,
    number
  >;
  return { emotion: EMOTIONS[best] as Emotion, confidence: row[best] as number, probabilities };
}
