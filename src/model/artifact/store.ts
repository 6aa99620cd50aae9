import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
// Types only: TensorFlow.js itself loads where a model is built or saved (below), so a daemon
// that verifies a model directory and runs its ONNX file never loads it.
import type * as tf from '@tensorflow/tfjs';
import { FEATURE_PARAMETERS, N_FEATURES, N_FRAMES } from '../../dsp/constants.js';
import { type ClipWindow } from '../../dsp/clip-window.js';
import { type FrontEnd } from '../../dsp/front-end.js';
import { ModelError, describeError } from '../../errors.js';
import { EMOTIONS } from '../../labels.js';
import {
  METADATA_FORMAT,
  checkFeatureParameters,
  checkLabels,
  parseModelMetadata,
  type FileDigest,
  type ModelMetadata,
  type OnnxFileRecord,
  type OnnxWeightsDtype,
  type TrainingProvenance,
  type WeightsDtype,
} from './metadata.js';
import { renderModelCard } from './card.js';
import { readOnnxMetadata } from '../convert/onnx/onnx-proto.js';

export const MODEL_JSON_FILE = 'model.json';
export const METADATA_FILE = 'metadata.json';
export const MODEL_CARD_FILE = 'README.md';
/** Where each ONNX copy of the model lives inside its directory. */
export const ONNX_FILES: Record<OnnxWeightsDtype, string> = { float32: 'model.onnx', int8: 'model.int8.onnx' };
/** ModelProto.metadata_props keys that tie an ONNX file to the directory it belongs in. */
export const ONNX_METADATA_KEYS = { labels: 'ser_agent.labels', sourceWeightsSha256: 'ser_agent.source_weights_sha256' } as const;
/** tfjs-converter's shard size: small enough for HTTP caches, large enough to be few files. */
export const DEFAULT_SHARD_BYTES = 4 * 1024 * 1024;

const RESTORE = 'restore the model directory from its original copy';

/** What the caller knows about a model that its weights cannot say. */
export interface ModelInfo {
  name: string;
  version: string;
  architecture: string;
  /** The features' normalisation; absent = `seed`. */
  frontEnd?: FrontEnd;
  /** Which 3 s of each file it was trained and is evaluated on; absent = `start`. */
  clipWindow?: ClipWindow;
  training: TrainingProvenance;
  metrics?: Record<string, unknown>;
}

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
  description: Omit<ModelMetadata, 'format' | 'modelJson' | 'weights'>;
  quantizedFrom?: { weightsSha256: string };
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
}

export interface LoadedModel {
  model: tf.LayersModel;
  metadata: ModelMetadata;
}

/**
 * Writes `model` as a model directory: tfjs LayersModel artifacts (model.json plus weight
 * shards), metadata.json with sizes and sha256 of every file, and a README.md model card.
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
        ...(info.clipWindow === undefined || info.clipWindow === 'start' ? {} : { clipWindow: info.clipWindow }),
        training: info.training,
        metrics: info.metrics ?? {},
      },
    },
    options,
  );
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
  await mkdir(path.dirname(target), { recursive: true });
  const staging = await mkdtemp(path.join(path.dirname(target), `.${path.basename(target)}.partial-`));
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
  return { dir: root, metadata, modelJson, weightSpecs, weightData, onnx };
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

/**
 * Records evaluation results (and a fitted softmax temperature, see src/model/runtime/calibration.ts)
 * in a verified model directory's metadata and card. The weights and their hashes are
 * unchanged, so the model keeps its identity.
 */
export async function recordModelMetrics(
  dir: string,
  metrics: Record<string, unknown>,
  calibration: { temperature?: number; classBias?: number[] } = {},
): Promise<ModelMetadata> {
  const verified = await verifyModelDir(dir);
  const metadata: ModelMetadata = { ...verified.metadata, metrics, ...calibration };
  await writeDescription(verified.dir, metadata);
  return metadata;
}

/** An ONNX file to add to a model directory, made from that directory's own weights. */
export interface OnnxFileContent {
  dtype: OnnxWeightsDtype;
  bytes: Uint8Array;
  opset: number;
  quantization?: Record<string, unknown>;
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
  const partial = path.join(verified.dir, `.${file}.partial`);
  await writeFile(partial, content.bytes);
  await rename(partial, path.join(verified.dir, file));
  const others = (verified.metadata.onnx ?? []).filter((existing) => existing.dtype !== content.dtype);
  const onnx = [...others, record].sort((a, b) => a.dtype.localeCompare(b.dtype));
  await writeDescription(verified.dir, { ...verified.metadata, onnx });
  return record;
}

/** Records how an ONNX file compares with the float32 model (see `quantize --format onnx --data`). */
export async function recordOnnxQuantization(
  dir: string,
  dtype: OnnxWeightsDtype,
  quantization: Record<string, unknown>,
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

/**
 * Both formats must describe the same model: the ONNX file names the labels and the tfjs
 * weights it was exported from, and both must be this directory's.
 */
function checkOnnxFile(dir: string, metadata: ModelMetadata, record: OnnxFileRecord, bytes: Uint8Array): Uint8Array {
  const file = path.join(dir, record.path);
  const reexport = `re-export it with \`ser-agent ${record.dtype === 'int8' ? 'quantize --format onnx --dtype int8' : 'export-onnx'} --model ${dir}\``;
  if (record.sourceWeightsSha256 !== metadata.weights.sha256) {
    throw new ModelError(
      `${file} was exported from weights ${record.sourceWeightsSha256}, but this model's weights are ${metadata.weights.sha256}; ${reexport}`,
    );
  }
  let embedded: Record<string, string>;
  try {
    embedded = readOnnxMetadata(bytes);
  } catch (error) {
    throw new ModelError(`${file} is not an ONNX model (${describeError(error)}); ${reexport}`, { cause: error });
  }
  const labels = JSON.stringify(metadata.labels);
  if (embedded[ONNX_METADATA_KEYS.labels] !== labels || embedded[ONNX_METADATA_KEYS.sourceWeightsSha256] !== metadata.weights.sha256) {
    throw new ModelError(
      `${file} says it has labels ${embedded[ONNX_METADATA_KEYS.labels] ?? 'missing'} and source weights ` +
        `${embedded[ONNX_METADATA_KEYS.sourceWeightsSha256] ?? 'missing'}; ${METADATA_FILE} says ${labels} and ${metadata.weights.sha256}; ${reexport}`,
    );
  }
  return bytes;
}

/** metadata.json and README.md, each written beside its final name and renamed into place. */
async function writeDescription(dir: string, metadata: ModelMetadata): Promise<void> {
  const files: Array<[string, string]> = [
    [METADATA_FILE, `${JSON.stringify(metadata, null, 2)}\n`],
    [MODEL_CARD_FILE, renderModelCard(metadata)],
  ];
  for (const [file, text] of files) {
    const partial = path.join(dir, `.${file}.partial`);
    await writeFile(partial, text);
    await rename(partial, path.join(dir, file));
  }
}

async function refuseExisting(target: string, overwrite: boolean): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(target);
  } catch (error) {
    if (isErrnoCode(error, 'ENOENT')) return;
    throw new ModelError(`${target}: cannot write a model here (${describeError(error)}); choose another output directory`, {
      cause: error,
    });
  }
  if (entries.length > 0 && !overwrite) {
    throw new ModelError(
      `${target} already exists and is not empty; choose a new output directory or allow overwriting it`,
    );
  }
}

async function requireDirectory(dir: string): Promise<void> {
  try {
    if ((await stat(dir)).isDirectory()) return;
  } catch (error) {
    if (!isErrnoCode(error, 'ENOENT')) {
      throw new ModelError(`model directory ${dir} cannot be read (${describeError(error)}); check its permissions`, { cause: error });
    }
    throw new ModelError(
      `model directory ${dir} does not exist; pass a directory containing ${MODEL_JSON_FILE} and ${METADATA_FILE}`,
    );
  }
  throw new ModelError(`model directory ${dir} is a file; pass the directory containing ${MODEL_JSON_FILE} and ${METADATA_FILE}`);
}

async function readRequired(file: string, whenMissing: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    if (isErrnoCode(error, 'ENOENT')) throw new ModelError(`${file} is missing: ${whenMissing}`);
    throw new ModelError(`${file} cannot be read (${describeError(error)}); check its permissions`, { cause: error });
  }
}

/** A file of the model directory, refused unless its size and sha256 match the metadata. */
async function readVerified(dir: string, expected: FileDigest): Promise<Buffer> {
  if (!isBareFileName(expected.path)) {
    throw new ModelError(
      `${path.join(dir, METADATA_FILE)}: file "${expected.path}" is not a plain file name inside the model directory; ${RESTORE}`,
    );
  }
  const file = path.join(dir, expected.path);
  const bytes = await readRequired(file, `expected ${expected.bytes} bytes; ${RESTORE}`);
  if (bytes.byteLength < expected.bytes) {
    throw new ModelError(`${file} is truncated: ${bytes.byteLength} of ${expected.bytes} bytes; ${RESTORE}`);
  }
  if (bytes.byteLength > expected.bytes) {
    throw new ModelError(
      `${file} has ${bytes.byteLength} bytes, ${expected.bytes} were recorded: modified or corrupted; ${RESTORE}`,
    );
  }
  const actual = sha256Hex([bytes]);
  if (actual !== expected.sha256) {
    throw new ModelError(
      `${file} has sha256 ${actual}, ${expected.sha256} was recorded: modified or corrupted; ${RESTORE}`,
    );
  }
  return bytes;
}

function parseJson(bytes: Buffer, file: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new ModelError(`${file} is not valid JSON (${describeError(error)}); ${RESTORE}`, { cause: error });
  }
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

function digestOf(file: string, bytes: Uint8Array): FileDigest {
  return { path: file, bytes: bytes.byteLength, sha256: sha256Hex([bytes]) };
}

function sha256Hex(parts: readonly Uint8Array[]): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest('hex');
}

function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const total = parts.reduce((sum, part) => sum + part.byteLength, 0);
  const joined = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    joined.set(part, offset);
    offset += part.byteLength;
  }
  return joined;
}

function isBareFileName(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !/[/\\]/.test(name);
}

function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof ArrayBuffer);
}

function isErrnoCode(error: unknown, code: string): boolean {
  return (error as NodeJS.ErrnoException | null)?.code === code;
}
