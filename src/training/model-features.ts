import { FeatureExtractor } from '../dsp/features.js';
import { FeatureCache } from '../features/feature-cache.js';
import { type ModelMetadata } from '../model/artifact/metadata.js';
import { type LabelledFile } from './datasets.js';
import { buildFeatureSet, type FeatureSet } from './feature-set.js';

/** Where features come from for a command that measures a model: the cache, its stop signal, and who hears of failures. */
export interface FeatureSource {
  cacheDir: string;
  signal?: AbortSignal;
  /** Told once for each file that fails to decode; the file is left out of the set. */
  onFailure: (reason: string) => void;
}

export type FeaturesOf = (files: readonly LabelledFile[]) => Promise<FeatureSet>;

/**
 * Features of labelled files as `model` asks for them (its clip window), through the cache,
 * stopped by the signal. Files that fail to decode are reported, one call each, and left out.
 */
export function modelFeatures(source: FeatureSource, model: Pick<ModelMetadata, 'clipWindow'>): FeaturesOf {
  const extractor = new FeatureExtractor();
  const cache = new FeatureCache(source.cacheDir);
  return async (files) => {
    const set = await buildFeatureSet(files, extractor, cache, {
      clipWindow: model.clipWindow ?? 'start',
      ...(source.signal === undefined ? {} : { signal: source.signal }),
    });
    for (const failure of set.failed) source.onFailure(failure.reason);
    return set;
  };
}
