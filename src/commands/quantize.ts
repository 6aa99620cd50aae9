import { EmotionClassifier, FEATURES_LENGTH } from '../model/runtime/classifier.js';
import { ONNX_FILES } from '../model/artifact/onnx-files.js';
import { recordModelMetrics, recordOnnxQuantization, verifyModelDir } from '../model/artifact/store.js';
import { exportOnnxToModelDir } from '../model/convert/onnx/export-model-dir.js';
import { UsageError } from '../errors.js';
import { quantizeModelDir } from '../model/convert/quantize.js';
import { evaluateByCorpus, evaluateClassifier, subsetMetrics, summarizeTestReport, topOneAgreement } from '../training/evaluate.js';
import { heldOutSpeakers } from '../training/splits.js';
import { scanDatasets } from '../training/datasets.js';
import { heldOutFeatures } from '../training/held-out.js';
import { warnAbsentCorpora } from '../training/recorded-split.js';
import { EXIT, featureSource, type Command, type CommandContext, type OptionValues } from './command.js';
import { openClassifier } from './open-classifier.js';
import { choiceOption, refusePositionals, requiredString, stringList } from './options.js';
import type { FeatureSet } from '../training/feature-set.js';

const percent = (value: number) => `${(value * 100).toFixed(2)}%`;

export const quantizeCommand: Command = {
  usage:
    'ser-agent quantize --model DIR --out DIR [--dtype uint8|float16] [--data DIR...]\n' +
    '       ser-agent quantize --model DIR --format onnx [--dtype int8] [--data DIR...]',
  options: {
    out: { type: 'string' },
    dtype: { type: 'string' },
    format: { type: 'string' },
    data: { type: 'string', multiple: true },
  },
  async run(values, positionals, context) {
    refusePositionals('quantize', positionals, 'use --model DIR --out DIR');
    if (choiceOption(values, 'format', ['tfjs', 'onnx'] as const, 'tfjs') === 'onnx') return quantizeOnnx(values, context);
    const source = context.config.model.path;
    const outDir = requiredString(values, 'out', 'the directory the quantized model is written to');
    const dtype = choiceOption(values, 'dtype', ['uint8', 'float16'] as const, 'uint8');
    const summary = await quantizeModelDir(source, outDir, dtype);
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
      const heldOut = heldOutFeatures(float.metadata, source, (await scanDatasets(dataDirs)).files, featureSource(context));
      warnAbsentCorpora(heldOut.absentCorpora, context.err);
      const set = await heldOut.test();
      const before = evaluateClassifier(float, set);
      const after = evaluateByCorpus(quantized, set);
      const agreement = topOneAgreement(before.predicted, after.predicted);
      context.out(
        `test split (${set.labels.length} files): top-1 agreement ${percent(agreement)}, ` +
          `accuracy float32 ${percent(before.metrics.accuracy)} → ${dtype} ${percent(after.all.accuracy)}`,
      );
      // The quantized model's own numbers, measured on the float model's held-out files.
      await recordModelMetrics(outDir, {
        summary: summarizeTestReport(after, heldOutSpeakers(heldOut.provenance.split)),
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

/**
 * Writes model.int8.onnx beside the tfjs files (and model.onnx if it is missing, so the
 * float32 ONNX model stays available). With --data, measures on the model's held-out split
 * how often int8 and float32 agree on the top class, both accuracies and both speeds, and
 * records them with the int8 file.
 */
async function quantizeOnnx(values: OptionValues, context: CommandContext): Promise<number> {
  if (values['out'] !== undefined) {
    throw new UsageError('--out does not apply to --format onnx: the ONNX files are written into the --model directory beside the tfjs files');
  }
  choiceOption(values, 'dtype', ['int8'] as const, 'int8');
  const dir = context.config.model.path;
  const float = (await verifyModelDir(dir)).metadata.onnx?.find((record) => record.dtype === 'float32');
  const floatRecord = float ?? (await exportOnnxToModelDir(dir, 'float32', context.version)).record;
  if (float === undefined) context.out(`${dir}/${floatRecord.path}: float32 ONNX written first, ${floatRecord.bytes} bytes`);
  const { record } = await exportOnnxToModelDir(dir, 'int8', context.version);
  context.out(
    `${dir}/${record.path}: int8 ONNX ${record.bytes} bytes, float32 ONNX ${floatRecord.bytes} bytes ` +
      `(${(floatRecord.bytes / record.bytes).toFixed(2)}x smaller)`,
  );

  const dataDirs = stringList(values, 'data');
  if (dataDirs.length === 0) return EXIT.ok;
  const logger = context.logger.child({ module: 'backend' });
  const open = (onnxFormat: 'float32' | 'int8') =>
    EmotionClassifier.load(dir, { backend: { preference: 'onnxruntime', logger, threads: context.config.model.threads, onnxFormat } });
  const floatModel = await open('float32');
  const int8Model = await open('int8');
  try {
    const heldOut = heldOutFeatures(floatModel.metadata, dir, (await scanDatasets(dataDirs)).files, featureSource(context));
    warnAbsentCorpora(heldOut.absentCorpora, context.err);
    const set = await heldOut.test();
    const before = evaluateClassifier(floatModel, set);
    const after = evaluateClassifier(int8Model, set);
    const agreement = topOneAgreement(before.predicted, after.predicted);
    const floatMs = medianBatchOneMs(floatModel, set);
    const int8Ms = medianBatchOneMs(int8Model, set);
    context.out(
      `test split (${set.labels.length} files): top-1 agreement ${percent(agreement)}, accuracy float32 ` +
        `${percent(before.metrics.accuracy)} → int8 ${percent(after.metrics.accuracy)}; batch-1 inference ` +
        `${floatMs.toFixed(3)} → ${int8Ms.toFixed(3)} ms median (${context.config.model.threads} thread(s))`,
    );
    await recordOnnxQuantization(dir, 'int8', {
      command: context.commandLine,
      testFiles: set.labels.length,
      topOneAgreementWithFloat: agreement,
      floatAccuracy: before.metrics.accuracy,
      int8Accuracy: after.metrics.accuracy,
      // Per corpus too, so the model can be checked on whichever of its corpora are at hand (CI has two).
      int8AccuracyByCorpus: Object.fromEntries(
        [...new Set(set.files.map((file) => file.corpus))].map((corpus) => [
          corpus,
          subsetMetrics(set, after.predicted, (file) => file.corpus === corpus).accuracy,
        ]),
      ),
      floatBytes: floatRecord.bytes,
      int8Bytes: record.bytes,
      floatBatch1MedianMs: floatMs,
      int8Batch1MedianMs: int8Ms,
      threads: context.config.model.threads,
    });
    context.out(`${dir}: measurements recorded with ${ONNX_FILES.int8} in its metadata and model card`);
    return EXIT.ok;
  } finally {
    floatModel.dispose();
    int8Model.dispose();
  }
}

/** Median of single-clip classifications over the test files: what one daemon window pays. */
function medianBatchOneMs(classifier: EmotionClassifier, set: FeatureSet): number {
  const times: number[] = [];
  for (let round = 0; round < 3; round++) {
    for (let offset = 0; offset < set.features.length; offset += FEATURES_LENGTH) {
      const features = set.features.subarray(offset, offset + FEATURES_LENGTH);
      const started = performance.now();
      classifier.classify(features);
      times.push(performance.now() - started);
    }
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] as number;
}
