import { describe, expect, it } from 'vitest';
import { CLIP_SAMPLES, SAMPLE_RATE } from '../../src/dsp/constants.js';
import { SampleBufferPool } from '../../src/pipeline/sample-buffer-pool.js';
import { modelWindowOptions, Windower, type CapturedWindow } from '../../src/pipeline/windower.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { firstDifference } from './samples.js';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

/** Sample i holds the value i: exact in float32 far beyond 10 s, so content names its offset. */
function ramp(length: number, first = 0): Float32Array {
  return Float32Array.from({ length }, (_, i) => first + i);
}

/** Odd chunk sizes, repeated: none divides the window or any hop. */
const ODD_CHUNKS = [1, 7, 1000, 4097, 333, 2, 8191, 511];

/**
 * Pushes `signal` in chunks of the given sizes, as a sound card delivering in real time would:
 * the clock reads the arrival time of each chunk's last sample.
 */
function feedRealTime(windower: Windower, clock: ManualClock, signal: Float32Array, sizes: readonly number[]): CapturedWindow[] {
  const windows: CapturedWindow[] = [];
  let offset = 0;
  for (let n = 0; offset < signal.length; n++) {
    const size = Math.min(sizes[n % sizes.length] as number, signal.length - offset);
    offset += size;
    clock.set(T0 + (offset * 1000) / SAMPLE_RATE);
    windows.push(...windower.push(signal.subarray(offset - size, offset)));
  }
  return windows;
}

function modelWindower(hopSeconds: number, clock: ManualClock): Windower {
  return new Windower(modelWindowOptions(hopSeconds), clock);
}

describe('Windower', () => {
  const tenSeconds = ramp(10 * SAMPLE_RATE);

  it.each([
    { hopSeconds: 3, chunks: ODD_CHUNKS, starts: [0, 66_150, 132_300] },
    { hopSeconds: 1, chunks: ODD_CHUNKS, starts: [0, 1, 2, 3, 4, 5, 6, 7].map((k) => k * 22_050) },
    { hopSeconds: 1, chunks: [1024], starts: [0, 1, 2, 3, 4, 5, 6, 7].map((k) => k * 22_050) },
    { hopSeconds: 1, chunks: [220_500], starts: [0, 1, 2, 3, 4, 5, 6, 7].map((k) => k * 22_050) },
    { hopSeconds: 2.5, chunks: [66_150], starts: [0, 55_125, 110_250] },
    // A hop longer than the window skips the samples between windows.
    { hopSeconds: 4, chunks: ODD_CHUNKS, starts: [0, 88_200] },
    { hopSeconds: 4, chunks: [220_500], starts: [0, 88_200] },
  ])('cuts 10 s at hop $hopSeconds s in chunks of $chunks at the right offsets and times', ({ hopSeconds, chunks, starts }) => {
    const clock = new ManualClock(T0);
    const windows = feedRealTime(modelWindower(hopSeconds, clock), clock, tenSeconds, chunks);

    expect(windows.map((window) => window.samples[0])).toEqual(starts);
    for (const [k, window] of windows.entries()) {
      const start = starts[k] as number;
      expect(firstDifference(window.samples, tenSeconds.subarray(start, start + CLIP_SAMPLES))).toBe(-1);
      const endMs = T0 + ((start + CLIP_SAMPLES) * 1000) / SAMPLE_RATE;
      expect(window.end.getTime()).toBe(Math.round(endMs));
      expect(window.start.getTime()).toBe(Math.round(endMs - 3000));
    }
  });

  it('dates windows cut from one big chunk back from its arrival by the samples that followed them', () => {
    const clock = new ManualClock(T0);
    const windows = modelWindower(1, clock).push(tenSeconds);
    // Windows end at 3 s … 10 s into the chunk, which arrived whole at T0.
    expect(windows.map((window) => window.end.getTime() - T0)).toEqual([-7000, -6000, -5000, -4000, -3000, -2000, -1000, 0]);
    expect(windows.map((window) => window.end.getTime() - window.start.getTime())).toEqual(Array(8).fill(3000));
  });

  it('gives overlapping windows the shared samples in both, each window its own copy', () => {
    const clock = new ManualClock(T0);
    const windower = modelWindower(0.5, clock);
    const [first, second] = windower.push(ramp(CLIP_SAMPLES + 11_025));
    if (first === undefined || second === undefined) throw new Error('expected two windows');
    expect(firstDifference(first.samples.subarray(11_025), second.samples.subarray(0, CLIP_SAMPLES - 11_025))).toBe(-1);

    const before = Float32Array.from(second.samples);
    windower.push(new Float32Array(CLIP_SAMPLES).fill(-1));
    expect(firstDifference(second.samples, before)).toBe(-1);
  });

  it('after reset, waits for a whole new window and never mixes in samples from before it', () => {
    const clock = new ManualClock(T0);
    const windower = modelWindower(1, clock);
    expect(windower.push(ramp(2 * SAMPLE_RATE))).toEqual([]);
    windower.reset();

    // 2.9 s after the reset: not yet a window, although 4.9 s were pushed in all.
    expect(windower.push(ramp(CLIP_SAMPLES - 2205, 1_000_000))).toEqual([]);
    const [window, ...rest] = windower.push(ramp(2205, 1_000_000 + CLIP_SAMPLES - 2205));
    expect(rest).toEqual([]);
    expect(firstDifference(window?.samples, ramp(CLIP_SAMPLES, 1_000_000))).toBe(-1);
    // The hop counts from the new window again.
    expect(windower.push(ramp(SAMPLE_RATE - 1))).toEqual([]);
    expect(windower.push(ramp(1))).toHaveLength(1);
  });

  it('places each window in the stream: its end as samples pushed since the last reset, and which run since a reset it belongs to', () => {
    const clock = new ManualClock(T0);
    const windower = modelWindower(1, clock);
    const before = feedRealTime(windower, clock, tenSeconds, ODD_CHUNKS);
    expect(before.map((window) => window.position)).toEqual(
      Array.from({ length: 8 }, (_, i) => ({ run: 0, endSample: CLIP_SAMPLES + i * SAMPLE_RATE })),
    );
    windower.reset();
    const after = feedRealTime(windower, clock, ramp(4 * SAMPLE_RATE), ODD_CHUNKS);
    expect(after.map((window) => window.position)).toEqual([
      { run: 1, endSample: CLIP_SAMPLES },
      { run: 1, endSample: CLIP_SAMPLES + SAMPLE_RATE },
    ]);
  });

  it('setHop: the hop under way is stretched or shortened to the new one, and later hops follow it', () => {
    const clock = new ManualClock(T0);
    const windower = modelWindower(3, clock);
    const [first] = windower.push(ramp(CLIP_SAMPLES));
    expect(first).toBeDefined();
    // 1 s into a 3 s hop, the hop becomes 1.5 s: the next window comes 0.5 s later.
    expect(windower.push(ramp(SAMPLE_RATE))).toEqual([]);
    windower.setHop(1.5 * SAMPLE_RATE);
    expect(windower.push(ramp(0.5 * SAMPLE_RATE - 1))).toEqual([]);
    expect(windower.push(ramp(1))).toHaveLength(1);
    expect(windower.push(ramp(1.5 * SAMPLE_RATE - 1))).toEqual([]);
    expect(windower.push(ramp(1))).toHaveLength(1);
    // Shortened to less than has already passed: the next window is cut with the next sample.
    expect(windower.push(ramp(SAMPLE_RATE))).toEqual([]);
    windower.setHop(0.5 * SAMPLE_RATE);
    expect(windower.push(ramp(1))).toHaveLength(1);
    expect(() => windower.setHop(0)).toThrow(/hopSamples is 0/);
  });

  it('setHop before the first window leaves the first window whole', () => {
    const windower = modelWindower(3, new ManualClock(T0));
    windower.setHop(SAMPLE_RATE);
    expect(windower.push(ramp(CLIP_SAMPLES - 1))).toEqual([]);
    expect(windower.push(ramp(1))).toHaveLength(1);
    expect(windower.push(ramp(SAMPLE_RATE))).toHaveLength(1);
  });

  it('measures each window level in dBFS', () => {
    const clock = new ManualClock(T0);
    const windower = modelWindower(3, clock);
    // 440 Hz fills the 3 s with exactly 1320 periods, so its mean square is exactly 1/2.
    const sine = Float32Array.from({ length: CLIP_SAMPLES }, (_, n) => Math.sin((2 * Math.PI * 440 * n) / SAMPLE_RATE));
    const levels = [sine, new Float32Array(CLIP_SAMPLES).fill(0.5), new Float32Array(CLIP_SAMPLES)].map(
      (signal) => windower.push(signal)[0]?.levelDbfs,
    );
    expect(levels[0]).toBeCloseTo(-3.0103, 4);
    expect(levels[1]).toBeCloseTo(-6.0206, 4);
    expect(levels[2]).toBe(-Infinity);
  });

  it('holds a fixed buffer however long it runs', () => {
    const clock = new ManualClock(T0);
    const windower = modelWindower(0.25, clock);
    const chunk = ramp(4096);
    let windows = 0;
    for (let n = 0; n < (60 * SAMPLE_RATE) / chunk.length; n++) windows += windower.push(chunk).length;
    expect(windows).toBeGreaterThan(200);
    expect(windower.bufferedCapacity).toBe(CLIP_SAMPLES);
  });

  it('cuts into pooled buffers: a window held is never overwritten, one released is reused', () => {
    const clock = new ManualClock(T0);
    const pool = new SampleBufferPool(CLIP_SAMPLES, 4);
    const windower = new Windower(modelWindowOptions(1), clock, pool);
    const windows = feedRealTime(windower, clock, tenSeconds.subarray(0, 5 * SAMPLE_RATE), [441]);
    expect(windows).toHaveLength(3);
    const [first, second, third] = windows as [CapturedWindow, CapturedWindow, CapturedWindow];
    pool.release(first.samples);
    pool.release(second.samples);

    // The next windows reuse the released buffers, one each; the window still held keeps its samples.
    const more = windower.push(tenSeconds.subarray(5 * SAMPLE_RATE, 7 * SAMPLE_RATE));
    expect(more).toHaveLength(2);
    expect(new Set(more.map((window) => window.samples))).toEqual(new Set([first.samples, second.samples]));
    for (const [window, start] of [
      [third, 2 * SAMPLE_RATE],
      [more[0], 3 * SAMPLE_RATE],
      [more[1], 4 * SAMPLE_RATE],
    ] as const) {
      expect(firstDifference(window?.samples, tenSeconds.subarray(start, start + CLIP_SAMPLES))).toBe(-1);
    }
  });

  it('at the end of a finite stream, cuts one more window ending at the last sample, then starts afresh', () => {
    const clock = new ManualClock(T0);
    for (const [hopSeconds, seconds, lastStart] of [
      [3, 11, 8], // windows 0-3, 3-6, 6-9; the end, 9-11, heard by 8-11
      [1, 4.5, 1.5], // 0-3, 1-4; then 1.5-4.5
      [5, 9, 6], // 0-3, 5-8 (5 s apart, 2 s skipped); then 6-9
    ] as const) {
      const windower = modelWindower(hopSeconds, clock);
      const signal = ramp(seconds * SAMPLE_RATE);
      const windows = feedRealTime(windower, clock, signal, ODD_CHUNKS);
      const last = windower.finish();
      expect(last?.position.endSample, `hop ${hopSeconds} s`).toBe(signal.length);
      expect(last?.position.run).toBe(windows.at(-1)?.position.run);
      expect(firstDifference(last?.samples, signal.subarray(lastStart * SAMPLE_RATE))).toBe(-1);
      expect(last?.end.getTime()).toBe(Math.round(clock.now()));
      // A new run: the next stream's first window is a whole window of its own samples.
      const next = windower.push(ramp(CLIP_SAMPLES, 1e6));
      expect(next).toHaveLength(1);
      expect(next[0]?.position).toEqual({ run: (last?.position.run ?? 0) + 1, endSample: CLIP_SAMPLES });
    }
  });

  it('cuts no last window when the stream ends where a window ended, or before the first window', () => {
    const clock = new ManualClock(T0);
    const exact = modelWindower(1, clock);
    expect(feedRealTime(exact, clock, ramp(5 * SAMPLE_RATE), ODD_CHUNKS)).toHaveLength(3);
    expect(exact.finish()).toBeUndefined();
    const short = modelWindower(3, clock);
    expect(feedRealTime(short, clock, ramp(CLIP_SAMPLES - 1), ODD_CHUNKS)).toHaveLength(0);
    expect(short.finish()).toBeUndefined();
    expect(short.push(ramp(CLIP_SAMPLES))).toHaveLength(1);
  });

  it('rejects a buffer pool whose buffers do not hold a window', () => {
    const clock = new ManualClock(T0);
    expect(() => new Windower(modelWindowOptions(1), clock, new SampleBufferPool(1000, 2))).toThrow(
      /lends 1000 samples but windows hold 66150/,
    );
  });

  it('rejects window sizes and hops that are not whole positive sample counts', () => {
    const clock = new ManualClock(T0);
    expect(() => new Windower({ sampleRate: SAMPLE_RATE, windowSamples: CLIP_SAMPLES, hopSamples: 0 }, clock)).toThrow(
      /hopSamples is 0/,
    );
    expect(() => new Windower({ sampleRate: SAMPLE_RATE, windowSamples: 1.5, hopSamples: 1 }, clock)).toThrow(
      /windowSamples is 1.5/,
    );
    expect(() => modelWindowOptions(0)).toThrow(/window hop 0 s/);
    expect(() => modelWindowOptions(Number.NaN)).toThrow(/window hop NaN s/);
    expect(modelWindowOptions(1)).toEqual({ sampleRate: SAMPLE_RATE, windowSamples: CLIP_SAMPLES, hopSamples: 22_050 });
  });
});
