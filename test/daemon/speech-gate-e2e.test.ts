import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_RATE } from '../../src/dsp/constants.js';
import { EMOTIONS } from '../../src/labels.js';
import type { EmotionEvent, HealthReport } from '../../src/mqtt/payloads.js';
import { encodeWav } from '../audio/helpers/wav-writer.js';
import { startAgentProcess, writeAgentConfig } from '../helpers/agent-process.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { goldenWavPath } from '../helpers/golden.js';
import { loudPinkNoise, pluckedChords } from '../helpers/non-speech.js';
import { startSubscriber, type RecordingSubscriber } from '../helpers/subscriber.js';

/**
 * The speech gate's contract, on the real `ser-agent run --input` with the shipped models and
 * a real broker: ten seconds of loud noise then music (what a television or a radio plays
 * into a quiet room) publish no event, and the speech replayed right after them does.
 */
const DEVICE_ID = 'gate-box';
const NOISE_SECONDS = 5;
const MUSIC_SECONDS = 5;
const SPEECH = goldenWavPath('long_5s_16k');

let work: string;
let broker: TestBroker;
let subscriber: RecordingSubscriber;
let events: EmotionEvent[] = [];
let health: HealthReport[] = [];
let logLines: Array<Record<string, unknown>> = [];
let exitCode: number | null;

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'ser-gate-e2e-'));
  broker = await startTestBroker();
  subscriber = await startSubscriber(broker.url, 'gate-e2e-subscriber', [`ser/${DEVICE_ID}/event`, `ser/${DEVICE_ID}/health`]);

  // Float WAV, so loud noise is not clipped into something else by 16-bit rounding.
  const notSpeech = path.join(work, 'television.wav');
  const noise = loudPinkNoise(NOISE_SECONDS, SAMPLE_RATE, -12);
  const music = pluckedChords(MUSIC_SECONDS, SAMPLE_RATE, -12);
  const both = new Float32Array(noise.length + music.length);
  both.set(noise);
  both.set(music, noise.length);
  await writeFile(notSpeech, encodeWav([both], SAMPLE_RATE, { kind: 'float', bits: 32 }));

  const config = await writeAgentConfig(work, {
    deviceId: DEVICE_ID,
    mqtt: { url: broker.url, healthSeconds: 1 },
    // Hop 1 s: eight windows lie wholly in the noise and music, each one a chance to fail.
    // A stalled machine gets the overdue audio at once; a long queue drops none of its windows.
    window: { hopSeconds: 1, queueLimit: 50 },
    gpio: { driver: 'simulated' },
    state: { directory: path.join(work, 'state') },
    shutdownSeconds: 10,
  });
  const agent = startAgentProcess(['run', '--config', config, '--log-level', 'debug', '--input', notSpeech, SPEECH], {
    SER_CACHE_DIR: path.join(work, 'cache'),
  });
  // The replay ends after both files; the agent then stops on its own.
  exitCode = (await agent.exit).code;
  logLines = agent.lines;
  // Health is published every second; let the last QoS-0/1 deliveries arrive.
  await new Promise((resolve) => setTimeout(resolve, 200));
  events = subscriber.on(`ser/${DEVICE_ID}/event`).map((message) => JSON.parse(message.payload) as EmotionEvent);
  health = subscriber.on(`ser/${DEVICE_ID}/health`).map((message) => JSON.parse(message.payload) as HealthReport);
}, 120_000);

afterAll(async () => {
  await subscriber.close();
  await broker.close();
  await rm(work, { recursive: true, force: true });
});

/** When the replay of `file` began, by the agent's own log. */
function replayStart(file: string): number {
  const line = logLines.find((l) => l['msg'] === 'replaying' && l['file'] === file);
  if (line === undefined) throw new Error(`no 'replaying' log line for ${file}`);
  return Date.parse(line['time'] as string);
}

describe('speech gate, end to end', () => {
  it('runs the replay to its end and exits 0', () => {
    expect(exitCode).toBe(0);
  });

  it('publishes no event for ten seconds of loud noise and music, though every window of it is loud', () => {
    const speechStart = replayStart(SPEECH);
    const ended = (line: Record<string, unknown>): number => Date.parse(line['end'] as string);
    const noiseWindows = logLines.filter((l) => l['msg'] === 'window' && ended(l) <= speechStart);
    // Windows end at 3, 4, … 10 s of the replay (with a little timer slack).
    expect(noiseWindows.length).toBeGreaterThanOrEqual(NOISE_SECONDS + MUSIC_SECONDS - 3);
    for (const window of noiseWindows) expect(window['admitted']).toBe(true);
    const turnedAway = logLines.filter((l) => l['msg'] === 'not speech' && ended(l) <= speechStart);
    expect(turnedAway).toHaveLength(noiseWindows.length);
    for (const window of turnedAway) expect(window['speechRatio']).toBeLessThan(0.3);
    expect(events.filter((event) => Date.parse(event.windowEnd) <= speechStart)).toEqual([]);
  });

  it('publishes events for the speech after them, each carrying its speech ratio', () => {
    const speechEvents = events.filter((event) => Date.parse(event.windowEnd) > replayStart(SPEECH));
    expect(speechEvents.length).toBeGreaterThanOrEqual(1);
    expect(speechEvents).toHaveLength(events.length);
    for (const event of speechEvents) {
      expect(EMOTIONS).toContain(event.emotion);
      expect(event.speechRatio).toBeGreaterThanOrEqual(0.3);
      expect(event.speechRatio).toBeLessThanOrEqual(1);
    }
  });

  it('counts the windows turned away as non-speech in the health report', () => {
    const last = health.at(-1);
    expect(last?.windows.skippedNonSpeech).toBeGreaterThanOrEqual(NOISE_SECONDS + MUSIC_SECONDS - 3);
    expect(last?.windows.processed).toBeGreaterThanOrEqual(1);
    expect(last?.windows.failed).toBe(0);
    expect(last?.windows.dropped).toBe(0);
  });
});
