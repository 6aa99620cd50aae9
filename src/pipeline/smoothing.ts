import { EMOTIONS, type Emotion } from '../labels.js';
import type { Prediction } from '../model/runtime/classifier.js';

export const SMOOTHING_MODES = ['none', 'majority', 'mean'] as const;
export type SmoothingMode = (typeof SMOOTHING_MODES)[number];

export interface SmoothingOptions {
  /**
   * `none`: each window's own prediction. `majority`: the most frequent top-1 emotion of the
   * last `windows` predictions, ties going to the most recent of the tied emotions. `mean`:
   * the mean of their probability vectors.
   */
  mode: SmoothingMode;
  /** How many recent predictions are combined (ignored by `none`). */
  windows: number;
  /** A smoothed prediction less confident than this publishes no event. 0 publishes all. */
  minConfidence: number;
}

/**
 * Steadies the published emotion over consecutive windows, so one odd window does not flip
 * an LED or emit an event, and holds back predictions too uncertain to publish. Keeps only
 * the last `windows` predictions.
 */
export class PredictionSmoother {
  #options: SmoothingOptions;
  readonly #recent: Prediction[] = [];

  constructor(options: SmoothingOptions) {
    this.#options = checkOptions(options);
  }

  /**
   * Takes new options for the windows that come next (settings changed over MQTT). A new mode
   * or window count starts from an empty history, so that no combination of old and new rules
   * decides a window; a new minConfidence alone keeps it.
   */
  configure(options: SmoothingOptions): void {
    const next = checkOptions(options);
    if (next.mode !== this.#options.mode || next.windows !== this.#options.windows) this.reset();
    this.#options = next;
  }

  /**
   * Adds the newest window's prediction; returns the prediction to publish, or undefined when
   * its confidence is below the minimum.
   */
  push(prediction: Prediction): Prediction | undefined {
    const size = this.#options.mode === 'none' ? 1 : this.#options.windows;
    this.#recent.push(prediction);
    if (this.#recent.length > size) this.#recent.shift();
    const smoothed = this.#smoothed(prediction);
    return smoothed.confidence >= this.#options.minConfidence ? smoothed : undefined;
  }

  /** Forgets past predictions, e.g. after a capture gap, so they do not outvote new speech. */
  reset(): void {
    this.#recent.length = 0;
  }

  #smoothed(newest: Prediction): Prediction {
    switch (this.#options.mode) {
      case 'none':
        return newest;
      case 'majority':
        return majority(this.#recent);
      case 'mean':
        return mean(this.#recent);
    }
  }
}

function checkOptions(options: SmoothingOptions): SmoothingOptions {
  if (!Number.isSafeInteger(options.windows) || options.windows < 1) {
    throw new RangeError(`PredictionSmoother: windows is ${options.windows}; expected a whole number of at least 1`);
  }
  if (!(options.minConfidence >= 0 && options.minConfidence <= 1)) {
    throw new RangeError(`PredictionSmoother: minConfidence is ${options.minConfidence}; expected a number from 0 to 1`);
  }
  return { ...options };
}

/**
 * The most recent prediction among those whose emotion is the most frequent, so the result
 * stays a prediction the model really made: its confidence and probabilities agree with it.
 */
function majority(recent: readonly Prediction[]): Prediction {
  const counts = new Map<Emotion, number>();
  for (const { emotion } of recent) counts.set(emotion, (counts.get(emotion) ?? 0) + 1);
  // push() always adds before smoothing, so `recent` is never empty.
  let winner = recent.at(-1) as Prediction;
  let winnerCount = 0;
  // Newest first, and only a strictly larger count replaces the winner: among tied emotions
  // the one seen most recently wins.
  for (let i = recent.length - 1; i >= 0; i--) {
    const candidate = recent[i] as Prediction;
    const count = counts.get(candidate.emotion) ?? 0;
    if (count > winnerCount) {
      winner = candidate;
      winnerCount = count;
    }
  }
  return winner;
}

/** The mean probability vector; ties in its argmax go to the earlier emotion, as the classifier's do. */
function mean(recent: readonly Prediction[]): Prediction {
  const probabilities = Object.fromEntries(
    EMOTIONS.map((emotion) => [
      emotion,
      recent.reduce((sum, prediction) => sum + prediction.probabilities[emotion], 0) / recent.length,
    ]),
  ) as Record<Emotion, number>;
  let best: Emotion = EMOTIONS[0];
  for (const emotion of EMOTIONS) if (probabilities[emotion] > probabilities[best]) best = emotion;
  return { emotion: best, confidence: probabilities[best], probabilities };
}
