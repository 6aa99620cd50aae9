import { loadAudio } from '../audio/load-clip.js';
import { prepareClip } from '../dsp/clip.js';
import { type FeatureExtractor } from '../dsp/features.js';

/**
 * The model input for one recording, exactly as the original pipeline computes it: the first
 * 3 s at 22.05 kHz (librosa.load semantics), padded or trimmed, peak-normalised, then
 * MFCC + mel features. Row-major (130, 168).
 */
export async function featuresForFile(file: string, extractor: FeatureExtractor): Promise<Float32Array> {
  const loaded = await loadAudio(file);
  return extractor.extract(prepareClip(loaded));
}
