import { copyFile } from 'node:fs/promises';
import path from 'node:path';
import { FeatureExtractor } from '../dsp/features.js';
import { FeatureCache } from '../features/feature-cache.js';
import { recordModelMetrics } from '../model/model-dir.js';
import { quantizeModelDir } from '../model/quantize.js';
import { scanDatasets } from '../training/datasets.js';
import { evaluateByCorpus, evaluateClassifier, summarizeTestReport, topOneAgreement } from '../training/evaluate.js';
import { heldOutSpeakers } from '../training/splits.js';
import { buildFeatureSet } from '../training/feature-set.js';
import { readSplitProvenance, splitFromProvenance } from '../training/recorded-split.js';
import { TRAINING_HISTORY_FILE } from '../training/train-run.js';
import { EXIT, type Command } from './command.js';
import { openClassifier } from './open-classifier.js';
import { choiceOption, refusePositionals, requiredString, stringList } from './options.js';

const percent = (value: number) => `${(value * 100).toFixed(2)}%`;

export const quantizeCommand: Command = {
  name: 'quantize',
  summary: 'Write a smaller copy of a model with uint8 or float16 weights',
  usage: 'ser-agent quantize --model DIR --out DIR [--dtype uint8|float16] [--data DIR...]',
  options: {
    out: { type: 'string' },
    dtype: { type: 'string' },
    data: { type: 'string', multiple: true },
  },
  async run(values, positionals, context) {
    refusePositionals('quantize', positionals, 'use --model DIR --out DIR');
    const source = context.config.model.path;
    const outDir = requiredString(values, 'out', 'the directory the quantized model is written to');
    const dtype = choiceOption(values, 'dtype', ['uint8', 'float16'] as const, 'uint8');
    const summary = await quantizeModelDir(source, outDir, dtype);
    // The quantized model comes from the same training run: keep its learning curves with it.
    await copyFile(path.join(source, TRAINING_HISTORY_FILE), path.join(outDir, TRAINING_HISTORY_FILE)).catch(
      (error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error;
      },
    );
    context.out(
      `${outDir}: ${dtype} weights ${summary.bytesAfter} bytes, float32 ${summary.bytesBefore} bytes ` +
        `(${(summary.bytesBefore / summary.bytesAfter).toFixed(2)}x smaller)`,
    );

    const dataDirs = stringList(values, 'data');
    if (dataDirs.length === 0) return EXIT.ok;
    // With the training data at hand, measure what quantization costs on the held-out files.
    const float = await openClassifier(context, source);
    const quantized = await openClassifier(context, outDir);
    try {
      const provenance = readSplitProvenance(float.metadata.training, source);
      const test = splitFromProvenance((await scanDatasets(dataDirs)).files, provenance).test;
      const set = await buildFeatureSet(test, new FeatureExtractor(), new FeatureCache(context.config.cache.dir));
      const before = evaluateClassifier(float, set);
      const after = evaluateByCorpus(quantized, set);
      const agreement = topOneAgreement(before.predicted, after.predicted);
      context.out(
        `test split (${set.labels.length} files): top-1 agreement ${percent(agreement)}, ` +
          `accuracy float32 ${percent(before.metrics.accuracy)} → ${dtype} ${percent(after.all.accuracy)}`,
      );
      // The quantized model's own numbers, measured on the float model's held-out files.
      await recordModelMetrics(outDir, {
        summary: summarizeTestReport(after, heldOutSpeakers(provenance.split)),
        test: after.all,
        testByCorpus: after.byCorpus,
        quantization: {
          command: context.commandLine,
          dtype,
          testFiles: set.labels.length,
          topOneAgreementWithFloat: agreement,
          floatAccuracy: before.metrics.accuracy,
          quantizedAccuracy: after.all.accuracy,
          sizeRatio: summary.bytesBefore / summary.bytesAfter,
        },
      });
      return EXIT.ok;
    } finally {
      float.dispose();
      quantized.dispose();
    }
  },
};
