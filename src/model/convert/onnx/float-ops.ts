import type { OnnxGraphBuilder } from './graph-builder.js';
import type { ConvWeights, DenseWeights, LstmWeights, WeightedOps } from './weighted-ops.js';

/** The layers as standard float32 ONNX operators: Conv, MatMul + Add, LSTM. */
export const FLOAT_OPS: WeightedOps = {
  conv1d(graph: OnnxGraphBuilder, name: string, x: string, w: ConvWeights): string {
    const kernel = graph.constant(`${name}/kernel`, 'float32', [w.outChannels, w.inChannels, w.width], w.kernel);
    const bias = graph.constant(`${name}/bias`, 'float32', [w.outChannels], w.bias);
    return graph.op('Conv', name, [x, kernel, bias], [
      { name: 'kernel_shape', ints: [w.width] },
      { name: 'pads', ints: w.pads },
    ]);
  },

  dense(graph: OnnxGraphBuilder, name: string, x: string, w: DenseWeights): string {
    const kernel = graph.constant(`${name}/kernel`, 'float32', [w.inputs, w.units], w.kernel);
    const bias = graph.constant(`${name}/bias`, 'float32', [w.units], w.bias);
    return graph.op('Add', name, [graph.op('MatMul', name, [x, kernel]), bias]);
  },

  lstm(graph: OnnxGraphBuilder, name: string, x: string, w: LstmWeights) {
    const input = graph.constant(`${name}/W`, 'float32', [1, 4 * w.hidden, w.inputs], w.input);
    const recurrent = graph.constant(`${name}/R`, 'float32', [1, 4 * w.hidden, w.hidden], w.recurrent);
    const bias = graph.constant(`${name}/B`, 'float32', [1, 8 * w.hidden], w.bias);
    // The default activations (sigmoid, tanh, tanh) are those of a Keras LSTM with a true
    // sigmoid recurrent activation, which the exporter checked before getting here.
    const [sequence, last] = graph.node('LSTM', name, [x, input, recurrent, bias], [`${name}/Y`, `${name}/Y_h`], [
      { name: 'hidden_size', int: w.hidden },
      { name: 'direction', string: 'forward' },
    ]);
    return { sequence: sequence as string, last: last as string };
  },
};
