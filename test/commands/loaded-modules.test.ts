import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { DATASETS_DIR } from '../helpers/golden.js';

/**
 * What each command really loads, recorded by a loader hook in the real `ser-agent` process
 * (test/helpers/module-recorder.js): the daemon on onnxruntime must not carry TensorFlow.js,
 * the report renderer (vega), the progress bar or the training code on a 512 MB board.
 */
const SPEECH = path.join(DATASETS_DIR, 'ravdess', 'Actor_17', '03-01-05-01-01-01-17.flac');
const RECORDER = path.join(REPO_ROOT, 'test', 'helpers', 'module-recorder.js');
const DEVICE_ID = 'modules-box';
const TOOLBOX_ONLY = [/\/node_modules\/@tensorflow\//, /\/node_modules\/vega/, /\/node_modules\/cli-progress\//, /\/src\/training\//];
/** Loaded only when needed: the embedded broker (mqtt.url is set here) and the MP3 decoder (the input is FLAC). */
const NOT_NEEDED_HERE = [/\/node_modules\/aedes\//, /\/node_modules\/mpg123-decoder\//];

let work: string;
let broker: TestBroker;

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'ser-modules-'));
  broker = await startTestBroker();
});

afterAll(async () => {
  await broker.close();
  await rm(work, { recursive: true, force: true });
});

/** Runs `ser-agent ARGS` with the module recorder; resolves to its exit code, stderr and the URLs it loaded. */
async function runRecorded(name: string, args: readonly string[]): Promise<{ code: number; stderr: string; modules: string[] }> {
  const record = path.join(work, `${name}.modules`);
  await writeFile(record, '');
  const { code, stderr } = await new Promise<{ code: number; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      ['--import', RECORDER, path.join(REPO_ROOT, 'bin', 'ser-agent.js'), ...args],
      { cwd: REPO_ROOT, env: { ...process.env, SER_MODULE_RECORD: record }, maxBuffer: 64 * 1024 * 1024 },
      (error, _stdout, stderrText) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stderr: stderrText }),
    );
  });
  return { code, stderr, modules: [...new Set((await readFile(record, 'utf8')).split('\n').filter(Boolean))] };
}

describe('modules each command loads', () => {
  it('run on onnxruntime classifies speech and publishes without loading TensorFlow.js, vega, cli-progress or training code', async () => {
    const config = path.join(work, 'daemon.json');
    await writeFile(
      config,
      JSON.stringify({
        deviceId: DEVICE_ID,
        mqtt: { url: broker.url, healthSeconds: 0.5, discovery: { enabled: false } },
        model: { backend: 'onnxruntime' },
        gpio: { driver: 'simulated' },
        state: { directory: path.join(work, 'state') },
      }),
    );
    const subscriber = await mqtt.connectAsync(broker.url, { clientId: 'modules-subscriber' });
    const received: Array<{ topic: string; payload: Record<string, unknown> }> = [];
    subscriber.on('message', (topic, payload) => received.push({ topic, payload: JSON.parse(payload.toString()) as Record<string, unknown> }));
    await subscriber.subscribeAsync([`ser/${DEVICE_ID}/event`, `ser/${DEVICE_ID}/health`]);

    const daemon = await runRecorded('run', ['run', '--config', config, '--input', SPEECH]);
    await subscriber.endAsync();

    expect(daemon.code, daemon.stderr).toBe(0);
    // The recorder sees the daemon's own modules and the CommonJS packages it requires.
    expect(daemon.modules.some((url) => url.endsWith('/dist/src/commands/run.js'))).toBe(true);
    expect(daemon.modules.some((url) => url.includes('/node_modules/onnxruntime-node/'))).toBe(true);
    expect(daemon.modules.filter((url) => TOOLBOX_ONLY.some((pattern) => pattern.test(url)))).toEqual([]);
    expect(daemon.modules.filter((url) => NOT_NEEDED_HERE.some((pattern) => pattern.test(url)))).toEqual([]);
    expect(received.filter((message) => message.topic.endsWith('/event')).length).toBeGreaterThan(0);
    // The health report's tensor count comes from the engine: onnxruntime makes no TensorFlow.js tensors.
    const health = received.filter((message) => message.topic.endsWith('/health')).map((message) => message.payload['process']);
    expect(health.length).toBeGreaterThan(0);
    expect(health).toContainEqual(expect.objectContaining({ tensors: 0 }));
  });

  it('classify --timeline on onnxruntime loads the chart renderer (vega) only for --report', async () => {
    const vega = (modules: readonly string[]) => modules.filter((url) => /\/node_modules\/vega/.test(url));
    const plain = await runRecorded('classify-timeline', ['classify', '--backend', 'onnxruntime', '--timeline', SPEECH]);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.modules.filter((url) => TOOLBOX_ONLY.some((pattern) => pattern.test(url)))).toEqual([]);
    const report = await runRecorded('classify-report', ['classify', '--backend', 'onnxruntime', '--timeline', '--report', path.join(work, 'timeline'), SPEECH]);
    expect(report.code, report.stderr).toBe(0);
    expect(vega(report.modules).length).toBeGreaterThan(0);
  });

  it('classify on wasm loads TensorFlow.js, so the recorder would see it in the daemon too', async () => {
    const classify = await runRecorded('classify', ['classify', '--backend', 'wasm', SPEECH]);

    expect(classify.code, classify.stderr).toBe(0);
    expect(classify.modules.some((url) => url.includes('/node_modules/@tensorflow/tfjs-core/'))).toBe(true);
    expect(classify.modules.some((url) => url.includes('/node_modules/@tensorflow/tfjs-backend-wasm/'))).toBe(true);
  });
});
