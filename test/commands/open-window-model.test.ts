import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openWindowModel, withSpeechGate, type WindowModel } from '../../src/commands/open-window-model.js';
import { loadConfig, type ConfigOverrides } from '../../src/config/load.js';
import { CLIP_SAMPLES } from '../../src/dsp/constants.js';
import { ModelError } from '../../src/errors.js';
import { captureLogs } from '../helpers/logs.js';
import { REPO_ROOT } from '../helpers/cli.js';

/**
 * The model side of the daemon's pipeline as start-up and every reload build it, on copies of
 * the shipped model: what is kept, what is built anew, and what is refused.
 */
let work: string;
let modelDir: string;
const opened: WindowModel[] = [];

function config(overrides: ConfigOverrides = {}) {
  return loadConfig({
    env: {},
    installDir: REPO_ROOT,
    systemFile: '/nonexistent/etc/ser-agent/config.json',
    homeDir: '/home/test',
    hostname: 'box',
    overrides: { ...overrides, model: { path: modelDir, ...overrides.model } },
  });
}

async function open(overrides: ConfigOverrides = {}, previous?: WindowModel): Promise<WindowModel> {
  const model = await openWindowModel(config(overrides), captureLogs().logger, previous);
  opened.push(model);
  return model;
}

/** A loud 3 s window: the speech gate may turn it away, but it must run. */
function loudWindow(): Float32Array {
  return new Float32Array(CLIP_SAMPLES).map((_, i) => 0.3 * Math.sin((2 * Math.PI * 220 * i) / 22_050));
}

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'ser-window-model-'));
  modelDir = path.join(work, 'model');
  await cp(path.join(REPO_ROOT, 'models', 'ser-cnn-lstm'), modelDir, { recursive: true });
});

afterAll(async () => {
  for (const resource of new Set(opened.flatMap((model) => model.resources))) resource.dispose();
  await rm(work, { recursive: true, force: true });
});

describe('openWindowModel', () => {
  it('loads the emotion model and the speech gate, naming the model by its metadata and weights', async () => {
    const model = await open();
    const metadata = JSON.parse(await readFile(path.join(modelDir, 'metadata.json'), 'utf8')) as {
      name: string;
      version: string;
      weights: { sha256: string };
    };
    expect(model.identity).toEqual({ name: metadata.name, version: metadata.version, sha256: metadata.weights.sha256 });
    expect(model.resources).toEqual([model.classifier.instance, model.speechGate?.gate.detector]);
    expect(['classified', 'non_speech']).toContain(model.windowClassifier.classify(loudWindow()).outcome);
  });

  it('keeps the running model when the configuration and the files ask for the same', async () => {
    const running = await open();
    expect(await open({}, running)).toBe(running);
  });

  it('changes only the threshold when only window.minSpeechRatio changes, keeping the model and the detector', async () => {
    const running = await open();
    const next = await open({ window: { minSpeechRatio: 0.6 } }, running);
    expect(next).not.toBe(running);
    expect(next.classifier).toBe(running.classifier);
    expect(next.speechGate?.gate.detector).toBe(running.speechGate?.gate.detector);
    expect(next.speechGate?.gate.minSpeechRatio).toBe(0.6);
    const off = await open({ window: { minSpeechRatio: 0 } }, next);
    expect(off.speechGate).toBeUndefined();
    expect(off.resources).toEqual([running.classifier.instance]);
  });

  it('builds a new classifier for a changed model directory, keeping the detector', async () => {
    const running = await open();
    const metadataFile = path.join(modelDir, 'metadata.json');
    const original = await readFile(metadataFile, 'utf8');
    try {
      await writeFile(metadataFile, JSON.stringify({ ...(JSON.parse(original) as object), version: '1.0.1-site' }));
      const next = await open({}, running);
      expect(next.classifier.instance).not.toBe(running.classifier.instance);
      expect(next.identity).toEqual({ ...running.identity, version: '1.0.1-site' });
      expect(next.speechGate).toBe(running.speechGate);
      expect(next.windowClassifier.classify(loudWindow()).outcome).toBeDefined();
    } finally {
      await writeFile(metadataFile, original);
    }
  });

  it('builds a new classifier for another backend choice on the same files', async () => {
    const running = await open({ model: { onnxFormat: 'int8' } });
    const next = await open({ model: { onnxFormat: 'float32' } }, running);
    expect(next.classifier.instance).not.toBe(running.classifier.instance);
    expect(next.classifier.instance.runtime).toMatchObject({ backend: 'onnxruntime', onnxDtype: 'float32' });
  });

  it('refuses weights that do not match their hashes, and leaves the running model working', async () => {
    const running = await open();
    const weights = path.join(modelDir, 'group1-shard1of1.bin');
    const original = await readFile(weights);
    try {
      const damaged = Buffer.from(original);
      damaged[1000] = (damaged[1000] ?? 0) ^ 0xff;
      await writeFile(weights, damaged);
      const failure = open({}, running);
      await expect(failure).rejects.toBeInstanceOf(ModelError);
      await expect(failure).rejects.toThrow(/group1-shard1of1\.bin has sha256 [0-9a-f]{64}, [0-9a-f]{64} was recorded: modified or corrupted/);
      expect(running.windowClassifier.classify(loudWindow()).outcome).toBeDefined();
    } finally {
      await writeFile(weights, original);
    }
  });

  it('refuses a speech model that does not load', async () => {
    const running = await open();
    const vad = path.join(work, 'not-a-vad.onnx');
    await writeFile(vad, 'not an onnx file');
    await expect(open({ window: { speechModel: vad } }, running)).rejects.toThrow(/speech model .*not-a-vad\.onnx does not load in ONNX Runtime/);
    expect(running.windowClassifier.classify(loudWindow()).outcome).toBeDefined();
  });
});

describe('withSpeechGate (window.minSpeechRatio changed over MQTT)', () => {
  async function gate(running: WindowModel, minSpeechRatio: number, speechModel = config().window.speechModel): Promise<WindowModel> {
    const model = await withSpeechGate(running, { minSpeechRatio, speechModel }, captureLogs().logger);
    opened.push(model);
    return model;
  }

  it('loads the detector to turn the gate on, keeping the emotion model and its identity; the same ratio keeps the model', async () => {
    const running = await open({ window: { minSpeechRatio: 0 } });
    expect(running.speechGate).toBeUndefined();
    const on = await gate(running, 0.5);
    expect(on.classifier).toBe(running.classifier);
    expect(on.identity).toBe(running.identity);
    expect(on.speechGate?.gate.minSpeechRatio).toBe(0.5);
    expect(on.resources).toEqual([running.classifier.instance, on.speechGate?.gate.detector]);
    // A loud tone is no speech: the window is turned away now.
    expect(on.windowClassifier.classify(loudWindow())).toMatchObject({ outcome: 'non_speech' });
    expect(running.windowClassifier.classify(loudWindow()).outcome).toBe('classified');
    expect(await gate(on, 0.5)).toBe(on);
  });

  it('keeps the detector for another ratio, and drops it to turn the gate off', async () => {
    const on = await gate(await open({ window: { minSpeechRatio: 0 } }), 0.5);
    const stricter = await gate(on, 0.8);
    expect(stricter.speechGate?.gate.detector).toBe(on.speechGate?.gate.detector);
    expect(stricter.speechGate?.gate.meter).toBe(on.speechGate?.gate.meter);
    const off = await gate(stricter, 0);
    expect(off.speechGate).toBeUndefined();
    expect(off.resources).toEqual([on.classifier.instance]);
    expect(off.windowClassifier.classify(loudWindow()).outcome).toBe('classified');
    expect(await gate(off, 0)).toBe(off);
  });

  it('refuses to turn the gate on when the speech model cannot be read, naming the file and the fix', async () => {
    const running = await open({ window: { minSpeechRatio: 0 } });
    const missing = path.join(work, 'missing-vad.onnx');
    await expect(gate(running, 0.5, missing)).rejects.toThrow(
      new RegExp(`speech model ${missing.replaceAll('.', '\\.')} cannot be read .*; set window\\.speechModel to a Silero VAD`),
    );
    expect(running.windowClassifier.classify(loudWindow()).outcome).toBe('classified');
  });
});
