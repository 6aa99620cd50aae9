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

/** A model's recorded split rebuilt from the data at hand, and the held-out corpora missing from it. */
export interface RebuiltSplit {
  split: Split;
  /** Corpora whose speakers the model held out but whose files were not given: nothing of them is measured. */
  absentCorpora: string[];
}

/**
 * The split a model was trained with, rebuilt for measuring it (evaluate, calibrate, compare,
 * quantize) from data that may hold only some of its corpora: a model trained on four corpora
 * is measured on the two in ../shared. Held-out speakers of absent corpora are dropped; the
 * corpora present split exactly as in training, since each corpus's part of the split depends
 * only on its own files and the seed.
 */
export function rebuildRecordedSplit(files: readonly LabelledFile[], provenance: SplitProvenance): RebuiltSplit {
  const plan = provenance.split;
  if (plan.strategy !== 'speaker') return { split: splitFromProvenance(files, provenance), absentCorpora: [] };
  const present = new Set(files.map((file) => file.corpus as string));
  const corpusOf = (speaker: string) => speaker.slice(0, speaker.indexOf(':'));
  const absentCorpora = [...new Set([...plan.testSpeakers, ...plan.validationSpeakers].map(corpusOf))].filter((corpus) => !present.has(corpus));
  const keep = (speakers: string[]) => speakers.filter((speaker) => present.has(corpusOf(speaker)));
  const partial = { ...plan, testSpeakers: keep(plan.testSpeakers), validationSpeakers: keep(plan.validationSpeakers) };
  return { split: splitFromProvenance(files, { ...provenance, split: partial }), absentCorpora };
}

/** Tells the user, through `err`, which of a model's held-out corpora were not given and so are not measured. */
export function warnAbsentCorpora(absentCorpora: readonly string[], err: (line: string) => void): void {
  if (absentCorpora.length === 0) return;
  err(
    `ser-agent: the model also held out speakers of ${absentCorpora.join(', ')}, whose folders were not given with --data; ` +
      'they are not measured',
  );
}
