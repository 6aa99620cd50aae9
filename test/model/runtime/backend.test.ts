import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { BackendError } from '../../../src/errors.js';
import { selectBackend } from '../../../src/model/runtime/backend.js';
import { recordingLogger } from '../seed-model-fixture.js';

// The real failure when tfjs-node is installed but its native binary is not.
const missingBinding = (): Promise<unknown> =>
  Promise.reject(new Error("Cannot find module '.../lib/napi-v8/tfjs_binding.node'"));

describe('selectBackend on this machine (tfjs-node not installed)', () => {
  afterAll(() => {
    if (tf.findBackendFactory('tensorflow') !== null) tf.removeBackend('tensorflow');
  });

  it('auto skips tfjs-node with the reason, logs it, and runs on wasm with SIMD reported', async () => {
    const logger = recordingLogger();
    const selection = await selectBackend('auto', logger);
    expect(selection.name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(selection.skipped).toEqual([
      { backend: 'tfjs-node', reason: expect.stringContaining('@tensorflow/tfjs-node is not installed') as unknown },
    ]);
    expect(typeof selection.simd).toBe('boolean');
    expect(logger.lines[0]).toMatchObject({ level: 'info', obj: { backend: 'tfjs-node', reason: selection.skipped[0]?.reason } });
    expect(logger.lines[1]).toMatchObject({ obj: { backend: 'wasm', simd: selection.simd } });
    expect(logger.lines).toHaveLength(2);
  });

  it('returns the same selection on a second call without re-initialising or logging', async () => {
    const first = await selectBackend('auto', recordingLogger());
    const logger = recordingLogger();
    const second = await selectBackend('auto', logger);
    expect(second).toBe(first);
    expect(logger.lines).toEqual([]);
  });

  it('runs on cpu when asked, and goes back to wasm for auto', async () => {
    const cpu = await selectBackend('cpu', recordingLogger());
    expect(cpu).toEqual({ name: 'cpu', skipped: [] });
    expect(tf.getBackend()).toBe('cpu');
    expect(tf.tidy(() => tf.add(1, 2).dataSync()[0])).toBe(3);
    const auto = await selectBackend('auto', recordingLogger());
    expect(auto.name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
  });

  it('refuses an explicit tfjs-node with the reason and the fix', async () => {
    const attempt = selectBackend('tfjs-node', recordingLogger());
    await expect(attempt).rejects.toBeInstanceOf(BackendError);
    await expect(attempt).rejects.toMatchObject({
      code: 'BACKEND',
      message: expect.stringMatching(/tfjs-node' cannot be initialised: .*not installed.*npm install @tensorflow\/tfjs-node/) as unknown,
    });
    expect(tf.getBackend()).toBe('wasm');
  });

  it('reports a tfjs-node whose native binding fails to load, explicitly and under auto', async () => {
    await expect(selectBackend('tfjs-node', recordingLogger(), { importTfjsNode: missingBinding })).rejects.toThrow(
      /does not load: Cannot find module .*tfjs_binding\.node/,
    );
    // A different preference than last time, so the selection really runs again.
    await selectBackend('cpu', recordingLogger());
    const auto = await selectBackend('auto', recordingLogger(), { importTfjsNode: missingBinding });
    expect(auto.name).toBe('wasm');
    expect(auto.skipped[0]?.reason).toMatch(/tfjs_binding\.node/);
  });

  it('uses tfjs-node first when it loads and registers its backend', async () => {
    // Leave 'auto' first, or the wasm selection already made for it would be returned.
    await selectBackend('cpu', recordingLogger());
    const registerNativeStandIn = (): Promise<unknown> => {
      // What importing tfjs-node does: register a 'tensorflow' backend above wasm's priority.
      tf.registerBackend('tensorflow', () => new tf.MathBackendCPU(), 3);
      return Promise.resolve();
    };
    const logger = recordingLogger();
    const selection = await selectBackend('auto', logger, { importTfjsNode: registerNativeStandIn });
    expect(selection).toEqual({ name: 'tfjs-node', skipped: [] });
    expect(tf.getBackend()).toBe('tensorflow');
    expect(logger.lines).toEqual([{ level: 'info', obj: { backend: 'tfjs-node' }, msg: 'using the tfjs-node backend' }]);
  });
});

describe('selectBackend with onnxruntime', () => {
  const withOnnx = { onnxModel: { available: true } } as const;

  it('auto takes onnxruntime when the model has an ONNX file and the binary loads, leaving tfjs alone', async () => {
    await selectBackend('cpu', recordingLogger());
    const logger = recordingLogger();
    const selection = await selectBackend('auto', logger, withOnnx);
    expect(selection).toEqual({ name: 'onnxruntime', skipped: [] });
    expect(tf.getBackend()).toBe('cpu');
    expect(logger.lines).toEqual([{ level: 'info', obj: { backend: 'onnxruntime' }, msg: 'using the onnxruntime backend' }]);
  });

  it('auto skips onnxruntime, saying why, when the model has no ONNX file or the binary does not load', async () => {
    const noFile = await selectBackend('auto', recordingLogger(), {
      onnxModel: { available: false, reason: 'the model directory has no model.onnx' },
    });
    expect(noFile.skipped[0]).toEqual({ backend: 'onnxruntime', reason: 'the model directory has no model.onnx' });
    expect(noFile.name).not.toBe('onnxruntime');

    const logger = recordingLogger();
    const brokenBinary = await selectBackend('auto', logger, {
      ...withOnnx,
      loadOnnxRuntime: () => Promise.reject(new Error("onnxruntime-node's native binary for linux-riscv64 does not load")),
    });
    expect(brokenBinary.skipped[0]).toEqual({ backend: 'onnxruntime', reason: expect.stringContaining('linux-riscv64') as unknown });
    expect(logger.lines[0]).toMatchObject({ level: 'info', obj: { backend: 'onnxruntime' }, msg: 'skipping the onnxruntime backend' });
  });

  it('refuses an explicit onnxruntime without an ONNX model, with the reason and the fix', async () => {
    await expect(
      selectBackend('onnxruntime', recordingLogger(), { onnxModel: { available: false, reason: 'the model directory has no model.onnx' } }),
    ).rejects.toThrow(/backend 'onnxruntime' cannot be initialised: the model directory has no model\.onnx; .*ser-agent export-onnx/);
  });
});
