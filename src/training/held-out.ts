import { type ModelMetadata } from '../model/artifact/metadata.js';
import { type LabelledFile } from './datasets.js';
import { type FeatureSet } from './feature-set.js';
import { modelFeatures, type FeatureSource, type FeaturesOf } from './model-features.js';
import { readSplitProvenance, rebuildRecordedSplit, type SplitProvenance } from './recorded-split.js';
import { type Split } from './splits.js';

/** A model's recorded split rebuilt from the data at hand, with features as the model asks for them. */
export interface HeldOutFeatures {
  provenance: SplitProvenance;
  split: Split;
  /** Corpora whose speakers the model held out but whose files were not given: nothing of them is measured. */
  absentCorpora: string[];
  /** Features of any of these files (a subset of a split, say) as the model asks for them. */
  featuresOf: FeaturesOf;
  /** Features of the validation files, computed when asked for. */
  validation(): Promise<FeatureSet>;
  /** Features of the test files, computed when asked for. */
  test(): Promise<FeatureSet>;
}

/**
 * The chain every command that measures a model on what it never trained on goes through
 * (evaluate --split test, calibrate, quantize --data, compare): the model in `modelDir` → the
 * split its metadata records → that split rebuilt from `files` → their features.
 */
export function heldOutFeatures(
  metadata: ModelMetadata,
  modelDir: string,
  files: readonly LabelledFile[],
  source: FeatureSource,
): HeldOutFeatures {
  const provenance = readSplitProvenance(metadata.training, modelDir);
  const { split, absentCorpora } = rebuildRecordedSplit(files, provenance);
  const featuresOf = modelFeatures(source, metadata);
  return {
    provenance,
    split,
    absentCorpora,
    featuresOf,
    validation: () => featuresOf(split.validation),
    test: () => featuresOf(split.test),
  };
}
