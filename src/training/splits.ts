import { DatasetError } from '../errors.js';
import { EMOTIONS } from '../labels.js';
import { type Corpus, type LabelledFile } from './datasets.js';
import { createRandom, shuffledIndices, type Random } from './random.js';

export interface Split {
  train: LabelledFile[];
  validation: LabelledFile[];
  test: LabelledFile[];
}

/** The seed's split: 70% train, 15% validation, 15% test. */
export const SEED_FRACTIONS = { validation: 0.15, test: 0.15 } as const;

/**
 * The seed-style stratified random split: within each class, a seeded shuffle, then
 * `test` and `validation` fractions taken from it (rounded per class), the rest for training.
 * The same files, fractions and random source always give the same split.
 */
export function stratifiedSplit(
  files: readonly LabelledFile[],
  random: Random,
  fractions: { validation: number; test: number } = SEED_FRACTIONS,
): Split {
  checkFractions(fractions);
  const split: Split = { train: [], validation: [], test: [] };
  for (const label of EMOTIONS) {
    const members = shuffled(
      files.filter((file) => file.label === label),
      random,
    );
    const testCount = Math.round(members.length * fractions.test);
    const validationCount = Math.round(members.length * fractions.validation);
    split.test.push(...members.slice(0, testCount));
    split.validation.push(...members.slice(testCount, testCount + validationCount));
    split.train.push(...members.slice(testCount + validationCount));
  }
  return {
    train: shuffled(split.train, random),
    validation: split.validation,
    test: split.test,
  };
}

export interface SpeakerSplitOptions {
  /** Speakers whose every file goes to the test set, e.g. `ravdess:17`. */
  testSpeakers: readonly string[];
  /** Speakers whose every file goes to the validation set (early stopping, LR schedule). */
  validationSpeakers: readonly string[];
}

/**
 * Speaker-independent split: the named speakers are held out whole. Corpora none of whose
 * speakers is named (TESS, with only two speakers, cannot spare one) are split
 * stratified-randomly like the seed, so their held-out files can still be reported apart.
 */
export function speakerSplit(
  files: readonly LabelledFile[],
  random: Random,
  options: SpeakerSplitOptions,
): Split {
  const testSpeakers = new Set(options.testSpeakers);
  const validationSpeakers = new Set(options.validationSpeakers);
  for (const speaker of testSpeakers) {
    if (validationSpeakers.has(speaker)) {
      throw new DatasetError(
        `speaker ${speaker} is named for both test and validation; hold each speaker out once`,
      );
    }
  }
  const known = new Set(files.map((file) => file.speaker));
  const missing = [...testSpeakers, ...validationSpeakers].filter((speaker) => !known.has(speaker));
  if (missing.length > 0) {
    throw new DatasetError(
      `held-out speaker(s) ${missing.join(', ')} have no files in the data; ` +
        `known speakers look like ${[...known].slice(0, 3).join(', ')}: name held-out speakers with ` +
        '--test-speakers and --validation-speakers, or use --split random',
    );
  }
  const heldOutCorpora = new Set(
    files
      .filter((file) => testSpeakers.has(file.speaker) || validationSpeakers.has(file.speaker))
      .map((file) => file.corpus),
  );
  const split: Split = { train: [], validation: [], test: [] };
  for (const file of files) {
    if (testSpeakers.has(file.speaker)) split.test.push(file);
    else if (validationSpeakers.has(file.speaker)) split.validation.push(file);
    else if (heldOutCorpora.has(file.corpus)) split.train.push(file);
  }
  const rest = stratifiedSplit(
    files.filter((file) => !heldOutCorpora.has(file.corpus)),
    random,
  );
  return {
    train: shuffled([...split.train, ...rest.train], random),
    validation: [...split.validation, ...rest.validation],
    test: [...split.test, ...rest.test],
  };
}

/**
 * Parses speaker lists as given on the command line: `ravdess:17-20,ravdess:15` or
 * `tess:OAF`. Ranges expand over two-digit numbers, the way RAVDESS names actors.
 */
export function parseSpeakerList(text: string): string[] {
  return text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0)
    .flatMap((item) => {
      const range = /^([a-z-]+):(\d+)-(\d+)$/i.exec(item);
      if (!range) {
        if (!/^[a-z-]+:\S+$/i.test(item)) {
          throw new DatasetError(
            `speaker "${item}" is not of the form corpus:id (e.g. ravdess:17 or ravdess:17-20)`,
          );
        }
        const [corpus = '', id = ''] = item.split(':');
        return [`${corpus.toLowerCase()}:${id}`];
      }
      const [, corpus, from, to] = range;
      const first = Number(from);
      const last = Number(to);
      if (last < first) throw new DatasetError(`speaker range "${item}" runs backwards`);
      const width = (from ?? '').length;
      return Array.from(
        { length: last - first + 1 },
        (_, i) => `${(corpus ?? '').toLowerCase()}:${String(first + i).padStart(width, '0')}`,
      );
    });
}

function checkFractions(fractions: { validation: number; test: number }): void {
  const { validation, test } = fractions;
  if (!(validation >= 0 && test > 0 && validation + test < 1)) {
    throw new DatasetError(
      `split fractions validation=${validation} test=${test} must be non-negative with test > 0 ` +
        'and leave something to train on (validation + test < 1)',
    );
  }
}

/** A copy in the seeded random order. */
function shuffled<T>(items: readonly T[], random: Random): T[] {
  return Array.from(shuffledIndices(items.length, random), (index) => items[index] as T);
}

/** How a run split its data: recorded in the model's metadata so the split can be rebuilt. */
export type SplitPlan =
  | { strategy: 'random'; seed: number; validation: number; test: number }
  | {
      strategy: 'speaker';
      seed: number;
      testSpeakers: string[];
      validationSpeakers: string[];
      /** How the speakers were chosen, when a protocol chose them: `protocol`, `leave-one-corpus-out:nemo`. */
      protocol?: string;
    };

/**
 * What `train` is asked for: a concrete plan, or the evaluation protocol, whose speakers are
 * known only once the data has been scanned (see `protocolSplit`).
 */
export type SplitRequest = SplitPlan | { strategy: 'protocol'; seed: number; testCorpus?: Corpus };

export type SpeakerSplitPlan = Extract<SplitPlan, { strategy: 'speaker' }>;

/** Rebuilds the split a plan describes; the same files and plan always give the same split. */
export function applySplitPlan(files: readonly LabelledFile[], plan: SplitPlan): Split {
  const random = createRandom(plan.seed);
  return plan.strategy === 'random'
    ? stratifiedSplit(files, random, { validation: plan.validation, test: plan.test })
    : speakerSplit(files, random, plan);
}

/**
 * At most `perClass` files of each class, chosen at random (seeded): for quick runs on a
 * small subset, e.g. in CI.
 */
export function samplePerClass(
  files: readonly LabelledFile[],
  perClass: number,
  seed: number,
): LabelledFile[] {
  const random = createRandom(seed);
  return EMOTIONS.flatMap((label) =>
    shuffled(
      files.filter((file) => file.label === label),
      random,
    ).slice(0, perClass),
  );
}

/**
 * At most `perClass` files of each class, spread evenly over the speakers: per class, files
 * are taken round-robin over the speakers (a seeded order, rotated from class to class), so
 * every speaker is represented once 7 × perClass reaches the number of speakers. Small
 * speaker-split runs need that: a held-out speaker without files cannot be held out.
 */
export function sampleAcrossSpeakers(
  files: readonly LabelledFile[],
  perClass: number,
  seed: number,
): LabelledFile[] {
  const random = createRandom(seed);
  const speakers = shuffled([...new Set(files.map((file) => file.speaker))].sort(), random);
  return EMOTIONS.flatMap((label, classIndex) => {
    const queues = speakers.map((speaker) =>
      shuffled(
        files.filter((file) => file.label === label && file.speaker === speaker),
        random,
      ),
    );
    const taken: LabelledFile[] = [];
    const start = classIndex * perClass;
    for (let round = 0; taken.length < perClass && queues.some((queue) => queue.length > round); round++) {
      for (let i = 0; i < queues.length && taken.length < perClass; i++) {
        const file = queues[(start + i) % queues.length]?.[round];
        if (file !== undefined) taken.push(file);
      }
    }
    return taken;
  });
}

/**
 * K speaker-independent folds: the speakers of every corpus that has at least K of them are
 * dealt (in a seeded order) into K disjoint groups. Fold i tests on group i and validates on
 * half of group i+1; corpora with fewer speakers than folds (TESS has two) are split
 * stratified-randomly in every fold, as `speakerSplit` does, and reported apart.
 */
export function speakerFolds(files: readonly LabelledFile[], folds: number, seed: number): SpeakerSplitPlan[] {
  if (!Number.isInteger(folds) || folds < 2) {
    throw new DatasetError(`cross-validation needs at least 2 folds; got ${folds}`);
  }
  const random = createRandom(seed);
  const byCorpus = new Map<string, string[]>();
  for (const file of files) byCorpus.set(file.corpus, [...(byCorpus.get(file.corpus) ?? []), file.speaker]);
  const groups = Array.from({ length: folds }, () => new Map<string, string[]>());
  for (const [corpus, speakers] of byCorpus) {
    const distinct = [...new Set(speakers)].sort();
    if (distinct.length < folds) continue;
    shuffled(distinct, random).forEach((speaker, index) => {
      const group = groups[index % folds] as Map<string, string[]>;
      group.set(corpus, [...(group.get(corpus) ?? []), speaker]);
    });
  }
  if ((groups[0]?.size ?? 0) === 0) {
    const counts = [...byCorpus].map(([corpus, speakers]) => `${corpus} ${new Set(speakers).size}`).join(', ');
    throw new DatasetError(
      `no corpus has ${folds} speakers to deal into ${folds} folds (speakers: ${counts}); use fewer --folds`,
    );
  }
  return groups.map((group, index) => ({
    strategy: 'speaker',
    seed,
    testSpeakers: [...group.values()].flat(),
    validationSpeakers: [...(groups[(index + 1) % folds] as Map<string, string[]>).values()].flatMap((speakers) =>
      speakers.slice(0, Math.ceil(speakers.length / 2)),
    ),
  }));
}

/** The speakers a plan holds out of training for testing (none for a random split). */
export function heldOutSpeakers(plan: SplitPlan): string[] {
  return plan.strategy === 'speaker' ? [...plan.testSpeakers] : [];
}

/** The speakers a plan holds out of training for validation (none for a random split). */
export function validationSpeakers(plan: SplitPlan): string[] {
  return plan.strategy === 'speaker' ? [...plan.validationSpeakers] : [];
}

/**
 * Speakers each corpus holds out under the evaluation protocol, for testing and for
 * validation. RAVDESS keeps the actors the project has always held out (17-20, 15-16), so its
 * numbers stay comparable with earlier models; nEMO and ASED hold out `count` speakers each,
 * drawn by `PROTOCOL_SEED` from their sorted ids before any model was trained on them.
 * TESS, with two speakers, has none to spare and is split by file.
 */
const PROTOCOL_HOLDOUTS: Partial<Record<Corpus, { test: string[]; validation: string[] } | { count: number }>> = {
  ravdess: { test: ['ravdess:17', 'ravdess:18', 'ravdess:19', 'ravdess:20'], validation: ['ravdess:15', 'ravdess:16'] },
  nemo: { count: 2 },
  ased: { count: 10 },
};
/** Fixed apart from `--seed`, so every run of the protocol tests on the same speakers. */
const PROTOCOL_SEED = 16;

/**
 * The evaluation protocol as a concrete plan for the data present: each corpus holds out its
 * protocol speakers (corpora absent from the data are skipped). With `testCorpus`, that whole
 * corpus is the test set instead (leave one corpus out: a language or room never heard) and
 * the other corpora hold out only their validation speakers.
 */
export function protocolSplit(files: readonly LabelledFile[], request: { seed: number; testCorpus?: Corpus }): SpeakerSplitPlan {
  const present = new Map<Corpus, Set<string>>();
  for (const file of files) present.set(file.corpus, (present.get(file.corpus) ?? new Set()).add(file.speaker));
  const { testCorpus } = request;
  if (testCorpus !== undefined && !present.has(testCorpus)) {
    throw new DatasetError(
      `--test-corpus ${testCorpus} has no files in the data (corpora found: ${[...present.keys()].join(', ')}); ` +
        'add its folder with --data or name another corpus',
    );
  }
  const testSpeakers: string[] = [];
  const validationSpeakers: string[] = [];
  for (const [corpus, speakerSet] of present) {
    const speakers = [...speakerSet].sort();
    if (corpus === testCorpus) {
      testSpeakers.push(...speakers);
      continue;
    }
    const holdout = PROTOCOL_HOLDOUTS[corpus];
    if (holdout === undefined) continue;
    let chosen: { test: string[]; validation: string[] };
    if ('count' in holdout) {
      const drawn = shuffled(speakers, createRandom(PROTOCOL_SEED));
      chosen = { test: drawn.slice(0, holdout.count), validation: drawn.slice(holdout.count, 2 * holdout.count) };
    } else {
      chosen = { test: holdout.test.filter((s) => speakerSet.has(s)), validation: holdout.validation.filter((s) => speakerSet.has(s)) };
    }
    if (testCorpus === undefined) testSpeakers.push(...chosen.test);
    validationSpeakers.push(...chosen.validation);
  }
  if (testSpeakers.length === 0 || validationSpeakers.length === 0) {
    throw new DatasetError(
      `the evaluation protocol found no speakers to hold out for ${testSpeakers.length === 0 ? 'testing' : 'validation'} ` +
        `in the corpora given (${[...present.keys()].join(', ')}); add RAVDESS, nEMO or ASED, or name ` +
        '--test-speakers and --validation-speakers yourself',
    );
  }
  return {
    strategy: 'speaker',
    seed: request.seed,
    testSpeakers,
    validationSpeakers,
    protocol: testCorpus === undefined ? 'protocol' : `leave-one-corpus-out:${testCorpus}`,
  };
}

/** The concrete plan a request names, for the files scanned. */
export function resolveSplitRequest(files: readonly LabelledFile[], request: SplitRequest): SplitPlan {
  return request.strategy === 'protocol' ? protocolSplit(files, request) : request;
}
