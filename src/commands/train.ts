import { SingleBar, Presets } from 'cli-progress';
import { FeatureExtractor } from '../dsp/features.js';
import { FeatureCache } from '../features/feature-cache.js';
import { selectBackend } from '../model/backend.js';
import { parseSpeakerList, SEED_FRACTIONS, type SplitPlan } from '../training/splits.js';
import { trainAndSave } from '../training/train-run.js';
import { EXIT, type Command } from './command.js';
import { choiceOption, dataDirectories, integerOption, refusePositionals, requiredString, stringOption } from './options.js';
import { describeMetrics } from './report.js';

const DEFAULT_TEST_SPEAKERS = 'ravdess:17-20';
const DEFAULT_VALIDATION_SPEAKERS = 'ravdess:15-16';

export const trainCommand: Command = {
  name: 'train',
  summary: 'Train the CNN-LSTM on emotional speech folders and save a model directory',
  usage:
    'ser-agent train --data DIR... --out DIR [--split random|speaker] [--test-speakers ravdess:17-20]\n' +
    '                [--validation-speakers ravdess:15-16] [--seed 42] [--epochs 100] [--batch-size 32]\n' +
    '                [--limit-per-class N] [--name ser-cnn-lstm] [--version 1.0.0]',
  options: {
    data: { type: 'string', multiple: true },
    out: { type: 'string' },
    split: { type: 'string' },
    'test-speakers': { type: 'string' },
    'validation-speakers': { type: 'string' },
    seed: { type: 'string' },
    epochs: { type: 'string' },
    'batch-size': { type: 'string' },
    'limit-per-class': { type: 'string' },
    name: { type: 'string' },
    version: { type: 'string' },
  },
  async run(values, positionals, context) {
    refusePositionals('train', positionals, 'use --data DIR');
    const dataDirs = dataDirectories(values);
    const outDir = requiredString(values, 'out', 'the directory the trained model is written to');
    const seed = integerOption(values, 'seed', 42, 0, 2 ** 31 - 1);
    const strategy = choiceOption(values, 'split', ['random', 'speaker'] as const, 'random');
    const split: SplitPlan =
      strategy === 'random'
        ? { strategy, seed, ...SEED_FRACTIONS }
        : {
            strategy,
            seed,
            testSpeakers: parseSpeakerList(stringOption(values, 'test-speakers') ?? DEFAULT_TEST_SPEAKERS),
            validationSpeakers: parseSpeakerList(
              stringOption(values, 'validation-speakers') ?? DEFAULT_VALIDATION_SPEAKERS,
            ),
          };
    const limit = stringOption(values, 'limit-per-class');

    await selectBackend(context.config.model.backend, context.logger.child({ module: 'backend' }));
    const featureBar = new SingleBar({ format: 'features {bar} {value}/{total} files', noTTYOutput: true, notTTYSchedule: 10_000 }, Presets.shades_classic);
    const batchBar = new SingleBar(
      { format: 'epoch {epoch} {bar} {value}/{total} batches  loss {loss}  acc {accuracy}', noTTYOutput: true, notTTYSchedule: 10_000 },
      Presets.shades_classic,
    );
    const report = await trainAndSave(
      {
        dataDirs,
        split,
        ...(limit === undefined ? {} : { limitPerClass: integerOption(values, 'limit-per-class', 0, 1, 1_000_000) }),
        seed,
        epochs: integerOption(values, 'epochs', 100, 1, 10_000),
        batchSize: integerOption(values, 'batch-size', 32, 1, 4096),
        command: context.commandLine,
        modelName: stringOption(values, 'name') ?? 'ser-cnn-lstm',
        modelVersion: stringOption(values, 'version') ?? '1.0.0',
      },
      outDir,
      {
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
      },
    );
    context.err(
      `trained ${report.training.history.length} epochs (${report.training.stopReason}), best epoch ` +
        `${report.training.bestEpoch}, ${report.minutes.toFixed(1)} min; saved to ${outDir}`,
    );
    for (const line of describeMetrics('test', report.test.all)) context.out(line);
    for (const [corpus, metrics] of Object.entries(report.test.byCorpus)) {
      for (const line of describeMetrics(`test (${corpus})`, metrics)) context.out(line);
    }
    return EXIT.ok;
  },
};
