import { exportOnnxToModelDir } from '../model/convert/onnx/export-model-dir.js';
import { EXIT, type Command } from './command.js';
import { refusePositionals } from './options.js';

export const exportOnnxCommand: Command = {
  usage: 'ser-agent export-onnx [--model DIR]',
  options: {},
  async run(_values, positionals, context) {
    refusePositionals('export-onnx', positionals, 'use --model DIR');
    const dir = context.config.model.path;
    const { record, tfjsWeightBytes } = await exportOnnxToModelDir(dir, 'float32', context.version);
    context.out(
      `${dir}/${record.path}: float32 ONNX (opset ${record.opset}), ${record.bytes} bytes, sha256 ${record.sha256}; ` +
        `exported from tfjs weights ${record.sourceWeightsSha256} (${tfjsWeightBytes} bytes), which stay in place`,
    );
    return EXIT.ok;
  },
};
