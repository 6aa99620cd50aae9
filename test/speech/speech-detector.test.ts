import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAudio } from '../../src/audio/load-clip.js';
import { CLIP_SAMPLES, SAMPLE_RATE } from '../../src/dsp/constants.js';
import { SpeechDetector, VAD_SAMPLE_RATE } from '../../src/speech/speech-detector.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { DATASETS_DIR, goldenWavPath } from '../helpers/golden.js';
import { loudPinkNoise, pluckedChords } from '../helpers/non-speech.js';

/** The real Silero VAD shipped with the agent, on real speech and on loud sound that is not speech. */
const SHIPPED_VAD = path.join(REPO_ROOT, 'models', 'silero-vad', 'silero_vad_16k_op15.onnx');
/** Recordings that are speech from start to end, but for breaths and short gaps. */
const SPEECH = [path.join(DATASETS_DIR, 'tess', 'OAF_angry', 'OAF_bath_angry.flac'), goldenWavPath('speech_b_44k'), goldenWavPath('speech_a_16k')];
/** A RAVDESS sentence: about a second of room silence before it, so its first 3 s are half speech. */
const SENTENCE = path.join(DATASETS_DIR, 'ravdess', 'Actor_01', '03-01-01-01-01-01-01.flac');

/** A daemon window: the first 3 s, zero-padded as the windower never is but a short file must be. */
function window(samples: Float32Array): Float32Array {
  const out = new Float32Array(CLIP_SAMPLES);
  out.set(samples.subarray(0, CLIP_SAMPLES));
  return out;
}

function mix(a: Float32Array, b: Float32Array): Float32Array {
  return a.map((value, i) => value + (b[i] as number));
}

describe('SpeechDetector (Silero VAD)', () => {
  let detector: SpeechDetector;
  let work: string;

  beforeAll(async () => {
    detector = await SpeechDetector.load(SHIPPED_VAD);
    work = await mkdtemp(path.join(os.tmpdir(), 'ser-vad-'));
  });

  afterAll(async () => {
    detector.dispose();
    await rm(work, { recursive: true, force: true });
  });

  it.each(SPEECH)('hears most of %s as speech', async (file) => {
    const ratio = detector.speechRatio(await loadAudio(file), SAMPLE_RATE);
    expect(ratio).toBeGreaterThan(0.6);
  });

  it('hears a 3 s window holding a spoken sentence after a pause as more than the default third speech', async () => {
    expect(detector.speechRatio(window(await loadAudio(SENTENCE)), SAMPLE_RATE)).toBeGreaterThan(0.4);
  });

  it.each([
    ['pink noise at -12 dBFS', loudPinkNoise(3, SAMPLE_RATE, -12)],
    ['plucked chords at -12 dBFS', pluckedChords(3, SAMPLE_RATE, -12)],
    ['pink noise under plucked chords', mix(loudPinkNoise(3, SAMPLE_RATE, -20), pluckedChords(3, SAMPLE_RATE, -14))],
  ])('hears almost none of %s as speech', (_, samples) => {
    expect(detector.speechRatio(samples, SAMPLE_RATE)).toBeLessThan(0.1);
  });

  it('gives one probability per 32 ms at 16 kHz, the last chunk padded, whatever the input rate', async () => {
    const speech = await loadAudio(SENTENCE, { sampleRate: VAD_SAMPLE_RATE });
    const probabilities = detector.speechProbabilities(speech, VAD_SAMPLE_RATE);
    expect(probabilities).toHaveLength(Math.ceil(speech.length / 512));
    for (const p of probabilities) expect(p >= 0 && p <= 1).toBe(true);
    // A 3 s window at 22,050 Hz is 48,000 samples at 16 kHz: 93.75 chunks.
    expect(detector.speechProbabilities(new Float32Array(CLIP_SAMPLES), SAMPLE_RATE)).toHaveLength(94);
  });

  it('judges each call from a fresh state: the same samples give the same probabilities after other audio', async () => {
    const speech = window(await loadAudio(SENTENCE));
    const first = detector.speechProbabilities(speech, SAMPLE_RATE);
    detector.speechProbabilities(loudPinkNoise(3, SAMPLE_RATE, -12), SAMPLE_RATE);
    expect(detector.speechProbabilities(speech, SAMPLE_RATE)).toEqual(first);
  });

  it('calls no samples speech', () => {
    expect(detector.speechRatio(new Float32Array(0), SAMPLE_RATE)).toBe(0);
  });

  it('refuses a missing file, naming it and the fix', async () => {
    const missing = path.join(work, 'nowhere.onnx');
    await expect(SpeechDetector.load(missing)).rejects.toThrow(
      new RegExp(`speech model ${missing} cannot be read .*ENOENT.*window\\.speechModel.*window\\.minSpeechRatio to 0`),
    );
  });

  it('refuses a file ONNX Runtime cannot load, naming it', async () => {
    const garbage = path.join(work, 'garbage.onnx');
    await writeFile(garbage, 'not a model');
    await expect(SpeechDetector.load(garbage)).rejects.toMatchObject({
      code: 'MODEL_INVALID',
      message: expect.stringMatching(/^speech model .*garbage\.onnx does not load in ONNX Runtime/) as unknown,
    });
  });

  it('refuses an ONNX model that is not a Silero VAD, naming its inputs and the expected ones', async () => {
    const emotionModel = path.join(REPO_ROOT, 'models', 'ser-cnn-lstm', 'model.onnx');
    await expect(SpeechDetector.load(emotionModel)).rejects.toThrow(
      /model\.onnx takes \[.+\] and gives \[.+\]; a Silero VAD model takes \[input, state, sr\] and gives \[output, stateN\]/,
    );
  });

  it('fails after dispose with a message, not a crash', () => {
    return SpeechDetector.load(SHIPPED_VAD).then((disposed) => {
      disposed.dispose();
      expect(() => disposed.speechRatio(new Float32Array(512), VAD_SAMPLE_RATE)).toThrow(/disposed/);
    });
  });
});
