import { CLIP_SAMPLES, SAMPLE_RATE } from '../dsp/constants.js';
import type { Clock } from '../system/clock.js';
import { levelDbfs } from './level.js';
import { SampleBufferPool } from './sample-buffer-pool.js';

/** One cut window: its own copy of the samples, when they were heard, and how loud they were. */
export interface CapturedWindow {
  samples: Float32Array;
  /** `end` minus the window's duration. */
  start: Date;
  /** When the window's last sample arrived. */
  end: Date;
  /** RMS level in dBFS (see levelDbfs); −Infinity for digital silence. */
  levelDbfs: number;
  position: StreamPosition;
}

/**
 * Where a window sits in the sample stream: windows of one `run` (the stream between two
 * resets) are cut from contiguous samples, so two of them with the same run overlap exactly
 * as their sample counts say. The speech gate relies on it to hear overlapping audio once.
 */
export interface StreamPosition {
  /** Counts resets: samples of different runs were never contiguous. */
  run: number;
  /** Samples pushed in this run up to and including the window's last one. */
  endSample: number;
}

export interface WindowerOptions {
  sampleRate: number;
  windowSamples: number;
  /**
   * Samples from one window's start to the next one's. Smaller than windowSamples, windows
   * overlap; larger, the samples between two windows are skipped, which lowers the CPU cost
   * on slow boxes at the price of not listening all the time.
   */
  hopSamples: number;
}

/** The model's 3 s windows at 22,050 Hz every `hopSeconds`, rounded to a whole sample. */
export function modelWindowOptions(hopSeconds: number): WindowerOptions {
  const hopSamples = Math.round(hopSeconds * SAMPLE_RATE);
  if (!(hopSamples >= 1)) {
    throw new RangeError(
      `window hop ${hopSeconds} s is not usable; give a number of seconds of at least one sample (1/${SAMPLE_RATE} s), e.g. 3 or 1.5`,
    );
  }
  return { sampleRate: SAMPLE_RATE, windowSamples: CLIP_SAMPLES, hopSamples };
}

/**
 * Cuts a mono sample stream, pushed in chunks of any size, into fixed windows every hop.
 *
 * Memory is one ring of windowSamples, allocated once; each cut window is a copy, in a buffer
 * taken from `buffers`, so the ring can be overwritten while the window waits for inference.
 * Whoever is done with a window may hand its samples back with `buffers.release()` for a later
 * window to reuse; the default pool keeps none, so each window then gets a fresh array.
 *
 * Times: a chunk is stamped with the clock when pushed, which is when its last sample
 * arrived; a window ending k samples before the chunk's end therefore ended k / sampleRate
 * earlier. Counting samples within a chunk keeps windows cut from one chunk correctly spaced
 * while reading the clock once per chunk keeps them anchored to wall time (a sample count
 * alone would drift from it as the sound card's clock does).
 */
export class Windower {
  readonly #options: WindowerOptions;
  readonly #clock: Pick<Clock, 'now'>;
  readonly #ring: Float32Array;
  readonly #buffers: SampleBufferPool;
  /** Where the next sample goes; once the ring is full, also where the oldest sample is. */
  #writeIndex = 0;
  /** Samples still to arrive before the next window is complete. */
  #untilWindow: number;
  #run = 0;
  /** Samples pushed since the last reset. */
  #pushed = 0;
  /** Whether a window was cut since the last reset: #untilWindow then counts a hop, not a whole window. */
  #cutSinceReset = false;

  constructor(options: WindowerOptions, clock: Pick<Clock, 'now'>, buffers?: SampleBufferPool) {
    checkWholePositive('sampleRate', options.sampleRate);
    checkWholePositive('windowSamples', options.windowSamples);
    checkWholePositive('hopSamples', options.hopSamples);
    this.#options = { ...options };
    this.#clock = clock;
    this.#ring = new Float32Array(options.windowSamples);
    if (buffers !== undefined && buffers.length !== options.windowSamples) {
      throw new RangeError(
        `Windower: the buffer pool lends ${buffers.length} samples but windows hold ${options.windowSamples}; give it a pool of windowSamples`,
      );
    }
    this.#buffers = buffers ?? new SampleBufferPool(options.windowSamples, 0);
    this.#untilWindow = options.windowSamples;
  }

  /** The fixed number of samples held; it never changes with run time. */
  get bufferedCapacity(): number {
    return this.#ring.length;
  }

  /** Adds a chunk; returns the windows it completed, oldest first (often none). */
  push(chunk: Float32Array): CapturedWindow[] {
    const arrivedAt = this.#clock.now();
    const windows: CapturedWindow[] = [];
    let offset = 0;
    while (offset < chunk.length) {
      const take = Math.min(chunk.length - offset, this.#untilWindow);
      this.#write(chunk.subarray(offset, offset + take));
      offset += take;
      this.#pushed += take;
      this.#untilWindow -= take;
      if (this.#untilWindow === 0) {
        const samplesAfter = chunk.length - offset;
        windows.push(this.#cut(arrivedAt - (samplesAfter * 1000) / this.#options.sampleRate));
        this.#untilWindow = this.#options.hopSamples;
        this.#cutSinceReset = true;
      }
    }
    return windows;
  }

  /**
   * Forgets the samples held, for a capture restart: the next window is made only of samples
   * pushed after the reset, so audio from before a gap is never stitched to audio after it.
   */
  reset(): void {
    // The ring need not be cleared: a whole window of new samples overwrites all of it, and
    // leaves #writeIndex at the oldest of them, before the next window is cut.
    this.#untilWindow = this.#options.windowSamples;
    this.#run++;
    this.#pushed = 0;
    this.#cutSinceReset = false;
  }

  /**
   * The stream has ended (a file's last sample was pushed): the window that ends at the last
   * sample, when samples arrived after the last window was cut, so the end of a recording is
   * heard too; undefined when the last window already ends there, or when less than a whole
   * window arrived since the last reset (no window at all). It overlaps the window before it
   * (its start is off the hop grid). The windower then starts afresh, as after reset().
   */
  finish(): CapturedWindow | undefined {
    const unheard = this.#cutSinceReset && this.#untilWindow < this.#options.hopSamples;
    const last = unheard ? this.#cut(this.#clock.now()) : undefined;
    this.reset();
    return last;
  }

  /**
   * Changes the hop while samples flow (window.hopSeconds set over MQTT). The hop under way is
   * stretched or shortened to the new one, so the next window comes `hopSamples` after the last
   * (at once, if that is already past) rather than after a whole old hop.
   */
  setHop(hopSamples: number): void {
    checkWholePositive('hopSamples', hopSamples);
    if (this.#cutSinceReset) {
      this.#untilWindow = Math.max(1, this.#untilWindow + hopSamples - this.#options.hopSamples);
    }
    this.#options.hopSamples = hopSamples;
  }

  #write(samples: Float32Array): void {
    const ring = this.#ring;
    if (samples.length >= ring.length) {
      // Only reachable when the hop exceeds the window: the ring keeps the newest samples.
      ring.set(samples.subarray(samples.length - ring.length));
      this.#writeIndex = 0;
      return;
    }
    const firstPart = Math.min(samples.length, ring.length - this.#writeIndex);
    ring.set(samples.subarray(0, firstPart), this.#writeIndex);
    ring.set(samples.subarray(firstPart), 0);
    this.#writeIndex = (this.#writeIndex + samples.length) % ring.length;
  }

  /** Called only once a whole window has arrived since the last reset, so the ring is full. */
  #cut(endMs: number): CapturedWindow {
    const ring = this.#ring;
    const samples = this.#buffers.acquire();
    samples.set(ring.subarray(this.#writeIndex));
    samples.set(ring.subarray(0, this.#writeIndex), ring.length - this.#writeIndex);
    // Rounded to whole ms, which is all a Date holds; Date would truncate instead, turning a
    // float error of 1e-12 below a whole ms into a whole ms early.
    const end = Math.round(endMs);
    const start = Math.round(endMs - (ring.length * 1000) / this.#options.sampleRate);
    return {
      samples,
      start: new Date(start),
      end: new Date(end),
      levelDbfs: levelDbfs(samples),
      position: { run: this.#run, endSample: this.#pushed },
    };
  }
}

function checkWholePositive(name: keyof WindowerOptions, value: number): void {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`Windower: ${name} is ${value}; expected a whole number of at least 1`);
  }
}
