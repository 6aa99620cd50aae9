import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_RATE } from '../../src/dsp/constants.js';
import type { EmotionEvent } from '../../src/mqtt/payloads.js';
import { SETTINGS_FILE } from '../../src/settings/runtime-settings.js';
import { encodeWav } from '../audio/helpers/wav-writer.js';
import { startAgentProcess, waitFor, writeAgentConfig, type AgentProcess } from '../helpers/agent-process.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { goldenWavPath } from '../helpers/golden.js';
import { loudPinkNoise } from '../helpers/non-speech.js';
import { startSubscriber, type ReceivedMessage, type RecordingSubscriber } from '../helpers/subscriber.js';

/**
 * window.minSpeechRatio changed over MQTT (issue 15, gap 1), end to end: the real `ser-agent
 * run` replaying loud pink noise and speech in turn, in real time, with the shipped models
 * and a real broker. The configuration file turns the speech gate off; a `set` turns it on
 * (loading Silero VAD) and off again, a SIGHUP reload of that file does not undo it, a restart
 * keeps it, and a `set` the configured speech model cannot serve is refused.
 */
const DEVICE_ID = 'gate-setting-box';
const BASE = `ser/${DEVICE_ID}`;
const NOISE_SECONDS = 6;
const SPEECH = goldenWavPath('long_5s_16k');
/** Noise then speech, about 11 s a round; enough rounds to outlast each agent's part. */
const ROUNDS = 20;
const WINDOW_MS = 3000;
/** A loaded machine can take a while to load the model and cut the windows asked for. */
const PATIENCE_MS = 90_000;

let work: string;
let noise: string;
let broker: TestBroker;
let subscriber: RecordingSubscriber;
const agents: AgentProcess[] = [];

const on = (suffix: string): ReceivedMessage[] => subscriber.on(`${BASE}/${suffix}`);
const parsed = (message: ReceivedMessage | undefined) => JSON.parse(message?.payload ?? 'null') as Record<string, unknown>;
const events = (): EmotionEvent[] => on('event').map((message) => JSON.parse(message.payload) as EmotionEvent);

async function startAgent(config: string): Promise<AgentProcess> {
  const inputs = Array.from({ length: ROUNDS }, () => [noise, SPEECH]).flat();
  const settingsBefore = on('settings').length;
  const agent = startAgentProcess(['run', '--config', config, '--input', ...inputs], { SER_CACHE_DIR: path.join(work, 'cache') });
  agents.push(agent);
  await waitFor('the agent listening', () => agent.logged('listening')[0], PATIENCE_MS);
  // Its settings go out on connecting, retained, and events queued meanwhile may overtake them.
  await waitFor('the settings of the agent started', () => on('settings')[settingsBefore], PATIENCE_MS);
  return agent;
}

async function writeConfig(name: string, stateDir: string, window: Record<string, unknown> = {}): Promise<string> {
  return writeAgentConfig(
    work,
    {
      deviceId: DEVICE_ID,
      mqtt: { url: broker.url },
      // A window every second; the file's speech gate is off.
      window: { hopSeconds: 1, minSpeechRatio: 0, ...window },
      gpio: { driver: 'simulated' },
      state: { directory: stateDir },
      log: { level: 'debug' },
    },
    name,
  );
}

/** Publishes to the set topic and waits for the answer to it. */
async function set(payload: string): Promise<Record<string, unknown>> {
  const answered = on('set/result').length;
  await subscriber.client.publishAsync(`${BASE}/set`, payload, { qos: 1 });
  return parsed(await waitFor(`the answer to ${payload}`, () => on('set/result')[answered], PATIENCE_MS));
}

/**
 * The stretches of the replay that were noise, by the agent's 'replaying' lines: from a noise
 * file's start to the next file's. Only those already over, so that no later file can be
 * missing from the log yet.
 */
function noiseSpans(agent: AgentProcess): Array<{ start: number; end: number }> {
  const starts = agent.logged('replaying').map((line) => ({ file: line['file'], at: Date.parse(line['time'] as string) }));
  return starts.flatMap((start, index) => {
    const next = starts[index + 1];
    return start.file === noise && next !== undefined ? [{ start: start.at, end: next.at }] : [];
  });
}

/** Whether the window ending at `endMs` lies wholly in noise. */
function inNoise(agent: AgentProcess, endMs: number): boolean {
  return noiseSpans(agent).some((span) => endMs - WINDOW_MS >= span.start && endMs <= span.end);
}

/** Events for windows wholly in noise that began at or after `since`. */
function noiseEvents(agent: AgentProcess, since: number): EmotionEvent[] {
  return events().filter((event) => Date.parse(event.windowStart) >= since && inNoise(agent, Date.parse(event.windowEnd)));
}

/** Windows wholly in noise, begun at or after `since`, that the speech gate turned away. */
function noiseTurnedAway(agent: AgentProcess, since: number): Array<Record<string, unknown>> {
  return agent.logged('not speech').filter((line) => {
    const end = Date.parse(line['end'] as string);
    return end - WINDOW_MS >= since && inNoise(agent, end);
  });
}

/** The log time of the last line `agent` has written, as the agent's clock reads it. */
function lastLogTime(agent: AgentProcess): number {
  return Date.parse(agent.lines.at(-1)?.['time'] as string);
}

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'ser-gate-setting-e2e-'));
  broker = await startTestBroker();
  subscriber = await startSubscriber(broker.url, 'gate-setting-e2e-subscriber', [`${BASE}/#`], 1);
  // Float WAV, so loud noise is not clipped into something else by 16-bit rounding.
  noise = path.join(work, 'fan.wav');
  await writeFile(noise, encodeWav([loudPinkNoise(NOISE_SECONDS, SAMPLE_RATE, -12)], SAMPLE_RATE, { kind: 'float', bits: 32 }));
});

afterAll(async () => {
  for (const agent of agents) await agent.stop();
  await subscriber.close();
  await broker.close();
  await rm(work, { recursive: true, force: true });
});

describe('window.minSpeechRatio changed over MQTT', { timeout: 300_000 }, () => {
  let stateDir: string;
  let config: string;

  it('with the file\'s ratio 0, classifies and publishes noise windows: no gate, no detector', async () => {
    stateDir = path.join(work, 'state');
    config = await writeConfig('config', stateDir);
    const agent = await startAgent(config);
    expect(agent.logged('speech gate off (window.minSpeechRatio is 0): every window above the silence threshold is classified')).toHaveLength(1);
    const event = await waitFor('an event for a window of noise', () => noiseEvents(agent, 0)[0], PATIENCE_MS);
    // Events say that no gate measured them.
    expect(event.speechRatio).toBeNull();
    expect(agent.logged('not speech')).toEqual([]);
    expect(parsed(on('settings').at(-1))).toMatchObject({ 'window.minSpeechRatio': 0 });
  });

  it('a set of 0.5 loads the detector before answering; noise windows are then non_speech and publish nothing, speech still does', async () => {
    const agent = agents[0] as AgentProcess;
    const published = on('settings').length;
    const answer = await set('{"window.minSpeechRatio": 0.5}');
    expect(answer).toMatchObject({ ok: true, applied: { 'window.minSpeechRatio': 0.5 }, settings: { 'window.minSpeechRatio': 0.5 } });
    // The detector was loaded, and the gate put in place, before the answer was sent.
    const loaded = agent.lines.findIndex((line) => line['msg'] === 'speech gate loaded');
    const changed = agent.lines.findIndex((line) => line['msg'] === 'runtime settings changed');
    expect(agent.lines[loaded]).toMatchObject({ minSpeechRatio: 0.5 });
    expect(loaded).toBeGreaterThan(-1);
    expect(changed).toBeGreaterThan(loaded);
    // MQTT orders messages within a topic only: the settings may arrive just after the answer.
    const settings = await waitFor('the settings after the change', () => on('settings')[published], PATIENCE_MS);
    expect(parsed(settings)).toMatchObject({ 'window.minSpeechRatio': 0.5 });
    const since = lastLogTime(agent);

    await waitFor('noise windows turned away', () => (noiseTurnedAway(agent, since).length >= 3 ? true : undefined), PATIENCE_MS);
    await waitFor('an event for speech', () => events().find((event) => Date.parse(event.windowStart) >= since), PATIENCE_MS);
    expect(noiseEvents(agent, since)).toEqual([]);
    for (const line of noiseTurnedAway(agent, since)) expect(line['speechRatio']).toBeLessThan(0.5);
    for (const event of events().filter((e) => Date.parse(e.windowStart) >= since)) expect(event.speechRatio).toBeGreaterThanOrEqual(0.5);
    expect(JSON.parse(await readFile(path.join(stateDir, SETTINGS_FILE), 'utf8'))).toEqual({
      schema: 1,
      settings: { 'window.minSpeechRatio': 0.5 },
    });
  });

  it('a SIGHUP reload of the file (ratio 0) keeps the gate the operator turned on over MQTT', async () => {
    const agent = agents[0] as AgentProcess;
    const before = agent.logged('reloaded').length;
    agent.process.kill('SIGHUP');
    await waitFor('the reload', () => agent.logged('reloaded')[before], PATIENCE_MS);
    const since = lastLogTime(agent);
    expect(agent.logged('speech gate off (window.minSpeechRatio is 0): every window above the silence threshold is classified')).toHaveLength(1);
    await waitFor('noise windows turned away after the reload', () => (noiseTurnedAway(agent, since).length >= 2 ? true : undefined), PATIENCE_MS);
    expect(noiseEvents(agent, since)).toEqual([]);
    expect((await agent.stop()).code).toBe(0);
  });

  it('a restart with the persisted 0.5 builds the gate at start', async () => {
    const agent = await startAgent(config);
    expect(agent.logged('runtime settings changed over MQTT earlier are in force')[0]).toMatchObject({
      persisted: { 'window.minSpeechRatio': 0.5 },
    });
    expect(agent.logged('speech gate loaded')[0]).toMatchObject({ minSpeechRatio: 0.5 });
    await waitFor('noise windows turned away after the restart', () => (noiseTurnedAway(agent, 0).length >= 2 ? true : undefined), PATIENCE_MS);
    expect(noiseEvents(agent, Date.parse(agent.lines[0]?.['time'] as string))).toEqual([]);
  });

  it('a set of 0 turns the gate off, and a later non-zero value on again', async () => {
    const agent = agents[1] as AgentProcess;
    expect(await set('{"window.minSpeechRatio": 0}')).toMatchObject({ ok: true, settings: { 'window.minSpeechRatio': 0 } });
    const off = lastLogTime(agent);
    const event = await waitFor('an event for noise with the gate off', () => noiseEvents(agent, off)[0], PATIENCE_MS);
    expect(event.speechRatio).toBeNull();
    expect(agent.logged('not speech').filter((line) => Date.parse(line['end'] as string) - WINDOW_MS >= off)).toEqual([]);

    expect(await set('{"window.minSpeechRatio": 0.3}')).toMatchObject({ ok: true, settings: { 'window.minSpeechRatio': 0.3 } });
    const on = lastLogTime(agent);
    await waitFor('noise windows turned away again', () => (noiseTurnedAway(agent, on).length >= 2 ? true : undefined), PATIENCE_MS);
    expect(noiseEvents(agent, on)).toEqual([]);
    expect((await agent.stop()).code).toBe(0);
  });

  it('refuses to turn the gate on when the configured speech model cannot be read, and changes nothing', async () => {
    const brokenState = path.join(work, 'state-broken');
    const missing = path.join(work, 'no-such-vad.onnx');
    const agent = await startAgent(await writeConfig('broken', brokenState, { speechModel: missing }));
    await waitFor('an event for a window of noise', () => noiseEvents(agent, Date.parse(agent.lines[0]?.['time'] as string))[0], PATIENCE_MS);
    const settingsBefore = on('settings').length;

    const answer = await set('{"window.minSpeechRatio": 0.5}');
    expect(answer).toMatchObject({ ok: false, settings: { 'window.minSpeechRatio': 0 } });
    expect(answer['error']).toContain(`speech model ${missing} cannot be read`);
    expect(answer['error']).toMatch(/; nothing was changed$/);
    expect(on('settings')).toHaveLength(settingsBefore);
    await expect(readdir(brokenState)).resolves.not.toContain(SETTINGS_FILE);

    // Still classifying noise: the gate stayed off.
    const since = lastLogTime(agent);
    await waitFor('an event for noise after the refusal', () => noiseEvents(agent, since)[0], PATIENCE_MS);
    expect(agent.logged('not speech')).toEqual([]);
    expect((await agent.stop()).code).toBe(0);
  });
});
