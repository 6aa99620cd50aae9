import { readFile } from 'node:fs/promises';
import { type LowpassDesign } from '../audio/lowpass-kernel.js';
import { resampleSync } from '../audio/resample.js';
import { describeError, ModelError } from '../errors.js';
import { loadNativeSession, type NativeSession, type NativeTensor, type OrtRuntime } from '../model/runtime/onnx-session.js';

/**
 * Silero VAD (https://github.com/snakers4/silero-vad, MIT) run by onnxruntime-node: how much
 * of a stretch of audio is speech. The calling convention is upstream's OnnxWrapper
 * (src/silero_vad/utils_vad.py), the same for the v5 and v6 models: at 16 kHz, each call
 * takes 512 new samples (32 ms) behind the last 64 samples of the previous call, plus the
 * recurrent state [2, 1, 128] it returned and the rate as an int64 scalar; it returns the
 * chunk's speech probability and the next state.
 */
export const VAD_SAMPLE_RATE = 16_000;
export const CHUNK_SAMPLES = 512;
const CONTEXT_SAMPLES = 64;
const STATE_DIMS = [2, 1, 128] as const;
const STATE_LENGTH = STATE_DIMS[0] * STATE_DIMS[1] * STATE_DIMS[2];
const INPUTS = ['input', 'state', 'sr'] as const;
const OUTPUTS = ['output', 'stateN'] as const;
/** Upstream's default threshold (get_speech_timestamps): a chunk at or above it is speech. */
export const SPEECH_PROBABILITY_THRESHOLD = 0.5;
/**
 * The lowpass for resampling to the detector. The soxr HQ filter that the emotion features
 * need (263 taps from 22,050 Hz) made up two thirds of the gate's cost; a detector needs far
 * less: speech lies mostly below 4 kHz, and upstream's read_audio resamples with torchaudio's
 * default Resample, a Hann-windowed sinc of 6 zero crossings a side. 60 dB of rejection
 * from 6.4 kHz to the 8 kHz Nyquist takes 50 taps.
 */
const DETECTOR_RESAMPLING: Readonly<LowpassDesign> = Object.freeze({
  passbandEnd: 0.8,
  stopbandBegin: 1.0,
  stopbandRejectionDb: 60,
});
/** One onnxruntime thread: the detector runs between emotion inferences, on the same core. */
const THREADS = 1;

/** `samples` at the detector's rate, resampled with its lowpass when they are not. */
export function toDetectorRate(samples: Float32Array, sampleRate: number): Float32Array {
  return sampleRate === VAD_SAMPLE_RATE ? samples : resampleSync(samples, sampleRate, VAD_SAMPLE_RATE, DETECTOR_RESAMPLING);
}

/** One run of 16 kHz audio through the detector, chunk after chunk; SpeechDetector.stream makes one. */
export interface SpeechStream {
  /** The speech probability of the next 512 samples (fewer are zero-padded). */
  next(chunk: Float32Array): number;
}

export class SpeechDetector {
  readonly #runtime: OrtRuntime;
  #session: NativeSession | undefined;
  readonly #rate: NativeTensor;
  readonly #fetches = { output: null, stateN: null };

  private constructor(runtime: OrtRuntime, session: NativeSession) {
    this.#runtime = runtime;
    this.#session = session;
    this.#rate = new runtime.Tensor('int64', BigInt64Array.of(BigInt(VAD_SAMPLE_RATE)), []);
  }

  /**
   * Loads a Silero VAD ONNX file (the shipped one is models/silero-vad/silero_vad_16k_op15.onnx).
   * Throws a ModelError naming the file, what is wrong and the fix.
   */
  static async load(file: string): Promise<SpeechDetector> {
    const fix = 'set window.speechModel to a Silero VAD v5 or v6 ONNX file, or window.minSpeechRatio to 0 to turn the speech gate off';
    let bytes: Uint8Array;
    try {
      bytes = await readFile(file);
    } catch (error) {
      throw new ModelError(`speech model ${file} cannot be read (${describeError(error)}); ${fix}`, { cause: error });
    }
    let loaded: { runtime: OrtRuntime; session: NativeSession };
    try {
      loaded = await loadNativeSession(bytes, { threads: THREADS });
    } catch (error) {
      throw new ModelError(`speech model ${file} does not load in ONNX Runtime (${describeError(error)}); ${fix}`, { cause: error });
    }
    const { runtime, session } = loaded;
    const inputs = session.inputMetadata.map((input) => input.name);
    const outputs = session.outputMetadata.map((output) => output.name);
    if (JSON.stringify(inputs) !== JSON.stringify(INPUTS) || JSON.stringify(outputs) !== JSON.stringify(OUTPUTS)) {
      session.dispose();
      throw new ModelError(
        `speech model ${file} takes [${inputs.join(', ')}] and gives [${outputs.join(', ')}]; ` +
          `a Silero VAD model takes [${INPUTS.join(', ')}] and gives [${OUTPUTS.join(', ')}]; ${fix}`,
      );
    }
    return new SpeechDetector(runtime, session);
  }

  /** A stream from a fresh state and zero context, as upstream's reset_states leaves them. */
  stream(): SpeechStream {
    // The context (the previous chunk's last 64 samples) then the new samples, as the model takes them.
    const input = new Float32Array(CONTEXT_SAMPLES + CHUNK_SAMPLES);
    const state = new Float32Array(STATE_LENGTH);
    return {
      next: (chunk) => {
        input.copyWithin(0, CHUNK_SAMPLES);
        input.set(chunk.subarray(0, CHUNK_SAMPLES), CONTEXT_SAMPLES);
        input.fill(0, CONTEXT_SAMPLES + Math.min(chunk.length, CHUNK_SAMPLES));
        return this.#run(input, state);
      },
    };
  }

  /** Runs the model on one context + chunk; `state` is read and replaced by the next one. */
  #run(input: Float32Array, state: Float32Array): number {
    const session = this.#session;
    if (session === undefined) throw new Error('the speech detector was disposed');
    const { Tensor } = this.#runtime;
    const outputs = session.run(
      { input: new Tensor('float32', input, [1, input.length]), state: new Tensor('float32', state, STATE_DIMS), sr: this.#rate },
      this.#fetches,
      {},
    );
    state.set(outputs['stateN']?.data as Float32Array);
    return (outputs['output']?.data as Float32Array)[0] as number;
  }

  /**
   * The speech probability of each 32 ms chunk of `samples` (resampled to 16 kHz), the last
   * chunk zero-padded as upstream's audio_forward pads it. Each call starts from a fresh state,
   * so calls never influence each other.
   */
  speechProbabilities(samples: Float32Array, sampleRate: number): Float32Array {
    const audio = toDetectorRate(samples, sampleRate);
    const probabilities = new Float32Array(Math.ceil(audio.length / CHUNK_SAMPLES));
    const stream = this.stream();
    for (let index = 0; index < probabilities.length; index++) {
      probabilities[index] = stream.next(audio.subarray(index * CHUNK_SAMPLES));
    }
    return probabilities;
  }

  /** The share (0-1) of 32 ms chunks of `samples` that are speech. */
  speechRatio(samples: Float32Array, sampleRate: number): number {
    const probabilities = this.speechProbabilities(samples, sampleRate);
    if (probabilities.length === 0) return 0;
    let speech = 0;
    for (const probability of probabilities) if (probability >= SPEECH_PROBABILITY_THRESHOLD) speech++;
    return speech / probabilities.length;
  }

  dispose(): void {
    this.#session?.dispose();
    this.#session = undefined;
  }
}
