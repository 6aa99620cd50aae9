import * as tf from '@tensorflow/tfjs';
import { N_FEATURES, N_FRAMES } from '../dsp/constants.js';
import { ModelError } from '../errors.js';
import { EMOTIONS, type Emotion } from '../labels.js';
import { selectBackend, type BackendLogger, type BackendPreference } from './backend.js';
import type { ModelMetadata } from './metadata.js';
import { loadModelDir } from './model-dir.js';

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
   * Backend to select before loading (see selectBackend). Without it the model runs on
   * whichever backend TensorFlow.js already uses.
   */
  backend?: { preference: BackendPreference; logger: BackendLogger };
}

/** Runs a verified model directory on feature matrices; every tensor it makes is freed. */
export class EmotionClassifier {
  #model: tf.LayersModel | undefined;
  readonly #metadata: ModelMetadata;
  readonly #dir: string;

  private constructor(model: tf.LayersModel, metadata: ModelMetadata, dir: string) {
    this.#model = model;
    this.#metadata = metadata;
    this.#dir = dir;
  }

  /** Verifies and loads the model directory, then runs it once so the first real call is not slow. */
  static async load(dir: string, options: ClassifierLoadOptions = {}): Promise<EmotionClassifier> {
    if (options.backend !== undefined) {
      await selectBackend(options.backend.preference, options.backend.logger);
    } else {
      await tf.ready();
    }
    const { model, metadata } = await loadModelDir(dir);
    const classifier = new EmotionClassifier(model, metadata, dir);
    classifier.classify(new Float32Array(FEATURES_LENGTH));
    return classifier;
  }

  get metadata(): ModelMetadata {
    return this.#metadata;
  }

  classify(features: Float32Array): Prediction {
    const [prediction] = this.#predict([features], () => 'features');
    return prediction as Prediction;
  }

  /** One forward pass for the whole batch: much cheaper per clip than separate calls. */
  classifyBatch(batch: readonly Float32Array[]): Prediction[] {
    if (batch.length === 0) return [];
    return this.#predict(batch, (index) => `batch[${index}]`);
  }

  /** Frees the model's weights; the classifier cannot be used afterwards. */
  dispose(): void {
    this.#model?.dispose();
    this.#model = undefined;
  }

  #predict(batch: readonly Float32Array[], nameOf: (index: number) => string): Prediction[] {
    const model = this.#model;
    if (model === undefined) {
      throw new ModelError(`the classifier for ${this.#dir} was disposed; load the model again`);
    }
    const input = new Float32Array(batch.length * FEATURES_LENGTH);
    batch.forEach((features, index) => {
      checkFeatures(features, nameOf(index));
      input.set(features, index * FEATURES_LENGTH);
    });
    const probabilities = tf.tidy(() => {
      const output = model.predict(tf.tensor3d(input, [batch.length, N_FRAMES, N_FEATURES])) as tf.Tensor;
      return output.dataSync() as Float32Array;
    });
    return batch.map((_, index) => toPrediction(probabilities.subarray(index * EMOTIONS.length, (index + 1) * EMOTIONS.length)));
  }
}

function checkFeatures(features: Float32Array, name: string): void {
  if (features.length !== FEATURES_LENGTH) {
    throw new RangeError(
      `${name} has ${features.length} values; expected ${FEATURES_LENGTH} (${N_FRAMES} frames x ${N_FEATURES} features, row-major)`,
    );
  }
  const bad = features.findIndex((value) => !Number.isFinite(value));
  if (bad !== -1) {
    throw new RangeError(`${name}[${bad}] is ${features[bad]}; features must be finite numbers`);
  }
}

function toPrediction(row: Float32Array): Prediction {
  let best = 0;
  for (let i = 1; i < row.length; i++) if ((row[i] as number) > (row[best] as number)) best = i;
  const probabilities = Object.fromEntries(EMOTIONS.map((emotion, i) => [emotion, row[i] as number])) as Record<
    Emotion,
    number
  >;
  return { emotion: EMOTIONS[best] as Emotion, confidence: row[best] as number, probabilities };
}
