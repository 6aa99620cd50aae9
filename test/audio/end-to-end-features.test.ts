import { describe, expect, it } from 'vitest';
import { loadAudio } from '../../src/audio/load-clip.js';
import { prepareClip } from '../../src/dsp/clip.js';
import { extractFeatures } from '../../src/dsp/features.js';
import { absDiff, GOLDEN_WAVS, goldenWavPath, readGoldenF32 } from '../helpers/golden.js';

/**
 * The whole input path, file to model input, against librosa's features. Without
 * resampling only float rounding separates the two; with it, the resampler's difference
 * from soxr_hq shows up mostly in near-silent mel bands next to Nyquist. librosa's own
 * soxr_vhq lands at max 0.04-0.06 / mean <= 4e-4 from soxr_hq (golden README).
 */
const UNRESAMPLED_MAX_ABS_DIFF = 1e-4;
const RESAMPLED_MAX_ABS_DIFF = 0.25;
const RESAMPLED_MEAN_ABS_DIFF = 2e-3;

describe('loadAudio -> prepareClip -> extractFeatures against golden features', () => {
  it.each(GOLDEN_WAVS)('%s', async (name) => {
    const features = extractFeatures(prepareClip(await loadAudio(goldenWavPath(name))));
    const { max, mean } = absDiff(features, readGoldenF32(`${name}.features`));
    console.info(`${name}: features max |Δ| ${max.toExponential(2)}, mean |Δ| ${mean.toExponential(2)}`);
    if (name === 'speech_e_22k') {
      expect(max).toBeLessThanOrEqual(UNRESAMPLED_MAX_ABS_DIFF);
    } else {
      expect(max).toBeLessThanOrEqual(RESAMPLED_MAX_ABS_DIFF);
      expect(mean).toBeLessThanOrEqual(RESAMPLED_MEAN_ABS_DIFF);
    }
  });
});
