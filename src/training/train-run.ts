import { DatasetError, InterruptedError } from '../errors.js';
import { type FeatureExtractor } from '../dsp/features.js';
import { type FeatureCache } from '../features/feature-cache.js';
import { type Logger } from '../logging/logger.js';
import { ARCHITECTURES, buildModel, type ArchitectureChoice } from '../model/architecture.js';
import { EmotionClassifier } from '../model/runtime/classifier.js';
import { type DataSource } from '../model/artifact/metadata.js';
import { recordModelMetrics } from '../model/artifact/store.js';
import { saveModelDir } from '../model/artifact/tfjs-model.js';
import { type ClipWindow } from '../dsp/clip-window.js';
import { BandStatistics, normaliseByGroup } from '../dsp/band-statistics.js';
import { applyFrontEnd, type FrontEnd } from '../dsp/front-end.js';
import { CORPORA, scanDatasets, tallyByCorpus, type Corpus, type LabelledFile } from './datasets.js';
import { calibrate, type CalibrationResult } from './calibrate.js';
import { evaluateByCorpus, predictSet, subsetMetrics, summarizeTestReport, voiceOf, type TestReport } from './evaluate.js';
import { type ClassificationMetrics } from './metrics.js';
import { buildFeatureSet, selectRows, type FeatureSet } from './feature-set.js';
import { heldOutSpeakers, resolveSplitRequest, validationSpeakers, type SplitPlan, type SplitRequest } from './splits.js';
import { splitFromProvenance } from './recorded-split.js';
import { checkTeachers, heldOutOf, teacherTargets, type Distillation } from './distillation.js';
import { trainModel, type TrainOptions, type TrainResult } from './trainer.js';
import { prepareImprovements, type TrainingImprovements } from './training-options.js';

export interface TrainingPlan {
  /** Dataset folders as the user named them (recorded as given, for the model card). */
  dataDirs: string[];
  /** A concrete split, or the evaluation protocol, resolved once the data is scanned. */
  split: SplitRequest;
  /** Train on at most this many files per class (quick runs, CI); absent = all. */
  limitPerClass?: number;
  seed: number;
  epochs: number;
  batchSize: number;
  /** The command line that started the run, recorded for reproducibility. */
  command: string;
  modelName: string;
  modelVersion: string;
  /** The model to train; default 'seed'. */
  architecture?: ArchitectureChoice;
  /** Augmentation, class weighting, label smoothing; none by default. */
  improvements?: TrainingImprovements;
  /** How features are normalised before the network; default 'seed'. */
  frontEnd?: FrontEnd;
  /** Which 3 s of each file the model trains and is evaluated on; default 'start'. */
  clipWindow?: ClipWindow;
  /** Teachers whose probabilities the model also learns from; none by default. */
  distillation?: Distillation;
}

export interface TrainingProgress {
  onFeatures?: (done: number, total: number) => void;
  /** Progress through the training files for augmented copy `copy` (from 1). */
  onAugment?: (copy: number, done: number, total: number) => void;
  onBatchEnd?: TrainOptions['onBatchEnd'];
  onEpochEnd?: TrainOptions['onEpochEnd'];
}

export interface TrainingReport {
  counts: { train: number; validation: number; test: number; unlabelled: number; failed: number };
  /** The split as resolved for the data (the protocol's speakers named). */
  split: SplitPlan;
  training: TrainResult;
  test: TestReport;
  /** Test files of the speakers held out whole; absent for a random split. */
  speakerIndependent?: ClassificationMetrics;
  calibration: CalibrationResult;
  minutes: number;
}

export interface TrainingDependencies {
  extractor: FeatureExtractor;
  cache: FeatureCache;
  logger: Logger;
  progress?: TrainingProgress;
  signal?: AbortSignal;
}

/**
 * One reproducible training run: scan the data, split it as planned, compute (cached)
 * features and augmented copies of the training files, train the chosen architecture, save
 * it with its provenance, then evaluate the *saved* model on the held-out test split, so the
 * reported numbers are those of the artefact users load.
 */
export async function trainAndSave(
  plan: TrainingPlan,
  outDir: string,
  deps: TrainingDependencies,
): Promise<TrainingReport> {
  const started = Date.now();
  const { logger } = deps;
  const scan = await scanDatasets(plan.dataDirs);
  for (const tally of tallyByCorpus(scan)) logger.info(tally, 'files found, used and skipped');
  if (scan.unlabelled.length > 0 || scan.skipped.length > 0) {
    logger.warn(
      { count: scan.unlabelled.length + scan.skipped.length, examples: [...scan.unlabelled, ...scan.skipped].slice(0, 5) },
      'files without a derivable label, broken links and repeated files are left out',
    );
  }
  if (scan.files.length === 0) {
    throw new DatasetError(`no labelled recordings found in ${plan.dataDirs.join(', ')}`);
  }
  const splitPlan = resolveSplitRequest(scan.files, plan.split);
  const split = splitFromProvenance(scan.files, { ...plan, split: splitPlan });
  logger.info(
    { train: split.train.length, validation: split.validation.length, test: split.test.length, split: splitPlan },
    'data split',
  );
  // Before any feature is computed: a teacher that heard the held-out voices fails the run at once.
  const teachers =
    plan.distillation === undefined ? undefined : await checkTeachers(plan.distillation, heldOutOf(scan.files, split, splitPlan));

  const ordered = [...split.train, ...split.validation, ...split.test];
  const clipWindow = plan.clipWindow ?? 'start';
  const all = await buildFeatureSet(ordered, deps.extractor, deps.cache, {
    clipWindow,
    ...(deps.progress?.onFeatures ? { onProgress: deps.progress.onFeatures } : {}),
    ...(deps.signal ? { signal: deps.signal } : {}),
  });
  if (all.failed.length > 0) {
    logger.warn({ count: all.failed.length, examples: all.failed.slice(0, 5) }, 'files that failed to decode are left out');
  }
  const member = (set: readonly LabelledFile[]) => {
    const paths = new Set(set.map((file) => file.path));
    return (file: LabelledFile) => paths.has(file.path);
  };
  const train = selectRows(all, member(split.train));
  const validation = selectRows(all, member(split.validation));
  const test = selectRows(all, member(split.test));
  if (train.labels.length === 0 || validation.labels.length === 0 || test.labels.length === 0) {
    throw new DatasetError(
      `the split left an empty set (train ${train.labels.length}, validation ${validation.labels.length}, ` +
        `test ${test.labels.length}); use more data or a larger --limit-per-class`,
    );
  }

  const architecture = plan.architecture ?? 'seed';
  const frontEnd = plan.frontEnd ?? 'seed';
  const improvements = await prepareImprovements(plan.improvements ?? {}, train, {
    clipWindow,
    extractor: deps.extractor,
    cache: deps.cache,
    logger,
    ...(deps.progress?.onAugment ? { onAugment: deps.progress.onAugment } : {}),
    ...(deps.signal ? { signal: deps.signal } : {}),
  });
  const distilled =
    teachers === undefined
      ? undefined
      : await teacherTargets(teachers, train, {
          clipWindow,
          extractor: deps.extractor,
          cache: deps.cache,
          ...(deps.signal ? { signal: deps.signal } : {}),
        });
  const model = buildModel(architecture);
  let training: TrainResult;
  try {
    // The network trains on the front-end's output; evaluation below goes through the saved
    // model's classifier, which applies the front-end itself to the plain features.
    // An augmented copy's rows are the training files', in order, so they share their speakers.
    const trainVoices = train.files.map(voiceOf);
    const trainInput = withFrontEnd(frontEnd, train, trainVoices);
    const validationInput = withFrontEnd(frontEnd, validation, validation.files.map(voiceOf));
    const variantInputs = (improvements.options.trainingVariants ?? []).map((set) => withFrontEnd(frontEnd, set, trainVoices));
    training = await trainModel(model, trainInput, validationInput, {
      ...improvements.options,
      ...(variantInputs.length === 0 ? {} : { trainingVariants: variantInputs }),
      ...(distilled === undefined ? {} : { teacherTargets: distilled.targets }),
      seed: plan.seed,
      epochs: plan.epochs,
      batchSize: plan.batchSize,
      ...(deps.progress?.onBatchEnd ? { onBatchEnd: deps.progress.onBatchEnd } : {}),
      ...(deps.progress?.onEpochEnd ? { onEpochEnd: deps.progress.onEpochEnd } : {}),
      ...(deps.signal ? { signal: deps.signal } : {}),
    });
    // Stopped before a single epoch ended: an untrained model is not worth a directory.
    if (training.history.length === 0) {
      throw new InterruptedError('stopped before the first epoch ended; nothing was saved');
    }
    await saveModelDir(model, outDir, {
      name: plan.modelName,
      version: plan.modelVersion,
      architecture: ARCHITECTURES[architecture].name,
      frontEnd,
      ...(frontEnd === 'speaker' ? { bandStatistics: BandStatistics.of(train.features).toRecord() } : {}),
      clipWindow,
      training: {
        command: plan.command,
        seed: plan.seed,
        dataSources: describeSources(plan.dataDirs, all.files),
        split: splitPlan,
        ...(plan.limitPerClass === undefined ? {} : { limitPerClass: plan.limitPerClass }),
        ...improvements.provenance,
        ...distilled?.provenance,
        counts: { train: train.labels.length, validation: validation.labels.length, test: test.labels.length },
        epochs: training.history.length,
        bestEpoch: training.bestEpoch,
        stopReason: training.stopReason,
        date: new Date().toISOString(),
      },
      history: training.history,
    });
  } finally {
    model.dispose();
  }

  const speakers = heldOutSpeakers(splitPlan);
  const { report, calibration } = await evaluateAndCalibrate(outDir, validation, test, speakers, validationSpeakers(splitPlan));
  await recordModelMetrics(
    outDir,
    {
      summary: summarizeTestReport(report, speakers),
      test: report.all,
      testByCorpus: report.byCorpus,
      calibration: calibration.report,
    },
    { temperature: calibration.report.temperature },
  );
  logger.info(
    { accuracy: report.all.accuracy, uar: report.all.uar, temperature: calibration.report.temperature },
    'test split evaluated, confidence calibrated',
  );
  return {
    counts: {
      train: train.labels.length,
      validation: validation.labels.length,
      test: test.labels.length,
      unlabelled: scan.unlabelled.length,
      failed: all.failed.length,
    },
    split: splitPlan,
    training,
    test: report,
    ...(speakers.length > 0
      ? { speakerIndependent: subsetMetrics(test, report.predicted, (file) => speakers.includes(file.speaker)) }
      : {}),
    calibration,
    minutes: (Date.now() - started) / 60_000,
  };
}

/**
 * Metrics of the saved model on the test set, overall and per corpus, and temperature
 * scaling fitted on the validation set with its ECE measured on the test set.
 */
async function evaluateAndCalibrate(
  modelDir: string,
  validation: FeatureSet,
  test: FeatureSet,
  speakers: readonly string[],
  fitSpeakers: readonly string[],
): Promise<{ report: TestReport; calibration: CalibrationResult }> {
  const classifier = await EmotionClassifier.load(modelDir);
  try {
    const report = evaluateByCorpus(classifier, test);
    const validationScores = { ...validation, probabilities: predictSet(classifier, validation).probabilities };
    const calibration = calibrate(validationScores, { ...test, probabilities: report.probabilities }, speakers, 1, fitSpeakers);
    return { report, calibration };
  } finally {
    classifier.dispose();
  }
}

/**
 * The set as the network sees it under `frontEnd`: the same object for `seed`, else a
 * normalised copy; `speaker` normalises each row with its voice's (`voices[row]`, see
 * voiceOf) statistics over the set, as evaluation (predictSet) does.
 */
function withFrontEnd<T extends { features: Float32Array }>(frontEnd: FrontEnd, set: T, voices: readonly string[]): T {
  if (frontEnd === 'seed') return set;
  const features = Float32Array.from(set.features);
  if (frontEnd === 'speaker') normaliseByGroup(features, voices);
  else applyFrontEnd(frontEnd, features);
  return { ...set, features };
}

/** One data source per corpus actually used, with its licence and file count. */
function describeSources(dataDirs: readonly string[], files: readonly LabelledFile[]): DataSource[] {
  const counts = new Map<Corpus, number>();
  for (const file of files) counts.set(file.corpus, (counts.get(file.corpus) ?? 0) + 1);
  return [...counts].map(([corpus, count]) => ({
    ...CORPORA[corpus],
    corpus,
    files: count,
    folders: dataDirs,
  }));
}
