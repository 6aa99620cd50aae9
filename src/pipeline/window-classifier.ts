import { RunningBandStatistics, type BandStatistics } from '../dsp/band-statistics.js';
import { prepareClip } from '../dsp/clip.js';
import { CLIP_SAMPLES } from '../dsp/constants.js';
import type { FeatureExtractor } from '../dsp/features.js';
import { SpeechDetectionError } from '../errors.js';
import { FEATURES_LENGTH, type Prediction } from '../model/runtime/classifier.js';
import type { WindowSpeechMeter } from '../speech/speech-track.js';
import { systemClock, type Clock } from '../system/clock.js';
import type { StreamPosition } from './windower.js';

/** What the daemon needs of a classifier; EmotionClassifier is one. */
export interface FeatureClassifier {
  /** `voice`: the statistics of the voice heard so far, for a model with the `speaker` front-end. */
  classify(features: Float32Array, voice?: BandStatistics): Prediction;
  /** Where a voice's statistics start; set only for a model with the `speaker` front-end. */
  readonly trainingStatistics?: BandStatistics | undefined;
}

/** The speech gate: windows with less speech than `minSpeechRatio` get no emotion. */
export interface SpeechGate {
  meter: WindowSpeechMeter;
  /** 0 to 1 (window.minSpeechRatio); above 0, since 0 means no gate at all. */
  minSpeechRatio: number;
}

export interface TimedPrediction {
  outcome: 'classified';
  prediction: Prediction;
  /** Milliseconds from samples to prediction: clip preparation, features and the model. */
  inferenceMs: number;
  /** Share of the window that is speech; null when the speech gate is off. */
  speechRatio: number | null;
}

/** A window the speech gate turned away: loud enough, but too little of it is speech. */
export interface NonSpeechWindow {
  outcome: 'non_speech';
  speechRatio: number;
}

export type WindowResult = TimedPrediction | NonSpeechWindow;

/**
 * The inference for one window, exactly as `ser-agent classify` does it for each window of a file: the
 * speech gate (when configured), then prepareClip, FeatureExtractor.extract, classify. The
 * time covers the last three, since together they decide whether the worker keeps up with
 * the windows, on the clock's monotonic scale, injected so tests can fix the durations.
 */
export class WindowClassifier {
  readonly #extractor: FeatureExtractor;
  readonly #classifier: FeatureClassifier;
  readonly #speechGate: SpeechGate | undefined;
  readonly #clock: Pick<Clock, 'monotonic'>;
  /** Reused for every window: classify copies the features into its input tensor. */
  readonly #features = new Float32Array(FEATURES_LENGTH);
  /** Reused for every window: the features are computed from it before the next one comes. */
  readonly #clip = new Float32Array(CLIP_SAMPLES);
  /** What the windows classified so far say of the voice and the room; for a `speaker` front-end model only. */
  #voice: RunningBandStatistics | undefined;

  constructor(
    extractor: FeatureExtractor,
    classifier: FeatureClassifier,
    options: { speechGate?: SpeechGate; clock?: Pick<Clock, 'monotonic'> } = {},
  ) {
    const gate = options.speechGate;
    if (gate !== undefined && !(gate.minSpeechRatio > 0 && gate.minSpeechRatio <= 1)) {
      throw new RangeError(
        `WindowClassifier: minSpeechRatio ${gate.minSpeechRatio} is not usable; expected a share above 0 and at most 1, e.g. 0.3 (leave the gate out to classify every window)`,
      );
    }
    this.#extractor = extractor;
    this.#classifier = classifier;
    this.#speechGate = gate;
    this.#clock = options.clock ?? systemClock;
    this.newVoice();
  }

  /**
   * Forgets what was learnt of the voice: the next window starts again from the model's
   * training statistics. Each recording `classify` hears is its own voice.
   */
  newVoice(): void {
    const prior = this.#classifier.trainingStatistics;
    this.#voice = prior === undefined ? undefined : new RunningBandStatistics(prior);
  }

  /**
   * `samples` at the model's rate, 22,050 Hz: a daemon window, with its `position` in the
   * stream so the speech gate hears overlapping audio once, or a whole file of one window or less.
   */
  classify(samples: Float32Array, position?: StreamPosition): WindowResult {
    let speechRatio: number | null = null;
    if (this.#speechGate !== undefined) {
      let ratio: number;
      try {
        ratio = this.#speechGate.meter.speechRatio(samples, position);
      } catch (error) {
        throw new SpeechDetectionError(error);
      }
      if (ratio < this.#speechGate.minSpeechRatio) return { outcome: 'non_speech', speechRatio: ratio };
      speechRatio = ratio;
    }
    const started = this.#clock.monotonic();
    const features = this.#extractor.extract(prepareClip(samples, this.#clip), this.#features);
    // Only windows that reach the model teach it the voice: silence and noise would not.
    this.#voice?.add(features);
    const prediction = this.#classifier.classify(features, this.#voice?.current());
    return { outcome: 'classified', prediction, inferenceMs: this.#clock.monotonic() - started, speechRatio };
  }
}
