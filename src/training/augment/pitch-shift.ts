import { resampleSync } from '../../audio/resample.js';
import { SAMPLE_RATE } from '../../dsp/constants.js';
import { timeStretch } from './time-stretch.js';

/**
 * The resampler takes whole-number rates, so the frequency ratio is rounded to a multiple of
 * 1/RATIO_STEPS: rate pairs (SAMPLE_RATE · q/150, SAMPLE_RATE) keep its polyphase tables small
 * (150 phases), and the rounding error is under 0.06 semitone.
 */
const RATIO_STEPS = 150;

export interface PitchShiftResult {
  samples: Float32Array;
  /** The shift actually applied after rounding the ratio. */
  semitones: number;
}

/**
 * Every frequency of `samples` (at SAMPLE_RATE) multiplied by 2^(semitones / 12), duration
 * kept: time-stretch by the ratio (WSOLA keeps the pitch), then resample by its inverse
 * (which scales pitch and duration together), as librosa.effects.pitch_shift does with a
 * phase vocoder. Shifting up band-limits to the resampler's passband first, so nothing aliases.
 */
export function pitchShift(samples: Float32Array, semitones: number): PitchShiftResult {
  if (!Number.isFinite(semitones)) throw new RangeError(`pitchShift: semitones must be finite, got ${semitones}`);
  const steps = Math.round(RATIO_STEPS * 2 ** (semitones / 12));
  if (steps < 1) throw new RangeError(`pitchShift: a shift of ${semitones} semitones is too far down`);
  const ratio = steps / RATIO_STEPS;
  const stretched = timeStretch(samples, 1 / ratio, Math.round(samples.length * ratio));
  // Read at SAMPLE_RATE · ratio and written at SAMPLE_RATE: played `ratio` times as fast.
  const resampled = resampleSync(stretched, (SAMPLE_RATE / RATIO_STEPS) * steps, SAMPLE_RATE);
  const out = new Float32Array(samples.length);
  out.set(resampled.subarray(0, samples.length));
  return { samples: out, semitones: 12 * Math.log2(ratio) };
}
