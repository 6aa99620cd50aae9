import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { yieldToEventLoop } from '../../helpers/event-loop.js';
import { ModelError } from '../../../src/errors.js';
import { EmotionClassifier, type Prediction } from '../../../src/model/runtime/classifier.js';
import { recordModelMetrics, verifyModelDir } from '../../../src/model/artifact/store.js';
import { quantizeModelDir, type QuantizationSummary } from '../../../src/model/convert/quantize.js';
import { randomFeatures, saveRandomSeedModel, scratchDir, serveDirectory, useWasm } from '../seed-model-fixture.js';

const SEED_PARAMS = 459_335;
const AGREEMENT_INPUTS = 400;

let scratch: Awaited<ReturnType<typeof scratchDir>>;
let floatDir: string;
const summaries: Partial<Record<'uint8' | 'float16', QuantizationSummary>> = {};

beforeAll(async () => {
  await useWasm();
  scratch = await scratchDir();
  floatDir = path.join(scratch.dir, 'float32');
  await saveRandomSeedModel(floatDir);
  summaries.uint8 = await quantizeModelDir(floatDir, path.join(scratch.dir, 'uint8'), 'uint8');
  summaries.float16 = await quantizeModelDir(floatDir, path.join(scratch.dir, 'float16'), 'float16');
});

afterAll(async () => {
  await scratch.cleanup();
});

async function manifestOf(dir: string): Promise<tf.io.WeightsManifestEntry[]> {
  const modelJson = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8')) as tf.io.ModelJSON;
  return modelJson.weightsManifest.flatMap((group) => group.weights);
}

/** Every weight of a model loaded with stock tf.loadLayersModel over HTTP, by name. */
async function weightsLoadedByStockLoader(dir: string): Promise<Map<string, Float32Array>> {
  const server = await serveDirectory(dir);
  try {
    const model = await tf.loadLayersModel(`${server.url}/model.json`);
    const weights = new Map(model.weights.map((weight) => [weight.originalName, weight.read().dataSync() as Float32Array]));
    model.dispose();
    return weights;
  } finally {
    await server.close();
  }
}

/** The float32 model's weights as written, by manifest name. */
async function floatWeights(): Promise<Map<string, Float32Array>> {
  const source = await verifyModelDir(floatDir);
  const weights = new Map<string, Float32Array>();
  let offset = 0;
  for (const spec of source.weightSpecs) {
    const size = spec.shape.reduce((product, dim) => product * dim, 1);
    weights.set(spec.name, new Float32Array(source.weightData.slice(offset, offset + size * 4).buffer));
    offset += size * 4;
  }
  return weights;
}

async function predictionsOf(dir: string, inputs: Float32Array[]): Promise<Prediction[]> {
  const classifier = await EmotionClassifier.load(dir);
  try {
    const predictions: Prediction[] = [];
    for (let start = 0; start < inputs.length; start += 16) {
      predictions.push(...classifier.classifyBatch(inputs.slice(start, start + 16)));
      await yieldToEventLoop();
    }
    return predictions;
  } finally {
    classifier.dispose();
  }
}

describe('quantizeModelDir to uint8', () => {
  it('writes a quarter of the bytes and records the dtype and the source weights hash', async () => {
    const source = (await verifyModelDir(floatDir)).metadata;
    const quantized = (await verifyModelDir(path.join(scratch.dir, 'uint8'))).metadata;
    expect(summaries.uint8).toEqual({
      dtype: 'uint8',
      bytesBefore: SEED_PARAMS * 4,
      bytesAfter: SEED_PARAMS,
      compressionRatio: 4,
      sourceWeightsSha256: source.weights.sha256,
      weightsSha256: quantized.weights.sha256,
    });
    expect(quantized.weights).toMatchObject({ dtype: 'uint8', bytes: SEED_PARAMS, quantizedFrom: { weightsSha256: source.weights.sha256 } });
    expect(quantized.training).toEqual(source.training);
    expect(quantized.metrics).toEqual({});
  });

  it('writes each weight in the manifest format of tfjs-converter', async () => {
    const floatManifest = await manifestOf(floatDir);
    const manifest = await manifestOf(path.join(scratch.dir, 'uint8'));
    expect(manifest.map(({ name, shape, dtype }) => ({ name, shape, dtype }))).toEqual(floatManifest);
    for (const entry of manifest) {
      expect(Object.keys(entry).sort()).toEqual(['dtype', 'name', 'quantization', 'shape']);
      expect(Object.keys(entry.quantization ?? {}).sort()).toEqual(['dtype', 'min', 'scale']);
      expect(entry.quantization?.dtype).toBe('uint8');
      expect(entry.quantization?.scale).toBeGreaterThanOrEqual(0);
    }
    // Biases start at zero and BN gammas at one: constant tensors, stored with scale 0.
    expect(manifest.find((entry) => entry.name === 'conv1/bias')?.quantization).toEqual({ dtype: 'uint8', min: 0, scale: 0 });
  });

  it('loads with stock tf.loadLayersModel, every value within scale / 2 of the original', async () => {
    const original = await floatWeights();
    const loaded = await weightsLoadedByStockLoader(path.join(scratch.dir, 'uint8'));
    const manifest = await manifestOf(path.join(scratch.dir, 'uint8'));
    expect([...loaded.keys()].sort()).toEqual([...original.keys()].sort());
    for (const entry of manifest) {
      const { scale } = entry.quantization as { scale: number };
      const before = original.get(entry.name) as Float32Array;
      const after = loaded.get(entry.name) as Float32Array;
      let worst = 0;
      before.forEach((value, i) => {
        // The loader stores code * scale + min as float32: allow that one rounding on top.
        const excess = Math.abs((after[i] as number) - value) - scale / 2 - Math.abs(value) * 2 ** -24;
        worst = Math.max(worst, excess);
      });
      expect(worst, entry.name).toBeLessThanOrEqual(0);
    }
  });
});

describe('quantizeModelDir to float16', () => {
  it('writes half the bytes in the float16 manifest format', async () => {
    expect(summaries.float16).toMatchObject({ dtype: 'float16', bytesBefore: SEED_PARAMS * 4, bytesAfter: SEED_PARAMS * 2, compressionRatio: 2 });
    for (const entry of await manifestOf(path.join(scratch.dir, 'float16'))) {
      expect(entry).toEqual({ name: entry.name, shape: entry.shape, dtype: 'float32', quantization: { dtype: 'float16' } });
    }
  });

  it('loads with stock tf.loadLayersModel, every value within float16 rounding of the original', async () => {
    const original = await floatWeights();
    const loaded = await weightsLoadedByStockLoader(path.join(scratch.dir, 'float16'));
    for (const [name, before] of original) {
      const after = loaded.get(name) as Float32Array;
      before.forEach((value, i) => {
        // Half a unit in the last place: 2^-11 relative for normals, 2^-25 absolute below 2^-14.
        const bound = Math.max(Math.abs(value) * 2 ** -11, 2 ** -25);
        if (Math.abs((after[i] as number) - value) > bound) expect.fail(`${name}[${i}]: ${after[i]} vs ${value}`);
      });
    }
  });
});

describe('quantized predictions', () => {
  it(`agree with float32 on the top-1 emotion for ${AGREEMENT_INPUTS} random inputs, except near ties`, async () => {
    const inputs = randomFeatures(AGREEMENT_INPUTS, 2024);
    const float = await predictionsOf(floatDir, inputs);
    // The agreement only means something if the float model's answers vary with the input.
    expect(new Set(float.map((p) => p.emotion)).size).toBeGreaterThanOrEqual(5);
    const rates: Record<string, number> = {};
    for (const dtype of ['uint8', 'float16'] as const) {
      const quantized = await predictionsOf(path.join(scratch.dir, dtype), inputs);
      const disagreements = float.filter((p, i) => p.emotion !== quantized[i]?.emotion);
      rates[dtype] = 1 - disagreements.length / inputs.length;
      // An untrained model is rarely confident; flips should only happen where it hesitates.
      for (const prediction of disagreements) expect(topTwoMargin(prediction), dtype).toBeLessThan(0.01);
    }
    console.info(`top-1 agreement with float32 over ${AGREEMENT_INPUTS} random inputs:`, rates);
    expect(rates['float16']).toBeGreaterThanOrEqual(0.99);
    expect(rates['uint8']).toBeGreaterThanOrEqual(0.95);
  });
});

function topTwoMargin(prediction: Prediction): number {
  const [first = 0, second = 0] = Object.values(prediction.probabilities).sort((a, b) => b - a);
  return first - second;
}

describe('quantizeModelDir and calibration', () => {
  it('keeps the temperature fitted to the float model, so the copy stays calibrated', async () => {
    const calibratedDir = path.join(scratch.dir, 'calibrated');
    await saveRandomSeedModel(calibratedDir);
    await recordModelMetrics(calibratedDir, {}, { temperature: 1.7 });
    await quantizeModelDir(calibratedDir, path.join(scratch.dir, 'calibrated-uint8'), 'uint8');
    expect((await verifyModelDir(path.join(scratch.dir, 'calibrated-uint8'))).metadata.temperature).toBe(1.7);
    expect((await verifyModelDir(path.join(scratch.dir, 'uint8'))).metadata.temperature).toBeUndefined();
  });
});

describe('quantizeModelDir refuses', () => {
  it('a model that is already quantized', async () => {
    const attempt = quantizeModelDir(path.join(scratch.dir, 'uint8'), path.join(scratch.dir, 'twice'), 'float16');
    await expect(attempt).rejects.toBeInstanceOf(ModelError);
    await expect(attempt).rejects.toThrow(/weights are already uint8; quantize from the float32 model \(weights sha256 [0-9a-f]{64}\)/);
  });

  it('a source directory that fails verification', async () => {
    await expect(quantizeModelDir(path.join(scratch.dir, 'absent'), path.join(scratch.dir, 'out'), 'uint8')).rejects.toThrow(
      /model directory .*absent does not exist/,
    );
  });
});
