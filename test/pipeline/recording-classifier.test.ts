import { describe, expect, it } from 'vitest';
import { CLIP_SAMPLES, SAMPLE_RATE } from '../../src/dsp/constants.js';
import { EMOTIONS } from '../../src/labels.js';
import { type Prediction } from '../../src/model/runtime/classifier.js';
import { levelDbfs } from '../../src/pipeline/level.js';
import { RecordingClassifier, type GatedClassifier, type RecordingWindow } from '../../src/pipeline/recording-classifier.js';
import { type WindowResult } from '../../src/pipeline/window-classifier.js';
import { type StreamPosition } from '../../src/pipeline/windower.js';
import { firstDifference } from './samples.js';

const PREDICTION: Prediction = {
  emotion: 'anger',
  confidence: 1,
  probabilities: Object.fromEntries(EMOTIONS.map((emotion) => [emotion, emotion === 'anger' ? 1 : 0])) as Prediction['probabilities'],
};

/** Remembers what it was given (copies: the window's buffer is reused) and answers `answer`. */
class RecordingFake implements GatedClassifier {
  readonly calls: Array<{ samples: Float32Array; position: StreamPosition | undefined }> = [];
  /** The call count at each newVoice. */
  readonly newVoices: number[] = [];
  constructor(private readonly answer: (samples: Float32Array) => WindowResult = () => ({ outcome: 'classified', prediction: PREDICTION, inferenceMs: 1, speechRatio: 0.9 })) {}

  classify(samples: Float32Array, position?: StreamPosition): WindowResult {
    this.calls.push({ samples: samples.slice(), position: position === undefined ? undefined : { ...position } });
    return this.answer(samples);
  }

  newVoice(): void {
    this.newVoices.push(this.calls.length);
  }
}

/** A signal at a level well above the silence threshold whose content names each sample's offset. */
function loud(seconds: number): Float32Array {
  return Float32Array.from({ length: Math.round(seconds * SAMPLE_RATE) }, (_, i) => 0.1 + ((i % 1000) / 1000) * 0.5);
}

const spans = (windows: readonly RecordingWindow[]) => windows.map((w) => [w.startSample / SAMPLE_RATE, w.endSample / SAMPLE_RATE]);

describe('RecordingClassifier', () => {
  it('cuts the daemon\'s windows every hop and hears the end with one more window ending at the last sample', () => {
    const fake = new RecordingFake();
    const recording = loud(11);
    const windows = [...new RecordingClassifier(fake, { hopSeconds: 3, silenceDbfs: -50 }).windows(recording)];
    expect(spans(windows)).toEqual([[0, 3], [3, 6], [6, 9], [8, 11]]);
    expect(fake.calls).toHaveLength(4);
    windows.forEach((window, index) => {
      const call = fake.calls[index];
      expect(call?.position?.endSample).toBe(window.endSample);
      expect(firstDifference(call?.samples, recording.subarray(window.startSample, window.endSample))).toBe(-1);
      expect(window.levelDbfs).toBeCloseTo(levelDbfs(recording.subarray(window.startSample, window.endSample)), 10);
      expect(window.result.outcome).toBe('classified');
    });
  });

  it('follows the hop, overlapping or skipping', () => {
    const overlapping = [...new RecordingClassifier(new RecordingFake(), { hopSeconds: 1.5, silenceDbfs: -50 }).windows(loud(7))];
    expect(spans(overlapping)).toEqual([[0, 3], [1.5, 4.5], [3, 6], [4, 7]]);
    const skipping = [...new RecordingClassifier(new RecordingFake(), { hopSeconds: 4, silenceDbfs: -50 }).windows(loud(7))];
    expect(spans(skipping)).toEqual([[0, 3], [4, 7]]);
  });

  it('hears each recording as a new run of the stream, so the speech gate never joins two recordings', () => {
    const fake = new RecordingFake();
    const recordings = new RecordingClassifier(fake, { hopSeconds: 1, silenceDbfs: -50 });
    const first = [...recordings.windows(loud(4))];
    const second = [...recordings.windows(loud(4))];
    expect(first).toHaveLength(2);
    expect(second).toHaveLength(2);
    const runs = fake.calls.map((call) => call.position?.run);
    expect(runs[0]).toBe(runs[1]);
    expect(runs[2]).toBe(runs[3]);
    expect(runs[2]).not.toBe(runs[0]);
    expect(fake.calls[2]?.position?.endSample).toBe(CLIP_SAMPLES);
  });

  it('starts a new voice before each recording, short or long, so one recording\'s voice never colours the next', () => {
    const fake = new RecordingFake();
    const recordings = new RecordingClassifier(fake, { hopSeconds: 1, silenceDbfs: -50 });
    const counts = [4, 2, 4].map((seconds) => [...recordings.windows(loud(seconds))].length);
    expect(counts).toEqual([2, 1, 2]);
    expect(fake.newVoices).toEqual([0, 2, 3]);
  });

  it('gives a recording of a window or less one window of what there is, heard on its own as classify always did', () => {
    for (const length of [CLIP_SAMPLES, CLIP_SAMPLES - 1, SAMPLE_RATE, 1]) {
      const fake = new RecordingFake();
      const recording = loud(length / SAMPLE_RATE);
      const windows = [...new RecordingClassifier(fake, { hopSeconds: 1, silenceDbfs: -50 }).windows(recording)];
      expect(windows.map((w) => [w.startSample, w.endSample])).toEqual([[0, length]]);
      expect(firstDifference(fake.calls[0]?.samples, recording)).toBe(-1);
      expect(fake.calls[0]?.position).toBeUndefined();
    }
  });

  it('turns silent windows away before the speech gate, and passes the gate\'s non-speech verdicts on', () => {
    const recording = loud(9);
    recording.fill(0.001, 3 * SAMPLE_RATE, 6 * SAMPLE_RATE); // −60 dBFS
    const fake = new RecordingFake((samples) =>
      samples[0] as number > 0.5 ? { outcome: 'non_speech', speechRatio: 0.1 } : { outcome: 'classified', prediction: PREDICTION, inferenceMs: 1, speechRatio: 0.8 },
    );
    recording[6 * SAMPLE_RATE] = 0.9;
    const windows = [...new RecordingClassifier(fake, { hopSeconds: 3, silenceDbfs: -50 }).windows(recording)];
    expect(windows.map((w) => w.result.outcome)).toEqual(['classified', 'silent', 'non_speech']);
    expect(windows[1]?.levelDbfs).toBeCloseTo(-60, 5);
    expect(fake.calls.map((call) => call.position?.endSample)).toEqual([3 * SAMPLE_RATE, 9 * SAMPLE_RATE]);
    const quiet = [...new RecordingClassifier(fake, { hopSeconds: 3, silenceDbfs: -50 }).windows(new Float32Array(SAMPLE_RATE))];
    expect(quiet.map((w) => w.result.outcome)).toEqual(['silent']);
    expect(quiet[0]?.levelDbfs).toBe(-Infinity);
  });
});
