import { existsSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { describeError, InterruptedError, UsageError } from '../errors.js';
import { writeAtomically } from '../model/artifact/files.js';
import { recordModelMetrics } from '../model/artifact/store.js';
import { scanDatasets, type LabelledFile } from './datasets.js';
import { checkTeachers, heldOutOf } from './distillation.js';
import { splitFromProvenance } from './recorded-split.js';
import { type ClassificationMetrics } from './metrics.js';
import { speakerFolds, type SpeakerSplitPlan } from './splits.js';
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
 * The report is written before the first fold and after every fold, so a run stopped part-way
 * (a session's end, a reboot: five folds of the shipped recipe take about two hours here)
 * keeps the folds done, and the same command run again trains only the folds missing. A fold
 * stopped in the middle of its training is not one of them: its model saw only some epochs.
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
  const results = await foldsAlreadyDone(outDir, plan, plans, deps);
  await checkFoldTeachers(plan, plans, scan.files, results);
  // Written before any fold, so a fold directory without a result is known to be this command's.
  await writeReport(outDir, summarise(plan, folds, results));
  for (const [index, split] of plans.entries()) {
    const fold = index + 1;
    if (results.some((result) => result.fold === fold)) continue;
    const model = `fold-${fold}`;
    deps.logger.info({ fold, folds, testSpeakers: split.testSpeakers }, 'cross-validation fold');
    let report: TrainingReport;
    try {
      report = await trainAndSave({ ...plan, ...foldTeachers(plan, model), split }, path.join(outDir, model), deps);
    } catch (error) {
      // Stopped before this fold trained: the folds already done keep their report.
      if (error instanceof InterruptedError && results.length > 0) break;
      throw error;
    }
    if (report.training.stopReason === 'aborted') {
      deps.logger.warn({ fold, epochs: report.training.history.length }, 'cross-validation fold stopped part-way; the same command trains it again');
      break;
    }
    const result = foldResult(fold, model, split, report);
    results.push(result);
    await writeReport(outDir, summarise(plan, folds, results));
    onFold?.(fold, folds, result);
    if (deps.signal?.aborted === true) break;
  }
  const report = summarise(plan, folds, results);
  // Each fold model's card carries the spread over all folds, so whichever is used says how
  // much its own numbers owe to the choice of test speakers; a spread over some folds would
  // pass for it.
  if (results.length === folds) {
    for (const result of results) {
      await recordModelMetrics(path.join(outDir, result.model), {
        crossValidation: { folds, fold: result.fold, command: plan.command, ...report.spread },
      });
    }
  }
  return report;
}

function foldResult(fold: number, model: string, split: SpeakerSplitPlan, report: TrainingReport): FoldResult {
  const row = (m: ClassificationMetrics | undefined) => ({
    files: m?.count ?? 0,
    accuracy: m?.accuracy ?? 0,
    uar: m?.uar ?? 0,
    macroF1: m?.macroF1 ?? 0,
  });
  return {
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
}

/**
 * The folds an earlier run of the same command finished in `outDir`, from its report. Fold
 * directories the report does not count were left by a fold stopped part-way, and are removed
 * so the fold is trained again. A report of another command is refused rather than written
 * over: its folds are someone's hours of training.
 */
async function foldsAlreadyDone(
  outDir: string,
  plan: Omit<TrainingPlan, 'split'>,
  plans: readonly SpeakerSplitPlan[],
  deps: TrainingDependencies,
): Promise<FoldResult[]> {
  const file = path.join(outDir, CROSS_VALIDATION_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new UsageError(`${file} cannot be read (${describeError(error)}); give another --out`, { cause: error });
  }
  const earlier = parseReport(text, file);
  if (earlier.command !== plan.command || earlier.folds !== plans.length || earlier.seed !== plan.seed) {
    throw new UsageError(
      `${outDir} holds the folds of another command (${earlier.command}); run that command again to finish it, or give another --out`,
    );
  }
  const done: FoldResult[] = [];
  for (const [index, split] of plans.entries()) {
    const fold = index + 1;
    const result = earlier.results.find((candidate) => candidate.fold === fold);
    if (result !== undefined && JSON.stringify(result.testSpeakers) === JSON.stringify(split.testSpeakers)) {
      done.push(result);
      continue;
    }
    const leftOver = path.join(outDir, `fold-${fold}`);
    if (existsSync(leftOver)) {
      deps.logger.warn({ fold, directory: leftOver }, 'cross-validation fold stopped part-way by an earlier run; training it again');
      await rm(leftOver, { recursive: true, force: true });
    }
  }
  if (done.length > 0) {
    deps.logger.info({ folds: done.map((result) => result.fold) }, 'cross-validation resumed: these folds were done by an earlier run of this command');
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

/** Renamed into place, so a run killed while writing leaves the previous report whole. */
async function writeReport(outDir: string, report: CrossValidationReport): Promise<void> {
  await writeAtomically(outDir, CROSS_VALIDATION_FILE, `${JSON.stringify(report, null, 2)}\n`);
}

/** A report's text, checked for the fields resuming and `compare` read; a UsageError naming the file otherwise. */
function parseReport(text: string, file: string): CrossValidationReport {
  const damaged = (why: string): never => {
    throw new UsageError(`${file} is not a cross-validation report (${why}); it is written by "ser-agent train --folds K --out DIR"`);
  };
  let report: unknown;
  try {
    report = JSON.parse(text);
  } catch (error) {
    return damaged(describeError(error));
  }
  const fields = report as Partial<CrossValidationReport> | null;
  if (typeof fields !== 'object' || fields === null) return damaged('not a JSON object');
  if (typeof fields.command !== 'string' || typeof fields.seed !== 'number' || !Number.isInteger(fields.folds)) {
    return damaged('no command, seed or folds');
  }
  if (!Array.isArray(fields.results) || typeof fields.spread?.byCorpus !== 'object') return damaged('no results or spread');
  for (const result of fields.results as unknown[]) {
    const fold = result as Partial<FoldResult> | null;
    if (typeof fold?.fold !== 'number' || typeof fold.model !== 'string' || !Array.isArray(fold.testSpeakers) || typeof fold.byCorpus !== 'object') {
      return damaged('a fold without its number, model, held-out speakers or numbers per corpus');
    }
  }
  return fields as CrossValidationReport;
}

/**
 * The report `train --folds K` wrote in `dir`, with every fold done. A UsageError names the
 * directory and what to do when there is none, it is damaged, or the run stopped early: a
 * spread over fewer folds than planned would pass for the recipe's.
 */
export async function readCrossValidationReport(dir: string): Promise<CrossValidationReport> {
  const file = path.join(dir, CROSS_VALIDATION_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new UsageError(
      `${file} cannot be read (${describeError(error)}); give a directory made by "ser-agent train --folds K --out DIR"`,
      { cause: error },
    );
  }
  const report = parseReport(text, file);
  if (report.results.length !== report.folds) {
    throw new UsageError(
      `${file} holds ${report.results.length} of its ${report.folds} folds: the run stopped early; run its command again, which trains only the folds missing (${report.command})`,
    );
  }
  return report;
}

/** Mean, sample standard deviation, minimum and maximum. */
export function spread(values: readonly number[]): Spread {
  if (values.length === 0) return { mean: 0, std: 0, min: 0, max: 0 };
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const variance =
    values.length > 1 ? values.reduce((total, value) => total + (value - mean) ** 2, 0) / (values.length - 1) : 0;
  return { mean, std: Math.sqrt(variance), min: Math.min(...values), max: Math.max(...values) };
}

/** Whether `dir` holds a cross-validation run (its report), rather than one model. */
export function isCrossValidationDir(dir: string): boolean {
  return existsSync(path.join(dir, CROSS_VALIDATION_FILE));
}

/**
 * A teacher given as a cross-validation directory teaches each fold with its model of the
 * same fold (`DIR/fold-<i>`), trained without that fold's held-out speakers; a teacher given
 * as a model directory teaches every fold, and is refused unless it heard none of any fold's
 * held-out speakers.
 */
function foldTeachers(plan: Omit<TrainingPlan, 'split'>, foldName: string): Pick<TrainingPlan, 'distillation'> {
  if (plan.distillation === undefined) return {};
  const teachers = plan.distillation.teachers.map((dir) => (isCrossValidationDir(dir) ? path.join(dir, foldName) : dir));
  return { distillation: { ...plan.distillation, teachers } };
}

/**
 * Checks every fold's teachers before the first fold trains, so a teacher that is missing or
 * heard a fold's held-out speakers fails the run at once, not hours in at its fold.
 */
async function checkFoldTeachers(
  plan: Omit<TrainingPlan, 'split'>,
  plans: readonly SpeakerSplitPlan[],
  files: readonly LabelledFile[],
  done: readonly FoldResult[],
): Promise<void> {
  for (const [index, split] of plans.entries()) {
    const fold = index + 1;
    const { distillation } = foldTeachers(plan, `fold-${fold}`);
    if (distillation === undefined || done.some((result) => result.fold === fold)) continue;
    await checkTeachers(distillation, heldOutOf(files, splitFromProvenance(files, { ...plan, split }), split));
  }
}
