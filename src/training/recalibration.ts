import { recordModelMetrics } from '../model/artifact/store.js';
import { type EmotionClassifier } from '../model/runtime/classifier.js';
import { calibrate, type CalibrationReport } from './calibrate.js';
import { scanDatasets } from './datasets.js';
import { predictSet } from './evaluate.js';
import { heldOutFeatures } from './held-out.js';
import { type FeatureSource } from './model-features.js';
import { heldOutSpeakers, validationSpeakers } from './splits.js';

/**
 * `ser-agent calibrate`: refits the softmax temperature of the model in `modelDir` (opened as
 * `classifier`) on its own recorded split, fitting on its validation files (its held-out
 * validation speakers' where it has them) and measuring on its test files, then records the
 * temperature and the report, with the command that reproduces it, in the model directory.
 */
export async function recalibrateModelDir(
  classifier: EmotionClassifier,
  modelDir: string,
  dataDirs: readonly string[],
  source: FeatureSource,
  command: string,
): Promise<{ report: CalibrationReport; absentCorpora: string[] }> {
  const heldOut = heldOutFeatures(classifier.metadata, modelDir, (await scanDatasets(dataDirs)).files, source);
  const validation = await heldOut.validation();
  const test = await heldOut.test();
  const { report } = calibrate(
    { ...validation, probabilities: predictSet(classifier, validation).probabilities },
    { ...test, probabilities: predictSet(classifier, test).probabilities },
    heldOutSpeakers(heldOut.provenance.split),
    classifier.metadata.temperature ?? 1,
    validationSpeakers(heldOut.provenance.split),
  );
  await recordModelMetrics(modelDir, { calibration: { command, ...report } }, { temperature: report.temperature });
  return { report, absentCorpora: heldOut.absentCorpora };
}
