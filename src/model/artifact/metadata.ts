import { type BandStatisticsRecord } from '../../dsp/band-statistics.js';
import { FEATURE_PARAMETERS, N_FEATURES, type FeatureParameters } from '../../dsp/constants.js';
import { CLIP_WINDOWS, type ClipWindow } from '../../dsp/clip-window.js';
import { FRONT_ENDS, type FrontEnd } from '../../dsp/front-end.js';
import { ModelError } from '../../errors.js';
import { EMOTIONS, type Emotion } from '../../labels.js';
import { TEMPERATURE_RANGE } from '../runtime/calibration.js';
import { parseModelMetrics, type ModelMetrics, type OnnxQuantization } from './metrics.js';
// Types only: the history is the trainer's per-epoch log, and the daemon never loads the trainer.
import type { EpochLog } from '../../training/trainer.js';

/** The metadata.json layout this build writes and reads. */
export const METADATA_FORMAT = 1;

export const WEIGHTS_DTYPES = ['float32', 'float16', 'uint8'] as const;
export type WeightsDtype = (typeof WEIGHTS_DTYPES)[number];

/** A file of the model directory as it was written. */
export interface FileDigest {
  /** Relative to the model directory; always a bare file name. */
  path: string;
  bytes: number;
  sha256: string;
}

/** A corpus the model was trained on; its licence is repeated in the model card. */
export interface DataSource {
  name: string;
  licence: string;
  path?: string;
  files?: number;
  [detail: string]: unknown;
}

/** How the data was split; `strategy` plus whatever the splitter needs to rebuild it. */
export interface DataSplit {
  strategy: string;
  [detail: string]: unknown;
}

/** Enough to reproduce a training run. Trainers may add their own fields. */
export interface TrainingProvenance {
  command: string;
  seed: number;
  dataSources: DataSource[];
  split: DataSplit;
  /** ISO 8601 date and time the run finished. */
  date: string;
  [detail: string]: unknown;
}

export interface WeightsRecord {
  dtype: WeightsDtype;
  files: FileDigest[];
  /** Total bytes of all weight files. */
  bytes: number;
  /**
   * sha256 of the weight files concatenated in manifest order (`cat group1-shard* | sha256sum`):
   * the model's identity in events and logs.
   */
  sha256: string;
  /** Set on quantized models: the float32 model these weights were derived from. */
  quantizedFrom?: { weightsSha256: string };
}

export const ONNX_DTYPES = ['float32', 'int8'] as const;
export type OnnxWeightsDtype = (typeof ONNX_DTYPES)[number];

/** An ONNX copy of the model, exported from the tfjs weights by `ser-agent export-onnx` or `quantize --format onnx`. */
export interface OnnxFileRecord extends FileDigest {
  /** float32: the same computation as the tfjs model; int8: integer kernels with int8 weights. */
  dtype: OnnxWeightsDtype;
  opset: number;
  /** weights.sha256 of the tfjs weights it was exported from; must equal this model's. */
  sourceWeightsSha256: string;
  /** How the int8 model compares with the float32 one, when measured on the held-out split. */
  quantization?: OnnxQuantization;
}

/** training-history.json: the trainer's log of every epoch, in order. */
export type TrainingHistory = EpochLog[];

export interface ModelMetadata {
  format: typeof METADATA_FORMAT;
  name: string;
  version: string;
  architecture: string;
  /** Class names in output order. */
  labels: Emotion[];
  featureParameters: FeatureParameters;
  /** How the features are normalised before the network (src/dsp/front-end.ts); absent = `seed`. */
  frontEnd?: FrontEnd;
  /**
   * The `speaker` front-end's starting point: every band's mean and spread over the training
   * speakers' frames, which a voice's running statistics start from. Present exactly when
   * frontEnd is `speaker`.
   */
  bandStatistics?: BandStatisticsRecord;
  /** Which 3 s of a file training and evaluation used (src/dsp/clip-window.ts); absent = `start`. */
  clipWindow?: ClipWindow;
  modelJson: FileDigest;
  weights: WeightsRecord;
  training: TrainingProvenance;
  /** Evaluation results, a section per command that measured the model; rendered as tables in the model card. */
  metrics: ModelMetrics;
  /**
   * Softmax temperature fitted on the validation split (src/model/runtime/calibration.ts) and applied
   * to every prediction; absent means 1, the probabilities as the network computes them.
   */
  temperature?: number;
  /**
   * Per-class logit offsets added after the temperature, fitted to one site's labelled clips
   * by `ser-agent adapt`; absent on models that were not adapted.
   */
  classBias?: number[];
  /** ONNX files of the same weights, run by the onnxruntime backend; absent on tfjs-only models. */
  onnx?: OnnxFileRecord[];
  /**
   * The training run's per-epoch history (training-history.json), verified like the weights;
   * absent on models trained elsewhere and on those written before the history was listed.
   */
  history?: FileDigest;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;
/** Larger logit offsets would silence or force a class whatever it hears: a broken fit, not an adaptation. */
export const CLASS_BIAS_LIMIT = 10;

/**
 * Checks that untrusted JSON has every field this build relies on, with the right types.
 * `file` names metadata.json in messages.
 */
export function parseModelMetadata(json: unknown, file: string): ModelMetadata {
  const damaged = (field: string, expected: string, found: unknown): ModelError =>
    new ModelError(
      `${file}: field "${field}" should be ${expected} but is ${describeValue(found)}; ` +
        'the metadata is damaged: restore the model directory from its original copy',
    );
  const root = record(json, 'metadata', damaged);
  if (root['format'] !== METADATA_FORMAT) {
    throw new ModelError(
      `${file}: metadata format is ${describeValue(root['format'])}, this build reads format ${METADATA_FORMAT}; ` +
        'use the ser-agent release that wrote the model, or re-export the model with this one',
    );
  }
  const text = (value: unknown, field: string): string => {
    if (typeof value !== 'string' || value === '') throw damaged(field, 'a non-empty string', value);
    return value;
  };
  const count = (value: unknown, field: string): number => {
    if (!Number.isSafeInteger(value) || (value as number) < 0) throw damaged(field, 'a whole number >= 0', value);
    return value as number;
  };
  const digest = (value: unknown, field: string): FileDigest => {
    const entry = record(value, field, damaged);
    const sha256 = text(entry['sha256'], `${field}.sha256`);
    if (!SHA256_HEX.test(sha256)) throw damaged(`${field}.sha256`, '64 lowercase hex digits', sha256);
    return { path: text(entry['path'], `${field}.path`), bytes: count(entry['bytes'], `${field}.bytes`), sha256 };
  };

  const labels = root['labels'];
  if (!Array.isArray(labels) || !labels.every((label) => typeof label === 'string')) {
    throw damaged('labels', 'an array of emotion names', labels);
  }
  const weights = record(root['weights'], 'weights', damaged);
  const dtype = weights['dtype'];
  if (!(WEIGHTS_DTYPES as readonly unknown[]).includes(dtype)) {
    throw damaged('weights.dtype', `one of ${WEIGHTS_DTYPES.join(', ')}`, dtype);
  }
  const files = weights['files'];
  if (!Array.isArray(files) || files.length === 0) throw damaged('weights.files', 'a non-empty array', files);
  const weightsSha256 = text(weights['sha256'], 'weights.sha256');
  if (!SHA256_HEX.test(weightsSha256)) throw damaged('weights.sha256', '64 lowercase hex digits', weightsSha256);
  const quantizedFrom =
    weights['quantizedFrom'] === undefined ? undefined : record(weights['quantizedFrom'], 'weights.quantizedFrom', damaged);

  const training = record(root['training'], 'training', damaged);
  text(training['command'], 'training.command');
  text(training['date'], 'training.date');
  if (typeof training['seed'] !== 'number') throw damaged('training.seed', 'a number', training['seed']);
  const dataSources = training['dataSources'];
  if (!Array.isArray(dataSources)) throw damaged('training.dataSources', 'an array', dataSources);
  dataSources.forEach((source, index) => {
    const entry = record(source, `training.dataSources[${index}]`, damaged);
    text(entry['name'], `training.dataSources[${index}].name`);
    text(entry['licence'], `training.dataSources[${index}].licence`);
  });
  text(record(training['split'], 'training.split', damaged)['strategy'], 'training.split.strategy');
  const onnxFiles = root['onnx'];
  if (onnxFiles !== undefined && !Array.isArray(onnxFiles)) throw damaged('onnx', 'an array', onnxFiles);
  const onnx = onnxFiles?.map((value: unknown, index: number): OnnxFileRecord => {
    const field = `onnx[${index}]`;
    const entry = record(value, field, damaged);
    const fileDtype = entry['dtype'];
    if (!(ONNX_DTYPES as readonly unknown[]).includes(fileDtype)) throw damaged(`${field}.dtype`, `one of ${ONNX_DTYPES.join(', ')}`, fileDtype);
    const source = text(entry['sourceWeightsSha256'], `${field}.sourceWeightsSha256`);
    if (!SHA256_HEX.test(source)) throw damaged(`${field}.sourceWeightsSha256`, '64 lowercase hex digits', source);
    // Read by people (the card), never by code: an object is all it must be.
    const quantization =
      entry['quantization'] === undefined ? undefined : (record(entry['quantization'], `${field}.quantization`, damaged) as unknown as OnnxQuantization);
    return {
      ...digest(entry, field),
      dtype: fileDtype as OnnxWeightsDtype,
      opset: count(entry['opset'], `${field}.opset`),
      sourceWeightsSha256: source,
      ...(quantization === undefined ? {} : { quantization }),
    };
  });
  const frontEnd = (value: unknown): FrontEnd => {
    if (!(FRONT_ENDS as readonly unknown[]).includes(value)) throw damaged('frontEnd', `one of ${FRONT_ENDS.join(', ')}`, value);
    return value as FrontEnd;
  };
  const bandStatistics = (value: unknown): BandStatisticsRecord => {
    const field = record(value, 'bandStatistics', damaged);
    const bands = (values: unknown, name: 'mean' | 'std', least: number): number[] => {
      if (!Array.isArray(values) || values.length !== N_FEATURES || !values.every((v) => typeof v === 'number' && Number.isFinite(v) && v >= least)) {
        throw damaged(`bandStatistics.${name}`, `${N_FEATURES} finite numbers${least === 0 ? ' of at least 0' : ''}`, values);
      }
      return values as number[];
    };
    return { mean: bands(field['mean'], 'mean', -Infinity), std: bands(field['std'], 'std', 0) };
  };
  const clipWindow = (value: unknown): ClipWindow => {
    if (!(CLIP_WINDOWS as readonly unknown[]).includes(value)) throw damaged('clipWindow', `one of ${CLIP_WINDOWS.join(', ')}`, value);
    return value as ClipWindow;
  };
  const classBias = (value: unknown): number[] => {
    if (!Array.isArray(value) || value.length !== EMOTIONS.length || !value.every((b) => typeof b === 'number' && Math.abs(b) <= CLASS_BIAS_LIMIT)) {
      throw damaged('classBias', `${EMOTIONS.length} numbers from -${CLASS_BIAS_LIMIT} to ${CLASS_BIAS_LIMIT}`, value);
    }
    return value as number[];
  };
  const temperature = (value: unknown): number => {
    if (typeof value !== 'number' || !(value >= TEMPERATURE_RANGE.min && value <= TEMPERATURE_RANGE.max)) {
      throw damaged('temperature', `a number from ${TEMPERATURE_RANGE.min} to ${TEMPERATURE_RANGE.max}`, value);
    }
    return value;
  };

  return {
    format: METADATA_FORMAT,
    name: text(root['name'], 'name'),
    version: text(root['version'], 'version'),
    architecture: text(root['architecture'], 'architecture'),
    // Whether these are exactly EMOTIONS is checked by checkLabels, with its own message.
    labels: labels as Emotion[],
    featureParameters: record(root['featureParameters'], 'featureParameters', damaged) as unknown as FeatureParameters,
    ...(root['frontEnd'] === undefined ? {} : { frontEnd: frontEnd(root['frontEnd']) }),
    ...(root['bandStatistics'] === undefined && root['frontEnd'] !== 'speaker' ? {} : { bandStatistics: bandStatistics(root['bandStatistics']) }),
    ...(root['clipWindow'] === undefined ? {} : { clipWindow: clipWindow(root['clipWindow']) }),
    modelJson: digest(root['modelJson'], 'modelJson'),
    weights: {
      dtype: dtype as WeightsDtype,
      files: files.map((file, index) => digest(file, `weights.files[${index}]`)),
      bytes: count(weights['bytes'], 'weights.bytes'),
      sha256: weightsSha256,
      ...(quantizedFrom === undefined
        ? {}
        : { quantizedFrom: { weightsSha256: text(quantizedFrom['weightsSha256'], 'weights.quantizedFrom.weightsSha256') } }),
    },
    training: training as TrainingProvenance,
    metrics: parseModelMetrics(root['metrics'], damaged),
    ...(root['temperature'] === undefined ? {} : { temperature: temperature(root['temperature']) }),
    ...(root['classBias'] === undefined ? {} : { classBias: classBias(root['classBias']) }),
    ...(onnx === undefined ? {} : { onnx }),
    ...(root['history'] === undefined ? {} : { history: digest(root['history'], 'history') }),
  };
}

/**
 * A model only makes sense on the features it was trained on: refuses one whose feature
 * parameters differ in any field from those this build computes.
 */
export function checkFeatureParameters(metadata: ModelMetadata, dir: string): void {
  const theirs = metadata.featureParameters as unknown as Record<string, unknown>;
  const ours = FEATURE_PARAMETERS as unknown as Record<string, unknown>;
  for (const field of new Set([...Object.keys(ours), ...Object.keys(theirs)])) {
    if (theirs[field] !== ours[field]) {
      throw new ModelError(
        `${dir}: the model was trained on features with ${field} = ${describeValue(theirs[field])}, ` +
          `but this build computes ${field} = ${describeValue(ours[field])}; ` +
          'use a model trained with this build, or the ser-agent release the model was trained with',
      );
    }
  }
}

/** Refuses a model whose outputs are not EMOTIONS in EMOTIONS order: its predictions would be mislabelled. */
export function checkLabels(metadata: ModelMetadata, dir: string): void {
  const labels: readonly string[] = metadata.labels;
  if (labels.length !== EMOTIONS.length || labels.some((label, index) => label !== EMOTIONS[index])) {
    throw new ModelError(
      `${dir}: the model's labels are [${labels.join(', ')}], but this build expects [${EMOTIONS.join(', ')}] ` +
        'in that order; use a model trained with these labels',
    );
  }
}

function record(
  value: unknown,
  field: string,
  damaged: (field: string, expected: string, found: unknown) => ModelError,
): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw damaged(field, 'an object', value);
  return value as Record<string, unknown>;
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'missing';
  const json = JSON.stringify(value);
  return json.length > 80 ? `${json.slice(0, 77)}...` : json;
}
