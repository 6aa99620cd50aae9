import * as tf from '@tensorflow/tfjs';
import { N_FEATURES, N_FRAMES } from '../dsp/constants.js';
import { ModelError } from '../errors.js';
import { EMOTIONS } from '../labels.js';

/** The architectures' names as recorded in model metadata. */
export const SEED_ARCHITECTURE = 'seed-cnn-lstm';
export const ATTENTION_ARCHITECTURE = 'attention-cnn-lstm';

/** The names `train --architecture` takes, and what each builds. */
export const ARCHITECTURES = {
  seed: { name: SEED_ARCHITECTURE, build: buildSeedModel },
  attention: { name: ATTENTION_ARCHITECTURE, build: buildAttentionModel },
} as const;
export type ArchitectureChoice = keyof typeof ARCHITECTURES;

/** A freshly built (untrained) model of the named architecture. */
export function buildModel(choice: ArchitectureChoice): tf.LayersModel {
  const architecture = (ARCHITECTURES as Record<string, (typeof ARCHITECTURES)[ArchitectureChoice] | undefined>)[choice];
  if (architecture === undefined) {
    throw new ModelError(`architecture "${choice}" is unknown; use one of ${Object.keys(ARCHITECTURES).join(', ')}`);
  }
  return architecture.build();
}

/**
 * The seed CNN-LSTM (../shared/seed/MODEL.md), layer for layer, with the original code's
 * kernel 3 on the third convolution. Layer names are fixed so weights map by name between
 * this inference model and the training graph.
 */
export function buildSeedModel(): tf.LayersModel {
  const model = tf.sequential({ name: 'ser_cnn_lstm' });
  for (const layer of convolutionalFrontEnd({ withInputShape: true })) model.add(layer);
  model.add(tf.layers.lstm({ name: 'lstm2', units: 64, recurrentActivation: 'sigmoid' }));
  for (const layer of classifierHead()) model.add(layer);
  return model;
}

/**
 * The seed model with attention pooling in place of the second LSTM's last state: the LSTM
 * returns all 16 steps, a small scorer (Dense(32, tanh) → Dense(1)) rates each step, a
 * softmax over time turns the ratings into weights, and the pooled vector is the weighted sum
 * of the steps. Speech that carries the emotion early in the window then counts as much as
 * speech at its end. Built from stock layers only (Dense, Flatten, Softmax, Dot; in ONNX terms
 * MatMul/Add, Tanh, Reshape, Softmax and a batched MatMul), so model.json loads with plain
 * tf.loadLayersModel and needs no custom layer registration. It adds 2,112 weights to the seed's
 * 459,335.
 */
export function buildAttentionModel(): tf.LayersModel {
  const input = tf.input({ shape: [N_FRAMES, N_FEATURES], name: 'features' });
  let hidden = input;
  for (const layer of convolutionalFrontEnd({ withInputShape: false })) hidden = layer.apply(hidden) as tf.SymbolicTensor;
  const steps = tf.layers
    .lstm({ name: 'lstm2', units: 64, returnSequences: true, recurrentActivation: 'sigmoid' })
    .apply(hidden) as tf.SymbolicTensor;
  const scores = tf.layers
    .dense({ name: 'attention_score', units: 1, useBias: false })
    .apply(tf.layers.dense({ name: 'attention_hidden', units: 32, activation: 'tanh' }).apply(steps)) as tf.SymbolicTensor;
  const weights = tf.layers
    .softmax({ name: 'attention_weights', axis: -1 })
    .apply(tf.layers.flatten({ name: 'attention_flatten' }).apply(scores)) as tf.SymbolicTensor;
  let output = tf.layers.dot({ name: 'attention_pool', axes: 1 }).apply([weights, steps]) as tf.SymbolicTensor;
  for (const layer of classifierHead()) output = layer.apply(output) as tf.SymbolicTensor;
  return tf.model({ name: 'ser_attention_cnn_lstm', inputs: input, outputs: output });
}

/** Three convolution blocks and the first LSTM, shared by every architecture. */
function convolutionalFrontEnd({ withInputShape }: { withInputShape: boolean }): tf.layers.Layer[] {
  const layers: tf.layers.Layer[] = [];
  const convBlocks: Array<{ filters: number; kernelSize: number }> = [
    { filters: 64, kernelSize: 5 },
    { filters: 128, kernelSize: 5 },
    { filters: 256, kernelSize: 3 },
  ];
  convBlocks.forEach(({ filters, kernelSize }, index) => {
    const block = index + 1;
    layers.push(
      tf.layers.conv1d({
        name: `conv${block}`,
        ...(index === 0 && withInputShape ? { inputShape: [N_FRAMES, N_FEATURES] } : {}),
        filters,
        kernelSize,
        padding: 'same',
        activation: 'relu',
      }),
      tf.layers.batchNormalization({ name: `conv${block}_bn` }),
      tf.layers.maxPooling1d({ name: `conv${block}_pool`, poolSize: 2 }),
      tf.layers.dropout({ name: `conv${block}_dropout`, rate: 0.3 }),
    );
  });
  // Keras uses a true sigmoid for the recurrent gates; tfjs defaults to hardSigmoid, which
  // would silently change what Keras-trained weights compute.
  layers.push(
    tf.layers.lstm({ name: 'lstm1', units: 128, returnSequences: true, recurrentActivation: 'sigmoid' }),
    tf.layers.dropout({ name: 'lstm1_dropout', rate: 0.3 }),
  );
  return layers;
}

/** From the pooled 64-vector to the class probabilities. */
function classifierHead(): tf.layers.Layer[] {
  return [
    tf.layers.dropout({ name: 'lstm2_dropout', rate: 0.3 }),
    tf.layers.dense({ name: 'dense1', units: 128, activation: 'relu' }),
    tf.layers.batchNormalization({ name: 'dense1_bn' }),
    tf.layers.dropout({ name: 'dense1_dropout', rate: 0.4 }),
    tf.layers.dense({ name: 'dense2', units: 64, activation: 'relu' }),
    tf.layers.dropout({ name: 'dense2_dropout', rate: 0.3 }),
    tf.layers.dense({ name: 'output', units: EMOTIONS.length, activation: 'softmax' }),
  ];
}
