import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { N_FEATURES, N_FRAMES } from '../../src/dsp/constants.js';
import { SEED_ARCHITECTURE, buildSeedModel } from '../../src/model/architecture.js';
import { selectBackend, type BackendLogger } from '../../src/model/runtime/backend.js';
import { FEATURES_LENGTH } from '../../src/model/runtime/classifier.js';
import type { TrainingProvenance } from '../../src/model/artifact/metadata.js';
import { type WriteModelDirOptions } from '../../src/model/artifact/store.js';
import { saveModelDir, type ModelInfo } from '../../src/model/artifact/tfjs-model.js';

export const TEST_TRAINING: TrainingProvenance = {
  command: 'ser-agent train --data ../shared/datasets/ravdess --seed 7',
  seed: 7,
  dataSources: [{ name: 'RAVDESS', licence: 'CC BY-NC-SA 4.0', files: 1200 }],
  split: { strategy: 'speaker', testSpeakers: ['17', '18', '19', '20'] },
  date: '2025-01-01T00:00:00.000Z',
};

export const TEST_INFO: ModelInfo = {
  name: 'ser-test',
  version: '0.0.1',
  architecture: SEED_ARCHITECTURE,
  training: TEST_TRAINING,
};

/** Log lines kept as data, so tests assert on fields rather than text. */
export interface LogLine {
  level: 'info' | 'warn';
  obj: object;
  msg: string;
}

export function recordingLogger(): BackendLogger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  return {
    lines,
    info: (obj, msg) => lines.push({ level: 'info', obj, msg }),
    warn: (obj, msg) => lines.push({ level: 'warn', obj, msg }),
  };
}

/** wasm first: the seed's orthogonal LSTM initialiser takes ~15 s on the cpu backend. */
export async function useWasm(): Promise<void> {
  await selectBackend('wasm', recordingLogger());
}

/** A scratch directory, removed by the returned cleanup. */
export async function scratchDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'ser-model-test-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * The seed model with seeded random weights, identical on every run so measured rates do not
 * vary between runs. Freshly built, it predicts the same class for nearly every input (its
 * batch-norm statistics are the defaults 0 and 1), which would make agreement tests
 * meaningless; so each batch-norm layer gets the mean and variance of its input over random
 * features, as training would set them. Its predictions then spread over all classes.
 */
export function buildCalibratedSeedModel(): tf.LayersModel {
  const model = buildSeedModel();
  // The initialisers draw unseeded values: redraw every kernel from a seeded Glorot uniform.
  // Biases and batch-norm weights start constant and stay so.
  model.weights.forEach((weight, index) => {
    // A weight's shape is always concrete; the Shape type merely allows null for inputs.
    const shape = weight.shape as number[];
    if (shape.length < 2) return;
    const receptiveField = shape.slice(0, -2).reduce((product, dim) => product * dim, 1);
    const fanIn = (shape.at(-2) as number) * receptiveField;
    const fanOut = (shape.at(-1) as number) * receptiveField;
    const limit = Math.sqrt(6 / (fanIn + fanOut));
    tf.tidy(() => {
      weight.write(tf.randomUniform(shape, -limit, limit, 'float32', 1000 + index));
    });
  });
  const calibration = tf.tensor3d(
    Float32Array.from(randomFeatures(32, 99).flatMap((row) => [...row])),
    [32, N_FRAMES, N_FEATURES],
  );
  for (const layer of model.layers.filter((candidate) => candidate.getClassName() === 'BatchNormalization')) {
    tf.tidy(() => {
      const probe = tf.model({ inputs: model.inputs, outputs: layer.input });
      const activations = probe.predict(calibration) as tf.Tensor;
      const { mean, variance } = tf.moments(activations, activations.shape.slice(0, -1).map((_, axis) => axis));
      const [gamma, beta] = layer.getWeights() as [tf.Tensor, tf.Tensor];
      layer.setWeights([gamma, beta, mean, variance]);
    });
  }
  calibration.dispose();
  return model;
}

/** Saves a calibrated random seed model (see buildCalibratedSeedModel) to `dir`. */
export async function saveRandomSeedModel(
  dir: string,
  info: ModelInfo = TEST_INFO,
  options: WriteModelDirOptions = {},
): Promise<void> {
  const model = buildCalibratedSeedModel();
  try {
    await saveModelDir(model, dir, info, options);
  } finally {
    model.dispose();
  }
}

/** Standard-normal feature matrices, like the z-scored features the model sees. */
export function randomFeatures(count: number, seed: number): Float32Array[] {
  return tf.tidy(() => {
    const all = tf.randomNormal([count, FEATURES_LENGTH], 0, 1, 'float32', seed).dataSync() as Float32Array;
    return Array.from({ length: count }, (_, i) => all.slice(i * FEATURES_LENGTH, (i + 1) * FEATURES_LENGTH));
  });
}

/**
 * Serves `dir` over HTTP so tests can load a model with stock `tf.loadLayersModel(url)`,
 * exactly as a browser or any other tfjs program would.
 */
export async function serveDirectory(dir: string): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer((request, response) => {
    const name = path.basename(new URL(request.url ?? '/', 'http://localhost').pathname);
    readFile(path.join(dir, name)).then(
      (body) => {
        response.writeHead(200, { 'content-type': name.endsWith('.json') ? 'application/json' : 'application/octet-stream' });
        response.end(body);
      },
      () => {
        response.writeHead(404);
        response.end();
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve()))),
  };
}
