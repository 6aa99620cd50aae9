import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAudio } from '../../src/audio/load-clip.js';
import { CLIP_SAMPLES } from '../../src/dsp/constants.js';
import { FeatureExtractor } from '../../src/dsp/features.js';
import { featuresForFile } from '../../src/features/file-features.js';
import { EmotionClassifier, type Prediction } from '../../src/model/classifier.js';
import { WindowClassifier, type WindowResult } from '../../src/pipeline/window-classifier.js';
import { modelWindowOptions, Windower, type CapturedWindow } from '../../src/pipeline/windower.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { DATASETS_DIR } from '../helpers/golden.js';
import { useWasm } from '../model/seed-model-fixture.js';
import { FakeClock } from './fake-clock.js';

const SHIPPED = path.join(REPO_ROOT, 'models', 'ser-cnn-lstm');
// A short TESS word (padded with silence to 3 s, as featuresForFile pads it) and a RAVDESS
// sentence longer than 3 s (its first 3 s fill the window).
const RECORDINGS = [
  path.join(DATASETS_DIR, 'tess', 'YAF_happy', 'YAF_back_happy.flac'),
  path.join(DATASETS_DIR, 'ravdess', 'Actor_01', '03-01-01-01-01-01-01.flac'),
];

/** The recording's first 3 s streamed through a Windower in capture-sized chunks. */
function windowFromStream(samples: Float32Array): CapturedWindow {
  const windower = new Windower(modelWindowOptions(3), new FakeClock(0));
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

  it.each(RECORDINGS)('on a window cut from %s, predicts exactly what the file pipeline does', async (file) => {
    const extractor = new FeatureExtractor();
    const expected: Prediction = classifier.classify(await featuresForFile(file, extractor));
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
    const result = new WindowClassifier(new FeatureExtractor(), classifier, { now }).classify(new Float32Array(CLIP_SAMPLES));
    expect(result).toMatchObject({ outcome: 'classified', inferenceMs: 12.5 });
    expect(readings).toEqual([]);
  });

  it('gives each window its own prediction although it reuses one clip and one feature buffer', async () => {
    const [first, second] = await Promise.all(RECORDINGS.map(async (file) => windowFromStream(await loadAudio(file))));
    if (first === undefined || second === undefined) throw new Error('expected two windows');
    const firstSamples = first.samples.slice();
    const shared = new WindowClassifier(new FeatureExtractor(), classifier);
    const interleaved = [shared.classify(first.samples), shared.classify(second.samples), shared.classify(first.samples)];
    // The clip is normalised in the classifier's own buffer, never in the window's samples.
    expect(first.samples).toEqual(firstSamples);
    const alone = [first, second].map(
      (window) => predictionOf(new WindowClassifier(new FeatureExtractor(), classifier).classify(window.samples)),
    );
    expect(interleaved.map(predictionOf)).toEqual([alone[0], alone[1], alone[0]]);
    expect(alone[0]).not.toEqual(alone[1]);
  });
});
