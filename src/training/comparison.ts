import path from 'node:path';
import { describeError, ModelError, UsageError } from '../errors.js';
import { type EmotionClassifier } from '../model/runtime/classifier.js';
import { type ModelMetadata } from '../model/artifact/metadata.js';
import { type ModelMetrics } from '../model/artifact/metrics.js';
import { verifyModelDir } from '../model/artifact/store.js';
import { readCrossValidationReport, type Spread } from './cross-validation.js';
import { type LabelledFile } from './datasets.js';
import { predictSet, subsetMetrics } from './evaluate.js';
import { type ClassificationMetrics } from './metrics.js';
import { heldOutFeatures, type HeldOutFeatures } from './held-out.js';
import { type FeatureSource } from './model-features.js';
import { type SplitProvenance } from './recorded-split.js';
import { bootstrapUarDifference, type ScoredFile } from './speaker-bootstrap.js';
import { type Split } from './splits.js';

/**
 * Comparing trained runs, each on its own recorded split: what a run's row holds, how a run is
 * measured, which run is chosen (on validation speakers only), and how a comparison recorded
 * in a model's metadata is read back and merged with new measurements. `ser-agent compare`
 * parses its options, calls these and prints.
 */

/** One trained run, measured on its own recorded split. */
export interface ComparisonRow {
  run: string;
  architecture: string;
  options: string;
  /** The corpora it trained on, e.g. `ravdess+tess+nemo+ased`. */
  corpora?: string;
  /**
   * The held-out validation speakers: what the choice between runs is made on. With several
   * corpora, the mean of each corpus's UAR on its own validation speakers, so a corpus with many
   * clips (nEMO) does not outvote one with few (RAVDESS).
   */
  validationSpeakersUar: number;
  testSpeakersAccuracy: number;
  testSpeakersUar: number;
  testSpeakersMacroF1: number;
  /** Test files of speakers also heard in training (TESS), apart; absent when the run has none. */
  otherTestAccuracy?: number;
  weightsBytes: number;
  weightsDtype: string;
  /** How the run was trained, so the card's table can be reproduced row by row. */
  trainedWith: string;
}

/** One corpus's part of a run's measurement: UAR on its validation speakers, accuracy and UAR on its test speakers. */
export interface CorpusRow {
  validationSpeakersUar: number;
  testSpeakersAccuracy: number;
  testSpeakersUar: number;
}

/** A run trained with one corpus left out (`train --test-corpus`), measured on that corpus; never chosen. */
export interface LeftOutCorpusRow {
  run: string;
  leftOut: string;
  options: string;
  files: number;
  accuracy: number;
  uar: number;
  macroF1: number;
  trainedWith: string;
}

/**
 * A recipe trained K times by `train --folds K`, each fold holding out its own speakers of
 * every corpus with enough of them; read from the run's report, never chosen.
 */
export interface CrossValidationRow {
  run: string;
  folds: number;
  seed: number;
  options: string;
  /** Over every fold's held-out speakers of all corpora: UAR mean, spread and range over the folds. */
  speakerIndependentUar: Spread;
  /** Per corpus whose speakers were dealt into the folds: its held-out speakers' UAR over the folds. */
  uarByCorpus: Record<string, Spread>;
  /** The same, fold by fold, so the spread can be checked. */
  uarByFold: Record<string, number[]>;
  trainedWith: string;
}

/** A seed-style random-split run, reported beside the comparison and never chosen. */
export interface RandomSplitRow {
  run: string;
  architecture: string;
  options: string;
  /** Held-out takes of voices that are also in training. */
  ravdessTestAccuracy: number;
  ravdessTestUar: number;
  allTestAccuracy: number;
  allTestUar: number;
  trainedWith: string;
}

/**
 * The run with the best mean validation-speaker UAR. The test speakers stay out of the choice:
 * picking on them would make the reported speaker-independent number optimistic.
 */
function chooseBest(runs: Record<string, Pick<ComparisonRow, 'validationSpeakersUar'>>): string {
  const [best] = Object.entries(runs).reduce((a, b) => (b[1].validationSpeakersUar > a[1].validationSpeakersUar ? b : a));
  return best;
}

/**
 * The run a card names as chosen. With no incumbent (no card being recorded into), the best
 * mean validation-speaker UAR. With one (the run the recorded model was made from, or the
 * card's earlier choice), the incumbent stays chosen unless another run's validation lead
 * over it is clear of zero in the paired bootstrap (see choiceIntervals): with a few
 * validation voices a lead of a few points is within what other voices could show, and a
 * model is not replaced on that. A run that cannot be paired with the incumbent (one of them
 * not measured now, or measured on other files) cannot replace it.
 */
export function chooseRun(
  runs: Record<string, Pick<ComparisonRow, 'validationSpeakersUar'>>,
  validation: Record<string, ValidationPredictions>,
  incumbent: string | undefined,
): string {
  const best = chooseBest(runs);
  if (incumbent === undefined || !(incumbent in runs) || incumbent === best) return best;
  const lead = choiceIntervals(incumbent, validation)[best];
  return lead !== undefined && lead.low > 0 ? best : incumbent;
}

/** The comparison as `--record` stores it in a model's metrics. */
export interface RecordedComparison {
  /** Every compare command whose measurements the table holds, oldest first. */
  commands: string[];
  selectedBy: string;
  best: string;
  runs: Record<string, Omit<ComparisonRow, 'run'>>;
  /** Per run, each corpus's validation and test speakers' numbers (runs measured before per-corpus rows have none). */
  runsByCorpus?: Record<string, Record<string, CorpusRow>>;
  seedStyleRandomSplit?: Record<string, Omit<RandomSplitRow, 'run'>>;
  leaveOneCorpusOut?: Record<string, Omit<LeftOutCorpusRow, 'run'>>;
  crossValidation?: Record<string, Omit<CrossValidationRow, 'run'>>;
  /** Per run measured with the chosen one, how far its validation UAR is from it, and how sure that is. */
  choiceIntervals?: Record<string, ChoiceInterval>;
}

/**
 * A run's mean validation UAR minus the chosen run's, with the 95% interval of a paired
 * bootstrap over the validation speakers (src/training/speaker-bootstrap.ts): an interval
 * that holds 0 means other voices could as well have chosen the other run.
 */
export interface ChoiceInterval {
  versus: string;
  difference: number;
  low: number;
  high: number;
  rounds: number;
  /** Validation speakers per corpus the voices were drawn from. */
  speakers: Record<string, number>;
}

/** What a run predicted for each file of its validation speakers, for the choice's interval. */
export interface ValidationPredictions {
  files: Array<ScoredFile & { path: string }>;
  predicted: Int32Array;
}

/** A recorded comparison with the model directory each run's row was read from, for the output. */
export interface SourcedComparison extends RecordedComparison {
  sources: Record<string, string>;
}

/**
 * The comparison already in a model's metrics, checked enough to choose among its rows: the
 * metadata parser checks only that it is an object, and it may have been recorded by an
 * earlier build (one `command`, no `commands`).
 */
export function recordedComparison(metrics: ModelMetrics, modelDir: string): SourcedComparison | undefined {
  const comparison = metrics.comparison as { runs?: unknown; command?: unknown; commands?: unknown } | undefined;
  if (comparison === undefined) return undefined;
  const damaged = (what: string): never => {
    throw new ModelError(
      `${modelDir}/metadata.json: metrics.comparison ${what}; measure those runs again, or delete metrics.comparison to start a new comparison`,
    );
  };
  if (typeof comparison !== 'object' || comparison === null) return damaged('is not an object');
  const { runs } = comparison;
  if (typeof runs !== 'object' || runs === null) return damaged('has no "runs" object');
  for (const [run, row] of Object.entries(runs)) {
    if (typeof (row as { validationSpeakersUar?: unknown } | null)?.validationSpeakersUar !== 'number') {
      damaged(`run "${run}" has no numeric validationSpeakersUar`);
    }
  }
  const { command, commands } = comparison;
  // Comparisons recorded before the table could grow kept their one command as `command`.
  const earlierCommands = Array.isArray(commands) ? commands.map(String) : typeof command === 'string' ? [command] : [];
  const sources = Object.fromEntries(Object.keys(runs).map((run) => [run, modelDir]));
  return { ...(comparison as RecordedComparison), commands: earlierCommands, sources };
}

/** Earlier comparisons merged in order: a later one's row for the same run replaces the earlier one's. */
export function mergeComparisons(comparisons: readonly (SourcedComparison | undefined)[]): Omit<SourcedComparison, 'selectedBy' | 'best'> {
  const merged: Omit<SourcedComparison, 'selectedBy' | 'best'> = { commands: [], runs: {}, sources: {} };
  for (const comparison of comparisons) {
    if (comparison === undefined) continue;
    merged.commands.push(...comparison.commands.filter((command) => !merged.commands.includes(command)));
    Object.assign(merged.runs, comparison.runs);
    if (comparison.runsByCorpus !== undefined) merged.runsByCorpus = { ...merged.runsByCorpus, ...comparison.runsByCorpus };
    Object.assign(merged.sources, comparison.sources);
    if (comparison.seedStyleRandomSplit !== undefined) {
      merged.seedStyleRandomSplit = { ...merged.seedStyleRandomSplit, ...comparison.seedStyleRandomSplit };
    }
    if (comparison.choiceIntervals !== undefined) {
      merged.choiceIntervals = { ...merged.choiceIntervals, ...comparison.choiceIntervals };
    }
    if (comparison.leaveOneCorpusOut !== undefined) {
      merged.leaveOneCorpusOut = { ...merged.leaveOneCorpusOut, ...comparison.leaveOneCorpusOut };
    }
    if (comparison.crossValidation !== undefined) {
      merged.crossValidation = { ...merged.crossValidation, ...comparison.crossValidation };
    }
  }
  return merged;
}

/** A run is named by its directory. */
export function runName(runDir: string): string {
  return path.basename(path.resolve(runDir));
}

/** A run's model on its own recorded split: metrics over any subset of its validation or test files. */
interface OpenedRun {
  classifier: EmotionClassifier;
  provenance: SplitProvenance;
  split: Split;
  measure: (set: readonly LabelledFile[]) => Promise<MeasuredSet>;
}

/** Metrics over any subset of a measured set, and the predictions behind them. */
interface MeasuredSet {
  (keep: (file: LabelledFile) => boolean): ClassificationMetrics;
  predictions(keep: (file: LabelledFile) => boolean): ValidationPredictions;
}

/** How a command opens a run: its model with the command's backend, and where features come from. */
export interface RunOpener {
  classifier(runDir: string): Promise<EmotionClassifier>;
  features: FeatureSource;
}

async function openRun(runDir: string, files: readonly LabelledFile[], opener: RunOpener): Promise<OpenedRun> {
  const classifier = await opener.classifier(runDir);
  let heldOut: HeldOutFeatures;
  try {
    heldOut = heldOutFeatures(classifier.metadata, runDir, files, opener.features);
  } catch (error) {
    classifier.dispose();
    throw error;
  }
  const { provenance, split, featuresOf } = heldOut;
  return {
    classifier,
    provenance,
    split,
    measure: async (set) => {
      const features = await featuresOf(set);
      const { classes } = predictSet(classifier, features);
      const measured = (keep: (file: LabelledFile) => boolean) => subsetMetrics(features, classes, keep);
      measured.predictions = (keep: (file: LabelledFile) => boolean): ValidationPredictions => {
        const rows = features.files.flatMap((file, row) => (keep(file) ? [row] : []));
        return {
          files: rows.map((row) => {
            const { path: filePath, corpus, speaker } = features.files[row] as LabelledFile;
            return { path: filePath, corpus, speaker, label: features.labels[row] as number };
          }),
          predicted: Int32Array.from(rows, (row) => classes[row] as number),
        };
      };
      return measured;
    },
  };
}

/** The corpora a run trained on, as its metadata records them. */
function describeCorpora(training: Record<string, unknown>): string {
  const sources = (training['dataSources'] as Array<{ corpus?: string }> | undefined) ?? [];
  return sources.map((source) => source.corpus ?? '?').join('+');
}

/** The training options a run used, as a person reads them. */
function describeOptions({ training, frontEnd, clipWindow }: ModelMetadata): string {
  const augmentation = training['augmentation'] as { kinds?: string[]; copies?: number } | undefined;
  const copies = augmentation?.copies === undefined ? '' : ` (${augmentation.copies} ${augmentation.copies === 1 ? 'copy' : 'copies'})`;
  const batch = training['batchAugmentation'] as { timeMasks?: number; mixupAlpha?: number } | undefined;
  const distillation = training['distillation'] as { weight?: number; teachers?: unknown[] } | undefined;
  const options = [
    augmentation?.kinds ? `augment ${augmentation.kinds.join('+')}${copies}` : undefined,
    (batch?.timeMasks ?? 0) > 0 ? 'SpecAugment' : undefined,
    (batch?.mixupAlpha ?? 0) > 0 ? `mixup ${batch?.mixupAlpha}` : undefined,
    training['sampling'] === undefined ? undefined : 'balanced sampling',
    frontEnd === undefined || frontEnd === 'seed' ? undefined : `${frontEnd} front-end`,
    clipWindow === undefined || clipWindow === 'start' ? undefined : `${clipWindow} 3 s`,
    training['classWeights'] ? 'class weights' : undefined,
    typeof training['labelSmoothing'] === 'number' ? `label smoothing ${training['labelSmoothing']}` : undefined,
    distillation === undefined
      ? undefined
      : `distilled from ${distillation.teachers?.length ?? '?'} teacher(s), weight ${distillation.weight ?? '?'}`,
  ].filter((option): option is string => option !== undefined);
  return options.length > 0 ? options.join(', ') : 'none';
}

export async function measureRandomSplitRun(runDir: string, files: readonly LabelledFile[], opener: RunOpener): Promise<RandomSplitRow> {
  const { classifier, provenance, split, measure } = await openRun(runDir, files, opener);
  try {
    if (provenance.split.strategy !== 'random') {
      throw new UsageError(`--random-split ${runDir} was trained with --split ${provenance.split.strategy}; give it as a run directory instead`);
    }
    const { metadata } = classifier;
    const onTest = await measure(split.test);
    const ravdess = onTest((file) => file.corpus === 'ravdess');
    const all = onTest(() => true);
    return {
      run: runName(runDir),
      architecture: metadata.architecture,
      options: describeOptions(metadata),
      ravdessTestAccuracy: ravdess.accuracy,
      ravdessTestUar: ravdess.uar,
      allTestAccuracy: all.accuracy,
      allTestUar: all.uar,
      trainedWith: metadata.training.command,
    };
  } finally {
    classifier.dispose();
  }
}

export async function measureLeftOutRun(runDir: string, files: readonly LabelledFile[], opener: RunOpener): Promise<LeftOutCorpusRow> {
  const { classifier, provenance, split, measure } = await openRun(runDir, files, opener);
  try {
    const protocol = provenance.split.strategy === 'speaker' ? provenance.split.protocol : undefined;
    const leftOut = protocol?.startsWith('leave-one-corpus-out:') === true ? protocol.slice('leave-one-corpus-out:'.length) : undefined;
    if (leftOut === undefined) {
      throw new UsageError(`--left-out ${runDir} was not trained with a corpus left out (train --test-corpus CORPUS); give it as a run directory instead`);
    }
    if (!split.test.some((file) => file.corpus === leftOut)) {
      throw new UsageError(`--left-out ${runDir} left out ${leftOut}, whose folder was not given with --data; add it`);
    }
    const { metadata } = classifier;
    const metrics = (await measure(split.test))((file) => file.corpus === leftOut);
    return {
      run: runName(runDir),
      leftOut,
      options: describeOptions(metadata),
      files: metrics.count,
      accuracy: metrics.accuracy,
      uar: metrics.uar,
      macroF1: metrics.macroF1,
      trainedWith: metadata.training.command,
    };
  } finally {
    classifier.dispose();
  }
}

/**
 * A cross-validation run's row, from the report its training wrote (each fold's saved model was
 * evaluated on its own held-out speakers there) and the first fold model's training options.
 */
export async function readCrossValidationRun(cvDir: string): Promise<CrossValidationRow> {
  const report = await readCrossValidationReport(cvDir);
  const [first] = report.results;
  if (first === undefined) throw new UsageError(`--cross-validation ${cvDir} has no folds; train it with --folds K`);
  let metadata: ModelMetadata;
  try {
    ({ metadata } = await verifyModelDir(path.join(cvDir, first.model)));
  } catch (error) {
    throw new UsageError(
      `--cross-validation ${cvDir}: its fold model ${first.model} cannot be read (${describeError(error)}); ` +
        'compare reads the training options from it: train the folds again',
      { cause: error },
    );
  }
  // Corpora with too few speakers (TESS) were split by files in every fold: they say nothing of new voices.
  const dealt = Object.keys(report.spread.byCorpus).filter((corpus) =>
    report.results.every((fold) => fold.testSpeakers.some((speaker) => speaker.startsWith(`${corpus}:`))),
  );
  return {
    run: runName(cvDir),
    folds: report.folds,
    seed: report.seed,
    options: describeOptions(metadata),
    speakerIndependentUar: report.spread.speakerIndependentUar,
    uarByCorpus: Object.fromEntries(dealt.map((corpus) => [corpus, report.spread.byCorpus[corpus]?.uar as Spread])),
    uarByFold: Object.fromEntries(dealt.map((corpus) => [corpus, report.results.map((fold) => fold.byCorpus[corpus]?.uar ?? Number.NaN)])),
    trainedWith: report.command,
  };
}

export async function measureRun(
  runDir: string,
  files: readonly LabelledFile[],
  opener: RunOpener,
): Promise<{ row: ComparisonRow; byCorpus: Record<string, CorpusRow>; validation: ValidationPredictions; weightsSha256: string }> {
  const { classifier, provenance, split, measure } = await openRun(runDir, files, opener);
  try {
    const { metadata } = classifier;
    if (provenance.split.strategy !== 'speaker') {
      throw new UsageError(
        `${runDir} was trained with --split ${provenance.split.strategy}; compare chooses among speaker-split runs ` +
          '(give a random-split run with --random-split to report it beside them)',
      );
    }
    const { testSpeakers, validationSpeakers } = provenance.split;
    const onValidation = await measure(split.validation);
    const onTest = await measure(split.test);
    const heldOut = onTest((file) => testSpeakers.includes(file.speaker));
    const otherTest = onTest((file) => !testSpeakers.includes(file.speaker));
    const isValidationSpeaker = (file: LabelledFile) => validationSpeakers.includes(file.speaker);
    const isTestSpeaker = (file: LabelledFile) => testSpeakers.includes(file.speaker);
    const corpora = [...new Set([...split.validation.filter(isValidationSpeaker), ...split.test.filter(isTestSpeaker)].map((file) => file.corpus))];
    const byCorpus: Record<string, CorpusRow> = Object.fromEntries(
      corpora.map((corpus) => {
        const validationUar = onValidation((file) => file.corpus === corpus && isValidationSpeaker(file));
        const test = onTest((file) => file.corpus === corpus && isTestSpeaker(file));
        return [corpus, { validationSpeakersUar: validationUar.uar, testSpeakersAccuracy: test.accuracy, testSpeakersUar: test.uar }];
      }),
    );
    // Only corpora that hold out validation speakers take part in the choice.
    const validationCorpora = corpora.filter((corpus) => split.validation.some((file) => file.corpus === corpus && isValidationSpeaker(file)));
    const validationSpeakersUar =
      validationCorpora.reduce((sum, corpus) => sum + (byCorpus[corpus]?.validationSpeakersUar ?? 0), 0) / validationCorpora.length;
    const row: ComparisonRow = {
      run: runName(runDir),
      architecture: metadata.architecture,
      options: describeOptions(metadata),
      corpora: describeCorpora(metadata.training),
      validationSpeakersUar,
      testSpeakersAccuracy: heldOut.accuracy,
      testSpeakersUar: heldOut.uar,
      testSpeakersMacroF1: heldOut.macroF1,
      ...(otherTest.count === 0 ? {} : { otherTestAccuracy: otherTest.accuracy }),
      weightsBytes: metadata.weights.bytes,
      weightsDtype: metadata.weights.dtype,
      trainedWith: metadata.training.command,
    };
    const validation = onValidation.predictions((file) => validationCorpora.includes(file.corpus) && isValidationSpeaker(file));
    // Not a row field: it names the run's weights, so a recorded model can be traced to its run.
    return { row, byCorpus, validation, weightsSha256: metadata.weights.sha256 };
  } finally {
    classifier.dispose();
  }
}

/**
 * For every run measured in this comparison other than `best`, its validation UAR minus best's
 * with the speaker-bootstrap interval. Runs are paired file by file, so a run whose validation
 * files differ from best's (other data, another split) gets none. A run only recorded earlier
 * keeps the interval recorded for it, if that was against the same chosen run.
 */
export function choiceIntervals(
  best: string,
  measured: Record<string, ValidationPredictions>,
  earlier: Record<string, ChoiceInterval> = {},
): Record<string, ChoiceInterval> {
  // An interval recorded earlier still holds while the same run is chosen and the other run
  // was not measured again (its predictions are gone, so it cannot be paired anew).
  const kept = Object.fromEntries(Object.entries(earlier).filter(([run, interval]) => interval.versus === best && !(run in measured)));
  const chosen = measured[best];
  if (chosen === undefined) return kept;
  const chosenRow = new Map(chosen.files.map((file, row) => [file.path, row]));
  const intervals: Record<string, ChoiceInterval> = kept;
  for (const [run, other] of Object.entries(measured)) {
    if (run === best || other.files.length !== chosen.files.length) continue;
    const rows = other.files.map((file) => chosenRow.get(file.path));
    if (rows.some((row) => row === undefined)) continue;
    const chosenPredicted = Int32Array.from(rows, (row) => chosen.predicted[row as number] as number);
    const { difference, low, high, rounds, speakers } = bootstrapUarDifference(other.files, other.predicted, chosenPredicted);
    intervals[run] = { versus: best, difference, low, high, rounds, speakers };
  }
  return intervals;
}
