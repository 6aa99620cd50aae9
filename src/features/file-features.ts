import { loadAudio } from '../audio/load-clip.js';
import { prepareClip } from '../dsp/clip.js';
import { selectClipWindow, type ClipWindow } from '../dsp/clip-window.js';
import { type FeatureExtractor } from '../dsp/features.js';

/**
 * The model input for one recording. Under `start` (the default), exactly as the original
 * pipeline computes it: the first 3 s at 22.05 kHz (librosa.load semantics), padded or
 * trimmed, peak-normalised, then MFCC + mel features. Under `loudest`, the same from the
 * loudest 3 s of the whole recording (see clip-window.ts). Row-major (130, 168).
 */
export async function featuresForFile(
  file: string,
  extractor: FeatureExtractor,
  clipWindow: ClipWindow = 'start',
): Promise<Float32Array> {
  // `start` reads only the first 3 s, as librosa does: resampling just those native frames is
  // what the golden fixtures hold, to the last bit.
  const loaded = clipWindow === 'start' ? await loadAudio(file) : await loadAudio(file, { durationSeconds: Infinity });
  return extractor.extract(prepareClip(selectClipWindow(clipWindow, loaded)));
}
