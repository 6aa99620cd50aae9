import { type BandStatisticsRecord } from '../../dsp/band-statistics.js';
import path from 'node:path';
// Types only: TensorFlow.js itself loads where a model is built or saved (below), so a daemon
// that verifies a model directory and runs its ONNX file never loads it.
import type * as tf from '@tensorflow/tfjs';
import { type ClipWindow } from '../../dsp/clip-window.js';
import { FEATURE_PARAMETERS, N_FEATURES, N_FRAMES } from '../../dsp/constants.js';
import { type FrontEnd } from '../../dsp/front-end.js';
import { ModelError, describeError } from '../../errors.js';
import { EMOTIONS } from '../../labels.js';
import { concatBytes, isJsonObject, RESTORE } from './files.js';
import { type ModelMetadata, type TrainingHistory, type TrainingProvenance } from './metadata.js';
import { type ModelMetrics } from './metrics.js';
import { verifyModelDir, writeModelDir, type VerifiedModelDir, type WriteModelDirOptions } from './store.js';

/** What the caller knows about a model that its weights cannot say. */
export interface ModelInfo {
  name: string;
  version: string;
  architecture: string;
  /** The features' normalisation; absent = `seed`. */
  frontEnd?: FrontEnd;
  /** The training speakers' band statistics; with the `speaker` front-end only. */
  bandStatistics?: BandStatisticsRecord;
  /** Which 3 s of each file it was trained and is evaluated on; absent = `start`. */
  clipWindow?: ClipWindow;
  training: TrainingProvenance;
  metrics?: ModelMetrics;
  /** The training run's per-epoch history, written and listed with the model. */
  history?: TrainingHistory;
}

export interface LoadedModel {
  model: tf.LayersModel;
  metadata: ModelMetadata;
}

/**
 * Writes `model` as a model directory (see writeModelDir): tfjs LayersModel artifacts
 * (model.json plus weight shards), the training history, metadata.json with sizes and sha256
 * of every file, and a README.md model card.
 */
export async function saveModelDir(
  model: tf.LayersModel,
  dir: string,
  info: ModelInfo,
  options: WriteModelDirOptions = {},
): Promise<ModelMetadata> {
  const tfjs = await import('@tensorflow/tfjs');
  let artifacts: tf.io.ModelArtifacts | undefined;
  // A save handler that only captures: the file:// handler exists only in tfjs-node.
  await model.save(
    tfjs.io.withSaveHandler((captured) => {
      artifacts = captured;
      return Promise.resolve({ modelArtifactsInfo: tfjs.io.getModelArtifactsInfoForJSON(captured) });
    }),
  );
  if (artifacts === undefined || !isJsonObject(artifacts.modelTopology) || artifacts.weightSpecs === undefined) {
    throw new ModelError(`${dir}: the model did not serialise to a JSON topology with weights; only LayersModels can be saved`);
  }
  return writeModelDir(
    dir,
    {
      modelJson: {
        modelTopology: artifacts.modelTopology,
        ...(artifacts.format === undefined ? {} : { format: artifacts.format }),
        ...(artifacts.generatedBy === undefined ? {} : { generatedBy: artifacts.generatedBy }),
        ...(artifacts.convertedBy == null ? {} : { convertedBy: artifacts.convertedBy }),
      },
      weightSpecs: artifacts.weightSpecs,
      weightData: concatBytes(
        (Array.isArray(artifacts.weightData) ? artifacts.weightData : [artifacts.weightData ?? new ArrayBuffer(0)]).map(
          (buffer) => new Uint8Array(buffer),
        ),
      ),
      weightsDtype: 'float32',
      description: {
        name: info.name,
        version: info.version,
        architecture: info.architecture,
        labels: [...EMOTIONS],
        featureParameters: { ...FEATURE_PARAMETERS },
        ...(info.frontEnd === undefined || info.frontEnd === 'seed' ? {} : { frontEnd: info.frontEnd }),
        ...(info.bandStatistics === undefined ? {} : { bandStatistics: info.bandStatistics }),
        ...(info.clipWindow === undefined || info.clipWindow === 'start' ? {} : { clipWindow: info.clipWindow }),
        training: info.training,
        metrics: info.metrics ?? {},
      },
      ...(info.history === undefined ? {} : { history: info.history }),
    },
    options,
  );
}

/** Verifies a model directory (see verifyModelDir), then builds the model it holds. */
export async function loadModelDir(dir: string): Promise<LoadedModel> {
  const verified = await verifyModelDir(dir);
  return { model: await buildLayersModel(verified), metadata: verified.metadata };
}

/** The TensorFlow.js model of an already verified directory, checked to map features to labels. */
export async function buildLayersModel(verified: VerifiedModelDir): Promise<tf.LayersModel> {
  const modelJsonFile = path.join(verified.dir, verified.metadata.modelJson.path);
  const weightBuffer = verified.weightData.slice().buffer;
  const tfjs = await import('@tensorflow/tfjs');
  let model: tf.LayersModel;
  try {
    const artifacts = await tfjs.io.getModelArtifactsForJSON(verified.modelJson, () =>
      Promise.resolve([verified.weightSpecs, weightBuffer]),
    );
    model = await tfjs.loadLayersModel(tfjs.io.fromMemory(artifacts));
  } catch (error) {
    throw new ModelError(
      `${modelJsonFile}: TensorFlow.js cannot build the model (${describeError(error)}); ${RESTORE}, or re-export the model`,
      { cause: error },
    );
  }
  const expectedInput = [null, N_FRAMES, N_FEATURES];
  const expectedOutput = [null, verified.metadata.labels.length];
  const input = model.inputs[0]?.shape;
  const output = model.outputs[0]?.shape;
  if (
    model.inputs.length !== 1 ||
    model.outputs.length !== 1 ||
    JSON.stringify(input) !== JSON.stringify(expectedInput) ||
    JSON.stringify(output) !== JSON.stringify(expectedOutput)
  ) {
    model.dispose();
    throw new ModelError(
      `${modelJsonFile}: the model maps ${JSON.stringify(input)} to ${JSON.stringify(output)}, but ser-agent feeds ` +
        `${JSON.stringify(expectedInput)} and reads ${JSON.stringify(expectedOutput)}; use a model built for these features and labels`,
    );
  }
  return model;
}
