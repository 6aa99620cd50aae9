import { RealFft } from './fft.js';

/**
 * The first `nOutputs` coefficients of the orthonormal DCT-II of length `nInputs`, the
 * transform `librosa.feature.mfcc` applies along the mel axis
 * (`scipy.fft.dct(type=2, norm='ortho')`):
 * C[k] = s_k sum_n x[n] cos(pi k (2n + 1) / (2 nInputs)), s_0 = sqrt(1/nInputs),
 * s_k = sqrt(2/nInputs).
 *
 * It goes through one real FFT of the same length (Makhoul's method): with v the even samples
 * in order followed by the odd samples reversed, C[k] = s_k Re(exp(-i pi k / (2 nInputs)) V[k]).
 * For 40 of 128 coefficients that is about a third of the time of the matrix product. So
 * nInputs must be a power of two. One instance owns its buffers, so it is not re-entrant.
 */
export class DctOrtho {
  readonly nInputs: number;
  readonly nOutputs: number;
  private readonly fft: RealFft;
  private readonly reordered: Float64Array;
  /** s_k exp(-i pi k / (2 nInputs)). */
  private readonly rotationRe: Float64Array;
  private readonly rotationIm: Float64Array;

  constructor(nOutputs: number, nInputs: number) {
    if (!Number.isInteger(nInputs) || nInputs < 4 || (nInputs & (nInputs - 1)) !== 0) {
      throw new RangeError(`DctOrtho: ${nInputs} inputs; use a power of two of at least 4`);
    }
    if (!Number.isInteger(nOutputs) || nOutputs < 1 || nOutputs > nInputs) {
      throw new RangeError(`DctOrtho: ${nOutputs} outputs from ${nInputs} inputs; use 1 <= nOutputs <= nInputs`);
    }
    this.nInputs = nInputs;
    this.nOutputs = nOutputs;
    this.fft = new RealFft(nInputs);
    this.reordered = new Float64Array(nInputs);
    this.rotationRe = new Float64Array(nOutputs);
    this.rotationIm = new Float64Array(nOutputs);
    for (let k = 0; k < nOutputs; k++) {
      const scale = Math.sqrt((k === 0 ? 1 : 2) / nInputs);
      const angle = (-Math.PI * k) / (2 * nInputs);
      this.rotationRe[k] = scale * Math.cos(angle);
      this.rotationIm[k] = scale * Math.sin(angle);
    }
  }

  /** out[outOffset + k] = C[k] of input[inOffset .. inOffset + nInputs), k < nOutputs. */
  apply(input: Float64Array, inOffset: number, out: Float64Array, outOffset: number): void {
    const { nInputs, nOutputs, reordered, fft, rotationRe, rotationIm } = this;
    const half = nInputs / 2;
    for (let n = 0; n < half; n++) {
      reordered[n] = input[inOffset + 2 * n] as number;
      reordered[nInputs - 1 - n] = input[inOffset + 2 * n + 1] as number;
    }
    fft.transform(reordered);
    const { re, im } = fft;
    for (let k = 0; k < nOutputs; k++) {
      // Above nInputs/2 the spectrum of the real v mirrors: V[k] = conj V[nInputs - k].
      const mirrored = k > half;
      const vRe = (mirrored ? re[nInputs - k] : re[k]) as number;
      const vIm = (mirrored ? -(im[nInputs - k] as number) : im[k]) as number;
      out[outOffset + k] = (rotationRe[k] as number) * vRe - (rotationIm[k] as number) * vIm;
    }
  }
}

/**
 * MFCCs from time-major mel decibels (nFrames, dct.nInputs), written time-major
 * (nFrames, dct.nOutputs). librosa takes them from `power_to_db(mel, ref=1.0, top_db=80)`.
 */
export function mfccFromMelDb(
  melDb: Float64Array,
  dct: DctOrtho,
  out: Float64Array = new Float64Array((melDb.length / dct.nInputs) * dct.nOutputs),
): Float64Array {
  const nFrames = melDb.length / dct.nInputs;
  if (!Number.isInteger(nFrames)) {
    throw new RangeError(
      `mfccFromMelDb: ${melDb.length} values are not whole frames of ${dct.nInputs} mel bands`,
    );
  }
  if (out.length !== nFrames * dct.nOutputs) {
    throw new RangeError(`mfccFromMelDb: out holds ${out.length} values; expected ${nFrames * dct.nOutputs}`);
  }
  for (let t = 0; t < nFrames; t++) dct.apply(melDb, t * dct.nInputs, out, t * dct.nOutputs);
  return out;
}
