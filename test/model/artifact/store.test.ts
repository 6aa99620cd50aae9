import { createHash } from 'node:crypto';
import { cp, mkdir, readFile, readdir, rm, stat, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FEATURE_PARAMETERS } from '../../../src/dsp/constants.js';
import { ModelError } from '../../../src/errors.js';
import { EMOTIONS } from '../../../src/labels.js';
import { buildSeedModel } from '../../../src/model/architecture.js';
import type { ModelMetadata } from '../../../src/model/artifact/metadata.js';
import { copyModelDir, readTrainingHistory, recordModelMetrics, verifyModelDir } from '../../../src/model/artifact/store.js';
import { loadModelDir, saveModelDir } from '../../../src/model/artifact/tfjs-model.js';
import { TEST_INFO, TEST_TRAINING, randomFeatures, scratchDir, serveDirectory, useWasm } from '../seed-model-fixture.js';

const SEED_WEIGHT_BYTES = 459_335 * 4;
const SHARD_BYTES = 1_000_000;

let scratch: Awaited<ReturnType<typeof scratchDir>>;
let original: tf.LayersModel;
let saved: ModelMetadata;
let modelDir: string;
let inputs: tf.Tensor;

beforeAll(async () => {
  await useWasm();
  scratch = await scratchDir();
  modelDir = path.join(scratch.dir, 'seed');
  original = buildSeedModel();
  // Small shards, so every test below also covers a weights manifest with several files.
  saved = await saveModelDir(original, modelDir, TEST_INFO, { shardBytes: SHARD_BYTES });
  inputs = tf.tensor3d(Float32Array.from(randomFeatures(4, 1).flatMap((row) => [...row])), [4, 130, 168]);
});

afterAll(async () => {
  original.dispose();
  inputs.dispose();
  await scratch.cleanup();
});

function outputsOf(model: tf.LayersModel): Float32Array {
  return tf.tidy(() => (model.predict(inputs) as tf.Tensor).dataSync() as Float32Array);
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** A copy of the saved model directory for a test to damage. */
async function copyOfModel(name: string): Promise<string> {
  const copy = path.join(scratch.dir, name);
  await cp(modelDir, copy, { recursive: true });
  return copy;
}

async function editJson(file: string, edit: (json: Record<string, unknown>) => void): Promise<void> {
  const json = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  edit(json);
  await writeFile(file, JSON.stringify(json));
}

describe('saveModelDir', () => {
  it('writes model.json, weight shards, metadata.json and README.md', async () => {
    expect((await readdir(modelDir)).sort()).toEqual(
      ['README.md', 'group1-shard1of2.bin', 'group1-shard2of2.bin', 'metadata.json', 'model.json'],
    );
    const modelJson = JSON.parse(await readFile(path.join(modelDir, 'model.json'), 'utf8')) as tf.io.ModelJSON;
    expect(modelJson.format).toBe('layers-model');
    expect(modelJson.weightsManifest).toHaveLength(1);
    expect(modelJson.weightsManifest[0]?.paths).toEqual(['group1-shard1of2.bin', 'group1-shard2of2.bin']);
    expect(modelJson.weightsManifest[0]?.weights[0]).toEqual({ name: 'conv1/kernel', shape: [5, 168, 64], dtype: 'float32' });
  });

  it('records labels, feature parameters, provenance and the size and sha256 of every file', async () => {
    const metadata = JSON.parse(await readFile(path.join(modelDir, 'metadata.json'), 'utf8')) as ModelMetadata;
    expect(metadata).toEqual(saved);
    expect(metadata).toMatchObject({
      format: 1,
      name: 'ser-test',
      version: '0.0.1',
      architecture: 'seed-cnn-lstm',
      labels: [...EMOTIONS],
      featureParameters: { ...FEATURE_PARAMETERS },
      training: TEST_TRAINING,
      metrics: {},
    });
    const shards = await Promise.all(metadata.weights.files.map((file) => readFile(path.join(modelDir, file.path))));
    expect(metadata.weights.files.map((file) => file.bytes)).toEqual([SHARD_BYTES, SEED_WEIGHT_BYTES - SHARD_BYTES]);
    expect(metadata.weights.files.map((file) => file.sha256)).toEqual(shards.map(sha256));
    expect(metadata.weights).toMatchObject({ dtype: 'float32', bytes: SEED_WEIGHT_BYTES, sha256: sha256(Buffer.concat(shards)) });
    expect(metadata.modelJson.sha256).toBe(sha256(await readFile(path.join(modelDir, 'model.json'))));
  });

  it('refuses to replace a non-empty directory unless asked, and replaces it when asked', async () => {
    const target = await copyOfModel('overwrite');
    const other = { ...TEST_INFO, version: '0.0.2' };
    await expect(saveModelDir(original, target, other)).rejects.toThrow(/already exists and is not empty/);
    const metadata = await saveModelDir(original, target, other, { overwrite: true });
    expect(metadata.version).toBe('0.0.2');
    expect(metadata.weights.files.map((file) => file.path)).toEqual(['group1-shard1of1.bin']);
    expect((await readdir(target)).sort()).toEqual(['README.md', 'group1-shard1of1.bin', 'metadata.json', 'model.json']);
    // Same weights, whatever the sharding: the identity is the hash of the weight bytes.
    expect(metadata.weights.sha256).toBe(saved.weights.sha256);
    expect((await readdir(scratch.dir)).filter((name) => name.includes('partial'))).toEqual([]);
  });

  it('gives a new model directory the mode any directory gets, so the daemon\'s own user can read it', async () => {
    // The daemon runs as its own user; a model written with sudo must not be 0700 (mkdtemp's mode).
    const plain = path.join(scratch.dir, 'plain-directory');
    await mkdir(plain);
    const expected = (await stat(plain)).mode & 0o777;
    expect(expected & 0o055).not.toBe(0);
    expect((await stat(modelDir)).mode & 0o777).toBe(expected);
    const recorded = path.join(scratch.dir, 'recorded-copy');
    await copyModelDir(modelDir, recorded, {});
    expect((await stat(recorded)).mode & 0o777).toBe(expected);
  });
});

describe('loading', () => {
  it('loadModelDir returns a model computing exactly what the saved one did', async () => {
    const { model, metadata } = await loadModelDir(modelDir);
    try {
      expect(metadata).toEqual(saved);
      expect(outputsOf(model)).toEqual(outputsOf(original));
    } finally {
      model.dispose();
    }
  });

  it('stock tf.loadLayersModel loads the directory over HTTP', async () => {
    const server = await serveDirectory(modelDir);
    try {
      const model = await tf.loadLayersModel(`${server.url}/model.json`);
      expect(outputsOf(model)).toEqual(outputsOf(original));
      model.dispose();
    } finally {
      await server.close();
    }
  });

  it('recordModelMetrics updates metadata and card but keeps the weights identity', async () => {
    const dir = await copyOfModel('metrics');
    const summary = { 'all test files': { files: 8, accuracy: 0.5, uar: 0.25, macroF1: 0.2 } };
    const metadata = await recordModelMetrics(dir, { summary });
    expect(metadata.metrics).toEqual({ summary });
    expect(metadata.weights).toEqual(saved.weights);
    expect((await verifyModelDir(dir)).metadata.metrics).toEqual({ summary });
    expect(await readFile(path.join(dir, 'README.md'), 'utf8')).toContain('| all test files | 8 | 0.5000 | 0.2500 | 0.2000 |');
  });

  it('refuses a model whose input or output shape does not fit the features and labels', async () => {
    const dir = path.join(scratch.dir, 'wrong-shape');
    const tiny = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: EMOTIONS.length })] });
    await saveModelDir(tiny, dir, TEST_INFO);
    tiny.dispose();
    const before = tf.memory().numTensors;
    await expect(loadModelDir(dir)).rejects.toThrow(
      /model\.json: the model maps \[null,4\] to \[null,7\], but ser-agent feeds \[null,130,168\]/,
    );
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('verifyModelDir refuses a damaged or foreign model directory', () => {
  async function refusal(dir: string): Promise<ModelError> {
    const error: unknown = await verifyModelDir(dir).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(ModelError);
    expect((error as ModelError).code).toBe('MODEL_INVALID');
    return error as ModelError;
  }

  it('a directory that does not exist', async () => {
    const missing = path.join(scratch.dir, 'nope');
    expect((await refusal(missing)).message).toBe(
      `model directory ${missing} does not exist; pass a directory containing model.json and metadata.json`,
    );
  });

  it('a directory without metadata.json', async () => {
    const dir = await copyOfModel('no-metadata');
    await rm(path.join(dir, 'metadata.json'));
    expect((await refusal(dir)).message).toMatch(/metadata\.json is missing: not a ser-agent model directory/);
  });

  it('a truncated weight file, saying so', async () => {
    const dir = await copyOfModel('truncated');
    await truncate(path.join(dir, 'group1-shard2of2.bin'), 1000);
    expect((await refusal(dir)).message).toBe(
      `${dir}/group1-shard2of2.bin is truncated: 1000 of ${SEED_WEIGHT_BYTES - SHARD_BYTES} bytes; ` +
        'restore the model directory from its original copy',
    );
  });

  it('a missing weight file', async () => {
    const dir = await copyOfModel('missing-shard');
    await rm(path.join(dir, 'group1-shard1of2.bin'));
    expect((await refusal(dir)).message).toMatch(/group1-shard1of2\.bin is missing: expected 1000000 bytes; restore/);
  });

  it('a weight file with one changed byte', async () => {
    const dir = await copyOfModel('flipped');
    const file = path.join(dir, 'group1-shard1of2.bin');
    const bytes = await readFile(file);
    bytes[12_345] = (bytes[12_345] as number) ^ 0x01;
    await writeFile(file, bytes);
    const message = (await refusal(dir)).message;
    expect(message).toContain(`${file} has sha256 ${sha256(bytes)}, ${saved.weights.files[0]?.sha256} was recorded`);
    expect(message).toContain('modified or corrupted; restore the model directory');
  });

  it('an edited model.json of unchanged size', async () => {
    const dir = await copyOfModel('edited-topology');
    const file = path.join(dir, 'model.json');
    const text = await readFile(file, 'utf8');
    await writeFile(file, text.replace('"units":64', '"units":65'));
    expect((await refusal(dir)).message).toMatch(/model\.json has sha256 [0-9a-f]{64}, [0-9a-f]{64} was recorded: modified or corrupted/);
  });

  it('a model trained on different features, naming the field and both values', async () => {
    const dir = await copyOfModel('other-features');
    await editJson(path.join(dir, 'metadata.json'), (json) => {
      (json['featureParameters'] as Record<string, unknown>)['hopLength'] = 256;
    });
    expect((await refusal(dir)).message).toBe(
      `${dir}: the model was trained on features with hopLength = 256, but this build computes hopLength = 512; ` +
        'use a model trained with this build, or the ser-agent release the model was trained with',
    );
  });

  it('a model with other labels', async () => {
    const dir = await copyOfModel('other-labels');
    await editJson(path.join(dir, 'metadata.json'), (json) => {
      json['labels'] = ['anger', 'boredom', 'fear', 'happiness', 'neutral', 'sadness', 'surprise'];
    });
    expect((await refusal(dir)).message).toMatch(/labels are \[anger, boredom, .*\], but this build expects \[anger, disgust,/);
  });

  it('metadata.json that is not JSON, or lacks a field, or comes from a newer release', async () => {
    const dir = await copyOfModel('bad-metadata');
    const file = path.join(dir, 'metadata.json');
    const good = await readFile(file, 'utf8');
    await writeFile(file, good.slice(0, 100));
    expect((await refusal(dir)).message).toMatch(/metadata\.json is not valid JSON/);
    await writeFile(file, good);
    await editJson(file, (json) => {
      (json['weights'] as Record<string, unknown>)['dtype'] = 'int4';
    });
    expect((await refusal(dir)).message).toContain(
      'metadata.json: field "weights.dtype" should be one of float32, float16, uint8 but is "int4"',
    );
    await writeFile(file, good);
    await editJson(file, (json) => {
      json['format'] = 2;
    });
    expect((await refusal(dir)).message).toMatch(/metadata format is 2, this build reads format 1/);
  });

  it('a file name that points outside the directory', async () => {
    const dir = await copyOfModel('escape');
    await editJson(path.join(dir, 'metadata.json'), (json) => {
      (json['modelJson'] as Record<string, unknown>)['path'] = '../seed/model.json';
    });
    expect((await refusal(dir)).message).toMatch(/file "\.\.\/seed\/model\.json" is not a plain file name/);
  });
});

describe('the store', () => {
  const HISTORY = [
    { epoch: 1, loss: 1.9, accuracy: 0.2, valLoss: 1.8, valAccuracy: 0.25, learningRate: 0.001, seconds: 12 },
    { epoch: 2, loss: 1.6, accuracy: 0.35, valLoss: 1.7, valAccuracy: 0.3, learningRate: 0.001, seconds: 11 },
  ];
  let withHistory: string;

  beforeAll(async () => {
    withHistory = path.join(scratch.dir, 'with-history');
    await saveModelDir(original, withHistory, { ...TEST_INFO, history: HISTORY });
  });

  it('lists the training history in the metadata and reads it back verified', async () => {
    const { metadata } = await verifyModelDir(withHistory);
    const bytes = await readFile(path.join(withHistory, 'training-history.json'));
    expect(metadata.history).toEqual({ path: 'training-history.json', bytes: bytes.byteLength, sha256: sha256(bytes) });
    expect(await readTrainingHistory(withHistory)).toEqual(HISTORY);
  });

  it('refuses a listed history that was edited, naming the file', async () => {
    const dir = path.join(scratch.dir, 'edited-history');
    await cp(withHistory, dir, { recursive: true });
    const file = path.join(dir, 'training-history.json');
    await writeFile(file, (await readFile(file, 'utf8')).replace('"epoch": 2', '"epoch": 3'));
    await expect(verifyModelDir(dir)).rejects.toThrow(/training-history\.json has sha256 [0-9a-f]{64}, [0-9a-f]{64} was recorded/);
  });

  it('reads the unlisted history of a directory written before the history was listed, and none where there is none', async () => {
    const dir = await copyOfModel('unlisted-history');
    expect(await readTrainingHistory(dir)).toBeUndefined();
    await writeFile(path.join(dir, 'training-history.json'), JSON.stringify(HISTORY));
    expect(await readTrainingHistory(dir)).toEqual(HISTORY);
    await writeFile(path.join(dir, 'training-history.json'), '[{"epoch": 1}]');
    await expect(readTrainingHistory(dir)).rejects.toThrow(/training-history\.json should be a list of epochs .*; restore it or delete it/);
  });

  it('merges each recorded section into those already recorded, in their order', async () => {
    const dir = await copyOfModel('merged-sections');
    const summary = { 'all test files': { files: 8, accuracy: 0.5, uar: 0.25, macroF1: 0.2 } };
    await recordModelMetrics(dir, { summary });
    const quantization = {
      command: 'quantize',
      dtype: 'uint8',
      testFiles: 8,
      topOneAgreementWithFloat: 1,
      floatAccuracy: 0.5,
      quantizedAccuracy: 0.5,
      sizeRatio: 4,
    };
    await recordModelMetrics(dir, { quantization });
    const later = { 'all test files': { files: 9, accuracy: 0.6, uar: 0.3, macroF1: 0.25 } };
    const { metrics } = (await verifyModelDir(dir)).metadata;
    expect(metrics).toEqual({ summary, quantization });
    await recordModelMetrics(dir, { summary: later });
    expect(Object.entries((await verifyModelDir(dir)).metadata.metrics)).toEqual([
      ['summary', later],
      ['quantization', quantization],
    ]);
  });

  it('refuses a known metrics section that is not an object, naming it', async () => {
    const dir = await copyOfModel('bad-section');
    await editJson(path.join(dir, 'metadata.json'), (json) => {
      json['metrics'] = { calibration: 1.5 };
    });
    await expect(verifyModelDir(dir)).rejects.toThrow(/field "metrics\.calibration" should be an object but is 1\.5/);
  });

  it('keeps metrics sections it does not know through a merge, as a directory of another build may hold them', async () => {
    const dir = await copyOfModel('unknown-section');
    await editJson(path.join(dir, 'metadata.json'), (json) => {
      json['metrics'] = { fromNewerBuild: { score: 1 } };
    });
    const summary = { 'all test files': { files: 8, accuracy: 0.5, uar: 0.25, macroF1: 0.2 } };
    await recordModelMetrics(dir, { summary });
    expect((await verifyModelDir(dir)).metadata.metrics).toEqual({ fromNewerBuild: { score: 1 }, summary });
  });

  it('copies a directory with the sections and calibration given, listing a history the source kept unlisted', async () => {
    const source = await copyOfModel('copy-source');
    await writeFile(path.join(source, 'training-history.json'), JSON.stringify(HISTORY));
    const copy = path.join(scratch.dir, 'copy-target');
    const summary = { 'all test files': { files: 8, accuracy: 0.5, uar: 0.25, macroF1: 0.2 } };
    const metadata = await copyModelDir(source, copy, { summary }, { temperature: 2 });
    const verified = await verifyModelDir(copy);
    expect(verified.metadata).toEqual(metadata);
    expect(verified.metadata).toMatchObject({ temperature: 2, metrics: { summary }, weights: saved.weights });
    expect(verified.history).toEqual(HISTORY);
    expect((await verifyModelDir(source)).metadata).toEqual(saved);
    await expect(copyModelDir(source, copy, {})).rejects.toThrow(/copy-target already exists and is not empty/);
  });

  it('refuses to copy a damaged directory and leaves nothing behind', async () => {
    const source = await copyOfModel('damaged-source');
    await truncate(path.join(source, 'group1-shard2of2.bin'), 10);
    const copy = path.join(scratch.dir, 'never-written');
    await expect(copyModelDir(source, copy, {})).rejects.toThrow(/group1-shard2of2\.bin is truncated/);
    expect((await readdir(scratch.dir)).filter((name) => name.includes('never-written'))).toEqual([]);
  });
});
