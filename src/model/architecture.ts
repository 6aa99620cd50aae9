import * as tf from '@tensorflow/tfjs';
import { N_FEATURES, N_FRAMES } from '../dsp/constants.js';
import { EMOTIONS } from '../labels.js';

/** The architecture's name as recorded in model metadata. */
export const SEED_ARCHITECTURE = 'seed-cnn-lstm';

/**
 * The seed CNN-LSTM (../shared/seed/MODEL.md), layer for layer, with the original code's
 * kernel 3 on the third convolution. Layer names are fixed so weights map by name between
 * this inference model and the training graph.
 */
export function buildSeedModel(): tf.LayersModel {
  const model = tf.sequential({ name: 'ser_cnn_lstm' });
  const convBlocks: Array<{ filters: number; kernelSize: number }> = [
    { filters: 64, kernelSize: 5 },
    { filters: 128, kernelSize: 5 },
    { filters: 256, kernelSize: 3 },
  ];
  convBlocks.forEach(({ filters, kernelSize }, index) => {
    const block = index + 1;
    model.add(
      tf.layers.conv1d({
        name: `conv${block}`,
        ...(index === 0 ? { inputShape: [N_FRAMES, N_FEATURES] } : {}),
        filters,
        kernelSize,
        padding: 'same',
        activation: 'relu',
      }),
    );
    model.add(tf.layers.batchNormalization({ name: `conv${block}_bn` }));
    model.add(tf.layers.maxPooling1d({ name: `conv${block}_pool`, poolSize: 2 }));
    model.add(tf.layers.dropout({ name: `conv${block}_dropout`, rate: 0.3 }));
  });
  // Keras uses a true sigmoid for the recurrent gates; tfjs defaults to hardSigmoid, which
  // would silently change what Keras-trained weights compute.
  model.add(
    tf.layers.lstm({ name: 'lstm1', units: 128, returnSequences: true, recurrentActivation: 'sigmoid' }),
  );
  model.add(tf.layers.dropout({ name: 'lstm1_dropout', rate: 0.3 }));
  model.add(tf.layers.lstm({ name: 'lstm2', units: 64, recurrentActivation: 'sigmoid' }));
  model.add(tf.layers.dropout({ name: 'lstm2_dropout', rate: 0.3 }));
  model.add(tf.layers.dense({ name: 'dense1', units: 128, activation: 'relu' }));
  model.add(tf.layers.batchNormalization({ name: 'dense1_bn' }));
  model.add(tf.layers.dropout({ name: 'dense1_dropout', rate: 0.4 }));
  model.add(tf.layers.dense({ name: 'dense2', units: 64, activation: 'relu' }));
  model.add(tf.layers.dropout({ name: 'dense2_dropout', rate: 0.3 }));
  model.add(tf.layers.dense({ name: 'output', units: EMOTIONS.length, activation: 'softmax' }));
  return model;
}
