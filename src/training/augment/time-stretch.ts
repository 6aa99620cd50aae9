/**
 * Waveform-similarity overlap-add (WSOLA; Verhelst & Roelands 1993) time stretching: the
 * output is built from Hann-windowed input frames laid down every SYNTHESIS_HOP samples, each
 * read from near its nominal input position (output position × rate), shifted by up to
 * TOLERANCE samples to the place whose waveform best continues the previous frame. Matching
 * the waveform, rather than laying frames blindly, keeps periodic sounds in phase across the
 * joins, so the pitch is kept while the duration changes. It works in the time domain, so it
 * costs a few milliseconds per clip rather than a phase vocoder's STFT round trip, and it is
 * good on speech; its known artefact is an occasional doubled or dropped pitch period.
 */

/** 1024 samples = 46 ms at 22.05 kHz: several pitch periods of any voice. */
const FRAME = 1024;
const SYNTHESIS_HOP = FRAME / 2;
/** How far (±11.6 ms at 22.05 kHz) a frame may move: more than the longest pitch period. */
const TOLERANCE = 256;
/** The similarity is summed over every CORRELATION_STRIDE-th sample: half the cost. */
const CORRELATION_STRIDE = 2;
/**
 * Candidates are first scored every SEARCH_STEP samples, then the best one's neighbours: a
 * third of the cost of scoring all, and a correlation peak of speech (dominated by harmonics
 * below 2 kHz, whose peaks are over 5 samples wide) is not stepped over.
 */
const SEARCH_STEP = 3;

/** The periodic Hann window, whose copies at half-frame hops sum to exactly 1. */
const WINDOW = Float64Array.from({ length: FRAME }, (_, n) => 0.5 - 0.5 * Math.cos((2 * Math.PI * n) / FRAME));

/**
 * `samples` played `rate` times as fast at the same pitch: rate 2 halves the duration, 0.5
 * doubles it (librosa.effects.time_stretch's convention). The result has
 * `outputLength` samples, by default round(samples.length / rate); input beyond the end
 * reads as silence.
 */
export function timeStretch(
  samples: Float32Array,
  rate: number,
  outputLength: number = Math.round(samples.length / rate),
): Float32Array {
  if (!(rate > 0) || !Number.isFinite(rate)) {
    throw new RangeError(`timeStretch: the rate must be a positive finite number, got ${rate}`);
  }
  if (!Number.isInteger(outputLength) || outputLength < 0) {
    throw new RangeError(`timeStretch: the output length must be a whole number >= 0, got ${outputLength}`);
  }
  // Zero margins on both sides make every frame read in bounds, so the inner loops index directly.
  const margin = TOLERANCE + FRAME;
  const maxStart = Math.ceil(outputLength / SYNTHESIS_HOP) * SYNTHESIS_HOP * rate + 2 * SYNTHESIS_HOP + TOLERANCE;
  const padded = new Float64Array(margin + Math.max(samples.length, Math.ceil(maxStart)) + margin);
  padded.set(samples.subarray(0, Math.min(samples.length, padded.length - 2 * margin)), margin);
  const sum = new Float64Array(outputLength + FRAME);
  const weight = new Float64Array(outputLength + FRAME);
  const analysisHop = SYNTHESIS_HOP * rate;
  let previous = 0;
  for (let frame = 0; frame * SYNTHESIS_HOP < outputLength; frame += 1) {
    const start = frame === 0 ? 0 : bestMatch(padded, margin, Math.round(frame * analysisHop), previous + SYNTHESIS_HOP);
    const outputStart = frame * SYNTHESIS_HOP;
    const inputStart = margin + start;
    for (let n = 0; n < FRAME; n += 1) {
      const w = WINDOW[n] as number;
      sum[outputStart + n] = (sum[outputStart + n] as number) + w * (padded[inputStart + n] as number);
      weight[outputStart + n] = (weight[outputStart + n] as number) + w;
    }
    previous = start;
  }
  const out = new Float32Array(outputLength);
  for (let i = 0; i < outputLength; i += 1) {
    const w = weight[i] as number;
    // Only the very first samples (window near 0, no overlapping frame) have a small weight.
    out[i] = w > 1e-9 ? (sum[i] as number) / w : 0;
  }
  return out;
}

/**
 * The input position within ±TOLERANCE of `nominal` (and not before the start) whose frame
 * correlates best with the frame starting at `continuation`, the natural continuation of the
 * previous frame. Positions are in the unpadded signal; `padded` holds it from `margin`.
 */
function bestMatch(padded: Float64Array, margin: number, nominal: number, continuation: number): number {
  const score = (candidate: number): number => {
    let total = 0;
    const a = margin + continuation;
    const b = margin + candidate;
    for (let k = 0; k < FRAME; k += CORRELATION_STRIDE) total += (padded[a + k] as number) * (padded[b + k] as number);
    return total;
  };
  const low = Math.max(0, nominal - TOLERANCE);
  const high = Math.max(low, nominal + TOLERANCE);
  let best = low;
  let bestScore = -Infinity;
  const consider = (candidate: number): void => {
    const value = score(candidate);
    if (value > bestScore) {
      bestScore = value;
      best = candidate;
    }
  };
  for (let candidate = low; candidate <= high; candidate += SEARCH_STEP) consider(candidate);
  const coarse = best;
  for (let candidate = Math.max(low, coarse - SEARCH_STEP + 1); candidate <= Math.min(high, coarse + SEARCH_STEP - 1); candidate += 1) {
    if (candidate !== coarse) consider(candidate);
  }
  return best;
}
