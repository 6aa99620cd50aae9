import { type ClipWindow } from '../dsp/clip-window.js';
import { type FeatureExtractor } from '../dsp/features.js';
import { type FeatureCache } from '../features/feature-cache.js';
import { EMOTIONS } from '../labels.js';
import { type Logger } from '../logging/logger.js';
import { type BatchAugmentation } from './augment/batch.js';
import { loadBackgroundBank } from './augment/background.js';
import { describeAugmentation, type AugmentationSpec } from './augment/spec.js';
import { buildAugmentedVariant, type FeatureSet } from './feature-set.js';
import { balancedClassWeights } from './loss.js';
import { balancedSamplingWeights } from './sampling.js';
import { type LabelledSet, type TrainOptions } from './trainer.js';

/** The optional training improvements a run can ask for (issue 4), all off by default. */
export interface TrainingImprovements {
  /** Augmented copies of the training files; validation and test files are never augmented. */
  augmentation?: AugmentationSpec;
  /** 'balanced': each class's loss weighted by n / (classes · its count) in the training set. */
  classWeights?: 'balanced';
  /** Label smoothing ε of the loss. */
  labelSmoothing?: number;
  /** 'balanced': epochs drawn so every corpus, and every class within it, gets the same share. */
  sampling?: 'balanced';
  /** SpecAugment masks and mixup on each training batch. */
  batchAugmentation?: BatchAugmentation;
}

export interface PreparedImprovements {
  options: Pick<TrainOptions, 'classWeights' | 'labelSmoothing' | 'trainingVariants' | 'samplingWeights' | 'batchAugmentation'>;
  /** What was applied, with its seeds and the weights computed, for the model's training record. */
  provenance: Record<string, unknown>;
}

/**
 * Turns the requested improvements into trainer options for this training set: computes the
 * augmented variants of `train` (only of `train`: the caller passes nothing else) through the
 * feature cache, and the balanced class weights from its label counts.
 */
export async function prepareImprovements(
  improvements: TrainingImprovements,
  train: FeatureSet,
  deps: {
    clipWindow: ClipWindow;
    extractor: FeatureExtractor;
    cache: FeatureCache;
    logger: Logger;
    onAugment?: (copy: number, done: number, total: number) => void;
    signal?: AbortSignal;
  },
): Promise<PreparedImprovements> {
  const provenance: Record<string, unknown> = {};
  const options: PreparedImprovements['options'] = {};
  const { augmentation: spec } = improvements;
  if (spec !== undefined) {
    const background = spec.background === undefined ? undefined : await loadBackgroundBank(spec.background.dir);
    const variants: LabelledSet[] = [];
    let failed = 0;
    for (let copy = 0; copy < spec.copies; copy += 1) {
      const variant = await buildAugmentedVariant(train, copy, spec, background, deps.extractor, deps.cache, {
        clipWindow: deps.clipWindow,
        onProgress: (done, total) => deps.onAugment?.(copy + 1, done, total),
        ...(deps.signal ? { signal: deps.signal } : {}),
      });
      if (variant.failed.length > 0) {
        deps.logger.warn(
          { copy, count: variant.failed.length, examples: variant.failed.slice(0, 5) },
          'files whose augmentation failed train on their original features in this copy',
        );
      }
      failed += variant.failed.length;
      variants.push(variant);
    }
    options.trainingVariants = variants;
    provenance['augmentation'] = {
      ...describeAugmentation(spec),
      copies: spec.copies,
      ...(background === undefined ? {} : { backgroundFiles: background.files.length, backgroundSha256: background.digest }),
      failed,
    };
  }
  if (improvements.classWeights === 'balanced') {
    const weights = balancedClassWeights(train.labels, EMOTIONS.length);
    options.classWeights = weights;
    provenance['classWeights'] = Object.fromEntries(EMOTIONS.map((emotion, k) => [emotion, Number((weights[k] as number).toFixed(4))]));
  }
  if (improvements.sampling === 'balanced') {
    options.samplingWeights = balancedSamplingWeights(train.files);
    provenance['sampling'] = 'balanced by corpus and class';
  }
  if (improvements.batchAugmentation !== undefined) {
    options.batchAugmentation = improvements.batchAugmentation;
    provenance['batchAugmentation'] = improvements.batchAugmentation;
  }
  if (improvements.labelSmoothing !== undefined && improvements.labelSmoothing > 0) {
    options.labelSmoothing = improvements.labelSmoothing;
    provenance['labelSmoothing'] = improvements.labelSmoothing;
  }
  return { options, provenance };
}
