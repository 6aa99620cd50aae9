import * as tf from '@tensorflow/tfjs';
import { N_FEATURES, N_FRAMES } from '../dsp/constants.js';
import { ConfigError, DatasetError } from '../errors.js';
import { EMOTIONS } from '../labels.js';
import { initialiseKerasWeights } from './initializers.js';
import { createTrainingGraph, type TrainingGraph } from './training-graph.js';
import { maskClip, mixBatch, type BatchAugmentation, type Mixture } from './augment/batch.js';
import { type TeacherTargets } from './distillation.js';
import { checkLossOptions, crossEntropyLoss, type LossOptions, type SoftTargets } from './loss.js';
import { createRandom, shuffledIndices, type Random } from './random.js';
import { drawWeighted } from './sampling.js';

/** Clips as one row-major N × 130 × 168 block, and their class indices into EMOTIONS. */
export interface LabelledSet {
  features: Float32Array;
  labels: Int32Array;
}

/** One epoch's metrics. Epochs count from 1; loss and accuracy are means over the epoch's clips. */
export interface EpochLog {
  epoch: number;
  loss: number;
  accuracy: number;
  valLoss: number;
  valAccuracy: number;
  /** The learning rate this epoch trained with (a reduction after it applies to the next). */
  learningRate: number;
  seconds: number;
}

/** Progress within an epoch: `batch` of `batches` done (from 1), running means so far. */
export interface BatchLog {
  epoch: number;
  batch: number;
  batches: number;
  loss: number;
  accuracy: number;
}

export interface TrainOptions {
  /** Seeds the initial weights, the shuffling and the dropout masks. */
  seed: number;
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  earlyStoppingPatience?: number;
  reduceLrPatience?: number;
  reduceLrFactor?: number;
  minLearningRate?: number;
  /** Multiplies each training clip's loss by its class's weight (validation loss is unweighted, as in Keras). */
  classWeights?: readonly number[];
  /** Label smoothing ε of the loss, in training and validation alike. */
  labelSmoothing?: number;
  /**
   * Augmented copies of the training set (row i a variant of training row i). Epoch e trains on
   * the training set plus variant (e - 1) mod n, so each epoch costs twice the plain set
   * whatever n is, and consecutive epochs see different versions of every clip.
   */
  trainingVariants?: readonly LabelledSet[];
  /**
   * Per training clip, its weight in drawing an epoch (with replacement; the epoch keeps its
   * size). Absent: every clip once per epoch, in a shuffled order. Variants share the weights.
   */
  samplingWeights?: Float64Array;
  /** SpecAugment masks and mixup applied to each training batch as it is assembled. */
  batchAugmentation?: BatchAugmentation;
  /**
   * Knowledge distillation: a teacher's probabilities per training clip (row i for training
   * clip i and for its augmented variants), blended into the training target. Validation loss,
   * and so checkpointing and early stopping, still follows the labels alone.
   */
  teacherTargets?: TeacherTargets;
  onBatchEnd?: (log: BatchLog) => void;
  onEpochEnd?: (log: EpochLog) => void;
  /** Aborting stops at the next batch boundary; the unfinished epoch is discarded. */
  signal?: AbortSignal;
}

export interface TrainResult {
  history: EpochLog[];
  /** The epoch whose weights the model holds (best validation accuracy); 0 if none finished. */
  bestEpoch: number;
  /** The last epoch that finished. */
  stoppedEpoch: number;
  stopReason: 'completed' | 'early-stopping' | 'aborted';
}

/** The seed's recipe (../shared/seed/MODEL.md, "Training Configuration"). */
const DEFAULTS = {
  epochs: 100,
  batchSize: 32,
  learningRate: 1e-3,
  earlyStoppingPatience: 15,
  reduceLrPatience: 5,
  reduceLrFactor: 0.5,
  minLearningRate: 1e-7,
} as const;

/** Keras Adam defaults. */
const ADAM_BETA1 = 0.9;
const ADAM_BETA2 = 0.999;
const ADAM_EPSILON = 1e-7;
/** Keras ReduceLROnPlateau's default min_delta: smaller val_loss gains count as a plateau. */
const REDUCE_LR_MIN_DELTA = 1e-4;
/** Validation runs without gradients, so it can take larger batches than training. */
const VALIDATION_BATCH_SIZE = 64;
const CLIP_VALUES = N_FRAMES * N_FEATURES;

type Settings = Required<
  Omit<
    TrainOptions,
    'onBatchEnd' | 'onEpochEnd' | 'signal' | 'classWeights' | 'labelSmoothing' | 'trainingVariants' | 'samplingWeights' | 'batchAugmentation' | 'teacherTargets'
  >
>;

/** tfjs's Adam with a settable learning rate, which ReduceLROnPlateau needs. */
class AdjustableAdam extends tf.AdamOptimizer {
  setLearningRate(rate: number): void {
    this.learningRate = rate;
  }
}

/**
 * Trains the model in place with the seed's Keras recipe: weights re-initialised from `seed`,
 * Adam, sparse categorical cross-entropy (optionally class-weighted and label-smoothed, see
 * loss.ts), a seeded shuffle per epoch, EarlyStopping on val_loss,
 * ReduceLROnPlateau on val_loss, and ModelCheckpoint on val_accuracy. On return the model holds
 * the best-validation-accuracy epoch's weights, the checkpoint the original pipeline ships
 * (EarlyStopping's restore of best-val_loss weights never reached that checkpoint, so it is not
 * reproduced). Runs on the active tfjs backend; the graph is built to differentiate on wasm.
 */
export async function trainModel(
  model: tf.LayersModel,
  train: LabelledSet,
  validation: LabelledSet,
  options: TrainOptions,
): Promise<TrainResult> {
  const settings = resolveSettings(options);
  checkSet('training', train);
  checkSet('validation', validation);
  const variants = options.trainingVariants ?? [];
  variants.forEach((variant, index) => checkVariant(index, variant, train));
  if (options.samplingWeights !== undefined && options.samplingWeights.length !== train.labels.length) {
    throw new DatasetError(
      `samplingWeights has ${options.samplingWeights.length} weights for ${train.labels.length} training clips; give one per clip`,
    );
  }
  const teacher = options.teacherTargets;
  if (teacher !== undefined && teacher.probabilities.length !== train.labels.length * EMOTIONS.length) {
    throw new DatasetError(
      `teacherTargets has ${teacher.probabilities.length} probabilities for ${train.labels.length} training clips; ` +
        `give ${EMOTIONS.length} per clip, in EMOTIONS order`,
    );
  }
  const trainingLoss: LossOptions = {
    ...(options.classWeights === undefined ? {} : { classWeights: options.classWeights }),
    ...(options.labelSmoothing === undefined ? {} : { labelSmoothing: options.labelSmoothing }),
  };
  const validationLoss: LossOptions =
    options.labelSmoothing === undefined ? {} : { labelSmoothing: options.labelSmoothing };
  const history: EpochLog[] = [];
  if (options.signal?.aborted === true) {
    return { history, bestEpoch: 0, stoppedEpoch: 0, stopReason: 'aborted' };
  }

  const random = createRandom(settings.seed);
  initialiseKerasWeights(model, () => random.uniform());
  const graph = createTrainingGraph(model);
  const optimizer = new AdjustableAdam(settings.learningRate, ADAM_BETA1, ADAM_BETA2, ADAM_EPSILON);
  const earlyStopping = { best: Infinity, wait: 0 };
  const reduceLr = { best: Infinity, wait: 0 };
  let checkpoint: { epoch: number; valAccuracy: number; weights: Float32Array[] } | undefined;
  let learningRate = settings.learningRate;
  let stopReason: TrainResult['stopReason'] = 'completed';

  try {
    for (let epoch = 1; epoch <= settings.epochs; epoch += 1) {
      const started = performance.now();
      const variant = variants.length === 0 ? undefined : variants[(epoch - 1) % variants.length];
      const epochSet = variant === undefined ? [train] : [train, variant];
      const fit = await fitEpoch(graph, optimizer, epochSet, trainingLoss, epoch, settings.batchSize, random, options);
      if (fit === 'aborted') {
        stopReason = 'aborted';
        break;
      }
      const evaluation = evaluate(graph, validation, validationLoss);
      const log: EpochLog = {
        epoch,
        loss: fit.loss,
        accuracy: fit.accuracy,
        valLoss: evaluation.loss,
        valAccuracy: evaluation.accuracy,
        learningRate,
        seconds: (performance.now() - started) / 1000,
      };
      history.push(log);

      // ModelCheckpoint(monitor='val_accuracy', save_best_only=True): strictly better only.
      if (checkpoint === undefined || log.valAccuracy > checkpoint.valAccuracy) {
        checkpoint = { epoch, valAccuracy: log.valAccuracy, weights: snapshotWeights(model) };
      }
      // ReduceLROnPlateau: an improvement must beat the best by min_delta.
      if (log.valLoss < reduceLr.best - REDUCE_LR_MIN_DELTA) {
        reduceLr.best = log.valLoss;
        reduceLr.wait = 0;
      } else if (++reduceLr.wait >= settings.reduceLrPatience) {
        if (learningRate > settings.minLearningRate) {
          learningRate = Math.max(learningRate * settings.reduceLrFactor, settings.minLearningRate);
          optimizer.setLearningRate(learningRate);
        }
        reduceLr.wait = 0;
      }
      options.onEpochEnd?.(log);
      // EarlyStopping(monitor='val_loss', min_delta=0).
      if (log.valLoss < earlyStopping.best) {
        earlyStopping.best = log.valLoss;
        earlyStopping.wait = 0;
      } else if (++earlyStopping.wait >= settings.earlyStoppingPatience) {
        stopReason = 'early-stopping';
        break;
      }
    }
  } finally {
    optimizer.dispose();
    if (checkpoint !== undefined) restoreWeights(model, checkpoint.weights);
  }

  return {
    history,
    bestEpoch: checkpoint?.epoch ?? 0,
    stoppedEpoch: history.at(-1)?.epoch ?? 0,
    stopReason,
  };
}

interface Metrics {
  loss: number;
  accuracy: number;
}

/** One epoch over the clips of `sets`, numbered through: set 0's clips first, then set 1's. */
async function fitEpoch(
  graph: TrainingGraph,
  optimizer: AdjustableAdam,
  sets: readonly LabelledSet[],
  loss: LossOptions,
  epoch: number,
  batchSize: number,
  random: Random,
  options: TrainOptions,
): Promise<Metrics | 'aborted'> {
  const clips = sets.reduce((total, set) => total + set.labels.length, 0);
  const order = epochOrder(sets, clips, random, options.samplingWeights);
  const batches = Math.ceil(clips / batchSize);
  let lossSum = 0;
  let correct = 0;
  let seen = 0;
  for (let batch = 0; batch < batches; batch += 1) {
    // Let abort signals and other callbacks in between batches.
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (options.signal?.aborted === true) return 'aborted';

    const indices = order.subarray(batch * batchSize, Math.min(clips, (batch + 1) * batchSize));
    const dropoutSeed = random.integer(2 ** 31);
    const batchData = gatherBatch(sets, indices, options.teacherTargets);
    const mixture = augmentBatch(batchData, options.batchAugmentation, random);
    const step = trainStep(graph, optimizer, batchData, loss, dropoutSeed, mixture);
    lossSum += step.loss * indices.length;
    correct += step.correct;
    seen += indices.length;
    options.onBatchEnd?.({ epoch, batch: batch + 1, batches, loss: lossSum / seen, accuracy: correct / seen });
  }
  return { loss: lossSum / seen, accuracy: correct / seen };
}

/** Every clip of `sets` once, shuffled; or, with sampling weights, as many clips drawn by weight. */
function epochOrder(sets: readonly LabelledSet[], clips: number, random: Random, weights: Float64Array | undefined): Int32Array {
  if (weights === undefined) return shuffledIndices(clips, random);
  const repeated = new Float64Array(clips);
  sets.forEach((_, index) => repeated.set(weights, index * weights.length));
  return drawWeighted(repeated, clips, random);
}

interface Batch {
  x: Float32Array;
  labels: Int32Array;
  /** The teachers' probabilities for each clip and their share of the target, when distilling. */
  soft?: TeacherTargets;
}

/** Masks each clip, then mixes the batch; returns the mixture the loss needs, if any. */
function augmentBatch(batch: Batch, spec: BatchAugmentation | undefined, random: Random): Mixture | undefined {
  if (spec === undefined) return undefined;
  const clips = batch.labels.length;
  for (let clip = 0; clip < clips; clip++) maskClip(batch.x.subarray(clip * CLIP_VALUES, (clip + 1) * CLIP_VALUES), spec, random);
  return spec.mixupAlpha > 0 ? mixBatch(batch.x, clips, spec.mixupAlpha, random) : undefined;
}

function gatherBatch(sets: readonly LabelledSet[], indices: Int32Array, teacher: TeacherTargets | undefined): Batch {
  const x = new Float32Array(indices.length * CLIP_VALUES);
  const labels = new Int32Array(indices.length);
  const classes = EMOTIONS.length;
  const soft = teacher === undefined ? undefined : { probabilities: new Float32Array(indices.length * classes), weight: teacher.weight };
  indices.forEach((index, row) => {
    let clip = index;
    let setIndex = 0;
    while (clip >= (sets[setIndex]?.labels.length ?? Infinity)) clip -= (sets[setIndex++] as LabelledSet).labels.length;
    const set = sets[setIndex] as LabelledSet;
    x.set(set.features.subarray(clip * CLIP_VALUES, (clip + 1) * CLIP_VALUES), row * CLIP_VALUES);
    labels[row] = set.labels[clip] as number;
    // A variant's row `clip` is training clip `clip` augmented: the same teacher row.
    if (teacher !== undefined) soft?.probabilities.set(teacher.probabilities.subarray(clip * classes, (clip + 1) * classes), row * classes);
  });
  return { x, labels, ...(soft === undefined ? {} : { soft }) };
}

/** One Adam step on a batch; returns its mean loss and how many clips it classified right. */
function trainStep(
  graph: TrainingGraph,
  optimizer: AdjustableAdam,
  batch: Batch,
  loss: LossOptions,
  dropoutSeed: number,
  mixture: Mixture | undefined,
): { loss: number; correct: number } {
  return tf.tidy(() => {
    const clips = batch.labels.length;
    const x = tf.tensor3d(batch.x, [clips, N_FRAMES, N_FEATURES]);
    const labels = tf.tensor1d(batch.labels, 'int32');
    const mixed =
      mixture === undefined
        ? undefined
        : { labels: tf.tensor1d(Int32Array.from(mixture.partners, (partner) => batch.labels[partner] as number), 'int32'), weight: mixture.weight };
    const soft = softTargets(batch, clips, mixture);
    let correct = 0;
    const { value, grads } = optimizer.computeGradients(() => {
      const logits = graph.forward(x, { training: true, dropoutSeed });
      // Read here, where the logits exist; the forward pass has already run, so it costs nothing.
      correct = countCorrect(logits, labels).dataSync()[0] as number;
      return crossEntropyLoss(logits, labels, loss, mixed, soft);
    }, [...graph.trainableVariables]);
    optimizer.applyGradients(Object.entries(grads).map(([name, tensor]) => ({ name, tensor })));
    return { loss: value.dataSync()[0] as number, correct };
  });
}

/** The batch's teacher rows as the loss takes them, mixed with the same partners as the labels under mixup. */
function softTargets(batch: Batch, clips: number, mixture: Mixture | undefined): SoftTargets | undefined {
  if (batch.soft === undefined) return undefined;
  const { weight } = batch.soft;
  let probabilities = tf.tensor2d(batch.soft.probabilities, [clips, EMOTIONS.length]);
  if (mixture !== undefined) {
    const partners = tf.gather(probabilities, tf.tensor1d(mixture.partners, 'int32'));
    probabilities = tf.add(tf.mul(probabilities, mixture.weight), tf.mul(partners, 1 - mixture.weight));
  }
  return { probabilities, weight };
}

function countCorrect(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), labels), 'int32'));
}

/** Inference-mode loss and accuracy over a whole set, in batches. */
function evaluate(graph: TrainingGraph, set: LabelledSet, loss: LossOptions): Metrics {
  const clips = set.labels.length;
  let lossSum = 0;
  let correct = 0;
  for (let start = 0; start < clips; start += VALIDATION_BATCH_SIZE) {
    const end = Math.min(clips, start + VALIDATION_BATCH_SIZE);
    const [batchLoss, batchCorrect] = tf.tidy(() => {
      const x = tf.tensor3d(set.features.subarray(start * CLIP_VALUES, end * CLIP_VALUES), [
        end - start,
        N_FRAMES,
        N_FEATURES,
      ]);
      const labels = tf.tensor1d(set.labels.subarray(start, end), 'int32');
      const logits = graph.forward(x, { training: false });
      return [crossEntropyLoss(logits, labels, loss).dataSync()[0] as number, countCorrect(logits, labels).dataSync()[0] as number];
    });
    lossSum += batchLoss * (end - start);
    correct += batchCorrect;
  }
  return { loss: lossSum / clips, accuracy: correct / clips };
}

/** Copies of every weight (BatchNorm moving statistics included), off the tensor heap. */
function snapshotWeights(model: tf.LayersModel): Float32Array[] {
  return model.weights.map((weight) => Float32Array.from(weight.read().dataSync()));
}

function restoreWeights(model: tf.LayersModel, snapshot: readonly Float32Array[]): void {
  model.weights.forEach((weight, index) => {
    const values = snapshot[index];
    if (values === undefined) return;
    tf.tidy(() => {
      weight.write(tf.tensor(values, weight.shape as number[], 'float32'));
    });
  });
}

function resolveSettings(options: TrainOptions): Settings {
  const settings: Settings = {
    seed: options.seed,
    epochs: options.epochs ?? DEFAULTS.epochs,
    batchSize: options.batchSize ?? DEFAULTS.batchSize,
    learningRate: options.learningRate ?? DEFAULTS.learningRate,
    earlyStoppingPatience: options.earlyStoppingPatience ?? DEFAULTS.earlyStoppingPatience,
    reduceLrPatience: options.reduceLrPatience ?? DEFAULTS.reduceLrPatience,
    reduceLrFactor: options.reduceLrFactor ?? DEFAULTS.reduceLrFactor,
    minLearningRate: options.minLearningRate ?? DEFAULTS.minLearningRate,
  };
  const problems: string[] = [];
  const requireInteger = (name: keyof Settings, min: number): void => {
    const value = settings[name];
    if (!Number.isInteger(value) || value < min) problems.push(`${name} must be an integer >= ${min}, got ${value}`);
  };
  const requirePositive = (name: keyof Settings): void => {
    const value = settings[name];
    if (!Number.isFinite(value) || value <= 0) problems.push(`${name} must be a positive number, got ${value}`);
  };
  requireInteger('seed', 0);
  if (settings.seed >= 2 ** 32) problems.push(`seed must be below 2^32, got ${settings.seed}`);
  requireInteger('epochs', 1);
  requireInteger('batchSize', 1);
  requireInteger('earlyStoppingPatience', 1);
  requireInteger('reduceLrPatience', 1);
  requirePositive('learningRate');
  requirePositive('minLearningRate');
  if (!(settings.reduceLrFactor > 0 && settings.reduceLrFactor < 1)) {
    problems.push(`reduceLrFactor must be between 0 and 1 (exclusive), got ${settings.reduceLrFactor}`);
  }
  problems.push(...checkLossOptions(options, EMOTIONS.length));
  if (problems.length > 0) throw new ConfigError(`invalid training options: ${problems.join('; ')}`);
  return settings;
}

function checkSet(name: string, set: LabelledSet): void {
  const clips = set.labels.length;
  if (clips === 0) {
    throw new DatasetError(`the ${name} set is empty; training needs at least one clip in each of training and validation`);
  }
  if (set.features.length !== clips * CLIP_VALUES) {
    throw new DatasetError(
      `the ${name} set has ${set.features.length} feature values for ${clips} labels; expected ` +
        `${clips} × ${N_FRAMES} × ${N_FEATURES} = ${clips * CLIP_VALUES}; rebuild its feature block`,
    );
  }
  const badIndex = set.labels.findIndex((label) => label < 0 || label >= EMOTIONS.length);
  if (badIndex >= 0) {
    throw new DatasetError(
      `the ${name} set's label ${badIndex} is ${set.labels[badIndex]}, outside 0..${EMOTIONS.length - 1}; ` +
        'labels must index EMOTIONS',
    );
  }
}

function checkVariant(index: number, variant: LabelledSet, train: LabelledSet): void {
  checkSet(`augmented training variant ${index}`, variant);
  if (variant.labels.length !== train.labels.length || variant.labels.some((label, row) => label !== train.labels[row])) {
    throw new DatasetError(
      `augmented training variant ${index} does not hold the training set's clips in order ` +
        `(${variant.labels.length} labels for ${train.labels.length} clips); build variants from the training set`,
    );
  }
}
