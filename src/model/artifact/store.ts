import { randomUUID } from 'node:crypto';
import { cp, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
// Types only: TensorFlow.js loads where a model is built (./tfjs-model.ts), so a daemon that
// verifies a model directory and runs its ONNX file never loads it.
import type * as tf from '@tensorflow/tfjs';
import { ModelError } from '../../errors.js';
import { renderModelCard } from './card.js';
import {
  METADATA_FILE,
  MODEL_JSON_FILE,
  RESTORE,
  concatBytes,
  digestOf,
  isJsonObject,
  parseJson,
  readOptional,
  readRequired,
  readVerified,
  refuseExisting,
  requireDirectory,
  sha256Hex,
  writeAtomically,
} from './files.js';
import {
  METADATA_FORMAT,
  checkFeatureParameters,
  checkLabels,
  parseModelMetadata,
  type FileDigest,
  type ModelMetadata,
  type OnnxFileRecord,
  type OnnxWeightsDtype,
  type TrainingHistory,
  type WeightsDtype,
} from './metadata.js';
import { type ModelMetrics, type OnnxQuantization } from './metrics.js';
import { ONNX_FILES, checkOnnxFile } from './onnx-files.js';

/**
 * The one owner of a model directory: it writes the directory (weights, model.json, ONNX
 * copies, training history, metadata.json, the README.md card), verifies every file against
 * the sizes and sha256 the metadata lists, and records what commands measure in the typed
 * metadata. Commands and the training code ask it; none of them edits the directory's JSON.
 */

export { METADATA_FILE, MODEL_JSON_FILE } from './files.js';
export const MODEL_CARD_FILE = 'README.md';
/** Per-epoch loss, accuracy and learning rate of the training run, listed in the metadata. */
export const TRAINING_HISTORY_FILE = 'training-history.json';
/** tfjs-converter's shard size: small enough for HTTP caches, large enough to be few files. */
export const DEFAULT_SHARD_BYTES = 4 * 1024 * 1024;

export interface WriteModelDirOptions {
  /** Largest weight file; the weights are split across as many files as needed. */
  shardBytes?: number;
  /** Replace an existing non-empty directory instead of refusing. */
  overwrite?: boolean;
}

/** Everything a model directory holds, before it is written. */
export interface ModelDirContent {
  modelJson: Omit<tf.io.ModelJSON, 'weightsManifest'>;
  weightSpecs: tf.io.WeightsManifestEntry[];
  weightData: Uint8Array;
  weightsDtype: WeightsDtype;
  description: Omit<ModelMetadata, 'format' | 'modelJson' | 'weights' | 'history'>;
  quantizedFrom?: { weightsSha256: string };
  /** The training run's per-epoch history, written as training-history.json and listed. */
  history?: TrainingHistory;
}

/** A model directory whose every file matched its metadata when it was read. */
export interface VerifiedModelDir {
  dir: string;
  metadata: ModelMetadata;
  modelJson: tf.io.ModelJSON;
  /** All weight specs of the manifest, in order, and the weight files concatenated to match. */
  weightSpecs: tf.io.WeightsManifestEntry[];
  weightData: Uint8Array;
  /** The bytes of every ONNX file the metadata lists, each checked like the weights. */
  onnx: Map<OnnxWeightsDtype, Uint8Array>;
  /** The training history, when the metadata lists one (see trainingHistoryOf for older directories). */
  history?: TrainingHistory;
}

/**
 * Writes a model directory next to `dir` and renames it into place, so a crash never leaves
 * a half-written model where a loader would find it.
 */
export async function writeModelDir(
  dir: string,
  content: ModelDirContent,
  options: WriteModelDirOptions = {},
): Promise<ModelMetadata> {
  const shardBytes = options.shardBytes ?? DEFAULT_SHARD_BYTES;
  if (!Number.isSafeInteger(shardBytes) || shardBytes <= 0) {
    throw new RangeError(`shardBytes is ${shardBytes}; it must be a whole number of bytes > 0`);
  }
  const target = path.resolve(dir);
  await refuseExisting(target, options.overwrite === true);
  const staging = await makeStagingDir(target);
  try {
    const shards = splitIntoShards(content.weightData, shardBytes);
    const weightFiles: FileDigest[] = [];
    for (const [index, shard] of shards.entries()) {
      const file = `group1-shard${index + 1}of${shards.length}.bin`;
      await writeFile(path.join(staging, file), shard);
      weightFiles.push(digestOf(file, shard));
    }
    const modelJson: tf.io.ModelJSON = {
      ...content.modelJson,
      weightsManifest: [{ paths: weightFiles.map((file) => file.path), weights: content.weightSpecs }],
    };
    const modelJsonBytes = Buffer.from(JSON.stringify(modelJson));
    await writeFile(path.join(staging, MODEL_JSON_FILE), modelJsonBytes);
    let history: FileDigest | undefined;
    if (content.history !== undefined) {
      const historyBytes = Buffer.from(`${JSON.stringify(content.history, null, 2)}\n`);
      await writeFile(path.join(staging, TRAINING_HISTORY_FILE), historyBytes);
      history = digestOf(TRAINING_HISTORY_FILE, historyBytes);
    }
    const metadata: ModelMetadata = {
      format: METADATA_FORMAT,
      ...content.description,
      modelJson: digestOf(MODEL_JSON_FILE, modelJsonBytes),
      weights: {
        dtype: content.weightsDtype,
        files: weightFiles,
        bytes: content.weightData.byteLength,
        sha256: sha256Hex(shards),
        ...(content.quantizedFrom === undefined ? {} : { quantizedFrom: content.quantizedFrom }),
      },
      ...(history === undefined ? {} : { history }),
    };
    await writeDescription(staging, metadata);
    if (options.overwrite === true) await rm(target, { recursive: true, force: true });
    await rename(staging, target);
    return metadata;
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
}

/**
 * Reads a model directory and checks, before trusting any of it, that every file is present
 * with the recorded size and sha256 and that the model fits this build's labels and features.
 */
export async function verifyModelDir(dir: string): Promise<VerifiedModelDir> {
  const root = path.resolve(dir);
  await requireDirectory(root);
  const metadataFile = path.join(root, METADATA_FILE);
  const metadata = parseModelMetadata(
    parseJson(await readRequired(metadataFile, 'not a ser-agent model directory; pass a directory written by saveModelDir'), metadataFile),
    metadataFile,
  );

  const modelJsonFile = path.join(root, metadata.modelJson.path);
  const modelJson = parseModelJson(parseJson(await readVerified(root, metadata.modelJson), modelJsonFile), modelJsonFile);
  const manifestPaths = modelJson.weightsManifest.flatMap((group) => group.paths);
  const recordedPaths = metadata.weights.files.map((file) => file.path);
  if (manifestPaths.join('\n') !== recordedPaths.join('\n')) {
    throw new ModelError(
      `${modelJsonFile}: weight files [${manifestPaths.join(', ')}] differ from those in ${METADATA_FILE} ` +
        `[${recordedPaths.join(', ')}]: modified or corrupted; ${RESTORE}`,
    );
  }
  const shards: Uint8Array[] = [];
  for (const file of metadata.weights.files) shards.push(await readVerified(root, file));
  const weightData = concatBytes(shards);
  const combined = sha256Hex(shards);
  if (combined !== metadata.weights.sha256 || weightData.byteLength !== metadata.weights.bytes) {
    throw new ModelError(
      `${metadataFile}: weights.sha256/bytes (${metadata.weights.sha256}, ${metadata.weights.bytes}) disagree with ` +
        `its own file list (${combined}, ${weightData.byteLength}): modified or corrupted; ${RESTORE}`,
    );
  }
  const weightSpecs = modelJson.weightsManifest.flatMap((group) => group.weights);
  checkWeightSpecs(weightSpecs, weightData.byteLength, metadata.weights.dtype, modelJsonFile);
  checkLabels(metadata, root);
  checkFeatureParameters(metadata, root);
  const onnx = new Map<OnnxWeightsDtype, Uint8Array>();
  for (const record of metadata.onnx ?? []) onnx.set(record.dtype, checkOnnxFile(root, metadata, record, await readVerified(root, record)));
  const history =
    metadata.history === undefined
      ? undefined
      : parseHistory(await readVerified(root, metadata.history), path.join(root, metadata.history.path), RESTORE);
  return { dir: root, metadata, modelJson, weightSpecs, weightData, onnx, ...(history === undefined ? {} : { history }) };
}

/** The training history of the model directory `dir` (see trainingHistoryOf). */
export async function readTrainingHistory(dir: string): Promise<TrainingHistory | undefined> {
  return trainingHistoryOf(await verifyModelDir(dir));
}

/**
 * The training history of a verified model directory, checked against the metadata that lists
 * it; or, in a directory written before the history was listed (the shipped model's), the
 * unlisted file as it is. Undefined when the model has none (models trained elsewhere).
 */
export async function trainingHistoryOf(verified: VerifiedModelDir): Promise<TrainingHistory | undefined> {
  if (verified.history !== undefined) return verified.history;
  const file = path.join(verified.dir, TRAINING_HISTORY_FILE);
  const bytes = await readOptional(file);
  return bytes === undefined ? undefined : parseHistory(bytes, file, 'restore it or delete it');
}

/**
 * Records what a command measured in a verified model directory's metadata and card: each
 * section given replaces the one of that name, the others stay as recorded. With them, a
 * fitted softmax temperature (see src/model/runtime/calibration.ts) or class biases. The
 * weights and their hashes are unchanged, so the model keeps its identity.
 */
export async function recordModelMetrics(
  dir: string,
  sections: ModelMetrics,
  calibration: { temperature?: number; classBias?: number[] } = {},
): Promise<ModelMetadata> {
  const verified = await verifyModelDir(dir);
  const metadata: ModelMetadata = { ...verified.metadata, metrics: { ...verified.metadata.metrics, ...sections }, ...calibration };
  await writeDescription(verified.dir, metadata);
  return metadata;
}

/**
 * Copies a verified model directory to `to` (which must not exist or be empty), through a
 * staging directory renamed into place, then records `sections` and `calibration` in the
 * copy as recordModelMetrics does. The copy lists the training history even where the
 * source did not yet.
 */
export async function copyModelDir(
  from: string,
  to: string,
  sections: ModelMetrics,
  calibration: { temperature?: number; classBias?: number[] } = {},
): Promise<ModelMetadata> {
  const source = await verifyModelDir(from);
  const history = await trainingHistoryOf(source);
  const target = path.resolve(to);
  await refuseExisting(target, false);
  const staging = await makeStagingDir(target);
  try {
    await cp(source.dir, staging, { recursive: true, force: true });
    let historyRecord = source.metadata.history;
    if (historyRecord === undefined && history !== undefined) {
      const bytes = Buffer.from(`${JSON.stringify(history, null, 2)}\n`);
      await writeFile(path.join(staging, TRAINING_HISTORY_FILE), bytes);
      historyRecord = digestOf(TRAINING_HISTORY_FILE, bytes);
    }
    const metadata: ModelMetadata = {
      ...source.metadata,
      metrics: { ...source.metadata.metrics, ...sections },
      ...calibration,
      ...(historyRecord === undefined ? {} : { history: historyRecord }),
    };
    await writeDescription(staging, metadata);
    // Checked as any loader will check it before it takes the name: a source file changed
    // since it was verified cannot slip into the copy.
    await verifyModelDir(staging);
    await rm(target, { recursive: true, force: true });
    await rename(staging, target);
    return metadata;
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
}

/** An ONNX file to add to a model directory, made from that directory's own weights. */
export interface OnnxFileContent {
  dtype: OnnxWeightsDtype;
  bytes: Uint8Array;
  opset: number;
  quantization?: OnnxQuantization;
}

/**
 * Writes an ONNX copy of a verified model directory's weights into it (replacing one of the
 * same dtype) and records its size and sha256 in the metadata, so it is verified at load
 * like every other file. The tfjs files and the model's identity are unchanged.
 */
export async function addOnnxFile(dir: string, content: OnnxFileContent): Promise<OnnxFileRecord> {
  const verified = await verifyModelDir(dir);
  const file = ONNX_FILES[content.dtype];
  const record: OnnxFileRecord = {
    ...digestOf(file, content.bytes),
    dtype: content.dtype,
    opset: content.opset,
    sourceWeightsSha256: verified.metadata.weights.sha256,
    ...(content.quantization === undefined ? {} : { quantization: content.quantization }),
  };
  checkOnnxFile(verified.dir, verified.metadata, record, content.bytes);
  await writeAtomically(verified.dir, file, content.bytes);
  const others = (verified.metadata.onnx ?? []).filter((existing) => existing.dtype !== content.dtype);
  const onnx = [...others, record].sort((a, b) => a.dtype.localeCompare(b.dtype));
  await writeDescription(verified.dir, { ...verified.metadata, onnx });
  return record;
}

/** Records how an ONNX file compares with the float32 model (see `quantize --format onnx --data`). */
export async function recordOnnxQuantization(
  dir: string,
  dtype: OnnxWeightsDtype,
  quantization: OnnxQuantization,
): Promise<ModelMetadata> {
  const verified = await verifyModelDir(dir);
  const records = verified.metadata.onnx ?? [];
  if (!records.some((record) => record.dtype === dtype)) {
    throw new ModelError(`${verified.dir} has no ${ONNX_FILES[dtype]} to record measurements for; write it first`);
  }
  const onnx = records.map((record) => (record.dtype === dtype ? { ...record, quantization } : record));
  const metadata: ModelMetadata = { ...verified.metadata, onnx };
  await writeDescription(verified.dir, metadata);
  return metadata;
}

/** metadata.json and README.md, each written beside its final name and renamed into place. */
async function writeDescription(dir: string, metadata: ModelMetadata): Promise<void> {
  await writeAtomically(dir, METADATA_FILE, `${JSON.stringify(metadata, null, 2)}\n`);
  await writeAtomically(dir, MODEL_CARD_FILE, renderModelCard(metadata));
}

const HISTORY_FIELDS = ['epoch', 'loss', 'accuracy', 'valLoss', 'valAccuracy', 'learningRate'] as const;

function parseHistory(bytes: Buffer, file: string, fix: string): TrainingHistory {
  const history = parseJson(bytes, file, fix);
  if (
    !Array.isArray(history) ||
    !history.every((entry) => isJsonObject(entry) && HISTORY_FIELDS.every((field) => Number.isFinite(entry[field])))
  ) {
    throw new ModelError(`${file} should be a list of epochs with ${HISTORY_FIELDS.join(', ')} numbers; ${fix}`);
  }
  return history as TrainingHistory;
}

function parseModelJson(json: unknown, file: string): tf.io.ModelJSON {
  const problem = (what: string): ModelError =>
    new ModelError(`${file}: ${what}; this is not a TensorFlow.js LayersModel model.json: ${RESTORE}`);
  if (!isJsonObject(json)) throw problem('the file is not a JSON object');
  if (!isJsonObject(json['modelTopology'])) throw problem('"modelTopology" is missing');
  const manifest = json['weightsManifest'];
  if (
    !Array.isArray(manifest) ||
    !manifest.every(
      (group) =>
        isJsonObject(group) &&
        Array.isArray(group['paths']) &&
        group['paths'].every((p) => typeof p === 'string') &&
        Array.isArray(group['weights']) &&
        group['weights'].every(
          (spec) => isJsonObject(spec) && typeof spec['name'] === 'string' && Array.isArray(spec['shape']),
        ),
    )
  ) {
    throw problem('"weightsManifest" is not a list of {paths, weights} groups');
  }
  return json as unknown as tf.io.ModelJSON;
}

const BYTES_PER_VALUE: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2 };

/** The manifest must describe exactly the bytes on disk, in the dtype the metadata claims. */
function checkWeightSpecs(
  specs: tf.io.WeightsManifestEntry[],
  availableBytes: number,
  dtype: WeightsDtype,
  file: string,
): void {
  let neededBytes = 0;
  for (const spec of specs) {
    const storedAs = spec.quantization?.dtype ?? spec.dtype;
    const expectedStorage = dtype === 'float32' ? spec.dtype : dtype;
    const bytesPerValue = BYTES_PER_VALUE[storedAs];
    if (storedAs !== expectedStorage || bytesPerValue === undefined) {
      throw new ModelError(
        `${file}: weight ${spec.name} is stored as ${storedAs}, but ${METADATA_FILE} says the weights are ${dtype}: ` +
          `modified or corrupted; ${RESTORE}`,
      );
    }
    neededBytes += spec.shape.reduce((size, dim) => size * dim, 1) * bytesPerValue;
  }
  if (neededBytes !== availableBytes) {
    throw new ModelError(
      `${file}: the manifest describes ${neededBytes} bytes of weights, the weight files hold ${availableBytes}: ` +
        `modified or corrupted; ${RESTORE}`,
    );
  }
}

function splitIntoShards(data: Uint8Array, shardBytes: number): Uint8Array[] {
  const shards: Uint8Array[] = [];
  for (let start = 0; start < data.byteLength; start += shardBytes) {
    shards.push(data.subarray(start, Math.min(start + shardBytes, data.byteLength)));
  }
  // A model without weights still gets one (empty) file, so the manifest is never pathless.
  return shards.length > 0 ? shards : [data];
}

/**
 * A fresh directory beside `target` to build it in, renamed onto it once complete. Made by
 * mkdir, so it has the mode every other directory gets under the umask (0755 as a rule), not
 * mkdtemp's 0700: a model written with sudo must stay readable by the daemon's own user, or
 * a reload after `quantize` or `calibrate` would refuse it as unreadable.
 */
async function makeStagingDir(target: string): Promise<string> {
  await mkdir(path.dirname(target), { recursive: true });
  const staging = path.join(path.dirname(target), `.${path.basename(target)}.partial-${randomUUID()}`);
  await mkdir(staging);
  return staging;
}
