/**
 * Every step of the feature pipeline against librosa's own intermediate arrays, for every
 * golden recording, so a regression names the step that broke. Each step is checked on our
 * chain from the golden audio and, where a drift could come from an earlier step, also from
 * the golden input of that step alone.
 */
import { describe, expect, it } from 'vitest';
import { N_FEATURES, N_FFT, N_FRAMES, N_MELS, N_MFCC, SAMPLE_RATE } from '../../src/dsp/constants.js';
import { powerToDb } from '../../src/dsp/db.js';
import { FeatureExtractor } from '../../src/dsp/features.js';
import { melSpectrogram, slaneyMelFilterbank, sparseFilterbank } from '../../src/dsp/mel.js';
import { DctOrtho, mfccFromMelDb } from '../../src/dsp/mfcc.js';
import { powerSpectrogram } from '../../src/dsp/stft.js';
import { absDiff, GOLDEN_WAVS, readGoldenF32 } from '../helpers/golden.js';

/** A golden (rows, N_FRAMES) array as time-major (N_FRAMES, rows) float64, our layout. */
function goldenTimeMajor(file: string, rows: number): Float64Array {
  const golden = readGoldenF32(file);
  const out = new Float64Array(golden.length);
  for (let r = 0; r < rows; r++) {
    for (let t = 0; t < N_FRAMES; t++) out[t * rows + r] = golden[r * N_FRAMES + t] as number;
  }
  return out;
}

/**
 * The largest |actual - expected| relative to max(|expected|, 1e-12 of the block's maximum).
 * Mel power spans 15 orders of magnitude; everything under 1e-8 of the maximum is clipped by
 * top_db = 80 downstream, so relative accuracy is demanded down to 1e-12 of it and no further.
 */
function worstRelativeError(actual: Float64Array, expected: Float64Array): number {
  const floor = 1e-12 * expected.reduce((max, v) => Math.max(max, v), 0);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const error = Math.abs((actual[i] as number) - (expected[i] as number));
    if (error > 0) worst = Math.max(worst, error / Math.max(Math.abs(expected[i] as number), floor));
  }
  return worst;
}

const FLOAT32_EPSILON = 2 ** -23;
/** librosa stores dB in float32 and takes float32 logs: a few float32 ulps at 100 dB. */
const DB_TOLERANCE = 2.5e-5;
/** The contract allows 1e-4; this port measures under 2e-6, so drift past 1e-5 is a real change. */
const FEATURES_TOLERANCE = 1e-5;

const filterbank = sparseFilterbank(
  slaneyMelFilterbank({ sampleRate: SAMPLE_RATE, nFft: N_FFT, nMels: N_MELS }),
  N_MELS,
);
const dct = new DctOrtho(N_MFCC, N_MELS);
const extractor = new FeatureExtractor();

describe.each(GOLDEN_WAVS)('%s', (name) => {
  const audio = readGoldenF32(`${name}.audio`);
  const melPower = melSpectrogram(filterbank, powerSpectrogram(audio));
  const goldenMelPower = goldenTimeMajor(`${name}.mel_power`, N_MELS);
  const goldenMelDbRef1 = goldenTimeMajor(`${name}.mel_db_ref1`, N_MELS);

  it('mel power matches to float32 accumulation error', () => {
    expect(melPower.length).toBe(N_FRAMES * N_MELS);
    // librosa sums float32 products in float32: a relative error of a few 1e-7.
    expect(worstRelativeError(melPower, goldenMelPower)).toBeLessThanOrEqual(2e-6);
  });

  it('mel dB with ref 1.0 and top_db 80 matches, from golden and from our mel power', () => {
    expect(absDiff(powerToDb(goldenMelPower, { ref: 1 }), goldenMelDbRef1).max).toBeLessThanOrEqual(DB_TOLERANCE);
    expect(absDiff(powerToDb(melPower, { ref: 1 }), goldenMelDbRef1).max).toBeLessThanOrEqual(DB_TOLERANCE);
  });

  it('mel dB with ref max matches, from golden and from our mel power', () => {
    const expected = goldenTimeMajor(`${name}.mel_db_refmax`, N_MELS);
    expect(absDiff(powerToDb(goldenMelPower, { ref: 'max' }), expected).max).toBeLessThanOrEqual(DB_TOLERANCE);
    expect(absDiff(powerToDb(melPower, { ref: 'max' }), expected).max).toBeLessThanOrEqual(DB_TOLERANCE);
  });

  it('raw MFCCs match to float32 resolution, from golden and from our mel dB', () => {
    const expected = goldenTimeMajor(`${name}.mfcc_raw`, N_MFCC);
    const largest = expected.reduce((max, v) => Math.max(max, Math.abs(v)), 0);
    // scipy runs the DCT in float32: a few float32 epsilons of the block's largest value.
    const tolerance = 4 * FLOAT32_EPSILON * largest;
    expect(absDiff(mfccFromMelDb(goldenMelDbRef1, dct), expected).max).toBeLessThanOrEqual(tolerance);
    const ours = mfccFromMelDb(powerToDb(melPower, { ref: 1 }), dct);
    expect(absDiff(ours, expected).max).toBeLessThanOrEqual(tolerance);
  });

  it(`features (${N_FRAMES}x${N_FEATURES}) match within ${FEATURES_TOLERANCE}`, () => {
    const features = extractor.extract(audio);
    expect(features.length).toBe(N_FRAMES * N_FEATURES);
    expect(absDiff(features, readGoldenF32(`${name}.features`)).max).toBeLessThanOrEqual(FEATURES_TOLERANCE);
  });
});
