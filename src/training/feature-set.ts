import { describeError } from '../errors.js';
import { type FeatureExtractor } from '../dsp/features.js';
import { N_FEATURES, N_FRAMES } from '../dsp/constants.js';
import { EMOTIONS } from '../labels.js';
import { type FeatureCache } from '../features/feature-cache.js';
import { featuresForFile } from '../features/file-features.js';
import { type LabelledFile } from './datasets.js';
import { type LabelledSet } from './trainer.js';

const CLIP_VALUES = N_FRAMES * N_FEATURES;

export interface FeatureSet extends LabelledSet {
  /** The files behind each row, in order. */
  files: LabelledFile[];
  /** Files that could not be decoded, with the reason; they are left out, and reported. */
  failed: Array<{ path: string; reason: string }>;
}

/**
 * Computes (or reads from the cache) the features of every file into one contiguous
 * row-major block, the layout the trainer and batched inference take.
 */
export async function buildFeatureSet(
  files: readonly LabelledFile[],
  extractor: FeatureExtractor,
  cache: FeatureCache,
  onProgress?: (done: number, total: number) => void,
): Promise<FeatureSet> {
  const features = new Float32Array(files.length * CLIP_VALUES);
  const labels = new Int32Array(files.length);
  const kept: LabelledFile[] = [];
  const failed: FeatureSet['failed'] = [];
  for (const [index, file] of files.entries()) {
    try {
      const clip = await cache.getOrCompute(file.path, () => featuresForFile(file.path, extractor));
      features.set(clip, kept.length * CLIP_VALUES);
      labels[kept.length] = EMOTIONS.indexOf(file.label);
      kept.push(file);
    } catch (error) {
      failed.push({ path: file.path, reason: describeError(error) });
    }
    onProgress?.(index + 1, files.length);
  }
  return {
    features: features.subarray(0, kept.length * CLIP_VALUES),
    labels: labels.subarray(0, kept.length),
    files: kept,
    failed,
  };
}

/** The rows of a feature set that satisfy `keep`, e.g. one corpus's held-out files. */
export function selectRows(set: FeatureSet, keep: (file: LabelledFile) => boolean): FeatureSet {
  const indices = set.files.flatMap((file, index) => (keep(file) ? [index] : []));
  const features = new Float32Array(indices.length * CLIP_VALUES);
  indices.forEach((row, i) =>
    features.set(set.features.subarray(row * CLIP_VALUES, (row + 1) * CLIP_VALUES), i * CLIP_VALUES),
  );
  return {
    features,
    labels: Int32Array.from(indices, (row) => set.labels[row] as number),
    files: indices.map((row) => set.files[row] as LabelledFile),
    failed: [],
  };
}
