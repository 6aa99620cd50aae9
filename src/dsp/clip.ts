import { CLIP_SAMPLES, NORM_EPSILON } from './constants.js';

/**
 * The clip the features are computed from: `loaded` (mono, already at SAMPLE_RATE) zero-padded
 * or trimmed to CLIP_SAMPLES, then peak-normalised as the original Python does:
 * `audio / (max(abs(audio)) + 1e-6)`.
 *
 * The rounding follows numpy 1.24, which produced the golden fixtures: the float32 peak plus
 * the Python float 1e-6 is a float64 sum, and dividing the float32 array by that float64
 * scalar stays float32 (value-based casting), so numpy rounds the divisor to float32 and divides
 * in float32. A float64 quotient of two float32 values rounded once to float32 is that
 * correctly rounded float32 quotient, so the result matches the fixtures bit for bit.
 * An all-zero clip stays all zero, as in Python.
 *
 * `out` (CLIP_SAMPLES long, not `loaded` itself) receives the clip, so a caller preparing one
 * clip per window can reuse one array instead of allocating 264 KB each time.
 */
export function prepareClip(loaded: Float32Array, out: Float32Array = new Float32Array(CLIP_SAMPLES)): Float32Array {
  if (out.length !== CLIP_SAMPLES || out.buffer === loaded.buffer) {
    throw new RangeError(
      `prepareClip: out has ${out.length} samples${out.buffer === loaded.buffer ? ' and shares memory with the input' : ''}; give it a separate Float32Array of ${CLIP_SAMPLES}`,
    );
  }
  const clip = out;
  const kept = Math.min(loaded.length, CLIP_SAMPLES);
  clip.set(loaded.subarray(0, kept));
  clip.fill(0, kept);

  let peak = 0;
  for (let i = 0; i < clip.length; i++) {
    const magnitude = Math.abs(clip[i] as number);
    // `!(<=)` also catches NaN, which a plain `>` comparison would skip silently.
    if (!(magnitude <= peak)) {
      if (!Number.isFinite(magnitude)) {
        throw new RangeError(
          `prepareClip: sample ${i} is ${clip[i]}; the decoded audio must hold finite samples only`,
        );
      }
      peak = magnitude;
    }
  }

  const divisor = Math.fround(peak + NORM_EPSILON);
  for (let i = 0; i < clip.length; i++) clip[i] = (clip[i] as number) / divisor;
  return clip;
}
