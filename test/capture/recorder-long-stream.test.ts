import { mkdtemp, open, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAudio } from '../../src/audio/load-clip.js';
import type { AudioSink, CaptureState } from '../../src/capture/audio-source.js';
import { RecorderSource } from '../../src/capture/recorder-source.js';
import { SAMPLE_RATE } from '../../src/dsp/constants.js';
import { modelWindowOptions, Windower } from '../../src/pipeline/windower.js';
import { type AlsaReplay, createAlsaReplay, encodeS16le } from '../helpers/alsa.js';
import { captureLogs } from '../helpers/logs.js';
import { goldenWavPath } from '../helpers/golden.js';
import { ManualClock } from '../helpers/manual-clock.js';

/**
 * Issue 3, part 2: capture runs for months, so more than 2^31 bytes (about 13.5 hours of
 * 16-bit audio at 22,050 Hz) must pass through the recorder pipe, the decoder and the windower
 * without a 32-bit counter or offset wrapping. The real arecord reads, through the ALSA file
 * plugin, a sparse file of 2.1 GB that holds speech at its start, across the 2^31-byte mark and
 * in the first window wholly past it, and zeros (holes, taking no disk) elsewhere; the plugin
 * delivers faster than real time, so the whole stream takes about a minute.
 */
const MARK_BYTES = 2 ** 31;
const WINDOW = modelWindowOptions(3).windowSamples;
/** The stream's clock: a chunk arrives at the time of its last sample, from T0. */
const T0 = Date.UTC(2026, 0, 1);

let dir: string;
let replay: AlsaReplay;
let speech: Float32Array;
/** Sample offsets of the three copies of the speech in the stream. */
let copies: number[];
let streamSamples: number;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ser-long-stream-'));
  replay = await createAlsaReplay(await loadAudio(goldenWavPath('speech_e_22k'), { durationSeconds: Infinity }), dir);
  speech = replay.samples;
  const acrossMark = MARK_BYTES / 2 - Math.floor(speech.length / 2);
  const pastMark = (Math.floor((acrossMark + speech.length) / WINDOW) + 1) * WINDOW;
  copies = [0, acrossMark, pastMark];
  streamSamples = pastMark + WINDOW;
  const file = await open(replay.rawFile, 'r+');
  try {
    const bytes = encodeS16le(speech);
    for (const offset of copies.slice(1)) await file.write(bytes, 0, bytes.length, offset * 2);
    await file.truncate(streamSamples * 2);
  } finally {
    await file.close();
  }
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/**
 * What the daemon does with capture, with checks along the way: counts every sample (as a
 * double, which is exact far beyond 2^31), cuts windows, and keeps what the checks need.
 */
class LongStreamSink implements AudioSink {
  readonly states: CaptureState[] = [];
  samplesSeen = 0;
  windowsCut = 0;
  /** Indexes of the windows that held anything but digital silence. */
  readonly soundWindows: number[] = [];
  readonly keptWindows = new Map<number, { samples: Float32Array; end: Date }>();
  /** The stream around the 2^31-byte mark, where the second copy of the speech is. */
  readonly acrossMark: Float32Array;
  readonly #clock = new ManualClock(T0);
  readonly #windower = new Windower(modelWindowOptions(3), this.#clock);
  #done: () => void = () => undefined;
  readonly done = new Promise<void>((resolve) => {
    this.#done = resolve;
  });

  constructor(
    private readonly acrossMarkAt: number,
    private readonly keep: readonly number[],
    private readonly until: number,
  ) {
    this.acrossMark = new Float32Array(speech.length);
  }

  samples(chunk: Float32Array): void {
    const start = this.samplesSeen;
    const from = Math.max(start, this.acrossMarkAt);
    const to = Math.min(start + chunk.length, this.acrossMarkAt + this.acrossMark.length);
    if (from < to) this.acrossMark.set(chunk.subarray(from - start, to - start), from - this.acrossMarkAt);
    this.samplesSeen += chunk.length;
    this.#clock.set(T0 + (this.samplesSeen * 1000) / SAMPLE_RATE);
    for (const window of this.#windower.push(chunk)) {
      const index = this.windowsCut++;
      if (window.levelDbfs > -Infinity) this.soundWindows.push(index);
      if (this.keep.includes(index)) this.keptWindows.set(index, { samples: window.samples, end: window.end });
      if (this.windowsCut >= this.until) this.#done();
    }
  }

  state(state: CaptureState): void {
    this.states.push(state);
  }

  end(): void {}
}

describe('RecorderSource over more than 2^31 bytes', () => {
  it('keeps capturing past the 2 GiB mark, every sample in its place and every window on time', async () => {
    expect((await stat(replay.rawFile)).size).toBeGreaterThan(MARK_BYTES);
    const pastMarkWindow = (copies[2] as number) / WINDOW;
    const sink = new LongStreamSink(copies[1] as number, [pastMarkWindow], pastMarkWindow + 1);
    const source = new RecorderSource({
      logger: captureLogs().logger,
      device: replay.device,
      env: { ...process.env, ...replay.env },
    });
    await source.start(sink);
    try {
      await sink.done;
    } finally {
      await source.stop();
    }

    expect(sink.samplesSeen * 2).toBeGreaterThan(MARK_BYTES);
    // One recorder for the whole stream: no stall, no exit, no restart on the way.
    expect(sink.states).toEqual(['starting', 'running', 'stopped']);
    expect(Array.from(sink.acrossMark)).toEqual(Array.from(speech));
    // Sound only where the speech was put: a lost or repeated byte anywhere in 2 GiB would
    // move it, or make noise of the zeros by pairing bytes of two samples.
    expect(sink.soundWindows).toEqual(windowsHolding(copies, speech));
    const past = sink.keptWindows.get(pastMarkWindow);
    const expected = new Float32Array(WINDOW);
    expected.set(speech);
    expect(Array.from(past?.samples ?? [])).toEqual(Array.from(expected));
    expect(past?.end.getTime()).toBe(Math.round(T0 + ((copies[2] as number) + WINDOW) * (1000 / SAMPLE_RATE)));
  }, 600_000);
});

/** Indexes of the windows that contain a non-zero sample of one of the copies. */
function windowsHolding(offsets: readonly number[], samples: Float32Array): number[] {
  const first = samples.findIndex((sample) => sample !== 0);
  const last = samples.findLastIndex((sample) => sample !== 0);
  const windows = new Set<number>();
  for (const offset of offsets) {
    for (let index = Math.floor((offset + first) / WINDOW); index <= Math.floor((offset + last) / WINDOW); index++) windows.add(index);
  }
  return [...windows].sort((a, b) => a - b);
}
