import { EmotionClassifier } from '../model/runtime/classifier.js';
import { ONNX_FILES } from '../model/artifact/onnx-files.js';
import { verifyModelDir } from '../model/artifact/store.js';
import { exportOnnxToModelDir } from '../model/convert/onnx/export-model-dir.js';
import { UsageError } from '../errors.js';
import { quantizeModelDir } from '../model/convert/quantize.js';
import { measureOnnxInt8, measureQuantizedCopy } from '../training/quantization.js';
import { warnAbsentCorpora } from '../training/recorded-split.js';
import { EXIT, featureSource, type Command, type CommandContext, type OptionValues } from './command.js';
import { openClassifier } from './open-classifier.js';
import { choiceOption, refusePositionals, requiredString, stringList } from './options.js';

const percent = (value: number) => `${(value * 100).toFixed(2)}%`;

export const quantizeCommand: Command = {
  usage:
    'ser-agent quantize --model DIR --out DIR [--dtype uint8|float16] [--data DIR...]\n' +
    '       ser-agent quantize --model DIR --format onnx [--dtype int8] [--data DIR...]',
  options: {
    out: { type: 'string' },
    dtype: { type: 'string' },
    format: { type: 'string' },
    data: { type: 'string', multiple: true },
  },
  async run(values, positionals, context) {
    refusePositionals('quantize', positionals, 'use --model DIR --out DIR');
    if (choiceOption(values, 'format', ['tfjs', 'onnx'] as const, 'tfjs') === 'onnx') return quantizeOnnx(values, context);
    const source = context.config.model.path;
    const outDir = requiredString(values, 'out', 'the directory the quantized model is written to');
    const dtype = choiceOption(values, 'dtype', ['uint8', 'float16'] as const, 'uint8');
    const summary = await quantizeModelDir(source, outDir, dtype);
    context.out(
      `${outDir}: ${dtype} weights ${summary.bytesAfter} bytes, float32 ${summary.bytesBefore} bytes ` +
        `(${(summary.bytesBefore / summary.bytesAfter).toFixed(2)}x smaller)`,
    );

    const dataDirs = stringList(values, 'data');
    if (dataDirs.length === 0) return EXIT.ok;
    // With the training data at hand, measure what quantization costs on the held-out files.
    const float = await openClassifier(context, source);
    const quantized = await openClassifier(context, outDir);
    let result: Awaited<ReturnType<typeof measureQuantizedCopy>>;
    try {
      result = await measureQuantizedCopy({ float, quantized }, { source, out: outDir }, dataDirs, featureSource(context), {
        command: context.commandLine,
        dtype,
        sizeRatio: summary.bytesBefore / summary.bytesAfter,
      });
    } finally {
      float.dispose();
      quantized.dispose();
    }
    warnAbsentCorpora(result.absentCorpora, context.err);
    const { measured } = result;
    context.out(
      `test split (${measured.testFiles} files): top-1 agreement ${percent(measured.topOneAgreementWithFloat)}, ` +
        `accuracy float32 ${percent(measured.floatAccuracy)} → ${dtype} ${percent(measured.quantizedAccuracy)}`,
    );
    return EXIT.ok;
  },
};

/**
 * Writes model.int8.onnx beside the tfjs files (and model.onnx if it is missing, so the
 * float32 ONNX model stays available). With --data, measures on the model's held-out split
 * how often int8 and float32 agree on the top class, both accuracies and both speeds, and
 * records them with the int8 file.
 */
async function quantizeOnnx(values: OptionValues, context: CommandContext): Promise<number> {
  if (values['out'] !== undefined) {
    throw new UsageError('--out does not apply to --format onnx: the ONNX files are written into the --model directory beside the tfjs files');
  }
  choiceOption(values, 'dtype', ['int8'] as const, 'int8');
  const dir = context.config.model.path;
  const float = (await verifyModelDir(dir)).metadata.onnx?.find((record) => record.dtype === 'float32');
  const floatRecord = float ?? (await exportOnnxToModelDir(dir, 'float32', context.version)).record;
  if (float === undefined) context.out(`${dir}/${floatRecord.path}: float32 ONNX written first, ${floatRecord.bytes} bytes`);
  const { record } = await exportOnnxToModelDir(dir, 'int8', context.version);
  context.out(
    `${dir}/${record.path}: int8 ONNX ${record.bytes} bytes, float32 ONNX ${floatRecord.bytes} bytes ` +
      `(${(floatRecord.bytes / record.bytes).toFixed(2)}x smaller)`,
  );

  const dataDirs = stringList(values, 'data');
  if (dataDirs.length === 0) return EXIT.ok;
  const logger = context.logger.child({ module: 'backend' });
  const open = (onnxFormat: 'float32' | 'int8') =>
    EmotionClassifier.load(dir, { backend: { preference: 'onnxruntime', logger, threads: context.config.model.threads, onnxFormat } });
  const floatModel = await open('float32');
  const int8Model = await open('int8');
  let result: Awaited<ReturnType<typeof measureOnnxInt8>>;
  try {
    result = await measureOnnxInt8({ float: floatModel, int8: int8Model }, dir, dataDirs, featureSource(context), {
      command: context.commandLine,
      floatBytes: floatRecord.bytes,
      int8Bytes: record.bytes,
      threads: context.config.model.threads,
    });
  } finally {
    floatModel.dispose();
    int8Model.dispose();
  }
  warnAbsentCorpora(result.absentCorpora, context.err);
  const { measured } = result;
  context.out(
    `test split (${measured.testFiles} files): top-1 agreement ${percent(measured.topOneAgreementWithFloat)}, accuracy float32 ` +
      `${percent(measured.floatAccuracy)} → int8 ${percent(measured.int8Accuracy)}; batch-1 inference ` +
      `${measured.floatBatch1MedianMs.toFixed(3)} → ${measured.int8Batch1MedianMs.toFixed(3)} ms median (${measured.threads} thread(s))`,
  );
  context.out(`${dir}: measurements recorded with ${ONNX_FILES.int8} in its metadata and model card`);
  return EXIT.ok;
}
