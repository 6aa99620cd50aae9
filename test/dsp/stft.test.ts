import { describe, expect, it } from 'vitest';
import { CLIP_SAMPLES, HOP_LENGTH, N_FFT, N_FRAMES } from '../../src/dsp/constants.js';
import { centredFrameCount, PowerSpectrogram, powerSpectrogram } from '../../src/dsp/stft.js';
import { readGoldenF32, readGoldenF64 } from '../helpers/golden.js';
import { naiveSpectrum } from './reference-dft.js';

/**
 * librosa's frame t, windowed in time with the golden periodic Hann window, and |DFT|^2 by
 * the defining sum: the reference the frequency-domain windowing must equal.
 */
function timeDomainFramePower(signal: Float32Array, t: number, window: Float64Array): Float64Array {
  const size = window.length;
  const start = t * HOP_LENGTH - size / 2;
  const frame = new Float64Array(size);
  for (let n = 0; n < size; n++) {
    const index = start + n;
    if (index >= 0 && index < signal.length) frame[n] = (window[n] as number) * (signal[index] as number);
  }
  const { re, im } = naiveSpectrum(frame);
  return re.map((value, k) => value * value + (im[k] as number) ** 2);
}

describe('PowerSpectrogram', () => {
  it('has librosa\'s centred frame count', () => {
    expect(centredFrameCount(CLIP_SAMPLES, HOP_LENGTH)).toBe(N_FRAMES);
    expect(centredFrameCount(5000, 512)).toBe(10);
    expect(centredFrameCount(512, 512)).toBe(2);
  });

  // Edge frames straddle the zero padding; the middle ones lie inside the speech.
  it.each([0, 1, 2, 64, 127, 128, 129])(
    'windows frame %i in frequency exactly as the golden Hann window does in time',
    (t) => {
      const audio = readGoldenF32('long_5s_16k.audio');
      const window = readGoldenF64('hann_window_2048_periodic');
      const spectrogram = new PowerSpectrogram(N_FFT, HOP_LENGTH);
      expect(spectrogram.setSignal(audio)).toBe(N_FRAMES);
      const actual = new Float64Array(spectrogram.nBins);
      spectrogram.framePower(t, actual, 0);
      const expected = timeDomainFramePower(audio, t, window);
      const peak = expected.reduce((max, p) => Math.max(max, p), 0);
      let worst = 0;
      for (let k = 0; k < expected.length; k++) {
        worst = Math.max(worst, Math.abs((actual[k] as number) - (expected[k] as number)));
      }
      expect(peak).toBeGreaterThan(0);
      // Both sides round near 1e-16 per operation; the defining sum measures 3e-15 of the peak.
      expect(worst).toBeLessThanOrEqual(3e-14 * peak);
    },
  );

  it('computes every frame time-major, for any signal length', () => {
    const audio = readGoldenF32('long_5s_16k.audio').subarray(30_000, 35_000);
    const all = powerSpectrogram(audio, 2048, 512);
    expect(all.length).toBe(10 * 1025);
    const spectrogram = new PowerSpectrogram(2048, 512);
    spectrogram.setSignal(audio);
    const frame9 = new Float64Array(1025);
    spectrogram.framePower(9, frame9, 0);
    expect(Array.from(all.subarray(9 * 1025))).toEqual(Array.from(frame9));
  });

  it('reads the newest signal after setSignal, not the previous one', () => {
    const speech = readGoldenF32('long_5s_16k.audio');
    const spectrogram = new PowerSpectrogram();
    spectrogram.setSignal(speech);
    spectrogram.setSignal(new Float32Array(CLIP_SAMPLES));
    const power = new Float64Array(spectrogram.nBins);
    spectrogram.framePower(60, power, 0);
    expect(power.every((p) => p === 0)).toBe(true);
  });

  it('rejects a frame the signal does not have and a bad hop length', () => {
    const spectrogram = new PowerSpectrogram();
    spectrogram.setSignal(new Float32Array(CLIP_SAMPLES));
    expect(() => spectrogram.framePower(130, new Float64Array(1025), 0)).toThrow(
      /frame 130 does not exist; the current signal has 130 frames/,
    );
    expect(() => new PowerSpectrogram(2048, 0)).toThrow(/hop length is 0/);
  });
});
