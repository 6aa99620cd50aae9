import path from 'node:path';
import { ModelError, UsageError } from '../errors.js';
import { type EmotionClassifier } from '../model/classifier.js';
import { recordModelMetrics, verifyModelDir } from '../model/model-dir.js';
import { scanDatasets, type LabelledFile } from '../training/datasets.js';
import { predictSet, subsetMetrics } from '../training/evaluate.js';
import { type ClassificationMetrics } from '../training/metrics.js';
import { readSplitProvenance, rebuildRecordedSplit, type SplitProvenance } from '../training/recorded-split.js';
import { type Split } from '../training/splits.js';
import { EXIT, type Command, type CommandContext } from './command.js';
import { modelFeatures } from './model-features.js';
import { openClassifier } from './open-classifier.js';
import { dataDirectories, stringList, stringOption } from './options.js';
import { formatTable } from './table.js';
import { percent } from './report.js';

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
  /** Test files of speakers also heard in training (TESS), apart. */
  otherTestAccuracy: number;
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

export const compareCommand: Command = {
  usage:
    'ser-agent compare --data DIR... [--record MODEL_DIR] [--earlier MODEL_DIR] [--random-split RUN_DIR...]\n' +
    '                  [--left-out RUN_DIR...] RUN_DIR...',
  options: {
    data: { type: 'string', multiple: true },
    record: { type: 'string' },
    'random-split': { type: 'string', multiple: true },
    'left-out': { type: 'string', multiple: true },
    earlier: { type: 'string' },
  },
  async run(values, positionals, context) {
    const recordDir = stringOption(values, 'record');
    // Runs measured by an earlier compare stay in the card when their directories are gone
    // (each is ~50 min of training); a run measured again replaces its row. --earlier carries
    // the rows of another model's card, such as the model the recorded one replaces.
    const recorded = recordDir === undefined ? undefined : await verifyModelDir(recordDir);
    const earlier = mergeComparisons([
      await carriedComparison(stringOption(values, 'earlier')),
      recorded === undefined ? undefined : recordedComparison(recorded.metadata.metrics, recordDir as string),
    ]);
    const earlierRuns = Object.keys(earlier.runs).filter((run) => !positionals.some((dir) => runName(dir) === run));
    if (positionals.length + earlierRuns.length < 2) {
      throw new UsageError(
        'compare needs at least two speaker-split runs: run directories made by "ser-agent train", ' +
          `counting those already recorded in --record's or --earlier's model; got ${positionals.length + earlierRuns.length}`,
      );
    }
    const dataDirs = dataDirectories(values);
    const scan = await scanDatasets(dataDirs);
    const runs: Record<string, Omit<ComparisonRow, 'run'>> = {};
    const runsByCorpus: Record<string, Record<string, CorpusRow>> = {};
    for (const run of earlierRuns) {
      runs[run] = earlier.runs[run] as Omit<ComparisonRow, 'run'>;
      const byCorpus = earlier.runsByCorpus?.[run];
      if (byCorpus !== undefined) runsByCorpus[run] = byCorpus;
    }
    for (const runDir of positionals) {
      const { row: { run, ...row }, byCorpus } = await measureRun(runDir, scan.files, context);
      runs[run] = row;
      runsByCorpus[run] = byCorpus;
    }
    const randomSplitRuns: Record<string, Omit<RandomSplitRow, 'run'>> = { ...earlier.seedStyleRandomSplit };
    for (const runDir of stringList(values, 'random-split')) {
      const { run, ...row } = await measureRandomSplitRun(runDir, scan.files, context);
      randomSplitRuns[run] = row;
    }
    const leftOutRuns: Record<string, Omit<LeftOutCorpusRow, 'run'>> = { ...earlier.leaveOneCorpusOut };
    for (const runDir of stringList(values, 'left-out')) {
      const { run, ...row } = await measureLeftOutRun(runDir, scan.files, context);
      leftOutRuns[run] = row;
    }

    // The test speakers stay out of the choice: picking on them would make the reported
    // speaker-independent number optimistic.
    const [best] = Object.entries(runs).reduce((a, b) => (b[1].validationSpeakersUar > a[1].validationSpeakersUar ? b : a));
    for (const line of formatTable(
      ['run', 'architecture', 'options', 'corpora', 'val speakers UAR', 'test speakers acc', 'UAR', 'macro-F1', 'other test acc', 'weights'],
      Object.entries(runs).map(([run, row]) => [
        run === best ? `${run} (best)` : run,
        row.architecture,
        row.options,
        row.corpora ?? '',
        percent(row.validationSpeakersUar),
        percent(row.testSpeakersAccuracy),
        percent(row.testSpeakersUar),
        percent(row.testSpeakersMacroF1),
        percent(row.otherTestAccuracy),
        `${row.weightsBytes.toLocaleString('en-US')} B ${row.weightsDtype}`,
      ]),
    )) {
      context.out(line);
    }
    const section = (title: string, lines: readonly string[]) => {
      if (lines.length === 0) return;
      context.out('');
      context.out(title);
      for (const line of lines) context.out(line);
    };
    section('per corpus, UAR on its own held-out speakers (validation / test):', perCorpusTable(runsByCorpus));
    for (const [source, names] of groupBySource(earlierRuns, earlier.sources)) {
      context.out(`(${names.join(', ')}: as recorded earlier in ${source})`);
    }
    section(
      'seed-style random split (every speaker also in training; never chosen):',
      Object.keys(randomSplitRuns).length === 0
        ? []
        : formatTable(
            ['run', 'architecture', 'options', 'RAVDESS test acc', 'UAR', 'all test acc', 'UAR'],
            Object.entries(randomSplitRuns).map(([run, row]) => [
              run,
              row.architecture,
              row.options,
              percent(row.ravdessTestAccuracy),
              percent(row.ravdessTestUar),
              percent(row.allTestAccuracy),
              percent(row.allTestUar),
            ]),
          ),
    );
    section(
      'leave one corpus out (the whole corpus never heard in training or validation; never chosen):',
      Object.keys(leftOutRuns).length === 0
        ? []
        : formatTable(
            ['run', 'left out', 'options', 'files', 'accuracy', 'UAR', 'macro-F1'],
            Object.entries(leftOutRuns).map(([run, row]) => [
              run,
              row.leftOut,
              row.options,
              String(row.files),
              percent(row.accuracy),
              percent(row.uar),
              percent(row.macroF1),
            ]),
          ),
    );

    if (recorded !== undefined && recordDir !== undefined) {
      const comparison: RecordedComparison = {
        commands: [...earlier.commands, context.commandLine],
        selectedBy: 'UAR on the held-out validation speakers (the test speakers take no part in the choice)',
        best,
        runs,
        runsByCorpus,
        ...(Object.keys(randomSplitRuns).length > 0 ? { seedStyleRandomSplit: randomSplitRuns } : {}),
        ...(Object.keys(leftOutRuns).length > 0 ? { leaveOneCorpusOut: leftOutRuns } : {}),
      };
      await recordModelMetrics(recordDir, { ...recorded.metadata.metrics, comparison });
      context.out(`comparison recorded in ${recordDir}/metadata.json and its model card`);
    }
    return EXIT.ok;
  },
};

/** Runs by corpus, when some run was measured on several corpora; empty otherwise. */
function perCorpusTable(runsByCorpus: Record<string, Record<string, CorpusRow>>): string[] {
  const corpora = [...new Set(Object.values(runsByCorpus).flatMap((byCorpus) => Object.keys(byCorpus)))];
  if (corpora.length < 2) return [];
  return formatTable(
    ['run', ...corpora],
    Object.entries(runsByCorpus).map(([run, byCorpus]) => [
        run,
        ...corpora.map((corpus) => {
          const cell = byCorpus[corpus];
          return cell === undefined ? '-' : `${percent(cell.validationSpeakersUar)} / ${percent(cell.testSpeakersUar)}`;
        }),
      ]),
  );
}

/** The comparison as `--record` stores it in a model's metrics. */
interface RecordedComparison {
  /** Every compare command whose measurements the table holds, oldest first. */
  commands: string[];
  selectedBy: string;
  best: string;
  runs: Record<string, Omit<ComparisonRow, 'run'>>;
  /** Per run, each corpus's validation and test speakers' numbers (runs measured before per-corpus rows have none). */
  runsByCorpus?: Record<string, Record<string, CorpusRow>>;
  seedStyleRandomSplit?: Record<string, Omit<RandomSplitRow, 'run'>>;
  leaveOneCorpusOut?: Record<string, Omit<LeftOutCorpusRow, 'run'>>;
}

/** A recorded comparison with the model directory each run's row was read from, for the output. */
interface SourcedComparison extends RecordedComparison {
  sources: Record<string, string>;
}

/** The comparison already in a model's metrics, checked enough to choose among its rows. */
function recordedComparison(metrics: Record<string, unknown>, modelDir: string): SourcedComparison | undefined {
  const comparison = metrics['comparison'] as { runs?: unknown; command?: unknown; commands?: unknown } | undefined;
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

/** The comparison recorded in `--earlier`'s model, which must hold one: carrying nothing is a mistake. */
async function carriedComparison(modelDir: string | undefined): Promise<SourcedComparison | undefined> {
  if (modelDir === undefined) return undefined;
  const comparison = recordedComparison((await verifyModelDir(modelDir)).metadata.metrics, modelDir);
  if (comparison === undefined) {
    throw new UsageError(
      `--earlier ${modelDir}: its metadata.json records no comparison; give the model directory whose card has the rows to keep (for the shipped model, a copy taken before replacing it)`,
    );
  }
  return comparison;
}

/** Earlier comparisons merged in order: a later one's row for the same run replaces the earlier one's. */
function mergeComparisons(comparisons: readonly (SourcedComparison | undefined)[]): Omit<SourcedComparison, 'selectedBy' | 'best'> {
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
    if (comparison.leaveOneCorpusOut !== undefined) {
      merged.leaveOneCorpusOut = { ...merged.leaveOneCorpusOut, ...comparison.leaveOneCorpusOut };
    }
  }
  return merged;
}

function groupBySource(runs: readonly string[], sources: Record<string, string>): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const run of runs) {
    const source = sources[run] as string;
    groups.set(source, [...(groups.get(source) ?? []), run]);
  }
  return groups;
}

function runName(runDir: string): string {
  return path.basename(path.resolve(runDir));
}

/** A run's model on its own recorded split: metrics over any subset of its validation or test files. */
interface OpenedRun {
  classifier: EmotionClassifier;
  provenance: SplitProvenance;
  split: Split;
  measure: (set: readonly LabelledFile[]) => Promise<(keep: (file: LabelledFile) => boolean) => ClassificationMetrics>;
}

async function openRun(runDir: string, files: readonly LabelledFile[], context: CommandContext): Promise<OpenedRun> {
  const classifier = await openClassifier(context, runDir);
  let provenance: SplitProvenance;
  try {
    provenance = readSplitProvenance(classifier.metadata.training, runDir);
  } catch (error) {
    classifier.dispose();
    throw error;
  }
  const featuresOf = modelFeatures(context, classifier.metadata);
  return {
    classifier,
    provenance,
    split: rebuildRecordedSplit(files, provenance).split,
    measure: async (set) => {
      const features = await featuresOf(set);
      const { classes } = predictSet(classifier, features);
      return (keep) => subsetMetrics(features, classes, keep);
    },
  };
}

/** The corpora a run trained on, as its metadata records them. */
function describeCorpora(training: Record<string, unknown>): string {
  const sources = (training['dataSources'] as Array<{ corpus?: string }> | undefined) ?? [];
  return sources.map((source) => source.corpus ?? '?').join('+');
}

/** The training options a run used, as a person reads them. */
function describeOptions(training: Record<string, unknown>, frontEnd: string | undefined): string {
  const augmentation = training['augmentation'] as { kinds?: string[]; copies?: number } | undefined;
  const copies = augmentation?.copies === undefined ? '' : ` (${augmentation.copies} ${augmentation.copies === 1 ? 'copy' : 'copies'})`;
  const batch = training['batchAugmentation'] as { timeMasks?: number; mixupAlpha?: number } | undefined;
  const options = [
    augmentation?.kinds ? `augment ${augmentation.kinds.join('+')}${copies}` : undefined,
    (batch?.timeMasks ?? 0) > 0 ? 'SpecAugment' : undefined,
    (batch?.mixupAlpha ?? 0) > 0 ? `mixup ${batch?.mixupAlpha}` : undefined,
    training['sampling'] === undefined ? undefined : 'balanced sampling',
    frontEnd === undefined || frontEnd === 'seed' ? undefined : `${frontEnd} front-end`,
    training['classWeights'] ? 'class weights' : undefined,
    typeof training['labelSmoothing'] === 'number' ? `label smoothing ${training['labelSmoothing']}` : undefined,
  ].filter((option): option is string => option !== undefined);
  return options.length > 0 ? options.join(', ') : 'none';
}

async function measureRandomSplitRun(runDir: string, files: readonly LabelledFile[], context: CommandContext): Promise<RandomSplitRow> {
  const { classifier, provenance, split, measure } = await openRun(runDir, files, context);
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
      options: describeOptions(metadata.training, metadata.frontEnd),
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

async function measureLeftOutRun(runDir: string, files: readonly LabelledFile[], context: CommandContext): Promise<LeftOutCorpusRow> {
  const { classifier, provenance, split, measure } = await openRun(runDir, files, context);
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
      options: describeOptions(metadata.training, metadata.frontEnd),
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

async function measureRun(
  runDir: string,
  files: readonly LabelledFile[],
  context: CommandContext,
): Promise<{ row: ComparisonRow; byCorpus: Record<string, CorpusRow> }> {
  const { classifier, provenance, split, measure } = await openRun(runDir, files, context);
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
      options: describeOptions(metadata.training, metadata.frontEnd),
      corpora: describeCorpora(metadata.training),
      validationSpeakersUar,
      testSpeakersAccuracy: heldOut.accuracy,
      testSpeakersUar: heldOut.uar,
      testSpeakersMacroF1: heldOut.macroF1,
      otherTestAccuracy: onTest((file) => !testSpeakers.includes(file.speaker)).accuracy,
      weightsBytes: metadata.weights.bytes,
      weightsDtype: metadata.weights.dtype,
      trainedWith: metadata.training.command,
    };
    return { row, byCorpus };
  } finally {
    classifier.dispose();
  }
}
