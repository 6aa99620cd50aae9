import { describe, expect, it } from 'vitest';
import { N_FFT, N_MELS, SAMPLE_RATE } from '../../src/dsp/constants.js';
import {
  applyFilterbankToFrame,
  fftFrequencies,
  hzToMel,
  melSpectrogram,
  melToHz,
  slaneyMelFilterbank,
  sparseFilterbank,
} from '../../src/dsp/mel.js';
import { powerSpectrogram } from '../../src/dsp/stft.js';
import { absDiff, readGoldenF32 } from '../helpers/golden.js';

const N_BINS = N_FFT / 2 + 1;

function goldenFilterbank(): Float32Array {
  return readGoldenF32(`mel_filterbank_sr${SAMPLE_RATE}_nfft${N_FFT}_nmels${N_MELS}`);
}

describe('Slaney mel scale', () => {
  it('is linear below 1 kHz and logarithmic above, 27 mels per factor 6.4', () => {
    expect(hzToMel(0)).toBe(0);
    expect(hzToMel(500)).toBeCloseTo(7.5, 12);
    expect(hzToMel(1000)).toBeCloseTo(15, 12);
    expect(hzToMel(6400)).toBeCloseTo(42, 12);
  });

  it('inverts hzToMel with melToHz', () => {
    for (const hz of [0, 133.3, 999.99, 1000, 4321, 11_025]) {
      expect(melToHz(hzToMel(hz))).toBeCloseTo(hz, 9);
    }
  });

  it('puts rfft bins at multiples of sampleRate / nFft', () => {
    const frequencies = fftFrequencies(SAMPLE_RATE, N_FFT);
    expect(frequencies.length).toBe(N_BINS);
    expect(frequencies[0]).toBe(0);
    expect(frequencies[N_BINS - 1]).toBeCloseTo(SAMPLE_RATE / 2, 9);
  });
});

describe('slaneyMelFilterbank', () => {
  it('reproduces librosa.filters.mel(sr=22050, n_fft=2048, n_mels=128) to the float32 bit', () => {
    const filterbank = slaneyMelFilterbank({ sampleRate: SAMPLE_RATE, nFft: N_FFT, nMels: N_MELS });
    // The arithmetic follows librosa step for step and V8's Math.log/exp are the portable
    // fdlibm ones, so the float32 weights come out identical, not merely close.
    expect(absDiff(filterbank, goldenFilterbank()).max).toBe(0);
  });

  it('rejects parameters librosa would reject', () => {
    expect(() => slaneyMelFilterbank({ sampleRate: 0, nFft: 2048, nMels: 128 })).toThrow(RangeError);
    expect(() => slaneyMelFilterbank({ sampleRate: 22_050, nFft: 2048, nMels: 128, fMax: 0 })).toThrow(
      /fMin 0 Hz, fMax 0 Hz/,
    );
  });
});

describe('sparse filterbank', () => {
  const dense = goldenFilterbank();
  const sparse = sparseFilterbank(dense, N_MELS);

  it('keeps exactly the nonzero weights, each filter a contiguous span', () => {
    const nonzero = dense.reduce((count, w) => count + (w === 0 ? 0 : 1), 0);
    expect(sparse.weights.length).toBe(nonzero);
    for (let m = 0; m < N_MELS; m++) {
      const span = (sparse.offset[m + 1] as number) - (sparse.offset[m] as number);
      expect(span).toBeGreaterThan(0);
      for (let i = 0; i < span; i++) {
        const bin = (sparse.firstBin[m] as number) + i;
        expect(sparse.weights[(sparse.offset[m] as number) + i]).toBe(dense[m * N_BINS + bin]);
      }
    }
  });

  it('applies the filterbank to speech spectra as the dense product does', () => {
    const power = powerSpectrogram(readGoldenF32('long_5s_16k.audio'));
    const nFrames = power.length / N_BINS;
    const mel = melSpectrogram(sparse, power);
    expect(mel.length).toBe(nFrames * N_MELS);
    let worstRelative = 0;
    for (let t = 0; t < nFrames; t++) {
      for (let m = 0; m < N_MELS; m++) {
        let expected = 0;
        for (let k = 0; k < N_BINS; k++) {
          expected += (dense[m * N_BINS + k] as number) * (power[t * N_BINS + k] as number);
        }
        const actual = mel[t * N_MELS + m] as number;
        worstRelative = Math.max(worstRelative, Math.abs(actual - expected) / expected);
      }
    }
    // Only the order of the float64 additions differs.
    expect(worstRelative).toBeLessThanOrEqual(1e-13);
  });

  it('writes one frame at the given offsets', () => {
    const spectrum = new Float64Array(N_BINS + 3).fill(1);
    const out = new Float64Array(N_MELS + 2).fill(-1);
    applyFilterbankToFrame(sparse, spectrum, 3, out, 2);
    expect(out[0]).toBe(-1);
    expect(out[1]).toBe(-1);
    // A flat spectrum gives each filter the sum of its weights.
    const firstFilterSum = dense.subarray(0, N_BINS).reduce((sum, w) => sum + w, 0);
    expect(out[2]).toBeCloseTo(firstFilterSum, 12);
  });

  it('rejects a dense array that is not whole rows', () => {
    expect(() => sparseFilterbank(new Float32Array(10), 3)).toThrow(
      /10 weights do not form 3 rows of equal length/,
    );
  });
});
