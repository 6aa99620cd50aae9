import { CLIP_SAMPLES, HOP_LENGTH } from './constants.js';

/**
 * Which 3 s of a recording a model hears in training and evaluation, as its model directory
 * names it (`clipWindow` in metadata.json; absent = `start`):
 *
 * - `start`: the first 3 s, the contract of ../shared/golden (librosa.load with duration=3).
 * - `loudest`: the 3 s with the most energy. Acted corpora start with up to a second of
 *   silence (RAVDESS) and some run past 3 s, so the first 3 s can cut the end of the
 *   sentence; the loudest span is where the voice is, as the daemon's speech-gated sliding
 *   windows are.
 *
 * The daemon is not affected: it always classifies sliding windows of the live stream.
 */
export const CLIP_WINDOWS = ['start', 'loudest'] as const;
export type ClipWindow = (typeof CLIP_WINDOWS)[number];

/**
 * The samples of `recording` (mono, at the feature rate) the model hears under `clipWindow`:
 * a view of at most CLIP_SAMPLES samples, to be padded and normalised by prepareClip.
 */
export function selectClipWindow(clipWindow: ClipWindow, recording: Float32Array): Float32Array {
  const start = clipWindowStart(clipWindow, recording);
  return recording.subarray(start, start + CLIP_SAMPLES);
}

/**
 * Where the model's window of `recording` starts, in samples. `loudest` searches in steps of
 * one feature hop (23 ms), which is finer than any emotion cue and keeps the search linear;
 * of equally loud spans it takes the earliest.
 */
export function clipWindowStart(clipWindow: ClipWindow, recording: Float32Array): number {
  if (clipWindow === 'start' || recording.length <= CLIP_SAMPLES) return 0;
  const blocks = Math.ceil(recording.length / HOP_LENGTH);
  const energy = new Float64Array(blocks);
  for (let i = 0; i < recording.length; i++) {
    const sample = recording[i] as number;
    const block = Math.floor(i / HOP_LENGTH);
    energy[block] = (energy[block] as number) + sample * sample;
  }
  const lastStart = recording.length - CLIP_SAMPLES;
  // The energy of the window starting at block b, kept by sliding: add the block entering on
  // the right, drop the block leaving on the left. Windows are whole blocks except the last.
  const blocksPerWindow = Math.floor(CLIP_SAMPLES / HOP_LENGTH);
  let windowEnergy = 0;
  for (let b = 0; b < blocksPerWindow; b++) windowEnergy += energy[b] as number;
  let bestStart = 0;
  let bestEnergy = windowEnergy;
  for (let b = 1; b * HOP_LENGTH <= lastStart; b++) {
    windowEnergy += (energy[b + blocksPerWindow - 1] as number) - (energy[b - 1] as number);
    if (windowEnergy > bestEnergy) {
      bestEnergy = windowEnergy;
      bestStart = b * HOP_LENGTH;
    }
  }
  return bestStart;
}
