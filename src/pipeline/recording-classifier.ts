import { CLIP_SAMPLES } from '../dsp/constants.js';
import { levelDbfs } from './level.js';
import { SampleBufferPool } from './sample-buffer-pool.js';
import { SilenceGate } from './silence.js';
import type { WindowResult } from './window-classifier.js';
import { modelWindowOptions, Windower, type StreamPosition } from './windower.js';

/** A window the level gate turned away: quieter than window.silenceDbfs, never heard by the speech gate or the model. */
export interface SilentWindow {
  outcome: 'silent';
}

/** One window of a recording and what the daemon's gates and model made of it. */
export interface RecordingWindow {
  /** The window's first sample in the recording (at SAMPLE_RATE, 22,050 Hz), and one past its last. */
  startSample: number;
  endSample: number;
  /** RMS level in dBFS; −Infinity for digital silence. */
  levelDbfs: number;
  result: WindowResult | SilentWindow;
}

export interface RecordingClassifierOptions {
  /** window.hopSeconds: seconds from one window's start to the next one's. */
  hopSeconds: number;
  /** window.silenceDbfs: quieter windows are silent. */
  silenceDbfs: number;
}

/** What RecordingClassifier needs of the speech gate and the model; WindowClassifier is one. */
export interface GatedClassifier {
  classify(samples: Float32Array, position?: StreamPosition): WindowResult;
  /** Starts learning a new voice (see WindowClassifier.newVoice). */
  newVoice(): void;
}

/**
 * A whole recording heard as the daemon hears a microphone: cut into 3 s windows every
 * `hopSeconds` by the daemon's Windower, each window through its level gate (SilenceGate) and
 * then the speech gate and model (WindowClassifier), in order. The only additions are at the
 * edges of a finite recording: the end is heard by one more window ending at the last sample
 * (Windower.finish), and a recording of one window or less is one window of what there is,
 * heard on its own and zero-padded by the model's clip preparation, exactly as `classify`
 * has always heard a file's first 3 s.
 *
 * Each recording is a new run of the windower, so the speech gate, which hears the windows of
 * one run as one stream, never carries one recording's audio into the next.
 */
export class RecordingClassifier {
  readonly #classifier: GatedClassifier;
  readonly #silence: SilenceGate;
  readonly #windower: Windower;
  /** One buffer, reused: each window is classified before the next one is cut. */
  readonly #buffers = new SampleBufferPool(CLIP_SAMPLES, 1);
  readonly #hopSamples: number;

  constructor(classifier: GatedClassifier, options: RecordingClassifierOptions) {
    const windowOptions = modelWindowOptions(options.hopSeconds);
    this.#classifier = classifier;
    this.#silence = new SilenceGate(options.silenceDbfs);
    // The clock dates windows for events; here a window's place is its sample position.
    this.#windower = new Windower(windowOptions, { now: () => 0 }, this.#buffers);
    this.#hopSamples = windowOptions.hopSamples;
  }

  /**
   * The windows of `samples` (mono, at SAMPLE_RATE), in order, each classified or turned away
   * as it is reached; a generator, so a long recording's results can be shown as they come.
   */
  *windows(samples: Float32Array): Generator<RecordingWindow> {
    this.#classifier.newVoice();
    if (samples.length <= CLIP_SAMPLES) {
      yield this.#shortRecording(samples);
      return;
    }
    this.#windower.reset();
    // A hop at a time: each push completes at most one window, so one buffer serves them all.
    for (let offset = 0; offset < samples.length; offset += this.#hopSamples) {
      const chunk = samples.subarray(offset, Math.min(samples.length, offset + this.#hopSamples));
      for (const window of this.#windower.push(chunk)) yield this.#judge(window.samples, window.levelDbfs, window.position);
    }
    const last = this.#windower.finish();
    if (last !== undefined) yield this.#judge(last.samples, last.levelDbfs, last.position);
  }

  /** The daemon's order: the level gate, then the speech gate and the model. */
  #judge(samples: Float32Array, level: number, position: StreamPosition): RecordingWindow {
    try {
      const window = { startSample: position.endSample - samples.length, endSample: position.endSample, levelDbfs: level };
      if (!this.#silence.admit({ levelDbfs: level })) return { ...window, result: { outcome: 'silent' } };
      return { ...window, result: this.#classifier.classify(samples, position) };
    } finally {
      this.#buffers.release(samples);
    }
  }

  /** A window or shorter: one window of all of it, heard on its own (no position), as `classify` always heard a file's first 3 s. */
  #shortRecording(samples: Float32Array): RecordingWindow {
    const level = levelDbfs(samples);
    const window = { startSample: 0, endSample: samples.length, levelDbfs: level };
    if (!this.#silence.admit({ levelDbfs: level })) return { ...window, result: { outcome: 'silent' } };
    return { ...window, result: this.#classifier.classify(samples) };
  }
}

