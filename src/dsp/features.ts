import {
  CLIP_SAMPLES,
  N_FEATURES,
  N_FFT,
  N_FRAMES,
  N_MELS,
  N_MFCC,
  SAMPLE_RATE,
} from './constants.js';
import { powerToDb, type PowerToDbOptions } from './db.js';
import { applyFilterbankToFrame, slaneyMelFilterbank, sparseFilterbank, type SparseFilterbank } from './mel.js';
import { DctOrtho, mfccFromMelDb } from './mfcc.js';
import { PowerSpectrogram } from './stft.js';
import { standardization } from './zscore.js';

const MEL_DB_REF_1: Readonly<PowerToDbOptions> = Object.freeze({ ref: 1 });

/**
 * The model input of the original librosa pipeline (../shared/golden/README.md) for one
 * prepared clip: (N_FRAMES, N_FEATURES) row-major, row t = N_MFCC z-scored MFCCs followed by
 * N_MELS z-scored mel dB.
 *
 * The constructor builds the FFT plans and twiddles (the Hann window is applied in the
 * frequency domain, see RealFft.periodicHannPower), the sparse filterbank and the DCT once,
 * and the extractor reuses its scratch buffers, so `extract` allocates nothing when given
 * `out`. One extractor is not re-entrant, which is harmless as extraction is synchronous.
 */
export class FeatureExtractor {
  private readonly spectrogram = new PowerSpectrogram();
  private readonly filterbank: SparseFilterbank = sparseFilterbank(
    slaneyMelFilterbank({ sampleRate: SAMPLE_RATE, nFft: N_FFT, nMels: N_MELS }),
    N_MELS,
  );
  private readonly dct = new DctOrtho(N_MFCC, N_MELS);
  private readonly framePower = new Float64Array(this.spectrogram.nBins);
  /** Time-major (N_FRAMES, N_MELS): mel power, then its dB. */
  private readonly mel = new Float64Array(N_FRAMES * N_MELS);
  /** Time-major (N_FRAMES, N_MFCC): the raw MFCCs. */
  private readonly mfcc = new Float64Array(N_FRAMES * N_MFCC);

  /** `clip` is a prepareClip result: exactly CLIP_SAMPLES finite samples at SAMPLE_RATE. */
  extract(clip: Float32Array, out: Float32Array = new Float32Array(N_FRAMES * N_FEATURES)): Float32Array {
    assertClip(clip);
    if (out.length !== N_FRAMES * N_FEATURES) {
      throw new RangeError(
        `FeatureExtractor.extract: out holds ${out.length} values; expected ${N_FRAMES * N_FEATURES} (${N_FRAMES}x${N_FEATURES})`,
      );
    }
    const { mel, mfcc } = this;
    this.spectrogram.setSignal(clip);
    for (let t = 0; t < N_FRAMES; t++) {
      this.spectrogram.framePower(t, this.framePower, 0);
      applyFilterbankToFrame(this.filterbank, this.framePower, 0, mel, t * N_MELS);
    }
    powerToDb(mel, MEL_DB_REF_1, mel);
    mfccFromMelDb(mel, this.dct, mfcc);
    // The model's mel block is power_to_db(ref=np.max), which is the ref=1.0 dB minus the
    // constant 10 log10(max power) with the same top_db clip; z-scoring removes a constant
    // shift, so the ref=1.0 dB the MFCCs need serves both and saves a second log pass.
    const mfccZ = standardization(mfcc);
    const melZ = standardization(mel);

    for (let t = 0; t < N_FRAMES; t++) {
      const row = t * N_FEATURES;
      for (let k = 0; k < N_MFCC; k++) {
        out[row + k] = ((mfcc[t * N_MFCC + k] as number) - mfccZ.mean) * mfccZ.scale;
      }
      for (let m = 0; m < N_MELS; m++) {
        out[row + N_MFCC + m] = ((mel[t * N_MELS + m] as number) - melZ.mean) * melZ.scale;
      }
    }
    return out;
  }
}

function assertClip(clip: Float32Array): void {
  if (clip.length !== CLIP_SAMPLES) {
    throw new RangeError(
      `FeatureExtractor.extract: the clip has ${clip.length} samples; expected exactly ${CLIP_SAMPLES} ` +
        '(pass it through prepareClip first)',
    );
  }
  // A sum of float32 values cannot overflow a double, so it is finite exactly when every
  // sample is; the scan for the culprit runs only on failure. Four partial sums keep the adds
  // from waiting on each other.
  let sum0 = 0;
  let sum1 = 0;
  let sum2 = 0;
  let sum3 = 0;
  let i = 0;
  for (; i + 3 < clip.length; i += 4) {
    sum0 += clip[i] as number;
    sum1 += clip[i + 1] as number;
    sum2 += clip[i + 2] as number;
    sum3 += clip[i + 3] as number;
  }
  for (; i < clip.length; i++) sum0 += clip[i] as number;
  if (!Number.isFinite(sum0 + sum1 + sum2 + sum3)) {
    const index = clip.findIndex((sample) => !Number.isFinite(sample));
    throw new RangeError(
      `FeatureExtractor.extract: sample ${index} of the clip is ${clip[index]}; every sample must be finite`,
    );
  }
}

let sharedExtractor: FeatureExtractor | undefined;

/** FeatureExtractor.extract with one extractor shared by all callers, created on first use. */
export function extractFeatures(clip: Float32Array): Float32Array {
  sharedExtractor ??= new FeatureExtractor();
  return sharedExtractor.extract(clip);
}
