import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { N_FEATURES, N_FRAMES } from '../../../src/dsp/constants.js';
import { BackendError } from '../../../src/errors.js';
import { EMOTIONS } from '../../../src/labels.js';
import type { BackendName } from '../../../src/model/runtime/backend.js';
import { EmotionClassifier, type Prediction } from '../../../src/model/runtime/classifier.js';
import type { OnnxWeightsDtype } from '../../../src/model/artifact/metadata.js';
import { GOLDEN_WAVS, readGoldenF32 } from '../../helpers/golden.js';
import { recordingLogger } from '../seed-model-fixture.js';
import { INT8_PROBABILITY_TOLERANCE } from '../tolerances.js';

/**
 * The contract every backend keeps on the shipped model: the same inputs give the same top
 * emotion on all of them, and probabilities within 1e-4 of TensorFlow.js (float32) or
 * within the stated int8 tolerance. tfjs-node joins wherever its binary loads.
 */
const SHIPPED = path.resolve('models/ser-cnn-lstm');
const FLOAT_TOLERANCE = 1e-4;

interface Variant {
  label: string;
  backend: BackendName;
  onnxFormat?: OnnxWeightsDtype;
  required: boolean;
  tolerance: number;
}

const VARIANTS: Variant[] = [
  { label: 'onnxruntime float32', backend: 'onnxruntime', onnxFormat: 'float32', required: true, tolerance: FLOAT_TOLERANCE },
  { label: 'onnxruntime int8', backend: 'onnxruntime', onnxFormat: 'int8', required: true, tolerance: INT8_PROBABILITY_TOLERANCE },
  { label: 'tfjs-node', backend: 'tfjs-node', required: false, tolerance: FLOAT_TOLERANCE },
  { label: 'cpu', backend: 'cpu', required: true, tolerance: FLOAT_TOLERANCE },
];

const inputs = GOLDEN_WAVS.map((name) => readGoldenF32(`${name}.features`));
let reference: Prediction[];

async function predictOn(backend: BackendName, onnxFormat?: OnnxWeightsDtype): Promise<Prediction[] | undefined> {
  let classifier: EmotionClassifier;
  try {
    classifier = await EmotionClassifier.load(SHIPPED, {
      backend: { preference: backend, logger: recordingLogger(), ...(onnxFormat === undefined ? {} : { onnxFormat }) },
    });
  } catch (error) {
    if (error instanceof BackendError) return undefined;
    throw error;
  }
  try {
    expect(classifier.runtime).toEqual({ backend, ...(onnxFormat === undefined ? {} : { onnxDtype: onnxFormat }) });
    return classifier.classifyBatch(inputs);
  } finally {
    classifier.dispose();
  }
}

beforeAll(async () => {
  expect(inputs[0]).toHaveLength(N_FRAMES * N_FEATURES);
  reference = (await predictOn('wasm')) as Prediction[];
});

describe.each(VARIANTS)('the $label backend against tfjs wasm on the golden clips', (variant) => {
  it('gives the same top emotion and probabilities within its tolerance', async () => {
    const predictions = await predictOn(variant.backend, variant.onnxFormat);
    if (predictions === undefined) {
      expect(variant.required, `${variant.label} must load on linux x64 and arm64`).toBe(false);
      return;
    }
    expect(predictions.map((p) => p.emotion)).toEqual(reference.map((p) => p.emotion));
    predictions.forEach((prediction, clip) => {
      for (const emotion of EMOTIONS) {
        const expected = (reference[clip] as Prediction).probabilities[emotion];
        expect(Math.abs(prediction.probabilities[emotion] - expected)).toBeLessThanOrEqual(variant.tolerance);
      }
    });
  });
});
