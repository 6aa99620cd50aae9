import { ModelError } from '../errors.js';
import { type LabelledFile } from './datasets.js';
import { applySplitPlan, sampleAcrossSpeakers, samplePerClass, type Split, type SplitPlan } from './splits.js';

/** What a model's metadata records about its training data, enough to rebuild its split. */
export interface SplitProvenance {
  seed: number;
  split: SplitPlan;
  limitPerClass?: number;
}

/**
 * Reads the split provenance from a model's `training` metadata (untrusted JSON), so
 * `evaluate --split test` and `quantize --data` measure on exactly the files the model never
 * trained on.
 */
export function readSplitProvenance(training: unknown, modelDir: string): SplitProvenance {
  const record = (training ?? {}) as Partial<SplitProvenance>;
  const split = record.split as Partial<SplitPlan> | undefined;
  const valid =
    typeof record.seed === 'number' &&
    split !== undefined &&
    typeof split.seed === 'number' &&
    (split.strategy === 'random' || split.strategy === 'speaker') &&
    (record.limitPerClass === undefined || typeof record.limitPerClass === 'number');
  if (!valid) {
    throw new ModelError(
      `${modelDir}/metadata.json records no training split, so its held-out test files are unknown; ` +
        'evaluate with --split all, or use a model trained by "ser-agent train"',
    );
  }
  return record as SplitProvenance;
}

/**
 * The split a run made: the optional per-class subset, then the split plan. Training and the
 * later rebuilds for evaluation both go through here, so they cannot drift apart.
 */
export function splitFromProvenance(files: readonly LabelledFile[], provenance: SplitProvenance): Split {
  const limit = provenance.limitPerClass;
  if (limit === undefined) return applySplitPlan(files, provenance.split);
  const plan = provenance.split;
  if (plan.strategy === 'random') return applySplitPlan(samplePerClass(files, limit, provenance.seed), plan);
  // A speaker split samples its test speakers, validation speakers and the rest apart, so a
  // small subset still holds every named speaker out, with up to `limit` files per class each.
  const test = new Set(plan.testSpeakers);
  const validation = new Set(plan.validationSpeakers);
  const groups = [
    files.filter((file) => test.has(file.speaker)),
    files.filter((file) => validation.has(file.speaker)),
    files.filter((file) => !test.has(file.speaker) && !validation.has(file.speaker)),
  ];
  return applySplitPlan(
    groups.flatMap((group) => sampleAcrossSpeakers(group, limit, provenance.seed)),
    plan,
  );
}
