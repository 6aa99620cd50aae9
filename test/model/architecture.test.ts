import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { buildSeedModel } from '../../src/model/architecture.js';

describe('seed architecture', () => {
  it('has the seed layers, shapes and about 459k parameters', () => {
    const model = buildSeedModel();
    expect(model.inputs[0]?.shape).toEqual([null, 130, 168]);
    expect(model.outputs[0]?.shape).toEqual([null, 7]);
    expect(model.countParams()).toBe(459_335);
    const convs = model.layers.filter((l) => l.getClassName() === 'Conv1D');
    expect(convs.map((l) => l.getConfig()['kernelSize'])).toEqual([[5], [5], [3]]);
    const lstms = model.layers.filter((l) => l.getClassName() === 'LSTM');
    expect(lstms.map((l) => l.getConfig()['recurrentActivation'])).toEqual(['sigmoid', 'sigmoid']);
    model.dispose();
    expect(tf.memory().numTensors).toBe(0);
  });
});
