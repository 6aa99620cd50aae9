import { type OnnxQuantization, type TfjsQuantization } from '../model/artifact/metrics.js';
import { recordModelMetrics, recordOnnxQuantization } from '../model/artifact/store.js';
import { FEATURES_LENGTH, type EmotionClassifier } from '../model/runtime/classifier.js';
import { scanDatasets } from './datasets.js';
import { evaluateByCorpus, evaluateClassifier, subsetMetrics, summarizeTestReport, topOneAgreement } from './evaluate.js';
import { type FeatureSet } from './feature-set.js';
import { heldOutFeatures } from './held-out.js';
import { type FeatureSource } from './model-features.js';
import { heldOutSpeakers } from './splits.js';

/** What a measured quantization found, and the held-out corpora the data did not hold. */
export interface QuantizationMeasurement<T> {
  measured: T;
  absentCorpora: string[];
}

/**
 * `quantize --data` for tfjs weights: the quantized copy in `outDir` and its float source in
 * `sourceDir`, measured on the source's held-out test files; the copy's own numbers and the
 * comparison are recorded in its directory.
 */
export async function measureQuantizedCopy(
  models: { float: EmotionClassifier; quantized: EmotionClassifier },
  dirs: { source: string; out: string },
  dataDirs: readonly string[],
  source: FeatureSource,
  record: { command: string; dtype: string; sizeRatio: number },
): Promise<QuantizationMeasurement<TfjsQuantization>> {
  const heldOut = heldOutFeatures(models.float.metadata, dirs.source, (await scanDatasets(dataDirs)).files, source);
  const set = await heldOut.test();
  const before = evaluateClassifier(models.float, set);
  const after = evaluateByCorpus(models.quantized, set);
  const measured: TfjsQuantization = {
    command: record.command,
    dtype: record.dtype,
    testFiles: set.labels.length,
    topOneAgreementWithFloat: topOneAgreement(before.predicted, after.predicted),
    floatAccuracy: before.metrics.accuracy,
    quantizedAccuracy: after.all.accuracy,
    sizeRatio: record.sizeRatio,
  };
  // The quantized model's own numbers, measured on the float model's held-out files.
  await recordModelMetrics(dirs.out, {
    summary: summarizeTestReport(after, heldOutSpeakers(heldOut.provenance.split)),
    test: after.all,
    testByCorpus: after.byCorpus,
    quantization: measured,
  });
  return { measured, absentCorpora: heldOut.absentCorpora };
}

/**
 * `quantize --format onnx --data`: how often the int8 ONNX model agrees with the float32 one
 * on the top class over the model's held-out test files, both accuracies (per corpus too) and
 * both speeds, recorded with the int8 file in `dir`.
 */
export async function measureOnnxInt8(
  models: { float: EmotionClassifier; int8: EmotionClassifier },
  dir: string,
  dataDirs: readonly string[],
  source: FeatureSource,
  record: { command: string; floatBytes: number; int8Bytes: number; threads: number },
): Promise<QuantizationMeasurement<OnnxQuantization>> {
  const heldOut = heldOutFeatures(models.float.metadata, dir, (await scanDatasets(dataDirs)).files, source);
  const set = await heldOut.test();
  const before = evaluateClassifier(models.float, set);
  const after = evaluateClassifier(models.int8, set);
  const measured: OnnxQuantization = {
    command: record.command,
    testFiles: set.labels.length,
    topOneAgreementWithFloat: topOneAgreement(before.predicted, after.predicted),
    floatAccuracy: before.metrics.accuracy,
    int8Accuracy: after.metrics.accuracy,
    // Per corpus too, so the model can be checked on whichever of its corpora are at hand (CI has two).
    int8AccuracyByCorpus: Object.fromEntries(
      [...new Set(set.files.map((file) => file.corpus))].map((corpus) => [
        corpus,
        subsetMetrics(set, after.predicted, (file) => file.corpus === corpus).accuracy,
      ]),
    ),
    floatBytes: record.floatBytes,
    int8Bytes: record.int8Bytes,
    floatBatch1MedianMs: medianBatchOneMs(models.float, set),
    int8Batch1MedianMs: medianBatchOneMs(models.int8, set),
    threads: record.threads,
  };
  await recordOnnxQuantization(dir, 'int8', measured);
  return { measured, absentCorpora: heldOut.absentCorpora };
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
