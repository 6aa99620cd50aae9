import { WasmComplexFft } from './fft-wasm.js';

/**
 * Spectra of real frames of a fixed power-of-two size: X[k], k = 0..size/2, in split
 * real/imaginary arrays (`transform`), or the power spectrum of the frame under the periodic
 * Hann window (`periodicHannPower`).
 *
 * Both run one complex FFT of half the size (WasmComplexFft): a real frame x read as
 * interleaved complex numbers z[j] = x[2j] + i x[2j+1] is exactly that FFT's input layout, so
 * the frame is copied in as it is. With h = size/2, Z = FFT_h(z) and
 * W = exp(-2 pi i / size), the real spectrum is X[k] = E_k + P_k with
 * E_k = (Z[k] + conj Z[h-k]) / 2 and P_k = W^k (Z[k] - conj Z[h-k]) / 2i, and its mirror is
 * X[h-k] = conj(E_k - P_k), so each pass through the loop yields two bins. This is about twice
 * as fast as a real transform of the full size, which decides whether the features meet their
 * time budget. One instance owns its buffers, so it is not re-entrant.
 */
export class RealFft {
  readonly size: number;
  /** size / 2 + 1: the non-redundant bins of a real signal's spectrum. */
  readonly nBins: number;
  /** Re X[k] of the last transformed frame. */
  readonly re: Float64Array;
  /** Im X[k] of the last transformed frame; zero at k = 0 and k = size/2. */
  readonly im: Float64Array;
  private readonly half: number;
  private readonly fft: WasmComplexFft;
  /** W^k for k = 0..size/4. */
  private readonly twiddleRe: Float64Array;
  private readonly twiddleIm: Float64Array;

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 4 || (size & (size - 1)) !== 0) {
      throw new RangeError(`RealFft: size is ${size}; use a power of two of at least 4`);
    }
    this.size = size;
    this.half = size / 2;
    this.nBins = this.half + 1;
    this.re = new Float64Array(this.nBins);
    this.im = new Float64Array(this.nBins);
    this.fft = new WasmComplexFft(this.half);
    const quarter = size / 4;
    this.twiddleRe = new Float64Array(quarter + 1);
    this.twiddleIm = new Float64Array(quarter + 1);
    for (let k = 0; k <= quarter; k++) {
      const angle = (2 * Math.PI * k) / size;
      this.twiddleRe[k] = Math.cos(angle);
      this.twiddleIm[k] = -Math.sin(angle);
    }
  }

  /** Transforms `frame` (length size) into `re` and `im`. */
  transform(frame: Float64Array): void {
    const z = this.halfTransform(frame);
    const { re, im, half: h, twiddleRe, twiddleIm } = this;

    const z0Re = z[0] as number;
    const z0Im = z[1] as number;
    re[0] = z0Re + z0Im;
    im[0] = 0;
    re[h] = z0Re - z0Im;
    im[h] = 0;

    const quarter = h / 2;
    for (let k = 1; k <= quarter; k++) {
      const aRe = z[2 * k] as number;
      const aIm = z[2 * k + 1] as number;
      const bRe = z[2 * (h - k)] as number;
      const bIm = z[2 * (h - k) + 1] as number;
      const eRe = 0.5 * (aRe + bRe);
      const eIm = 0.5 * (aIm - bIm);
      // (a - conj b) / 2i = (aIm + bIm, bRe - aRe) / 2.
      const oRe = 0.5 * (aIm + bIm);
      const oIm = 0.5 * (bRe - aRe);
      const wRe = twiddleRe[k] as number;
      const wIm = twiddleIm[k] as number;
      const pRe = wRe * oRe - wIm * oIm;
      const pIm = wRe * oIm + wIm * oRe;
      re[k] = eRe + pRe;
      im[k] = eIm + pIm;
      re[h - k] = eRe - pRe;
      im[h - k] = pIm - eIm;
    }
  }

  /**
   * Writes |Y[k]|^2, k = 0..size/2, to out[outOffset ..], where Y is the spectrum of `frame`
   * times the periodic Hann window w[n] = 1/2 - 1/2 cos(2 pi n / size). That window is three
   * complex exponentials, so Y[k] = X[k]/2 - (X[k-1] + X[k+1])/4 (X[-1] = conj X[1] and
   * X[h+1] = conj X[h-1] for a real frame): three terms per bin instead of `size`
   * multiplications in time. The sum is linear, so it applies to E and P separately, and
   * Y[k] = E'_k + P'_k, Y[h-k] = conj(E'_k - P'_k) with E', P' the windowed E and P; one pass
   * from k = 0 to h/2 with E and P of k-1, k, k+1 in registers gives every bin.
   */
  periodicHannPower(frame: Float64Array, out: Float64Array, outOffset: number): void {
    const z = this.halfTransform(frame);
    const { half: h, twiddleRe, twiddleIm } = this;
    const quarter = h / 2;

    // E and P are kept doubled, E2 = Z[k] + conj Z[h-k] and P2 = W^k (Z[k] - conj Z[h-k]) / i,
    // and the window's 1/4 is left out: S = 2 E2_k - E2_k-1 - E2_k+1 is 8 E'_k, so the powers
    // carry a factor 1/64. At k = 0, E2 = 2 Re Z[0] and P2 = 2 Im Z[0], both real.
    let eRe = 2 * (z[0] as number);
    let eIm = 0;
    let pRe = 2 * (z[1] as number);
    let pIm = 0;
    let prevERe = 0;
    let prevEIm = 0;
    let prevPRe = 0;
    let prevPIm = 0;
    for (let k = 0; k <= quarter; k++) {
      const j = k + 1;
      let nextERe: number;
      let nextEIm: number;
      let nextPRe: number;
      let nextPIm: number;
      if (j <= quarter) {
        const aRe = z[2 * j] as number;
        const aIm = z[2 * j + 1] as number;
        const bRe = z[2 * (h - j)] as number;
        const bIm = z[2 * (h - j) + 1] as number;
        const oRe = aIm + bIm;
        const oIm = bRe - aRe;
        const wRe = twiddleRe[j] as number;
        const wIm = twiddleIm[j] as number;
        nextERe = aRe + bRe;
        nextEIm = aIm - bIm;
        nextPRe = wRe * oRe - wIm * oIm;
        nextPIm = wRe * oIm + wIm * oRe;
      } else {
        // Past the middle E_h-j = conj E_j and P_h-j = -conj P_j: bin j mirrors bin k - 1.
        nextERe = prevERe;
        nextEIm = -prevEIm;
        nextPRe = -prevPRe;
        nextPIm = prevPIm;
      }
      if (k === 0) {
        // Bin -1 of a real frame is the conjugate of bin 1.
        prevERe = nextERe;
        prevEIm = -nextEIm;
        prevPRe = nextPRe;
        prevPIm = -nextPIm;
      }

      const sRe = 2 * eRe - prevERe - nextERe;
      const sIm = 2 * eIm - prevEIm - nextEIm;
      const tRe = 2 * pRe - prevPRe - nextPRe;
      const tIm = 2 * pIm - prevPIm - nextPIm;
      const upRe = sRe + tRe;
      const upIm = sIm + tIm;
      const downRe = sRe - tRe;
      const downIm = sIm - tIm;
      out[outOffset + k] = (upRe * upRe + upIm * upIm) / 64;
      out[outOffset + h - k] = (downRe * downRe + downIm * downIm) / 64;

      prevERe = eRe;
      prevEIm = eIm;
      prevPRe = pRe;
      prevPIm = pIm;
      eRe = nextERe;
      eIm = nextEIm;
      pRe = nextPRe;
      pIm = nextPIm;
    }
  }

  /** Z = FFT_h(frame read as h interleaved complex numbers), in the FFT's output buffer. */
  private halfTransform(frame: Float64Array): Float64Array {
    if (frame.length !== this.size) {
      throw new RangeError(`RealFft: frame length is ${frame.length}; expected ${this.size}`);
    }
    this.fft.input.set(frame);
    this.fft.transform();
    return this.fft.output;
  }
}
