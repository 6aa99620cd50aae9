import { UsageError } from '../errors.js';
import { recordModelMetrics, verifyModelDir } from '../model/artifact/store.js';
import { type ModelMetadata } from '../model/artifact/metadata.js';
import {
  chooseRun,
  choiceIntervals,
  measureLeftOutRun,
  measureRandomSplitRun,
  measureRun,
  mergeComparisons,
  readCrossValidationRun,
  recordedComparison,
  runName,
  type ChoiceInterval,
  type ComparisonRow,
  type CorpusRow,
  type CrossValidationRow,
  type LeftOutCorpusRow,
  type RandomSplitRow,
  type RecordedComparison,
  type RunOpener,
  type SourcedComparison,
  type ValidationPredictions,
} from '../training/comparison.js';
import { type Spread } from '../training/cross-validation.js';
import { scanDatasets } from '../training/datasets.js';
import { EXIT, featureSource, type Command } from './command.js';
import { openClassifier } from './open-classifier.js';
import { dataDirectories, stringList, stringOption } from './options.js';
import { formatTable } from './table.js';
import { percent, percentSpread } from './report.js';

export const compareCommand: Command = {
  usage:
    'ser-agent compare --data DIR... [--record MODEL_DIR] [--earlier MODEL_DIR] [--random-split RUN_DIR...]\n' +
    '                  [--left-out RUN_DIR...] [--cross-validation FOLDS_DIR...] RUN_DIR...',
  options: {
    data: { type: 'string', multiple: true },
    record: { type: 'string' },
    'random-split': { type: 'string', multiple: true },
    'left-out': { type: 'string', multiple: true },
    'cross-validation': { type: 'string', multiple: true },
    earlier: { type: 'string' },
  },
  async run(values, positionals, context) {
    const recordDir = stringOption(values, 'record');
    // Runs measured by an earlier compare stay in the card when their directories are gone
    // (each is ~50 min of training); a run measured again replaces its row. --earlier carries
    // the rows of another model's card, such as the model the recorded one replaces.
    const recorded = recordDir === undefined ? undefined : await verifyModelDir(recordDir);
    const recordedBefore = recorded === undefined ? undefined : recordedComparison(recorded.metadata.metrics, recordDir as string);
    const earlier = mergeComparisons([await carriedComparison(stringOption(values, 'earlier')), recordedBefore]);
    const earlierRuns = Object.keys(earlier.runs).filter((run) => !positionals.some((dir) => runName(dir) === run));
    if (positionals.length + earlierRuns.length < 2) {
      throw new UsageError(
        'compare needs at least two speaker-split runs: run directories made by "ser-agent train", ' +
          `counting those already recorded in --record's or --earlier's model; got ${positionals.length + earlierRuns.length}`,
      );
    }
    const dataDirs = dataDirectories(values);
    const scan = await scanDatasets(dataDirs);
    const opener: RunOpener = {
      classifier: (runDir) => openClassifier(context, runDir),
      features: featureSource(context),
    };
    const runs: Record<string, Omit<ComparisonRow, 'run'>> = {};
    const runsByCorpus: Record<string, Record<string, CorpusRow>> = {};
    const validation: Record<string, ValidationPredictions> = {};
    const weightsOf: Record<string, string> = {};
    for (const run of earlierRuns) {
      runs[run] = earlier.runs[run] as Omit<ComparisonRow, 'run'>;
      const byCorpus = earlier.runsByCorpus?.[run];
      if (byCorpus !== undefined) runsByCorpus[run] = byCorpus;
    }
    for (const runDir of positionals) {
      const measured = await measureRun(runDir, scan.files, opener);
      const { run, ...row } = measured.row;
      runs[run] = row;
      runsByCorpus[run] = measured.byCorpus;
      validation[run] = measured.validation;
      weightsOf[run] = measured.weightsSha256;
    }
    const randomSplitRuns: Record<string, Omit<RandomSplitRow, 'run'>> = { ...earlier.seedStyleRandomSplit };
    for (const runDir of stringList(values, 'random-split')) {
      const { run, ...row } = await measureRandomSplitRun(runDir, scan.files, opener);
      randomSplitRuns[run] = row;
    }
    const leftOutRuns: Record<string, Omit<LeftOutCorpusRow, 'run'>> = { ...earlier.leaveOneCorpusOut };
    for (const runDir of stringList(values, 'left-out')) {
      const { run, ...row } = await measureLeftOutRun(runDir, scan.files, opener);
      leftOutRuns[run] = row;
    }
    const crossValidationRuns: Record<string, Omit<CrossValidationRow, 'run'>> = { ...earlier.crossValidation };
    for (const cvDir of stringList(values, 'cross-validation')) {
      const { run, ...row } = await readCrossValidationRun(cvDir);
      crossValidationRuns[run] = row;
    }

    // The run the recorded model was made from, else the choice its card already names.
    const incumbent = recorded === undefined ? undefined : (sourceRun(recorded.metadata, weightsOf) ?? recordedBefore?.best);
    const best = chooseRun(runs, validation, incumbent);
    const intervals = choiceIntervals(best, validation, earlier.choiceIntervals);
    for (const line of formatTable(
      ['run', 'architecture', 'options', 'corpora', 'val speakers UAR', 'test speakers acc', 'UAR', 'macro-F1', 'other test acc', 'weights'],
      Object.entries(runs).map(([run, row]) => [
        run === best ? `${run} (chosen)` : run,
        row.architecture,
        row.options,
        row.corpora ?? '',
        percent(row.validationSpeakersUar),
        percent(row.testSpeakersAccuracy),
        percent(row.testSpeakersUar),
        percent(row.testSpeakersMacroF1),
        row.otherTestAccuracy === undefined ? '-' : percent(row.otherTestAccuracy),
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
    section(
      `how sure the choice is: each run's validation UAR minus ${best}'s, 95% interval of a paired bootstrap over the validation speakers:`,
      Object.entries(intervals).map(([run, interval]) => `  ${run}: ${describeInterval(interval)}`),
    );
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
    section(
      'cross-validation by speaker (train --folds K: held-out speakers\' UAR over the folds, mean ± standard deviation, range; never chosen):',
      Object.keys(crossValidationRuns).length === 0 ? [] : crossValidationTable(crossValidationRuns),
    );

    if (recorded !== undefined && recordDir !== undefined) {
      const comparison: RecordedComparison = {
        commands: [...earlier.commands, context.commandLine],
        selectedBy:
          'UAR on the held-out validation speakers (the test speakers take no part in the choice); the run the model ' +
          "was made from stays chosen unless another run's lead is clear of zero in the paired bootstrap",
        best,
        runs,
        runsByCorpus,
        ...(Object.keys(randomSplitRuns).length > 0 ? { seedStyleRandomSplit: randomSplitRuns } : {}),
        ...(Object.keys(leftOutRuns).length > 0 ? { leaveOneCorpusOut: leftOutRuns } : {}),
        ...(Object.keys(crossValidationRuns).length > 0 ? { crossValidation: crossValidationRuns } : {}),
        ...(Object.keys(intervals).length > 0 ? { choiceIntervals: intervals } : {}),
      };
      await recordModelMetrics(recordDir, { comparison });
      context.out(`comparison recorded in ${recordDir}/metadata.json and its model card`);
    }
    return EXIT.ok;
  },
};

/**
 * Which of the measured runs (run → weights' sha256) the recorded model was made from: the run
 * whose weights it holds, or those it was quantized from.
 */
function sourceRun(metadata: ModelMetadata, weightsOf: Record<string, string>): string | undefined {
  const source = metadata.weights.quantizedFrom?.weightsSha256 ?? metadata.weights.sha256;
  return Object.keys(weightsOf).find((run) => weightsOf[run] === source);
}

/** `-1.9 points (-6.5 to +2.8; voices: ravdess 2, nemo 2, ased 10)`, and whether 0 is inside. */
function describeInterval({ difference, low, high, speakers }: ChoiceInterval): string {
  const points = (value: number) => `${value >= 0 ? '+' : ''}${(value * 100).toFixed(1)}`;
  const voices = Object.entries(speakers)
    .map(([corpus, count]) => `${corpus} ${count}`)
    .join(', ');
  const verdict = low <= 0 && high >= 0 ? 'within what other voices could show' : 'clear of zero';
  return `${points(difference)} points (${points(low)} to ${points(high)}; ${verdict}; voices: ${voices})`;
}

/** One row per cross-validation run: each corpus's held-out speakers' UAR over the folds, then all of them. */
function crossValidationTable(runs: Record<string, Omit<CrossValidationRow, 'run'>>): string[] {
  const corpora = [...new Set(Object.values(runs).flatMap((row) => Object.keys(row.uarByCorpus)))];
  const spread = (value: Spread | undefined) => (value === undefined ? '-' : percentSpread(value));
  return formatTable(
    ['run', 'folds', 'seed', 'options', ...corpora, 'all held-out speakers'],
    Object.entries(runs).map(([run, row]) => [
      run,
      String(row.folds),
      String(row.seed),
      row.options,
      ...corpora.map((corpus) => spread(row.uarByCorpus[corpus])),
      spread(row.speakerIndependentUar),
    ]),
  );
}

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

function groupBySource(runs: readonly string[], sources: Record<string, string>): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const run of runs) {
    const source = sources[run] as string;
    groups.set(source, [...(groups.get(source) ?? []), run]);
  }
  return groups;
}

