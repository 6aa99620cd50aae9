import path from 'node:path';
import { loadAudio } from '../audio/load-clip.js';
import { describeError, InterruptedError } from '../errors.js';
import { prepareClip } from '../dsp/clip.js';
import { clipWindowStart, type ClipWindow } from '../dsp/clip-window.js';
import { type FeatureExtractor } from '../dsp/features.js';
import { N_FEATURES, N_FRAMES } from '../dsp/constants.js';
import { EMOTIONS } from '../labels.js';
import { type FeatureCache } from '../features/feature-cache.js';
import { featuresForFile } from '../features/file-features.js';
import { augmentRecording } from './augment/augment-recording.js';
import { type BackgroundBank } from './augment/background.js';
import { describeAugmentation, variantSeed, type AugmentationSpec } from './augment/spec.js';
import { type LabelledFile } from './datasets.js';
import { type LabelledSet } from './trainer.js';

/**
 * Bump when an augmentation's code changes what it computes, so augmented features cached by
 * an older build are not reused.
 */
const AUGMENTATION_REVISION = 1;

const CLIP_VALUES = N_FRAMES * N_FEATURES;

export interface FeatureSet extends LabelledSet {
  /** The files behind each row, in order. */
  files: LabelledFile[];
  /** Files that could not be decoded, with the reason; they are left out, and reported. */
  failed: Array<{ path: string; reason: string }>;
}

/** Progress reports while a set is built, and the signal that stops it between files. */
export interface BuildProgress {
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

/** How a set is built: which 3 s of each file (default `start`), progress and stop signal. */
export interface BuildOptions extends BuildProgress {
  clipWindow?: ClipWindow;
}

/**
 * The cache variant naming features cut by `clipWindow`: none for `start`, so the features
 * cached before clip windows existed stay valid.
 */
function clipWindowVariant(clipWindow: ClipWindow): string | undefined {
  return clipWindow === 'start' ? undefined : `clip-window:${clipWindow}`;
}

/**
 * Stops a build between two files once `signal` is aborted. A build over a whole corpus takes
 * many minutes, and a first Ctrl-C or `systemctl stop` should not wait for it; the files done
 * so far stay in the cache, so the same command run again starts where this one stopped.
 */
function stopIfAborted(signal: AbortSignal | undefined, what: string, done: number, total: number): void {
  if (signal?.aborted !== true) return;
  throw new InterruptedError(
    `stopped while computing ${what} (${done} of ${total} files done). ` +
      'The features computed so far are cached: run the same command again to go on from there',
  );
}

/**
 * Computes (or reads from the cache) the features of every file into one contiguous
 * row-major block, the layout the trainer and batched inference take.
 */
export async function buildFeatureSet(
  files: readonly LabelledFile[],
  extractor: FeatureExtractor,
  cache: FeatureCache,
  { clipWindow = 'start', onProgress, signal }: BuildOptions = {},
): Promise<FeatureSet> {
  const features = new Float32Array(files.length * CLIP_VALUES);
  const labels = new Int32Array(files.length);
  const kept: LabelledFile[] = [];
  const failed: FeatureSet['failed'] = [];
  for (const [index, file] of files.entries()) {
    stopIfAborted(signal, 'features', index, files.length);
    try {
      const clip = await cache.getOrCompute(
        file.path,
        () => featuresForFile(file.path, extractor, clipWindow),
        clipWindowVariant(clipWindow),
      );
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

/** One augmented copy of a training set: row i is a variant of the set's row i. */
export interface AugmentedVariant extends LabelledSet {
  /** Rows whose augmentation failed; they hold the original features instead, and are reported. */
  failed: Array<{ path: string; reason: string }>;
}

/**
 * Variant `copy` of every row of `set`: the whole recording loaded, augmented with parameters
 * drawn from (spec.seed, the file, copy), cut to the model's window (starting where
 * `clipWindow` starts it) and featurised, through the
 * cache under a key naming the augmentation, its seed and the copy (and the background files'
 * digest), so repeated runs and larger --augment-copies reuse what was computed.
 */
export async function buildAugmentedVariant(
  set: FeatureSet,
  copy: number,
  spec: AugmentationSpec,
  background: BackgroundBank | undefined,
  extractor: FeatureExtractor,
  cache: FeatureCache,
  { clipWindow = 'start', onProgress, signal }: BuildOptions = {},
): Promise<AugmentedVariant> {
  const variant = JSON.stringify({
    augmentation: describeAugmentation(spec),
    copy,
    background: background?.digest ?? null,
    revision: AUGMENTATION_REVISION,
    // Absent for `start`, so variants cached before clip windows existed stay valid.
    ...(clipWindow === 'start' ? {} : { clipWindow }),
  });
  const features = Float32Array.from(set.features);
  const failed: AugmentedVariant['failed'] = [];
  for (const [row, file] of set.files.entries()) {
    stopIfAborted(signal, `augmented copy ${copy + 1}`, row, set.files.length);
    try {
      const clip = await cache.getOrCompute(
        file.path,
        async () => {
          const recording = await loadAudio(file.path, { durationSeconds: Infinity });
          const seed = variantSeed(spec.seed, variantIdentity(file), copy);
          // The augmentation cuts its window from the start of what it is given (stretching
          // reads on past it): give it the recording from where the model's window starts.
          const from = clipWindowStart(clipWindow, recording);
          return extractor.extract(prepareClip(augmentRecording(recording.subarray(from), spec, seed, background).samples));
        },
        variant,
      );
      features.set(clip, row * CLIP_VALUES);
    } catch (error) {
      failed.push({ path: file.path, reason: describeError(error) });
    }
    onProgress?.(row + 1, set.files.length);
  }
  return { features, labels: set.labels, failed };
}

/**
 * What names a file for its augmentation seed: corpus, folder and file name, not the absolute
 * path, so moving the datasets keeps every variant's parameters.
 */
function variantIdentity(file: LabelledFile): string {
  return [file.corpus, path.basename(path.dirname(file.path)), path.basename(file.path)].join('/');
}
