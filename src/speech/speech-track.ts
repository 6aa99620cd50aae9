import type { StreamPosition } from '../pipeline/windower.js';
import { CHUNK_SAMPLES, SPEECH_PROBABILITY_THRESHOLD, toDetectorRate, VAD_SAMPLE_RATE, type SpeechDetector, type SpeechStream } from './speech-detector.js';

/** What the speech gate asks of its meter; SpeechTrack is one. */
export interface WindowSpeechMeter {
  /** The share (0-1) of the window's 32 ms chunks that are speech. */
  speechRatio(samples: Float32Array, position?: StreamPosition): number;
}

/**
 * 16 kHz samples kept clear of each edge of a resampled stretch: there the lowpass (25 input
 * samples either side for the detector's design) saw zeros instead of the audio beyond.
 */
const EDGE_SAMPLES = 64;
/** Chunks whose verdicts are kept: more than one window's 94, so a window finds all of its own. */
const HEARD_CHUNKS = 256;

function greatestCommonDivisor(a: number, b: number): number {
  let x = a;
  let y = b;
  while (y !== 0) [x, y] = [y, x % y];
  return x;
}

/**
 * The speech gate's meter for windows that overlap: each stretch of audio is heard once.
 *
 * At hop 1 s every second of sound lies in three windows; judging each window from scratch
 * made the detector three times as expensive as it needs to be (the gate added 4.5 points of
 * a core to the daemon at hop 1 s). Instead the windows of one run (see StreamPosition) are
 * heard as the stream they come from, as Silero VAD is meant to run: chunks on one 16 kHz grid
 * counted from the run's first sample, the detector's state carried from chunk to chunk, and
 * each chunk's verdict kept for the later windows that hold it. A window's ratio is taken over
 * the chunks that lie wholly inside it, away from its edges.
 *
 * A window without a position, on another run, after a gap (windows dropped by the inference
 * queue) or whose start is not on the grid (a hop that is not a whole number of 441 samples)
 * is heard on its own, from a fresh state.
 */
export class SpeechTrack implements WindowSpeechMeter {
  readonly #detector: Pick<SpeechDetector, 'stream' | 'speechRatio'>;
  readonly #sampleRate: number;
  /** Input samples to a whole number (#gridOutputs) of 16 kHz samples: 441 to 320 from 22,050 Hz. */
  readonly #gridInputs: number;
  readonly #gridOutputs: number;
  #run: number | undefined;
  #stream: SpeechStream | undefined;
  /** Chunk index (on the run's grid) of the first chunk heard in this run, and of the next one to hear. */
  #firstHeard = 0;
  #nextChunk = 0;
  /** 1 for speech, 0 for not, by chunk index modulo its length. */
  readonly #heard = new Uint8Array(HEARD_CHUNKS);

  constructor(detector: Pick<SpeechDetector, 'stream' | 'speechRatio'>, sampleRate: number) {
    this.#detector = detector;
    this.#sampleRate = sampleRate;
    const divisor = greatestCommonDivisor(sampleRate, VAD_SAMPLE_RATE);
    this.#gridInputs = sampleRate / divisor;
    this.#gridOutputs = VAD_SAMPLE_RATE / divisor;
  }

  speechRatio(samples: Float32Array, position?: StreamPosition): number {
    const startSample = position === undefined ? -1 : position.endSample - samples.length;
    if (position === undefined || startSample < 0 || startSample % this.#gridInputs !== 0) {
      return this.#detector.speechRatio(samples, this.#sampleRate);
    }
    const start16 = (startSample / this.#gridInputs) * this.#gridOutputs;
    const end16 = start16 + (samples.length / this.#gridInputs) * this.#gridOutputs;
    /** The window's chunks: [firstChunk, endChunk) lie inside it, clear of its edges. */
    const firstChunk = Math.ceil((start16 + EDGE_SAMPLES) / CHUNK_SAMPLES);
    const endChunk = Math.floor((end16 - EDGE_SAMPLES) / CHUNK_SAMPLES);
    if (endChunk - firstChunk > HEARD_CHUNKS) return this.#detector.speechRatio(samples, this.#sampleRate);
    const continues =
      this.#stream !== undefined &&
      position.run === this.#run &&
      this.#firstHeard <= firstChunk &&
      this.#nextChunk >= firstChunk &&
      // The verdicts this window needs are still kept.
      this.#nextChunk - firstChunk <= HEARD_CHUNKS;
    if (!continues) {
      this.#run = position.run;
      this.#stream = this.#detector.stream();
      this.#firstHeard = firstChunk;
      this.#nextChunk = firstChunk;
    }
    this.#hear(samples, start16, endChunk);
    let speech = 0;
    for (let chunk = firstChunk; chunk < endChunk; chunk++) speech += this.#heard[chunk % HEARD_CHUNKS] as number;
    return endChunk > firstChunk ? speech / (endChunk - firstChunk) : 0;
  }

  /** Hears the chunks from #nextChunk up to `endChunk`, resampling only the part of the window they need. */
  #hear(samples: Float32Array, start16: number, endChunk: number): void {
    const stream = this.#stream;
    if (stream === undefined || this.#nextChunk >= endChunk) return;
    // From one grid step (20 ms) before the first new chunk, on the grid, so the resampled
    // samples fall on the run's 16 kHz grid with the lowpass's reach of real audio before them.
    const firstNew16 = this.#nextChunk * CHUNK_SAMPLES - start16;
    const steps = Math.max(0, Math.floor(firstNew16 / this.#gridOutputs) - 1);
    const audio = toDetectorRate(samples.subarray(steps * this.#gridInputs), this.#sampleRate);
    const audioStart16 = start16 + steps * this.#gridOutputs;
    for (; this.#nextChunk < endChunk; this.#nextChunk++) {
      const from = this.#nextChunk * CHUNK_SAMPLES - audioStart16;
      const probability = stream.next(audio.subarray(from, from + CHUNK_SAMPLES));
      this.#heard[this.#nextChunk % HEARD_CHUNKS] = probability >= SPEECH_PROBABILITY_THRESHOLD ? 1 : 0;
    }
  }
}
