import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { applyCalibration } from '../model/runtime/calibration.js';
import { copyModelDir } from '../model/artifact/store.js';
import { scanDatasets } from '../training/datasets.js';
import { predictSet } from '../training/evaluate.js';
import { fitSiteAdaptation, scoreSite, splitSiteClips, uncalibrate, type SiteScore } from '../training/site-adaptation.js';
import { modelFeatures } from '../training/model-features.js';
import { EXIT, featureSource, type Command } from './command.js';
import { openClassifier } from './open-classifier.js';
import { dataDirectories, integerOption, refusePositionals, requiredString, stringOption } from './options.js';
import { percent } from './report.js';

export const adaptCommand: Command = {
  usage: 'ser-agent adapt [--model DIR] --data DIR... --out DIR [--holdout 0.3] [--seed 42]',
  options: {
    data: { type: 'string', multiple: true },
    out: { type: 'string' },
    holdout: { type: 'string' },
    seed: { type: 'string' },
  },
  async run(values, positionals, context) {
    refusePositionals('adapt', positionals, 'use --data DIR');
    const dataDirs = dataDirectories(values);
    const outDir = requiredString(values, 'out', 'the directory the adapted copy of the model is written to');
    const holdoutText = stringOption(values, 'holdout') ?? '0.3';
    const holdout = Number(holdoutText);
    if (!(holdout > 0 && holdout < 1)) {
      throw new UsageError(`--holdout is the share of each class's clips kept to check the fit, between 0 and 1 such as 0.3; got "${holdoutText}"`);
    }
    const seed = integerOption(values, 'seed', 42, 0, 2 ** 31 - 1);
    const modelDir = context.config.model.path;
    if (path.resolve(outDir) === path.resolve(modelDir)) {
      throw new UsageError(`--out ${outDir} is the model being adapted; write the adapted copy elsewhere so the original is kept`);
    }
    const existing = await readdir(outDir).catch(() => []);
    if (existing.length > 0) throw new UsageError(`--out ${outDir} is not empty; name a new directory for the adapted model`);

    const scan = await scanDatasets(dataDirs);
    for (const file of scan.unlabelled) context.err(`ser-agent: ${file.path}: ${file.reason}`);
    const { fit, heldOut } = splitSiteClips(scan.files, holdout, seed);
    const classifier = await openClassifier(context);
    const featuresOf = modelFeatures(featureSource(context), classifier.metadata);
    const { temperature: previousTemperature = 1, classBias: previousBias } = classifier.metadata;
    let result: { fitted: ReturnType<typeof fitSiteAdaptation>; before: SiteScore; after: SiteScore; fitFiles: number };
    try {
      const scored = async (files: typeof fit) => {
        const set = await featuresOf(files);
        const rows = predictSet(classifier, set).probabilities;
        return { set, rows, raw: rows.map((row) => uncalibrate(row, previousTemperature, previousBias)) };
      };
      const onFit = await scored(fit);
      const onHeldOut = await scored(heldOut);
      const fitted = fitSiteAdaptation(onFit.raw, onFit.set.labels);
      const adapted = onHeldOut.raw.map((row) => applyCalibration(row, fitted.temperature, fitted.classBias));
      result = {
        fitted,
        before: scoreSite(onHeldOut.rows, onHeldOut.set.labels),
        after: scoreSite(adapted, onHeldOut.set.labels),
        fitFiles: onFit.set.labels.length,
      };
    } finally {
      classifier.dispose();
    }

    // The original stays where it was; the copy carries the fit and says where it came from.
    const { fitted, before, after, fitFiles } = result;
    await copyModelDir(
      modelDir,
      outDir,
      {
        siteAdaptation: {
          command: context.commandLine,
          adaptedFrom: path.resolve(modelDir),
          fitFiles,
          heldOutFiles: after.files,
          temperature: fitted.temperature,
          classBias: fitted.classBias,
          heldOutBefore: before,
          heldOutAfter: after,
        },
      },
      { temperature: fitted.temperature, classBias: fitted.classBias },
    );
    context.out(`fitted on ${fitFiles} clips, checked on ${after.files} held-out clips`);
    context.out(`temperature ${previousTemperature.toFixed(3)} → ${fitted.temperature.toFixed(3)}, class biases ${fitted.classBias.map((b) => b.toFixed(2)).join(' ')}`);
    context.out(`held-out clips: UAR ${percent(before.uar)} → ${percent(after.uar)}, accuracy ${percent(before.accuracy)} → ${percent(after.accuracy)}, ECE ${percent(before.ece)} → ${percent(after.ece)}`);
    context.out(`adapted model written to ${outDir}; the original in ${modelDir} is unchanged`);
    return EXIT.ok;
  },
};
