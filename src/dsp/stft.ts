import { HOP_LENGTH, N_FFT } from './constants.js';
import { RealFft } from './fft.js';

/** librosa's centred STFT pads nFft/2 each side, which gives 1 + floor(length / hop) frames. */
export function centredFrameCount(signalLength: number, hopLength: number): number {
  return 1 + Math.floor(signalLength / hopLength);
}

/**
 * The power spectrogram of `librosa.stft(center=True, pad_mode='constant')` with the periodic
 * Hann window: frame t is signal[t*hop - nFft/2 .. t*hop + nFft/2), zeros outside the signal,
 * windowed, transformed, and |.|^2 of bins 0..nFft/2.
 *
 * The window is applied in the frequency domain (RealFft.periodicHannPower), so the frames
 * are plain views into one zero-padded copy of the signal and nothing is copied or multiplied
 * per frame in time. The result equals windowing in time up to rounding in the last bits.
 *
 * Use: `setSignal(signal)`, then `framePower(t, ...)` for t < the frame count it returns.
 * One instance owns its buffers, so it is not re-entrant.
 */
export class PowerSpectrogram {
  readonly nFft: number;
  readonly hopLength: number;
  readonly nBins: number;
  private readonly fft: RealFft;
  /** The signal with nFft/2 zeros each side; frames are views into it. */
  private padded = new Float64Array(0);
  private frames: Float64Array[] = [];

  constructor(nFft: number = N_FFT, hopLength: number = HOP_LENGTH) {
    if (!Number.isInteger(hopLength) || hopLength < 1) {
      throw new RangeError(`PowerSpectrogram: hop length is ${hopLength}; use a positive integer`);
    }
    this.fft = new RealFft(nFft);
    this.nFft = nFft;
    this.hopLength = hopLength;
    this.nBins = this.fft.nBins;
  }

  /**
   * Makes `signal` the one framePower reads, and returns its frame count. Buffers are kept
   * while the signal length stays the same, so repeated clips allocate nothing.
   */
  setSignal(signal: Float32Array): number {
    const nFrames = centredFrameCount(signal.length, this.hopLength);
    if (this.padded.length !== signal.length + this.nFft) {
      this.padded = new Float64Array(signal.length + this.nFft);
      this.frames = [];
      for (let t = 0; t < nFrames; t++) {
        const start = t * this.hopLength;
        this.frames.push(this.padded.subarray(start, start + this.nFft));
      }
    }
    this.padded.set(signal, this.nFft / 2);
    return nFrames;
  }

  /** Writes the nBins powers of frame `t` of the current signal to out[outOffset ..]. */
  framePower(t: number, out: Float64Array, outOffset: number): void {
    const frame = this.frames[t];
    if (frame === undefined) {
      throw new RangeError(
        `PowerSpectrogram: frame ${t} does not exist; the current signal has ${this.frames.length} frames`,
      );
    }
    this.fft.periodicHannPower(frame, out, outOffset);
  }

  /** All frames of `signal`, time-major (nFrames, nBins). */
  compute(signal: Float32Array): Float64Array {
    const nFrames = this.setSignal(signal);
    const out = new Float64Array(nFrames * this.nBins);
    for (let t = 0; t < nFrames; t++) this.framePower(t, out, t * this.nBins);
    return out;
  }
}

/** `abs(librosa.stft(signal, n_fft, hop_length, center=True, pad_mode='constant'))**2`, time-major. */
export function powerSpectrogram(
  signal: Float32Array,
  nFft: number = N_FFT,
  hopLength: number = HOP_LENGTH,
): Float64Array {
  return new PowerSpectrogram(nFft, hopLength).compute(signal);
}
