import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildSeedModel } from '../../src/model/architecture.js';
import { useWasm } from './seed-model-fixture.js';

describe('seed architecture', () => {
  beforeAll(useWasm);

  it('has the seed layers, shapes and about 459k parameters, and frees every tensor on dispose', () => {
    const before = tf.memory().numTensors;
    const model = buildSeedModel();
    expect(model.inputs[0]?.shape).toEqual([null, 130, 168]);
    expect(model.outputs[0]?.shape).toEqual([null, 7]);
    expect(model.countParams()).toBe(459_335);
    const convs = model.layers.filter((l) => l.getClassName() === 'Conv1D');
    expect(convs.map((l) => l.getConfig()['kernelSize'])).toEqual([[5], [5], [3]]);
    const lstms = model.layers.filter((l) => l.getClassName() === 'LSTM');
    expect(lstms.map((l) => l.getConfig()['recurrentActivation'])).toEqual(['sigmoid', 'sigmoid']);
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
