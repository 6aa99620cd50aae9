import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAudio } from '../../src/audio/load-clip.js';
import { SAMPLE_RATE } from '../../src/dsp/constants.js';
import { modelWindowOptions, Windower, type CapturedWindow } from '../../src/pipeline/windower.js';
import { SpeechDetector, type SpeechStream } from '../../src/speech/speech-detector.js';
import { SpeechTrack } from '../../src/speech/speech-track.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { DATASETS_DIR, goldenWavPath } from '../helpers/golden.js';
import { loudPinkNoise, pluckedChords } from '../helpers/non-speech.js';
import { ManualClock } from '../helpers/manual-clock.js';

/** The speech gate's meter on real windows cut by the real Windower from real audio, with the shipped Silero VAD. */
const SHIPPED_VAD = path.join(REPO_ROOT, 'models', 'silero-vad', 'silero_vad_16k_op15.onnx');

let detector: SpeechDetector;
/** Speech, noise, music, speech: 18 s, so windows at hop 1 s cross every boundary. */
let stream: Float32Array;

/** The real detector, counting the chunks it hears. */
function counting(): { detector: Pick<SpeechDetector, 'stream' | 'speechRatio'>; chunks: () => number } {
  let chunks = 0;
  return {
    detector: {
      stream: (): SpeechStream => {
        const inner = detector.stream();
        return {
          next: (chunk) => {
            chunks++;
            return inner.next(chunk);
          },
        };
      },
      speechRatio: (samples, sampleRate) => {
        chunks += detector.speechProbabilities(samples, sampleRate).length;
        return detector.speechRatio(samples, sampleRate);
      },
    },
    chunks: () => chunks,
  };
}

function windowsOf(samples: Float32Array, hopSeconds: number): CapturedWindow[] {
  const windower = new Windower(modelWindowOptions(hopSeconds), new ManualClock(0));
  const windows: CapturedWindow[] = [];
  for (let offset = 0; offset < samples.length; offset += 2205) windows.push(...windower.push(samples.subarray(offset, offset + 2205)));
  return windows;
}

beforeAll(async () => {
  detector = await SpeechDetector.load(SHIPPED_VAD);
  const parts = [
    await loadAudio(goldenWavPath('long_5s_16k'), { durationSeconds: Infinity }),
    loudPinkNoise(5, SAMPLE_RATE, -12),
    pluckedChords(4, SAMPLE_RATE, -12),
    await loadAudio(path.join(DATASETS_DIR, 'ravdess', 'Actor_01', '03-01-05-01-01-01-01.flac'), { durationSeconds: Infinity }),
  ];
  stream = new Float32Array(parts.reduce((total, part) => total + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    stream.set(part, offset);
    offset += part.length;
  }
});

afterAll(() => detector.dispose());

describe('SpeechTrack', () => {
  it('at hop 1 s hears each chunk of the stream once, not three times', () => {
    const { detector: counted, chunks } = counting();
    const track = new SpeechTrack(counted, SAMPLE_RATE);
    const windows = windowsOf(stream, 1);
    for (const window of windows) track.speechRatio(window.samples, window.position);
    const last = windows.at(-1);
    if (last === undefined) throw new Error('no windows');
    // Every 32 ms of the stream up to the last window's end, once.
    expect(chunks()).toBeLessThanOrEqual(Math.ceil((last.position.endSample * 16_000) / SAMPLE_RATE / 512));
    expect(chunks()).toBeGreaterThan(0.95 * ((last.position.endSample * 16_000) / SAMPLE_RATE / 512 - 94));
  });

  it('judges every window about as a window heard on its own does', () => {
    const track = new SpeechTrack(detector, SAMPLE_RATE);
    const differences = windowsOf(stream, 1).map(
      (window) => track.speechRatio(window.samples, window.position) - detector.speechRatio(window.samples, SAMPLE_RATE),
    );
    // A window heard on its own starts from a cold state, and Silero takes a few chunks to
    // settle: it undercounts speech already under way at its start (by 0.12 on the window
    // holding the last 3 s of the speech clip), which the carried state does not.
    for (const difference of differences) expect(Math.abs(difference)).toBeLessThan(0.15);
    expect(differences.reduce((sum, difference) => sum + Math.abs(difference), 0) / differences.length).toBeLessThan(0.05);
  });

  it('tells the speech windows from the noise and music windows as the gate needs', () => {
    const track = new SpeechTrack(detector, SAMPLE_RATE);
    const ratios = windowsOf(stream, 1).map((window) => track.speechRatio(window.samples, window.position));
    // Windows ending at 3-5 s are the speech clip; 8-14 s lie wholly in noise and music.
    for (const ratio of ratios.slice(0, 3)) expect(ratio).toBeGreaterThan(0.6);
    for (const ratio of ratios.slice(5, 12)) expect(ratio).toBeLessThan(0.1);
  });

  it('starts afresh after a gap, a reset or on a window off the grid, judging that window on its own', () => {
    const windows = windowsOf(stream, 1);
    const [early, , , late] = windows;
    if (early === undefined || late === undefined) throw new Error('expected windows');
    const alone = new SpeechTrack(detector, SAMPLE_RATE).speechRatio(late.samples, late.position);

    const lateAlone = counting();
    new SpeechTrack(lateAlone.detector, SAMPLE_RATE).speechRatio(late.samples, late.position);

    const { detector: counted, chunks } = counting();
    const track = new SpeechTrack(counted, SAMPLE_RATE);
    track.speechRatio(early.samples, early.position);
    const afterEarly = chunks();
    // Two windows dropped in between: the chunks between them were never heard.
    expect(track.speechRatio(late.samples, late.position)).toBe(alone);
    expect(chunks() - afterEarly).toBe(lateAlone.chunks());
    // The same samples in a later run (capture restarted): heard afresh.
    expect(track.speechRatio(late.samples, { ...late.position, run: late.position.run + 1 })).toBe(alone);
    // A window that does not start on the 441-sample grid is judged by the detector alone.
    const offGrid = { ...late.position, endSample: late.position.endSample + 1 };
    expect(track.speechRatio(late.samples, offGrid)).toBe(detector.speechRatio(late.samples, SAMPLE_RATE));
    expect(track.speechRatio(late.samples)).toBe(detector.speechRatio(late.samples, SAMPLE_RATE));
  });
});
