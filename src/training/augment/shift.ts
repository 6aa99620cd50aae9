/** How samples moved past one end of the window come back. */
export type ShiftMode = 'zero' | 'circular';
export const SHIFT_MODES: readonly ShiftMode[] = ['zero', 'circular'];

/**
 * The window moved by `offset` samples: positive delays (sample i lands at i + offset),
 * negative advances. 'zero' fills the vacated end with silence, as a window cut earlier or later
 * around the utterance would; 'circular' wraps the samples that leave one end into the other.
 */
export function timeShift(samples: Float32Array, offset: number, mode: ShiftMode): Float32Array {
  if (!Number.isInteger(offset)) throw new RangeError(`timeShift: the offset must be a whole number of samples, got ${offset}`);
  const length = samples.length;
  const out = new Float32Array(length);
  if (length === 0) return out;
  if (mode === 'circular') {
    const wrapped = ((offset % length) + length) % length;
    out.set(samples.subarray(0, length - wrapped), wrapped);
    out.set(samples.subarray(length - wrapped), 0);
  } else if (Math.abs(offset) < length) {
    if (offset >= 0) out.set(samples.subarray(0, length - offset), offset);
    else out.set(samples.subarray(-offset));
  }
  return out;
}
