import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAudio } from '../../src/audio/load-clip.js';
import { BandStatistics, RunningBandStatistics } from '../../src/dsp/band-statistics.js';
import { prepareClip } from '../../src/dsp/clip.js';
import { CLIP_SAMPLES, SAMPLE_RATE } from '../../src/dsp/constants.js';
import { FeatureExtractor } from '../../src/dsp/features.js';
import { featuresForFile } from '../../src/features/file-features.js';
import { EmotionClassifier, FEATURES_LENGTH, type Prediction } from '../../src/model/runtime/classifier.js';
import { WindowClassifier, type FeatureClassifier, type WindowResult } from '../../src/pipeline/window-classifier.js';
import { SpeechDetector } from '../../src/speech/speech-detector.js';
import { SpeechTrack } from '../../src/speech/speech-track.js';
import { modelWindowOptions, Windower, type CapturedWindow } from '../../src/pipeline/windower.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { DATASETS_DIR } from '../helpers/golden.js';
import { loudPinkNoise, pluckedChords } from '../helpers/non-speech.js';
import { useWasm } from '../model/seed-model-fixture.js';
import { ManualClock } from '../helpers/manual-clock.js';

const SHIPPED = path.join(REPO_ROOT, 'models', 'ser-cnn-lstm');
const SHIPPED_VAD = path.join(REPO_ROOT, 'models', 'silero-vad', 'silero_vad_16k_op15.onnx');
// A short TESS word (padded with silence to 3 s, as featuresForFile pads it) and a RAVDESS
// sentence longer than 3 s (its first 3 s fill the window).
const RECORDINGS = [
  path.join(DATASETS_DIR, 'tess', 'YAF_happy', 'YAF_back_happy.flac'),
  path.join(DATASETS_DIR, 'ravdess', 'Actor_01', '03-01-01-01-01-01-01.flac'),
];

/** The recording's first 3 s streamed through a Windower in capture-sized chunks. */
function windowFromStream(samples: Float32Array): CapturedWindow {
  const windower = new Windower(modelWindowOptions(3), new ManualClock(0));
  const stream = new Float32Array(CLIP_SAMPLES);
  stream.set(samples.subarray(0, CLIP_SAMPLES));
  const windows: CapturedWindow[] = [];
  for (let offset = 0; offset < stream.length; offset += 4000) {
    windows.push(...windower.push(stream.subarray(offset, offset + 4000)));
  }
  const [window, ...rest] = windows;
  if (window === undefined || rest.length > 0) throw new Error(`expected one window, got ${windows.length}`);
  return window;
}

function predictionOf(result: WindowResult): Prediction {
  if (result.outcome !== 'classified') throw new Error(`expected a classified window, got ${result.outcome}`);
  return result.prediction;
}

describe('WindowClassifier', () => {
  let classifier: EmotionClassifier;

  beforeAll(async () => {
    await useWasm();
    classifier = await EmotionClassifier.load(SHIPPED);
  });

  afterAll(() => classifier.dispose());

  /**
   * What the classifier says of `features` as a fresh WindowClassifier's first window: for the
   * shipped `speaker` front-end model, with the voice learnt from that one window.
   */
  function firstWindowPrediction(features: Float32Array): Prediction {
    const prior = classifier.trainingStatistics;
    if (prior === undefined) return classifier.classify(features);
    const voice = new RunningBandStatistics(prior);
    voice.add(features);
    return classifier.classify(features, voice.current());
  }

  it.each(RECORDINGS)('on a window cut from %s, predicts exactly what the file pipeline does', async (file) => {
    const extractor = new FeatureExtractor();
    const expected: Prediction = firstWindowPrediction(await featuresForFile(file, extractor));
    const window = windowFromStream(await loadAudio(file));

    const result = new WindowClassifier(new FeatureExtractor(), classifier).classify(window.samples);
    expect(result).toMatchObject({ outcome: 'classified', prediction: expected, speechRatio: null });
  });

  it('reports the time from samples to prediction on the injected clock', () => {
    const readings = [1000, 1012.5];
    const now = (): number => {
      const reading = readings.shift();
      if (reading === undefined) throw new Error('the clock was read more than twice');
      return reading;
    };
    const result = new WindowClassifier(new FeatureExtractor(), classifier, { clock: { monotonic: now } }).classify(new Float32Array(CLIP_SAMPLES));
    expect(result).toMatchObject({ outcome: 'classified', inferenceMs: 12.5 });
    expect(readings).toEqual([]);
  });

  it('gives each window its own prediction although it reuses one clip and one feature buffer', async () => {
    const [first, second] = await Promise.all(RECORDINGS.map(async (file) => windowFromStream(await loadAudio(file))));
    if (first === undefined || second === undefined) throw new Error('expected two windows');
    const firstSamples = first.samples.slice();
    const shared = new WindowClassifier(new FeatureExtractor(), classifier);
    // A new voice each time, so that only the buffers are shared, not what was learnt of the voice.
    const interleaved = [first, second, first].map((window) => {
      shared.newVoice();
      return shared.classify(window.samples);
    });
    // The clip is normalised in the classifier's own buffer, never in the window's samples.
    expect(first.samples).toEqual(firstSamples);
    const alone = [first, second].map(
      (window) => predictionOf(new WindowClassifier(new FeatureExtractor(), classifier).classify(window.samples)),
    );
    expect(interleaved.map(predictionOf)).toEqual([alone[0], alone[1], alone[0]]);
    expect(alone[0]).not.toEqual(alone[1]);
  });

  describe('with a speaker front-end model', () => {
    /** Answers as the shipped model, and keeps the voice statistics it was given with each window. */
    const voiceRecorder = (trainingStatistics: BandStatistics): FeatureClassifier & { voices: Array<BandStatistics | undefined> } => ({
      trainingStatistics,
      voices: [],
      classify(features: Float32Array, voice?: BandStatistics): Prediction {
        this.voices.push(voice);
        return classifier.classify(features);
      },
    });

    it('learns the voice from the windows that reach the model, and starts again at newVoice', async () => {
      const extractor = new FeatureExtractor();
      const windows = await Promise.all(RECORDINGS.map(async (file) => windowFromStream(await loadAudio(file)).samples));
      const featuresOf = (samples: Float32Array) => extractor.extract(prepareClip(samples));
      const prior = BandStatistics.of(featuresOf(windows[0] as Float32Array));
      const model = voiceRecorder(prior);
      // The speech gate turns the second window away: it must teach nothing.
      const ratios = [0.9, 0.1, 0.9];
      const meter = { speechRatio: (): number => ratios.shift() as number };
      const learner = new WindowClassifier(new FeatureExtractor(), model, { speechGate: { meter, minSpeechRatio: 0.3 } });
      const [first, second] = windows as [Float32Array, Float32Array];
      expect(learner.classify(second).outcome).toBe('classified');
      expect(learner.classify(first).outcome).toBe('non_speech');
      expect(learner.classify(first).outcome).toBe('classified');

      const expected = new RunningBandStatistics(prior);
      expected.add(featuresOf(second));
      const afterOne = expected.current();
      expected.add(featuresOf(first));
      expect(model.voices.map((voice) => voice?.toRecord())).toEqual([afterOne.toRecord(), expected.current().toRecord()]);
      expect(afterOne.toRecord()).not.toEqual(prior.toRecord());

      learner.newVoice();
      ratios.push(0.9);
      learner.classify(second);
      expect(model.voices[2]?.toRecord()).toEqual(afterOne.toRecord());
    });

    it('passes no voice to a model without the speaker front-end', () => {
      const model = voiceRecorder(BandStatistics.of(new Float32Array(FEATURES_LENGTH)));
      const plain: FeatureClassifier & { voices: Array<BandStatistics | undefined> } = { voices: model.voices, classify: model.classify.bind(model) };
      new WindowClassifier(new FeatureExtractor(), plain).classify(new Float32Array(CLIP_SAMPLES));
      expect(model.voices).toEqual([undefined]);
    });
  });

  describe('with the speech gate', () => {
    let detector: SpeechDetector;
    const counting = (): FeatureClassifier & { calls: number } => ({
      calls: 0,
      classify(features: Float32Array): Prediction {
        this.calls++;
        return classifier.classify(features);
      },
    });

    beforeAll(async () => {
      detector = await SpeechDetector.load(SHIPPED_VAD);
    });

    afterAll(() => detector.dispose());

    it('turns away loud noise and music without running the model', () => {
      const model = counting();
      const gated = new WindowClassifier(new FeatureExtractor(), model, { speechGate: { meter: new SpeechTrack(detector, SAMPLE_RATE), minSpeechRatio: 0.3 } });
      for (const samples of [loudPinkNoise(3, SAMPLE_RATE, -12), pluckedChords(3, SAMPLE_RATE, -12)]) {
        const result = gated.classify(samples);
        expect(result.outcome).toBe('non_speech');
        expect(result.speechRatio).toBeLessThan(0.3);
      }
      expect(model.calls).toBe(0);
    });

    it('classifies a speech window exactly as without the gate, and reports its speech ratio', async () => {
      const window = windowFromStream(await loadAudio(RECORDINGS[1] as string));
      const gated = new WindowClassifier(new FeatureExtractor(), classifier, { speechGate: { meter: new SpeechTrack(detector, SAMPLE_RATE), minSpeechRatio: 0.3 } });
      const result = gated.classify(window.samples);
      expect(result).toMatchObject({
        outcome: 'classified',
        prediction: predictionOf(new WindowClassifier(new FeatureExtractor(), classifier).classify(window.samples)),
      });
      expect(result.speechRatio).toBe(detector.speechRatio(window.samples, SAMPLE_RATE));
      expect(result.speechRatio).toBeGreaterThanOrEqual(0.3);
    });

    it('reports a detector failure as a SpeechDetectionError naming the cause, without running the model', () => {
      const model = counting();
      const broken = { speechRatio: (): number => { throw new Error('state tensor has the wrong shape'); } };
      const gated = new WindowClassifier(new FeatureExtractor(), model, { speechGate: { meter: broken, minSpeechRatio: 0.3 } });
      expect(() => gated.classify(new Float32Array(CLIP_SAMPLES))).toThrow(
        expect.objectContaining({ code: 'SPEECH_DETECTION', message: expect.stringContaining('state tensor has the wrong shape') as unknown }) as Error,
      );
      expect(model.calls).toBe(0);
    });

    it('refuses a minimum ratio outside (0, 1], naming it and the fix', () => {
      for (const minSpeechRatio of [0, -0.5, 1.5, Number.NaN]) {
        expect(() => new WindowClassifier(new FeatureExtractor(), classifier, { speechGate: { meter: new SpeechTrack(detector, SAMPLE_RATE), minSpeechRatio } })).toThrow(
          /minSpeechRatio .* is not usable; expected a share above 0 and at most 1, e\.g\. 0\.3 \(leave the gate out/,
        );
      }
    });
  });
});
