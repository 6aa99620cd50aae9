import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describeError, InterruptedError, UsageError } from '../errors.js';
import { recordModelMetrics } from '../model/artifact/store.js';
import { scanDatasets } from './datasets.js';
import { type ClassificationMetrics } from './metrics.js';
import { speakerFolds } from './splits.js';
import { trainAndSave, type TrainingDependencies, type TrainingPlan, type TrainingReport } from './train-run.js';

/** Written beside the fold models: every fold's numbers and their mean and spread. */
export const CROSS_VALIDATION_FILE = 'cross-validation.json';

export interface Spread {
  mean: number;
  /** Sample standard deviation over the folds (n − 1). */
  std: number;
  min: number;
  max: number;
}

export interface FoldResult {
  fold: number;
  /** The fold's model directory, relative to the cross-validation output directory. */
  model: string;
  testSpeakers: string[];
  validationSpeakers: string[];
  speakerIndependent: { files: number; accuracy: number; uar: number; macroF1: number };
  allTestFiles: { files: number; accuracy: number; uar: number; macroF1: number };
  /**
   * The fold's test files of each corpus: its held-out speakers where the corpus had speakers
   * to deal into folds, its held-out files where it had not (TESS).
   */
  byCorpus: Record<string, { files: number; accuracy: number; uar: number; macroF1: number }>;
  ece: { before: number; after: number; temperature: number };
}

export interface CrossValidationReport {
  folds: number;
  seed: number;
  command: string;
  results: FoldResult[];
  /** Over the folds: speaker-independent accuracy and UAR, then the same over all test files. */
  spread: {
    speakerIndependentAccuracy: Spread;
    speakerIndependentUar: Spread;
    allTestAccuracy: Spread;
    allTestUar: Spread;
    eceAfter: Spread;
    /** Per corpus over the folds: accuracy and UAR on its test files. */
    byCorpus: Record<string, { accuracy: Spread; uar: Spread }>;
  };
}

/**
 * K-fold cross-validation by speaker: K full training runs, fold i holding out speaker group
 * i (see `speakerFolds`). Every fold's model is kept in `outDir/fold-<i>` with its own
 * recorded split, so `evaluate --split test` reproduces each one; none is picked as "best",
 * since choosing by test score would leak the test speakers into model selection.
 *
 * The report is written after every fold, so a run stopped part-way (a session's end, a
 * reboot: five folds of the shipped recipe take about two hours here) keeps the folds done,
 * and the same command run again trains only the folds missing.
 */
export async function crossValidate(
  plan: Omit<TrainingPlan, 'split'>,
  folds: number,
  outDir: string,
  deps: TrainingDependencies,
  onFold?: (fold: number, folds: number, result: FoldResult) => void,
): Promise<CrossValidationReport> {
  const scan = await scanDatasets(plan.dataDirs);
  const plans = speakerFolds(scan.files, folds, plan.seed);
  await mkdir(outDir, { recursive: true });
  const results = await foldsAlreadyDone(outDir, plan, plans);
  if (results.length > 0) {
    deps.logger.info({ folds: results.map((result) => result.fold) }, 'cross-validation resumed: these folds were done by an earlier run of this command');
  }
  for (const [index, split] of plans.entries()) {
    const fold = index + 1;
    if (results.some((result) => result.fold === fold)) continue;
    const model = `fold-${fold}`;
    deps.logger.info({ fold, folds, testSpeakers: split.testSpeakers }, 'cross-validation fold');
    let report: TrainingReport;
    try {
      report = await trainAndSave({ ...plan, split }, path.join(outDir, model), deps);
    } catch (error) {
      // Stopped before this fold trained: the folds already done keep their report.
      if (error instanceof InterruptedError && results.length > 0) break;
      throw error;
    }
    const row = (m: ClassificationMetrics | undefined) => ({
      files: m?.count ?? 0,
      accuracy: m?.accuracy ?? 0,
      uar: m?.uar ?? 0,
      macroF1: m?.macroF1 ?? 0,
    });
    const result: FoldResult = {
      fold,
      model,
      testSpeakers: split.testSpeakers,
      validationSpeakers: split.validationSpeakers,
      speakerIndependent: row(report.speakerIndependent),
      allTestFiles: row(report.test.all),
      byCorpus: Object.fromEntries(Object.entries(report.test.byCorpus).map(([corpus, metrics]) => [corpus, row(metrics)])),
      ece: {
        before: report.calibration.report.test.eceBefore,
        after: report.calibration.report.test.eceAfter,
        temperature: report.calibration.report.temperature,
      },
    };
    results.push(result);
    await writeReport(outDir, summarise(plan, folds, results));
    onFold?.(fold, folds, result);
    if (deps.signal?.aborted === true) break;
  }
  const report = summarise(plan, folds, results);
  await writeReport(outDir, report);
  // Each fold model's card carries the spread over all folds, so whichever is used says how
  // much its own numbers owe to the choice of test speakers.
  for (const result of results) {
    await recordModelMetrics(path.join(outDir, result.model), {
      crossValidation: { folds, fold: result.fold, command: plan.command, ...report.spread },
    });
  }
  return report;
}

/**
 * The folds an earlier run of the same command finished in `outDir`: its report's results
 * whose held-out speakers are still the fold's and whose model is still there. A report of
 * another command is refused rather than overwritten: its folds are someone's hours of training.
 */
async function foldsAlreadyDone(
  outDir: string,
  plan: Omit<TrainingPlan, 'split'>,
  plans: ReadonlyArray<{ testSpeakers: readonly string[] }>,
): Promise<FoldResult[]> {
  const file = path.join(outDir, CROSS_VALIDATION_FILE);
  let earlier: CrossValidationReport;
  try {
    earlier = JSON.parse(await readFile(file, 'utf8')) as CrossValidationReport;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new UsageError(`${file} cannot be read (${describeError(error)}); delete it, or give another --out`, { cause: error });
  }
  if (earlier.command !== plan.command || earlier.folds !== plans.length || earlier.seed !== plan.seed) {
    throw new UsageError(
      `${outDir} holds the folds of another command (${String(earlier.command)}); ` +
        'run that command again to finish it, or give another --out',
    );
  }
  const done: FoldResult[] = [];
  for (const result of earlier.results) {
    const expected = plans[result.fold - 1]?.testSpeakers;
    const sameSpeakers = expected !== undefined && JSON.stringify(expected) === JSON.stringify(result.testSpeakers);
    if (sameSpeakers && existsSync(path.join(outDir, result.model, 'metadata.json'))) done.push(result);
  }
  return done;
}

/** Every fold's numbers and, over the folds done, their mean and spread. */
function summarise(plan: Omit<TrainingPlan, 'split'>, folds: number, unordered: readonly FoldResult[]): CrossValidationReport {
  const results = [...unordered].sort((a, b) => a.fold - b.fold);
  return {
    folds,
    seed: plan.seed,
    command: plan.command,
    results,
    spread: {
      speakerIndependentAccuracy: spread(results.map((r) => r.speakerIndependent.accuracy)),
      speakerIndependentUar: spread(results.map((r) => r.speakerIndependent.uar)),
      allTestAccuracy: spread(results.map((r) => r.allTestFiles.accuracy)),
      allTestUar: spread(results.map((r) => r.allTestFiles.uar)),
      eceAfter: spread(results.map((r) => r.ece.after)),
      byCorpus: Object.fromEntries(
        [...new Set(results.flatMap((r) => Object.keys(r.byCorpus)))].map((corpus) => {
          const rows = results.flatMap((r) => (r.byCorpus[corpus] === undefined ? [] : [r.byCorpus[corpus]]));
          return [corpus, { accuracy: spread(rows.map((m) => m.accuracy)), uar: spread(rows.map((m) => m.uar)) }];
        }),
      ),
    },
  };
}

async function writeReport(outDir: string, report: CrossValidationReport): Promise<void> {
  await writeFile(path.join(outDir, CROSS_VALIDATION_FILE), `${JSON.stringify(report, null, 2)}\n`);
}

/**
 * The report `train --folds K` wrote in `dir`, with every fold done. A UsageError names the
 * directory and what to do when there is none, it is damaged, or the run stopped early: a
 * spread over fewer folds than planned would pass for the recipe's.
 */
export async function readCrossValidationReport(dir: string): Promise<CrossValidationReport> {
  const file = path.join(dir, CROSS_VALIDATION_FILE);
  let report: Partial<CrossValidationReport>;
  try {
    report = JSON.parse(await readFile(file, 'utf8')) as Partial<CrossValidationReport>;
  } catch (error) {
    throw new UsageError(
      `${file} cannot be read (${describeError(error)}); give a directory made by "ser-agent train --folds K --out DIR"`,
      { cause: error },
    );
  }
  const { folds, results, spread: recorded } = report;
  if (typeof folds !== 'number' || !Array.isArray(results) || typeof recorded?.byCorpus !== 'object' || typeof report.command !== 'string') {
    throw new UsageError(`${file} is not a cross-validation report (folds, results, spread and command); train the folds again`);
  }
  if (results.length !== folds) {
    throw new UsageError(
      `${file} holds ${results.length} of its ${folds} folds: the run stopped early; run its command again, which trains only the folds missing (${report.command})`,
    );
  }
  return report as CrossValidationReport;
}

/** Mean, sample standard deviation, minimum and maximum. */
export function spread(values: readonly number[]): Spread {
  if (values.length === 0) return { mean: 0, std: 0, min: 0, max: 0 };
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const variance =
    values.length > 1 ? values.reduce((total, value) => total + (value - mean) ** 2, 0) / (values.length - 1) : 0;
  return { mean, std: Math.sqrt(variance), min: Math.min(...values), max: Math.max(...values) };
}
