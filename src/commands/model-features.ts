import { FeatureExtractor } from '../dsp/features.js';
import { FeatureCache } from '../features/feature-cache.js';
import { type ModelMetadata } from '../model/artifact/metadata.js';
import { buildFeatureSet, type FeatureSet } from '../training/feature-set.js';
import { type LabelledFile } from '../training/datasets.js';
import { type CommandContext } from './command.js';

/**
 * Features of labelled files as `model` asks for them (its clip window), through the
 * configured cache, stopped by the command's signal. Files that fail to decode are reported on
 * stderr, one line each, and left out of the set.
 */
export function modelFeatures(
  context: CommandContext,
  model: Pick<ModelMetadata, 'clipWindow'>,
): (files: readonly LabelledFile[]) => Promise<FeatureSet> {
  const extractor = new FeatureExtractor();
  const cache = new FeatureCache(context.config.cache.dir);
  return async (files) => {
    const set = await buildFeatureSet(files, extractor, cache, { clipWindow: model.clipWindow ?? 'start', signal: context.signal });
    for (const failure of set.failed) context.err(`ser-agent: ${failure.reason}`);
    return set;
  };
}
