import * as tf from '@tensorflow/tfjs';

/** How the training loss weighs and targets the classes. */
export interface LossOptions {
  /** Per-class multipliers of each clip's loss, indexed like the logits; absent = all 1. */
  classWeights?: readonly number[];
  /** ε of label smoothing: the target is (1 - ε)·one-hot + ε / classes. 0 = none. */
  labelSmoothing?: number;
}

/**
 * Categorical cross-entropy from logits, with Keras's semantics for its two options:
 * label_smoothing as in tf.keras.losses.CategoricalCrossentropy, and class_weight as Keras
 * applies it in fit(): each clip's loss times its class's weight, then averaged over the batch
 * size (not over the summed weights).
 */
export function crossEntropyLoss(
  logits: tf.Tensor2D,
  labels: tf.Tensor1D,
  options: LossOptions = {},
  mixed?: MixedTargets,
  soft?: SoftTargets,
): tf.Scalar {
  return tf.tidy(() => {
    const classes = logits.shape[1];
    const smoothing = options.labelSmoothing ?? 0;
    const share = mixed?.weight ?? 1;
    let target: tf.Tensor = tf.oneHot(labels, classes);
    if (mixed !== undefined) target = tf.add(tf.mul(target, share), tf.mul(tf.oneHot(mixed.labels, classes), 1 - share));
    if (smoothing > 0) target = tf.add(tf.mul(target, 1 - smoothing), smoothing / classes);
    if (soft !== undefined) target = tf.add(tf.mul(target, 1 - soft.weight), tf.mul(soft.probabilities, soft.weight));
    let perClip: tf.Tensor = tf.neg(tf.sum(tf.mul(target, tf.logSoftmax(logits)), 1));
    if (options.classWeights !== undefined) {
      const weights = tf.tensor1d(options.classWeights as number[]);
      let clipWeights: tf.Tensor = tf.gather(weights, labels);
      if (mixed !== undefined) clipWeights = tf.add(tf.mul(clipWeights, share), tf.mul(tf.gather(weights, mixed.labels), 1 - share));
      perClip = tf.mul(perClip, clipWeights);
    }
    return tf.mean<tf.Scalar>(perClip);
  });
}

/**
 * The second label of every clip of a mixup batch and the share of the first: the target is
 * `weight · one-hot(label) + (1 - weight) · one-hot(mixed label)`, and a class weight is mixed
 * the same way.
 */
export interface MixedTargets {
  labels: tf.Tensor1D;
  weight: number;
}

/**
 * The teachers' mean probabilities for every clip of the batch (already mixed like the labels under
 * mixup), blended into the labels' target after smoothing: `(1 - weight) · target + weight ·
 * probabilities`. The class weight stays the clip's label's.
 */
export interface SoftTargets {
  probabilities: tf.Tensor2D;
  weight: number;
}

/**
 * scikit-learn's class_weight='balanced': clips / (classes · clips of the class), so every
 * class carries the same total weight. A class without clips gets weight 0 (it never occurs
 * in the training loss anyway).
 */
export function balancedClassWeights(labels: Int32Array, classes: number): number[] {
  const counts = new Array<number>(classes).fill(0);
  for (const label of labels) {
    if (label < 0 || label >= classes) throw new RangeError(`balancedClassWeights: label ${label} is outside 0..${classes - 1}`);
    counts[label] = (counts[label] as number) + 1;
  }
  return counts.map((count) => (count === 0 ? 0 : labels.length / (classes * count)));
}

/** Checks loss options once, before a run starts; the message names the option and value. */
export function checkLossOptions(options: LossOptions, classes: number): string[] {
  const problems: string[] = [];
  const smoothing = options.labelSmoothing ?? 0;
  if (!(smoothing >= 0 && smoothing < 1)) problems.push(`labelSmoothing must be in [0, 1), got ${smoothing}`);
  const weights = options.classWeights;
  if (weights !== undefined) {
    if (weights.length !== classes) problems.push(`classWeights needs ${classes} weights, got ${weights.length}`);
    if (!weights.every((w) => Number.isFinite(w) && w >= 0)) {
      problems.push(`classWeights must be finite numbers >= 0, got [${weights.join(', ')}]`);
    }
  }
  return problems;
}

