import { spawn, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EmotionEvent, HealthReport } from '../../src/mqtt/payloads.js';
import { startAgentProcess, waitFor, type AgentProcess } from '../helpers/agent-process.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { DATASETS_DIR } from '../helpers/golden.js';
import { freePort } from '../helpers/ports.js';
import { byLabel, scrape } from '../helpers/prometheus.js';

/**
 * Reloading without a restart, end to end: the real `ser-agent run` replaying speech in real
 * time (`--input`), a copy of the shipped model, a real broker (Aedes) and a subscriber acting
 * as Home Assistant. SIGHUP, as `systemctl reload` sends it, after the model files were
 * overwritten with garbage, after another valid model was put in their place, after the
 * configuration file changed, and after it stopped validating.
 */
const DEVICE_ID = 'reload-box';
const BASE = `ser/${DEVICE_ID}`;
/** 1.6 s each; repeated so the replay outlasts the test (which stops the agent itself). */
const SPEECH = path.join(DATASETS_DIR, 'tess', 'OAF_angry', 'OAF_bath_angry.flac');
const REPLAYS = 120;
const SHIPPED_MODEL = path.join(REPO_ROOT, 'models', 'ser-cnn-lstm');
/** A loaded CI machine can take a while to load the model and classify the first windows. */
const PATIENCE_MS = 120_000;
const REFUSED = 'reload refused; still running on the previous configuration and model';

interface Received {
  topic: string;
  payload: string;
  at: number;
}

let work: string;
let modelDir: string;
let configFile: string;
let broker: TestBroker;
let subscriber: MqttClient;
let agent: AgentProcess;
const messages: Received[] = [];
let shipped: { name: string; version: string; sha256: string };
let metricsPort: number;

const on = (suffix: string) => messages.filter((message) => message.topic === `${BASE}/${suffix}`);
const events = () => on('event').map((message) => JSON.parse(message.payload) as EmotionEvent);
const lastHealth = () => JSON.parse(on('health').at(-1)?.payload ?? 'null') as HealthReport | null;

/** The config file the agent reads, with `window` merged over the test's defaults. */
async function writeConfig(changes: Record<string, unknown> = {}): Promise<void> {
  const base = {
    deviceId: DEVICE_ID,
    mqtt: { url: broker.url, healthSeconds: 1 },
    // A window every second, so a change shows within a few.
    window: { hopSeconds: 1 },
    gpio: { driver: 'simulated' },
    state: { directory: path.join(work, 'state') },
    model: { path: modelDir },
    metrics: { port: metricsPort },
  };
  await writeFile(configFile, JSON.stringify({ ...base, ...changes }));
}

/** Sends SIGHUP and waits for the reload's outcome in the log (`msg`), returning that line. */
async function reload(msg: 'reloaded' | typeof REFUSED): Promise<Record<string, unknown>> {
  const before = agent.logged(msg).length;
  agent.process.kill('SIGHUP');
  return waitFor(`the log line "${msg}"`, () => agent.logged(msg)[before], PATIENCE_MS);
}

/** The reloads counted on the agent's Prometheus endpoint, by outcome. */
async function reloadsCounted(): Promise<Record<string, number>> {
  return byLabel((await scrape(`http://127.0.0.1:${metricsPort}/metrics`)).families, 'ser_reloads_total', 'outcome');
}

/** Waits until `count` more events than now have arrived. */
async function moreEvents(count: number): Promise<void> {
  const target = on('event').length + count;
  await waitFor(`${count} more events`, () => (on('event').length >= target ? true : undefined), PATIENCE_MS);
}

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'ser-reload-e2e-'));
  modelDir = path.join(work, 'model');
  await cp(SHIPPED_MODEL, modelDir, { recursive: true });
  const metadata = JSON.parse(await readFile(path.join(modelDir, 'metadata.json'), 'utf8')) as {
    name: string;
    version: string;
    weights: { sha256: string };
  };
  shipped = { name: metadata.name, version: metadata.version, sha256: metadata.weights.sha256 };
  broker = await startTestBroker();
  metricsPort = await freePort();
  subscriber = await mqtt.connectAsync(broker.url, { clientId: 'reload-e2e-home-assistant' });
  subscriber.on('message', (topic, payload) => messages.push({ topic, payload: payload.toString(), at: Date.now() }));
  await subscriber.subscribeAsync([`${BASE}/#`, `homeassistant/+/${DEVICE_ID}/#`], { qos: 1 });
  configFile = path.join(work, 'config.json');
  await writeConfig();
  agent = startAgentProcess(['run', '--config', configFile, '--input', ...Array.from({ length: REPLAYS }, () => SPEECH)], {
    SER_CACHE_DIR: path.join(work, 'cache'),
  });
  await waitFor('the first event', () => on('event')[0], PATIENCE_MS);
});

afterAll(async () => {
  await agent.stop();
  await subscriber.endAsync();
  await broker.close();
  await rm(work, { recursive: true, force: true });
});

describe('ser-agent run reloading on SIGHUP', { timeout: 300_000 }, () => {
  it('shows the running model in the health report and on the Home Assistant device', async () => {
    const health = await waitFor('a health report', () => lastHealth() ?? undefined, PATIENCE_MS);
    expect(health.model).toEqual(shipped);
    expect(health.reload).toBeNull();
    expect(events()[0]?.model).toEqual(shipped);
    const config = messages.find((m) => m.topic === `homeassistant/sensor/${DEVICE_ID}/emotion/config`);
    const discovery = JSON.parse(config?.payload ?? '{}') as { device?: Record<string, unknown> };
    expect(discovery.device).toMatchObject({ model: `${shipped.name} ${shipped.version}`, model_id: shipped.sha256 });
  });

  it('refuses a model whose files were overwritten with garbage, and goes on publishing with the one it has', async () => {
    for (const file of await readdir(modelDir)) {
      if (file !== 'README.md') await writeFile(path.join(modelDir, file), randomBytes(1000));
    }
    const refused = await reload(REFUSED);
    expect(refused).toMatchObject({ module: 'reload', level: 50 });
    expect(String(refused['reason'])).toMatch(/^model: .*metadata\.json is not valid JSON/);
    expect(agent.process.exitCode).toBeNull();

    const refusedAt = Date.parse(String(refused['time']));
    await moreEvents(3);
    for (const event of events().filter((e) => Date.parse(e.windowEnd) > refusedAt)) expect(event.model).toEqual(shipped);
    const health = await waitFor('a health report naming the refusal', () => {
      const report = lastHealth();
      return report?.reload?.outcome === 'refused' ? report : undefined;
    });
    expect(health.model).toEqual(shipped);
    expect(health.reload).toMatchObject({ outcome: 'refused', modelChanged: false, reason: refused['reason'] });
    expect(await reloadsCounted()).toEqual({ ok: 0, refused: 1 });
  });

  it('uses a valid model put in its place from the next window on, and says so in health and on the device', async () => {
    // Another valid model that differs observably: the shipped one under a site's name and version.
    const staged = path.join(work, 'model-b');
    await cp(SHIPPED_MODEL, staged, { recursive: true });
    const metadata = JSON.parse(await readFile(path.join(staged, 'metadata.json'), 'utf8')) as Record<string, unknown>;
    await writeFile(path.join(staged, 'metadata.json'), JSON.stringify({ ...metadata, name: 'ser-cnn-lstm-lobby', version: '1.0.0-site.2' }));
    await rm(modelDir, { recursive: true });
    await cp(staged, modelDir, { recursive: true });
    const siteModel = { name: 'ser-cnn-lstm-lobby', version: '1.0.0-site.2', sha256: shipped.sha256 };

    const reloaded = await reload('reloaded');
    expect(reloaded).toMatchObject({ module: 'reload', modelChanged: true, model: siteModel, needsRestart: [] });
    const replaced = agent.logged('model replaced: the next window runs on it').at(-1) as Record<string, unknown>;
    const replacedAt = Date.parse(String(replaced['time']));

    // A window that ended before the swap may have been in inference on the old model, and its
    // event may arrive after the swap; every window that ended after it ran on the new one.
    const after = await waitFor(
      '3 events of windows ended after the swap',
      () => {
        const found = events().filter((event) => Date.parse(event.windowEnd) > replacedAt);
        return found.length >= 3 ? found : undefined;
      },
      PATIENCE_MS,
    );
    for (const event of after) expect(event.model).toEqual(siteModel);
    for (const event of events().filter((e) => e.model.name === shipped.name).slice(-3)) {
      expect(Date.parse(event.windowEnd)).toBeLessThanOrEqual(replacedAt);
    }

    const health = await waitFor('a health report naming the new model', () => {
      const report = lastHealth();
      return report?.model.name === siteModel.name ? report : undefined;
    });
    expect(health.model).toEqual(siteModel);
    expect(health.reload).toMatchObject({ outcome: 'ok', reason: null, modelChanged: true });
    expect(await reloadsCounted()).toEqual({ ok: 1, refused: 1 });
    const device = await waitFor('the discovery configs naming the new model', () => {
      const config = messages.filter((m) => m.topic === `homeassistant/sensor/${DEVICE_ID}/emotion/config`).at(-1);
      const parsed = JSON.parse(config?.payload ?? '{}') as { device?: Record<string, unknown> };
      return parsed.device?.['model'] === `${siteModel.name} ${siteModel.version}` ? parsed.device : undefined;
    });
    expect(device).toMatchObject({ model_id: siteModel.sha256, sw_version: expect.any(String) as unknown });
  });

  it('applies the settings a reload can change at once, and names those that need a restart without touching them', async () => {
    const settingsBefore = on('settings').length;
    await writeConfig({
      window: { hopSeconds: 1, smoothing: 'mean', smoothingWindows: 2 },
      // Restart-only: the agent goes on publishing under ser/ and from its replay.
      mqtt: { url: broker.url, healthSeconds: 1, topicPrefix: 'elsewhere' },
      audio: { device: 'plughw:9,0' },
    });
    const reloaded = await reload('reloaded');
    expect(reloaded).toMatchObject({ modelChanged: false, needsRestart: ['mqtt.topicPrefix', 'audio.device'] });
    expect(reloaded['applied']).toEqual(['window.smoothing: "none" → "mean"', 'window.smoothingWindows: 3 → 2']);
    const warning = agent.lines.filter((line) => String(line['msg']).startsWith('changed in the configuration file but needs a restart: ')).at(-1);
    expect(warning).toMatchObject({ level: 40, needsRestart: ['mqtt.topicPrefix: "ser" → "elsewhere"', 'audio.device: "default" → "plughw:9,0"'] });
    expect(String(warning?.['msg'])).toContain('mqtt.topicPrefix, audio.device');

    const settings = await waitFor('the settings published again', () => on('settings')[settingsBefore]);
    expect(JSON.parse(settings.payload)).toMatchObject({ 'window.smoothing': 'mean', 'window.smoothingWindows': 2 });
    await moreEvents(2);
    expect(messages.some((message) => message.topic.startsWith('elsewhere/'))).toBe(false);
    const health = await waitFor('a health report with the restart-only keys', () => {
      const report = lastHealth();
      return report?.reload?.needsRestart.length === 2 ? report : undefined;
    });
    expect(health.reload).toMatchObject({ outcome: 'ok', applied: ['window.smoothing', 'window.smoothingWindows'] });
  });

  it('refuses a configuration file that no longer validates, naming the key, and runs on with the old one', async () => {
    const settingsBefore = on('settings').length;
    await writeConfig({ window: { hopSeconds: 1, smoothing: 'mean', smoothingWindows: 2, minConfidence: 'high' } });
    const refused = await reload(REFUSED);
    expect(String(refused['reason'])).toMatch(/^configuration: invalid configuration:\n {2}window\.minConfidence: must be a number from 0 to 1/);
    await moreEvents(2);
    expect(on('settings')).toHaveLength(settingsBefore);
    const health = await waitFor('a health report naming the refused configuration', () => {
      const report = lastHealth();
      return report?.reload?.reason?.startsWith('configuration:') === true ? report : undefined;
    });
    expect(health.reload).toMatchObject({ outcome: 'refused', applied: [], needsRestart: [] });
    expect(health.model.name).toBe('ser-cnn-lstm-lobby');
    expect(agent.process.exitCode).toBeNull();
  });

  it('stops cleanly afterwards', async () => {
    expect((await agent.stop()).code).toBe(0);
  });
});

describe('SIGHUP around start-up, and for other commands', { timeout: 300_000 }, () => {
  it('holds a reload asked for while the agent is still starting, and carries it out once it runs', async () => {
    const config = path.join(work, 'early.json');
    await writeFile(
      config,
      JSON.stringify({
        deviceId: 'early-box',
        mqtt: { url: broker.url },
        gpio: { driver: 'simulated' },
        state: { directory: path.join(work, 'early-state') },
      }),
    );
    const early = startAgentProcess(['run', '--config', config, '--input', SPEECH, SPEECH], { SER_CACHE_DIR: path.join(work, 'cache') });
    try {
      // Its first log line: the command runs and listens for SIGHUP, but the model is not loaded yet.
      await waitFor('the first log line', () => early.lines[0], PATIENCE_MS);
      early.process.kill('SIGHUP');
      const reloaded = await waitFor('the held reload', () => early.logged('reloaded')[0], PATIENCE_MS);
      const index = (line: Record<string, unknown> | undefined) => early.lines.indexOf(line as Record<string, unknown>);
      const held = early.logged('reload asked for before start-up finished: it runs once the agent is running')[0];
      const listening = early.logged('listening')[0];
      expect(held).toBeDefined();
      expect(index(held)).toBeLessThan(index(listening));
      expect(index(listening)).toBeLessThan(index(reloaded));
      expect(reloaded).toMatchObject({ modelChanged: false, applied: [], needsRestart: [] });
      expect((await early.stop()).code).toBe(0);
    } finally {
      await early.stop();
    }
  });

  it('still ends a one-shot command, as SIGHUP always did', async () => {
    // A named pipe nobody writes to: classify waits on it, after loading its models.
    const fifo = path.join(work, 'waiting.wav');
    execFileSync('mkfifo', [fifo]);
    const classify = spawn(
      process.execPath,
      [path.join(REPO_ROOT, 'bin', 'ser-agent.js'), 'classify', '--log-level', 'info', '--log-format', 'json', fifo],
      { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    classify.stderr.on('data', (data: Buffer) => {
      stderr += data.toString();
    });
    const exit = new Promise<NodeJS.Signals | null>((resolve) => classify.once('close', (_code, signal) => resolve(signal)));
    await waitFor('classify waiting on its input', () => (stderr.includes('speech gate loaded') ? true : undefined), PATIENCE_MS);
    classify.kill('SIGHUP');
    expect(await exit).toBe('SIGHUP');
  });
});
