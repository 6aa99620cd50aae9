import { cp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelError } from '../../../src/errors.js';
import { EmotionClassifier } from '../../../src/model/runtime/classifier.js';
import { ONNX_METADATA_KEYS } from '../../../src/model/artifact/onnx-files.js';
import { addOnnxFile, METADATA_FILE, verifyModelDir } from '../../../src/model/artifact/store.js';
import { exportOnnxToModelDir } from '../../../src/model/convert/onnx/export-model-dir.js';
import { encodeOnnxModel } from '../../../src/model/convert/onnx/onnx-proto.js';
import { randomFeatures, recordingLogger, saveRandomSeedModel, scratchDir, useWasm } from '../seed-model-fixture.js';

let scratch: Awaited<ReturnType<typeof scratchDir>>;
let dir: string;
let tfjsOnly: string;

beforeAll(async () => {
  await useWasm();
  scratch = await scratchDir();
  dir = path.join(scratch.dir, 'with-onnx');
  tfjsOnly = path.join(scratch.dir, 'tfjs-only');
  await saveRandomSeedModel(dir);
  await saveRandomSeedModel(tfjsOnly);
  await exportOnnxToModelDir(dir, 'float32', 'test');
  await exportOnnxToModelDir(dir, 'int8', 'test');
});

afterAll(() => scratch.cleanup());

/** A copy of `dir` whose metadata.json has been edited by `edit`. */
async function withMetadata(name: string, edit: (metadata: Record<string, unknown>) => void): Promise<string> {
  const copy = path.join(scratch.dir, name);
  await cp(dir, copy, { recursive: true });
  const metadata = JSON.parse(await readFile(path.join(copy, METADATA_FILE), 'utf8')) as Record<string, unknown>;
  edit(metadata);
  await writeFile(path.join(copy, METADATA_FILE), JSON.stringify(metadata));
  return copy;
}

describe('a model directory with ONNX files', () => {
  it('records both files with hashes, the opset and the weights they came from, and verifies them at load', async () => {
    const verified = await verifyModelDir(dir);
    expect(verified.metadata.onnx?.map((record) => [record.path, record.dtype, record.opset])).toEqual([
      ['model.onnx', 'float32', 17],
      ['model.int8.onnx', 'int8', 17],
    ]);
    for (const record of verified.metadata.onnx ?? []) expect(record.sourceWeightsSha256).toBe(verified.metadata.weights.sha256);
    expect([...verified.onnx.keys()].sort()).toEqual(['float32', 'int8']);
    expect(await readFile(path.join(dir, 'README.md'), 'utf8')).toContain('| model.int8.onnx | int8 weights');
  });

  it('refuses a modified ONNX file, naming it', async () => {
    const copy = await withMetadata('tampered', () => undefined);
    const file = path.join(copy, 'model.int8.onnx');
    const bytes = await readFile(file);
    const at = bytes.length - 10;
    bytes.writeUInt8(bytes.readUInt8(at) ^ 0xff, at);
    await writeFile(file, bytes);
    await expect(verifyModelDir(copy)).rejects.toThrow(/model\.int8\.onnx has sha256 [0-9a-f]{64}, [0-9a-f]{64} was recorded/);
  });

  it('refuses an ONNX file exported from other weights, with the command that re-exports it', async () => {
    const copy = await withMetadata('other-weights', (metadata) => {
      (metadata['onnx'] as Array<Record<string, unknown>>)[0]!['sourceWeightsSha256'] = 'a'.repeat(64);
    });
    await expect(verifyModelDir(copy)).rejects.toThrow(/model\.onnx was exported from weights a{64}, but this model's weights are .*ser-agent export-onnx/);
  });

  it('refuses ONNX bytes whose embedded labels disagree with the metadata', async () => {
    const { metadata } = await verifyModelDir(dir);
    const bytes = encodeOnnxModel({
      producerName: 'elsewhere',
      producerVersion: '0',
      opsets: [{ domain: '', version: 17 }],
      graph: { name: 'g', nodes: [], initializers: [], inputs: [], outputs: [] },
      metadata: { [ONNX_METADATA_KEYS.labels]: '["calm"]', [ONNX_METADATA_KEYS.sourceWeightsSha256]: metadata.weights.sha256 },
    });
    await expect(addOnnxFile(dir, { dtype: 'float32', bytes, opset: 17 })).rejects.toThrow(/says it has labels \["calm"\]/);
  });
});

describe('EmotionClassifier on a model directory with ONNX files', () => {
  it('auto runs the int8 file on onnxruntime, on one thread, and logs it', async () => {
    const logger = recordingLogger();
    const classifier = await EmotionClassifier.load(dir, { backend: { preference: 'auto', logger } });
    expect(classifier.runtime).toEqual({ backend: 'onnxruntime', onnxDtype: 'int8' });
    expect(logger.lines.at(-1)).toMatchObject({ obj: { backend: 'onnxruntime', onnxDtype: 'int8', file: 'model.int8.onnx', threads: 1 } });
    expect(classifier.classifyBatch(randomFeatures(3, 1))).toHaveLength(3);
    classifier.dispose();
  });

  it('auto runs TensorFlow.js on a directory without ONNX files, and says why', async () => {
    const logger = recordingLogger();
    const classifier = await EmotionClassifier.load(tfjsOnly, { backend: { preference: 'auto', logger } });
    expect(classifier.runtime.backend).toBe('wasm');
    expect(logger.lines[0]).toMatchObject({ obj: { backend: 'onnxruntime', reason: expect.stringContaining('has no model.int8.onnx or model.onnx') as unknown } });
    classifier.dispose();
  });

  it('falls back to TensorFlow.js under auto when ONNX Runtime refuses the file, and fails when onnxruntime was asked for', async () => {
    const copy = await withMetadata('unrunnable', () => undefined);
    const { metadata } = await verifyModelDir(copy);
    // Consistent with the directory, so only ONNX Runtime itself can object: a graph with no output.
    const bytes = encodeOnnxModel({
      producerName: 'test',
      producerVersion: '0',
      opsets: [{ domain: '', version: 17 }],
      graph: { name: 'g', nodes: [], initializers: [], inputs: [], outputs: [] },
      metadata: { [ONNX_METADATA_KEYS.labels]: JSON.stringify(metadata.labels), [ONNX_METADATA_KEYS.sourceWeightsSha256]: metadata.weights.sha256 },
    });
    await addOnnxFile(copy, { dtype: 'int8', bytes, opset: 17 });

    const logger = recordingLogger();
    const classifier = await EmotionClassifier.load(copy, { backend: { preference: 'auto', logger } });
    expect(classifier.runtime.backend).toBe('wasm');
    expect(logger.lines.find((line) => line.level === 'warn')).toMatchObject({
      obj: { backend: 'onnxruntime', reason: expect.stringContaining('ONNX Runtime cannot run model.int8.onnx') as unknown },
    });
    classifier.dispose();
    await expect(
      EmotionClassifier.load(copy, { backend: { preference: 'onnxruntime', logger: recordingLogger() } }),
    ).rejects.toBeInstanceOf(ModelError);
  });
});
