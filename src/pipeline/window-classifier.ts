import { prepareClip } from '../dsp/clip.js';
import { CLIP_SAMPLES } from '../dsp/constants.js';
import type { FeatureExtractor } from '../dsp/features.js';
import { FEATURES_LENGTH, type Prediction } from '../model/classifier.js';

/** What the daemon needs of a classifier; EmotionClassifier is one. */
export interface FeatureClassifier {
  classify(features: Float32Array): Prediction;
}

export interface TimedPrediction {
  prediction: Prediction;
  /** Milliseconds from samples to prediction: clip preparation, features and the model. */
  inferenceMs: number;
}

/**
 * The inference for one window, exactly as `ser-agent classify` does it for a file:
 * prepareClip, FeatureExtractor.extract, classify. The time covers all three, since together
 * they decide whether the worker keeps up with the windows. `now` is a monotonic clock in
 * ms (performance.now in production), injected so tests can fix the durations.
 */
export class WindowClassifier {
  readonly #extractor: FeatureExtractor;
  readonly #classifier: FeatureClassifier;
  readonly #now: () => number;
  /** Reused for every window: classify copies the features into its input tensor. */
  readonly #features = new Float32Array(FEATURES_LENGTH);
  /** Reused for every window: the features are computed from it before the next one comes. */
  readonly #clip = new Float32Array(CLIP_SAMPLES);

  constructor(extractor: FeatureExtractor, classifier: FeatureClassifier, now: () => number = () => performance.now()) {
    this.#extractor = extractor;
    this.#classifier = classifier;
    this.#now = now;
  }

  classify(samples: Float32Array): TimedPrediction {
    const started = this.#now();
    const features = this.#extractor.extract(prepareClip(samples, this.#clip), this.#features);
    const prediction = this.#classifier.classify(features);
    return { prediction, inferenceMs: this.#now() - started };
  }
}
