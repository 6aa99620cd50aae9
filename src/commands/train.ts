import { existsSync } from 'node:fs';
import path from 'node:path';
import { SingleBar, Presets } from 'cli-progress';
import { FeatureExtractor } from '../dsp/features.js';
import { FeatureCache } from '../features/feature-cache.js';
import { ARCHITECTURES, type ArchitectureChoice } from '../model/architecture.js';
import { METADATA_FILE } from '../model/artifact/files.js';
import { selectBackend } from '../model/runtime/backend.js';
import { CLIP_WINDOWS } from '../dsp/clip-window.js';
import { FRONT_ENDS } from '../dsp/front-end.js';
import { parseBatchAugmentation } from '../training/augment/batch.js';
import { parseAugmentationFlags } from '../training/augment/spec.js';
import { CORPORA, type Corpus } from '../training/datasets.js';
import { DEFAULT_TEACHER_WEIGHT, type Distillation } from '../training/distillation.js';
import { SAMPLINGS } from '../training/sampling.js';
import { type TrainingImprovements } from '../training/training-options.js';
import { UsageError } from '../errors.js';
import {
  crossValidate,
  CROSS_VALIDATION_FILE,
  isCrossValidationDir,
  type CrossValidationReport,
} from '../training/cross-validation.js';
import { heldOutSpeakers, parseSpeakerList, SEED_FRACTIONS, type SplitRequest } from '../training/splits.js';
import { trainAndSave, type TrainingDependencies, type TrainingPlan } from '../training/train-run.js';
import { describeCalibration } from './calibrate.js';
import { EXIT, type Command, type OptionValues } from './command.js';
import { choiceOption, dataDirectories, integerOption, refusePositionals, requiredString, stringOption } from './options.js';
import { describeMetrics, percent, percentSpread } from './report.js';
import { formatTable } from './table.js';


export const trainCommand: Command = {
  usage:
    'ser-agent train --data DIR... --out DIR [--split speaker|random] [--test-corpus CORPUS]\n' +
    '                [--test-speakers ravdess:17-20 --validation-speakers ravdess:15-16] [--folds K]\n' +
    '                [--seed 42] [--epochs 100] [--batch-size 32] [--front-end seed|band|speaker] [--clip-window start|loudest]\n' +
    '                [--sampling shuffle|balanced] [--spec-augment] [--mixup 0.2] [--teacher DIR... [--teacher-weight 0.5]]\n' +
    '                [--limit-per-class N] [--name ser-cnn-lstm] [--version 1.0.0]\n' +
    '                [--architecture seed|attention] [--class-weights none|balanced] [--label-smoothing 0.1]\n' +
    '                [--augment noise,pitch,stretch,shift,gain,reverb,background] [--augment-copies 2] [--augment-seed N]\n' +
    '                [--noise-snr 10:30] [--noise-colour white,pink] [--gain-db -6:6] [--pitch-semitones -2:2]\n' +
    '                [--stretch-rate 0.85:1.15] [--shift-seconds 0.3] [--shift-mode zero|circular]\n' +
    '                [--background-dir DIR] [--background-snr 5:20] [--reverb-rt60 0.2:0.8] [--reverb-drr 0:12]',
  options: {
    data: { type: 'string', multiple: true },
    out: { type: 'string' },
    split: { type: 'string' },
    'test-speakers': { type: 'string' },
    'validation-speakers': { type: 'string' },
    'test-corpus': { type: 'string' },
    'front-end': { type: 'string' },
    'clip-window': { type: 'string' },
    sampling: { type: 'string' },
    'spec-augment': { type: 'boolean' },
    mixup: { type: 'string' },
    teacher: { type: 'string', multiple: true },
    'teacher-weight': { type: 'string' },
    folds: { type: 'string' },
    seed: { type: 'string' },
    epochs: { type: 'string' },
    'batch-size': { type: 'string' },
    'limit-per-class': { type: 'string' },
    name: { type: 'string' },
    version: { type: 'string' },
    architecture: { type: 'string' },
    'class-weights': { type: 'string' },
    'label-smoothing': { type: 'string' },
    augment: { type: 'string' },
    'augment-copies': { type: 'string' },
    'augment-seed': { type: 'string' },
    'noise-snr': { type: 'string' },
    'noise-colour': { type: 'string' },
    'gain-db': { type: 'string' },
    'pitch-semitones': { type: 'string' },
    'stretch-rate': { type: 'string' },
    'shift-seconds': { type: 'string' },
    'shift-mode': { type: 'string' },
    'background-dir': { type: 'string' },
    'background-snr': { type: 'string' },
    'reverb-rt60': { type: 'string' },
    'reverb-drr': { type: 'string' },
  },
  async run(values, positionals, context) {
    refusePositionals('train', positionals, 'use --data DIR');
    const dataDirs = dataDirectories(values);
    const outDir = requiredString(values, 'out', 'the directory the trained model is written to');
    const seed = integerOption(values, 'seed', 42, 0, 2 ** 31 - 1);
    // Speaker-independent by default: a random split lets the same voices into train and test.
    const strategy = choiceOption(values, 'split', ['random', 'speaker'] as const, 'speaker');
    const folds = stringOption(values, 'folds') === undefined ? undefined : integerOption(values, 'folds', 5, 2, 100);
    if (folds !== undefined && strategy !== 'speaker') {
      throw new UsageError(`--folds ${folds} deals speakers into folds; use it with --split speaker`);
    }
    const named = ['test-speakers', 'validation-speakers', 'test-corpus'].filter((flag) => values[flag] !== undefined);
    if (folds !== undefined && named.length > 0) {
      throw new UsageError(`--folds chooses the held-out speakers of every fold itself; drop --${named.join(' and --')}`);
    }
    const split = splitRequest(values, strategy, seed);
    const limit = stringOption(values, 'limit-per-class');
    // Checked before the backend starts, so a mistyped option fails at once.
    const architecture = choiceOption(values, 'architecture', Object.keys(ARCHITECTURES) as ArchitectureChoice[], 'seed');
    const frontEnd = choiceOption(values, 'front-end', FRONT_ENDS, 'seed');
    const clipWindow = choiceOption(values, 'clip-window', CLIP_WINDOWS, 'start');
    const improvements = trainingImprovements(values, seed);
    const distillation = distillationOption(values, folds !== undefined);

    await selectBackend(context.config.model.backend, context.logger.child({ module: 'backend' }));
    const featureBar = new SingleBar({ format: 'features {bar} {value}/{total} files', noTTYOutput: true, notTTYSchedule: 10_000 }, Presets.shades_classic);
    const batchBar = new SingleBar(
      { format: 'epoch {epoch} {bar} {value}/{total} batches  loss {loss}  acc {accuracy}', noTTYOutput: true, notTTYSchedule: 10_000 },
      Presets.shades_classic,
    );
    const plan: TrainingPlan = {
      dataDirs,
      split,
      ...(limit === undefined ? {} : { limitPerClass: integerOption(values, 'limit-per-class', 0, 1, 1_000_000) }),
      seed,
      epochs: integerOption(values, 'epochs', 100, 1, 10_000),
      batchSize: integerOption(values, 'batch-size', 32, 1, 4096),
      command: context.commandLine,
      modelName: stringOption(values, 'name') ?? 'ser-cnn-lstm',
      modelVersion: stringOption(values, 'version') ?? '1.0.0',
      architecture,
      improvements,
      frontEnd,
      clipWindow,
      ...(distillation === undefined ? {} : { distillation }),
    };
    const deps: TrainingDependencies = {
      extractor: new FeatureExtractor(),
      cache: new FeatureCache(context.config.cache.dir),
      logger: context.logger.child({ module: 'train' }),
      signal: context.signal,
      progress: {
        onFeatures: (done, total) => {
          if (done === 1) featureBar.start(total, 0);
          featureBar.update(done);
          if (done === total) featureBar.stop();
        },
        onAugment: (copy, done, total) => {
          if (done === 1) featureBar.start(total, 0);
          featureBar.update(done);
          if (done === total) {
            featureBar.stop();
            context.err(`augmented copy ${copy} of the ${total} training files ready`);
          }
        },
        onBatchEnd: (log) => {
          const payload = { epoch: log.epoch, loss: log.loss.toFixed(4), accuracy: log.accuracy.toFixed(3) };
          if (log.batch === 1) batchBar.start(log.batches, 0, payload);
          batchBar.update(log.batch, payload);
          if (log.batch === log.batches) batchBar.stop();
        },
        onEpochEnd: (log) => {
          context.err(
            `epoch ${log.epoch}: loss ${log.loss.toFixed(4)} acc ${log.accuracy.toFixed(3)} ` +
              `val_loss ${log.valLoss.toFixed(4)} val_acc ${log.valAccuracy.toFixed(3)} ` +
              `lr ${log.learningRate.toExponential(1)} (${log.seconds.toFixed(0)} s)`,
          );
        },
      },
    };
    // A run stopped mid-epoch or mid-build leaves its bar running, and the bar's redraw timer
    // would keep the process alive after the command has returned.
    try {
      if (folds !== undefined) {
        const cv = await crossValidate(plan, folds, outDir, deps, (fold, total, result) => {
          context.err(
            `fold ${fold}/${total} (test speakers ${result.testSpeakers.join(',')}): speaker-independent accuracy ` +
              `${percent(result.speakerIndependent.accuracy)}, UAR ${percent(result.speakerIndependent.uar)}`,
          );
        });
        for (const line of describeCrossValidation(cv)) context.out(line);
        context.err(`fold models and ${CROSS_VALIDATION_FILE} saved in ${outDir}`);
        if (cv.results.length < folds) {
          context.err(`${cv.results.length} of ${folds} folds done; run the same command again to train the rest`);
          return EXIT.failure;
        }
        return EXIT.ok;
      }
      const report = await trainAndSave(plan, outDir, deps);
      context.err(
        `trained ${report.training.history.length} epochs (${report.training.stopReason}), best epoch ` +
          `${report.training.bestEpoch}, ${report.minutes.toFixed(1)} min; saved to ${outDir}`,
      );
      if (report.speakerIndependent) {
        context.out(
          `speaker-independent (held-out speakers ${heldOutSpeakers(report.split).join(',')}): ${report.speakerIndependent.count} files, ` +
            `accuracy ${percent(report.speakerIndependent.accuracy)}, UAR ${percent(report.speakerIndependent.uar)}`,
        );
      }
      for (const line of describeMetrics('test', report.test.all)) context.out(line);
      for (const [corpus, metrics] of Object.entries(report.test.byCorpus)) {
        for (const line of describeMetrics(`test (${corpus})`, metrics)) context.out(line);
      }
      for (const line of describeCalibration(report.calibration.report)) context.out(line);
      return EXIT.ok;
    } finally {
      featureBar.stop();
      batchBar.stop();
    }
  },
};

/** Mean ± standard deviation over the folds, as a table. */
function describeCrossValidation(report: CrossValidationReport): string[] {
  const done = report.results.length === report.folds ? '' : ` (${report.results.length} folds done)`;
  return [
    `${report.folds}-fold cross-validation by speaker${done}:`,
    ...formatTable(
      ['test files', 'accuracy', 'UAR'],
      [
        ['held-out speakers (speaker-independent)', percentSpread(report.spread.speakerIndependentAccuracy), percentSpread(report.spread.speakerIndependentUar)],
        ['all test files', percentSpread(report.spread.allTestAccuracy), percentSpread(report.spread.allTestUar)],
        ...Object.entries(report.spread.byCorpus).map(([corpus, { accuracy, uar }]) => [`${corpus} test files`, percentSpread(accuracy), percentSpread(uar)]),
      ],
    ),
    `ECE after calibration: ${percentSpread(report.spread.eceAfter)}`,
  ];
}

/**
 * The split asked for: the seed's random split; the evaluation protocol (the default: held-out
 * speakers in every corpus, or with --test-corpus a whole corpus held out); or the speakers
 * named with --test-speakers and --validation-speakers.
 */
function splitRequest(values: OptionValues, strategy: 'random' | 'speaker', seed: number): SplitRequest {
  const testCorpus = stringOption(values, 'test-corpus');
  const testSpeakers = stringOption(values, 'test-speakers');
  const validationSpeakers = stringOption(values, 'validation-speakers');
  if (strategy === 'random') {
    if (testCorpus !== undefined || testSpeakers !== undefined || validationSpeakers !== undefined) {
      throw new UsageError('--split random draws files, not speakers; drop --test-corpus, --test-speakers and --validation-speakers');
    }
    return { strategy, seed, ...SEED_FRACTIONS };
  }
  if (testSpeakers !== undefined || validationSpeakers !== undefined) {
    if (testSpeakers === undefined || validationSpeakers === undefined || testCorpus !== undefined) {
      throw new UsageError(
        'name both --test-speakers and --validation-speakers (without --test-corpus), or neither to use the evaluation protocol',
      );
    }
    return { strategy, seed, testSpeakers: parseSpeakerList(testSpeakers), validationSpeakers: parseSpeakerList(validationSpeakers) };
  }
  if (testCorpus === undefined) return { strategy: 'protocol', seed };
  if (!Object.hasOwn(CORPORA, testCorpus) || testCorpus === 'folder') {
    throw new UsageError(`--test-corpus "${testCorpus}" is not a corpus; use one of ravdess, tess, nemo, ased, savee, crema-d, emo-db`);
  }
  return { strategy: 'protocol', seed, testCorpus: testCorpus as Corpus };
}

/**
 * --teacher and --teacher-weight. With --folds a teacher may be a cross-validation directory
 * (each fold learns from its own fold's model); without, it must be one model directory.
 */
function distillationOption(values: OptionValues, folds: boolean): Distillation | undefined {
  const teachers = (values['teacher'] as string[] | undefined) ?? [];
  const weightText = stringOption(values, 'teacher-weight');
  if (teachers.length === 0) {
    if (weightText !== undefined) throw new UsageError('--teacher-weight weighs the teachers\' targets; name them with --teacher DIR');
    return undefined;
  }
  const weight = weightText === undefined ? DEFAULT_TEACHER_WEIGHT : Number(weightText);
  if (!(weight > 0 && weight <= 1)) {
    throw new UsageError(`--teacher-weight must be a number above 0 and up to 1, such as ${DEFAULT_TEACHER_WEIGHT}; got "${weightText}"`);
  }
  for (const dir of teachers) {
    const crossValidation = isCrossValidationDir(dir);
    if (crossValidation && !folds) {
      throw new UsageError(
        `--teacher ${dir} is a cross-validation directory; use it with --folds, or name one model, such as ${path.join(dir, 'fold-1')}`,
      );
    }
    if (!crossValidation && !existsSync(path.join(dir, METADATA_FILE))) {
      throw new UsageError(`--teacher ${dir} holds no model (no ${METADATA_FILE}); name a directory written by "ser-agent train"`);
    }
  }
  return { teachers, weight };
}

/** --class-weights, --label-smoothing and the augmentation flags; the augmentation seed defaults to --seed. */
function trainingImprovements(values: OptionValues, seed: number): TrainingImprovements {
  const augmentation = parseAugmentationFlags({
    seed: integerOption(values, 'augment-seed', seed, 0, 2 ** 31 - 1),
    augment: stringOption(values, 'augment'),
    copies: stringOption(values, 'augment-copies'),
    noiseSnr: stringOption(values, 'noise-snr'),
    noiseColour: stringOption(values, 'noise-colour'),
    gainDb: stringOption(values, 'gain-db'),
    pitchSemitones: stringOption(values, 'pitch-semitones'),
    stretchRate: stringOption(values, 'stretch-rate'),
    shiftSeconds: stringOption(values, 'shift-seconds'),
    shiftMode: stringOption(values, 'shift-mode'),
    backgroundDir: stringOption(values, 'background-dir'),
    backgroundSnr: stringOption(values, 'background-snr'),
    reverbRt60: stringOption(values, 'reverb-rt60'),
    reverbDrr: stringOption(values, 'reverb-drr'),
  });
  const smoothingText = stringOption(values, 'label-smoothing');
  const labelSmoothing = smoothingText === undefined ? undefined : Number(smoothingText);
  if (labelSmoothing !== undefined && !(labelSmoothing >= 0 && labelSmoothing < 1)) {
    throw new UsageError(`--label-smoothing must be a number from 0 up to (not including) 1, such as 0.1; got "${smoothingText}"`);
  }
  const classWeights = choiceOption(values, 'class-weights', ['none', 'balanced'] as const, 'none');
  const sampling = choiceOption(values, 'sampling', SAMPLINGS, 'shuffle');
  const batchAugmentation = parseBatchAugmentation({ specAugment: values['spec-augment'] === true, mixup: stringOption(values, 'mixup') });
  return {
    ...(sampling === 'balanced' ? { sampling } : {}),
    ...(batchAugmentation === undefined ? {} : { batchAugmentation }),
    ...(augmentation === undefined ? {} : { augmentation }),
    ...(classWeights === 'balanced' ? { classWeights } : {}),
    ...(labelSmoothing === undefined ? {} : { labelSmoothing }),
  };
}
