import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ModelError } from '../../src/errors.js';
import { buildModel } from '../../src/model/architecture.js';
import { exportLayersModel } from '../../src/model/convert/onnx/export.js';
import { FLOAT_OPS } from '../../src/model/convert/onnx/float-ops.js';
import { LAYER_TYPES, readLayerConfig } from '../../src/model/layer-config.js';
import { createTrainingGraph } from '../../src/training/training-graph.js';
import { useWasm } from './seed-model-fixture.js';

const HEADER = { producerVersion: 'test', metadata: {} };

describe('the layer-config reader', () => {
  beforeAll(useWasm);

  it('reads every layer of both architectures, which between them use all nine layer types', () => {
    const types = new Set<string>();
    for (const choice of ['seed', 'attention'] as const) {
      const model = buildModel(choice);
      for (const layer of model.layers.filter((l) => l.getClassName() !== 'InputLayer')) {
        const spec = readLayerConfig(layer);
        expect(spec.name).toBe(layer.name);
        types.add(spec.type);
      }
      model.dispose();
    }
    expect([...types].sort()).toEqual([...LAYER_TYPES].sort());
  });

  it('reads the fields the implementations depend on, with their Keras defaults', () => {
    const conv = tf.layers.conv1d({ inputShape: [8, 2], filters: 3, kernelSize: 3, padding: 'valid', activation: 'relu', name: 'c' });
    const pool = tf.layers.maxPooling1d({ poolSize: 2, name: 'p' });
    const lstm = tf.layers.lstm({ units: 4, recurrentActivation: 'sigmoid', returnSequences: true, name: 'l' });
    const model = tf.sequential({ layers: [conv, pool, lstm] });
    expect(readLayerConfig(conv)).toEqual({ name: 'c', type: 'Conv1D', padding: 'valid', activation: 'relu' });
    expect(readLayerConfig(pool)).toEqual({ name: 'p', type: 'MaxPooling1D', poolSize: 2, strides: 2 });
    expect(readLayerConfig(lstm)).toEqual({ name: 'l', type: 'LSTM', units: 4, returnSequences: true, dropout: 0, recurrentDropout: 0 });
    model.dispose();
  });

  it('refuses a setting neither implementation computes with the same message in training and in export', () => {
    const model = tf.sequential({
      layers: [tf.layers.conv1d({ inputShape: [8, 2], filters: 2, kernelSize: 2, strides: 2, padding: 'same', name: 'strided' })],
    });
    const message = /layer strided has strides = \[2\]; ser-agent trains and exports only 1 or \[1\]: rebuild the model with that setting/;
    expect(() => readLayerConfig(model.getLayer('strided'))).toThrow(ModelError);
    expect(() => createTrainingGraph(model)).toThrow(message);
    expect(() => exportLayersModel(model, FLOAT_OPS, HEADER)).toThrow(message);
    model.dispose();
  });

  it('refuses an unknown layer type, naming the layer and the nine it handles', () => {
    const model = tf.sequential({ layers: [tf.layers.globalAveragePooling1d({ inputShape: [8, 2], name: 'gap' })] });
    const message = /layer gap is a GlobalAveragePooling1D, which ser-agent neither trains nor exports; it handles Conv1D, .*, Dot layers/;
    expect(() => createTrainingGraph(model)).toThrow(message);
    expect(() => exportLayersModel(model, FLOAT_OPS, HEADER)).toThrow(message);
    model.dispose();
  });
});
