/**
 * The feature contract of the original librosa pipeline (../shared/golden/README.md).
 * A model is only valid for features computed with exactly these numbers; they are also
 * written into every model's metadata and checked on load.
 */
export const SAMPLE_RATE = 22_050;
export const CLIP_SECONDS = 3.0;
export const CLIP_SAMPLES = 66_150;
export const N_FFT = 2048;
export const HOP_LENGTH = 512;
export const N_MELS = 128;
export const N_MFCC = 40;
/** 1 + CLIP_SAMPLES // HOP_LENGTH, with librosa's centred frames. */
export const N_FRAMES = 130;
export const N_FEATURES = N_MFCC + N_MELS;
export const TOP_DB = 80;
export const AMIN = 1e-10;
/** Added to the peak before normalising and to the std before z-scoring, as librosa code does. */
export const NORM_EPSILON = 1e-6;

export interface FeatureParameters {
  sampleRate: number;
  clipSamples: number;
  nFft: number;
  hopLength: number;
  nMels: number;
  nMfcc: number;
  nFrames: number;
  window: 'hann';
  melScale: 'slaney';
  topDb: number;
}

export const FEATURE_PARAMETERS: Readonly<FeatureParameters> = Object.freeze({
  sampleRate: SAMPLE_RATE,
  clipSamples: CLIP_SAMPLES,
  nFft: N_FFT,
  hopLength: HOP_LENGTH,
  nMels: N_MELS,
  nMfcc: N_MFCC,
  nFrames: N_FRAMES,
  window: 'hann',
  melScale: 'slaney',
  topDb: TOP_DB,
});
