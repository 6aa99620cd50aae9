import { N_FEATURES, N_FRAMES, N_MFCC } from '../../dsp/constants.js';
import { UsageError } from '../../errors.js';
import { type Random } from '../random.js';

/**
 * Augmentation applied to each training batch as it is assembled, in feature space: it costs
 * no feature builds and no cache, and every epoch sees new masks and new mixtures. Clip-level
 * augmentations that need the waveform (pitch, noise, ...) stay in `--augment`.
 */
export interface BatchAugmentation {
  /** SpecAugment time masks per clip, each up to `timeMaskFrames` frames wide. */
  timeMasks: number;
  timeMaskFrames: number;
  /** Frequency masks per clip over the mel block, each up to `melMaskBands` bands. */
  melMasks: number;
  melMaskBands: number;
  /** Masks per clip over the MFCC block, each up to `mfccMaskCoefficients` coefficients. */
  mfccMasks: number;
  mfccMaskCoefficients: number;
  /** Mixup's Beta(α, α) for the mixing weight; 0 = no mixup. */
  mixupAlpha: number;
}

/**
 * SpecAugment as in Park et al. 2019's smaller policies, scaled to a 130-frame, 128-band
 * window: two time masks of up to 20 frames (0.46 s), two mel masks of up to 16 bands and one
 * MFCC mask of up to 5 coefficients.
 */
export const SPEC_AUGMENT_DEFAULTS = {
  timeMasks: 2,
  timeMaskFrames: 20,
  melMasks: 2,
  melMaskBands: 16,
  mfccMasks: 1,
  mfccMaskCoefficients: 5,
} as const;

const NO_AUGMENTATION: BatchAugmentation = {
  timeMasks: 0,
  timeMaskFrames: 0,
  melMasks: 0,
  melMaskBands: 0,
  mfccMasks: 0,
  mfccMaskCoefficients: 0,
  mixupAlpha: 0,
};

/** `--spec-augment` and `--mixup ALPHA` as given on the command line; undefined when both are off. */
export function parseBatchAugmentation(flags: { specAugment: boolean; mixup: string | undefined }): BatchAugmentation | undefined {
  const alpha = flags.mixup === undefined ? 0 : Number(flags.mixup);
  if (!(Number.isFinite(alpha) && alpha >= 0 && alpha <= 10)) {
    throw new UsageError(`--mixup must be Beta's α, a number from 0 (off) to 10, such as 0.2; got "${flags.mixup}"`);
  }
  if (!flags.specAugment && alpha === 0) return undefined;
  return { ...NO_AUGMENTATION, ...(flags.specAugment ? SPEC_AUGMENT_DEFAULTS : {}), mixupAlpha: alpha };
}

/**
 * Masks one clip's (N_FRAMES, N_FEATURES) block in place. Masked values are set to 0, the
 * mean of every band after the front-end's normalisation, so a mask removes information
 * without adding an offset the model could learn to spot.
 */
export function maskClip(clip: Float32Array, spec: BatchAugmentation, random: Random): void {
  for (let m = 0; m < spec.timeMasks; m++) {
    const [start, width] = drawSpan(N_FRAMES, spec.timeMaskFrames, random);
    clip.fill(0, start * N_FEATURES, (start + width) * N_FEATURES);
  }
  const bandMask = (first: number, bands: number, maxWidth: number): void => {
    const [start, width] = drawSpan(bands, maxWidth, random);
    for (let t = 0; t < N_FRAMES; t++) {
      const row = t * N_FEATURES + first + start;
      clip.fill(0, row, row + width);
    }
  };
  for (let m = 0; m < spec.mfccMasks; m++) bandMask(0, N_MFCC, spec.mfccMaskCoefficients);
  for (let m = 0; m < spec.melMasks; m++) bandMask(N_MFCC, N_FEATURES - N_MFCC, spec.melMaskBands);
}

/** A span of 0..maxWidth (inclusive) cells placed uniformly within `extent`. */
function drawSpan(extent: number, maxWidth: number, random: Random): [start: number, width: number] {
  const width = random.integer(Math.min(maxWidth, extent) + 1);
  return [random.integer(extent - width + 1), width];
}

/** How a mixed batch is built: clip i is `weight · clip i + (1 - weight) · clip partners[i]`. */
export interface Mixture {
  partners: Int32Array;
  weight: number;
}

/**
 * Mixup (Zhang et al. 2018) over one batch: one weight λ ~ Beta(α, α) for the batch, folded
 * to λ ≥ 0.5 so every clip's own label stays the larger share, and a random pairing of its
 * clips. Mixes `x` in place and returns the pairing for the loss's targets.
 */
export function mixBatch(x: Float32Array, clips: number, alpha: number, random: Random): Mixture {
  const raw = sampleBeta(alpha, random);
  const weight = Math.max(raw, 1 - raw);
  const partners = new Int32Array(clips);
  for (let i = 0; i < clips; i++) partners[i] = i;
  for (let i = clips - 1; i > 0; i--) {
    const j = random.integer(i + 1);
    [partners[i], partners[j]] = [partners[j] as number, partners[i] as number];
  }
  const clipValues = N_FRAMES * N_FEATURES;
  const original = Float32Array.from(x);
  for (let i = 0; i < clips; i++) {
    const own = i * clipValues;
    const other = (partners[i] as number) * clipValues;
    for (let v = 0; v < clipValues; v++) {
      x[own + v] = weight * (original[own + v] as number) + (1 - weight) * (original[other + v] as number);
    }
  }
  return { partners, weight };
}

/** Beta(α, α) from two gamma draws. */
export function sampleBeta(alpha: number, random: Random): number {
  const a = sampleGamma(alpha, random);
  const b = sampleGamma(alpha, random);
  return a + b === 0 ? 0.5 : a / (a + b);
}

/**
 * Gamma(shape, 1) by Marsaglia and Tsang (2000); shapes below 1 use the boost
 * Gamma(a) = Gamma(a + 1) · U^(1/a).
 */
function sampleGamma(shape: number, random: Random): number {
  if (shape < 1) return sampleGamma(shape + 1, random) * Math.pow(uniformOpen(random), 1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = standardNormal(random);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = uniformOpen(random);
    if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
  }
}

function standardNormal(random: Random): number {
  return Math.sqrt(-2 * Math.log(uniformOpen(random))) * Math.cos(2 * Math.PI * random.uniform());
}

/** A uniform number in (0, 1): logarithms of it stay finite. */
function uniformOpen(random: Random): number {
  return (random.integer(2 ** 31 - 1) + 1) / 2 ** 31;
}
