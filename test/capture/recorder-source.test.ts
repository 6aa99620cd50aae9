import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadAudio } from '../../src/audio/load-clip.js';
import { findExecutable } from '../../src/capture/find-executable.js';
import { RecorderSource, type RecorderSourceOptions } from '../../src/capture/recorder-source.js';
import { type AlsaReplay, CaptureSink, childProcesses, createAlsaReplay } from '../helpers/alsa.js';
import { audioSourceContract } from './audio-source-contract.js';
import { captureLogs } from '../helpers/logs.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { goldenWavPath } from '../helpers/golden.js';

let dir: string;
let replay: AlsaReplay;
const sources: RecorderSource[] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ser-capture-'));
  // 3 s of speech at 22,050 Hz, decoded by the project's own decoder.
  replay = await createAlsaReplay(await loadAudio(goldenWavPath('speech_e_22k'), { durationSeconds: Infinity }), dir);
});

afterEach(async () => {
  await Promise.all(sources.splice(0).map((source) => source.stop()));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function recorder(options: Partial<RecorderSourceOptions>): { source: RecorderSource; lines: Record<string, unknown>[] } {
  const { logger, lines } = captureLogs();
  const source = new RecorderSource({
    logger,
    device: replay.device,
    env: { ...process.env, ...replay.env },
    initialRetryMs: 50,
    ...options,
  });
  sources.push(source);
  return { source, lines };
}

/** The first `length` samples of a run, as a plain array for a readable diff on failure. */
function firstSamples(sink: CaptureSink, run: number, length: number): number[] {
  return Array.from(sink.runs[run]?.samples.subarray(0, length) ?? []);
}

/**
 * A PATH holding only a shell script named arecord: a recorder that misbehaves on purpose.
 * `SLEEP` in the script is the absolute path of sleep, which that PATH does not hold.
 */
async function fakeRecorderPath(script: string): Promise<string> {
  const sleep = findExecutable('sleep', process.env['PATH']);
  if (sleep === undefined) throw new Error('the fake recorder needs sleep (coreutils) in PATH');
  const bin = await mkdtemp(path.join(dir, 'bin-'));
  await writeFile(path.join(bin, 'arecord'), `#!/bin/sh\n${script.replaceAll('SLEEP', sleep)}\n`);
  await chmod(path.join(bin, 'arecord'), 0o755);
  return bin;
}

audioSourceContract('RecorderSource (arecord)', () => ({ source: recorder({}).source, expected: replay.samples }));
audioSourceContract('RecorderSource (sox)', () => ({ source: recorder({ recorder: 'sox' }).source, expected: replay.samples }));

describe('RecorderSource with the real arecord', () => {
  it('delivers the recording sample for sample through the ALSA file plugin', async () => {
    const length = replay.samples.length;
    const { source } = recorder({});
    const sink = new CaptureSink(length);
    await source.start(sink);
    await sink.until(() => (sink.runs[0]?.length ?? 0) >= length, 'the whole recording');
    expect(source.description).toBe(`arecord -D ${replay.device}`);
    expect(sink.states.map((entry) => entry.state)).toEqual(['starting', 'running']);
    expect(firstSamples(sink, 0, length)).toEqual(Array.from(replay.samples));
    await source.stop();
    expect(sink.states.at(-1)?.state).toBe('stopped');
  });

  it('records through sox as well, sample for sample', async () => {
    const length = replay.samples.length;
    const { source } = recorder({ recorder: 'sox' });
    const sink = new CaptureSink(length);
    await source.start(sink);
    await sink.until(() => (sink.runs[0]?.length ?? 0) >= length, 'the whole recording from sox');
    expect(firstSamples(sink, 0, length)).toEqual(Array.from(replay.samples));
  });

  it('restarts a killed recorder, which then delivers the recording again', async () => {
    const length = replay.samples.length;
    const { source, lines } = recorder({});
    const sink = new CaptureSink(length);
    await source.start(sink);
    for (const run of [0, 1]) {
      await sink.until(() => (sink.runs[run]?.length ?? 0) >= length, `the recording in run ${run}`);
      const [pid, ...others] = childProcesses(process.pid, 'arecord');
      expect(others).toEqual([]);
      process.kill(pid ?? 0, 'SIGKILL');
      await sink.until(() => sink.runs.length === run + 2, `a restart after kill ${run + 1}`);
    }
    // Both failures waited the initial delay: the backoff resets once audio flows again.
    expect(sink.degradedReasons()).toEqual([
      `arecord -D ${replay.device} was killed by SIGKILL; retrying in 0.05 s`,
      `arecord -D ${replay.device} was killed by SIGKILL; retrying in 0.05 s`,
    ]);
    expect(sink.states.map((entry) => entry.state)).toEqual([
      'starting', 'running', 'degraded', 'running', 'degraded', 'running',
    ]);
    await sink.until(() => (sink.runs[2]?.length ?? 0) >= length, 'the recording in run 2');
    for (const run of [1, 2]) expect(firstSamples(sink, run, length)).toEqual(Array.from(replay.samples));
    expect(lines.filter((line) => line['msg'] === 'capture failed').map((line) => line['module'])).toEqual([
      'capture',
      'capture',
    ]);
  });

  it('names a device that does not exist, and keeps retrying it', async () => {
    const { source, lines } = recorder({ device: 'no_such_mic' });
    const sink = new CaptureSink(0);
    await source.start(sink);
    await sink.until(() => sink.degradedReasons().length >= 2, 'two failed attempts');
    expect(sink.degradedReasons().slice(0, 2)).toEqual([
      'arecord -D no_such_mic: capture device "no_such_mic" does not exist; list devices with "ser-agent devices" and set audio.device, or replay files with --input; retrying in 0.05 s',
      'arecord -D no_such_mic: capture device "no_such_mic" does not exist; list devices with "ser-agent devices" and set audio.device, or replay files with --input; retrying in 0.1 s',
    ]);
    expect(lines.find((line) => line['msg'] === 'capture failed')).toMatchObject({
      level: 40,
      module: 'capture',
      retryInMs: 50,
    });
  });

  it('leaves no recorder process behind after stop(), and stop() is idempotent', async () => {
    const { source } = recorder({});
    const sink = new CaptureSink(1);
    await source.start(sink);
    await source.start(sink);
    await sink.until(() => (sink.runs[0]?.length ?? 0) >= 1, 'audio');
    expect(childProcesses(process.pid, 'arecord')).toHaveLength(1);
    await Promise.all([source.stop(), source.stop()]);
    await source.stop();
    expect(childProcesses(process.pid, 'arecord', true)).toEqual([]);
    expect(sink.states.map((entry) => entry.state)).toEqual(['starting', 'running', 'stopped']);
  });
});

describe('RecorderSource failures without a working recorder', () => {
  it('reports a missing arecord and retries with doubling delays up to the cap', async () => {
    const clock = new ManualClock();
    const { source } = recorder({
      env: { PATH: await mkdtemp(path.join(dir, 'empty-')) },
      clock,
      initialRetryMs: 1000,
      maxRetryMs: 8000,
    });
    const sink = new CaptureSink(0);
    await source.start(sink);
    for (let attempt = 0; attempt < 5; attempt += 1) clock.fireNext();
    expect(clock.requested).toEqual([1000, 2000, 4000, 8000, 8000, 8000]);
    expect(sink.degradedReasons()[0]).toBe('arecord not found in PATH; install alsa-utils; retrying in 1 s');
    expect(sink.states.map((entry) => entry.state)).toEqual(['starting', ...Array<string>(6).fill('degraded')]);
    await source.stop();
    // A retry still scheduled may fire: it must not start the recorder again.
    if (clock.active > 0) clock.fireNext();
    expect(sink.states.at(-1)?.state).toBe('stopped');
    expect(clock.requested).toHaveLength(6);
  });

  it('kills a recorder that stays silent and reports the stall', async () => {
    const { source } = recorder({ env: { PATH: await fakeRecorderPath('exec SLEEP 60') }, stallSeconds: 0.3 });
    const sink = new CaptureSink(0);
    await source.start(sink);
    await sink.until(() => sink.degradedReasons().length >= 1, 'the stall');
    expect(sink.degradedReasons()[0]).toBe(
      `no audio from arecord -D ${replay.device} for 0.3 s; check that the device delivers sound (try: arecord -D ${replay.device} -d 3 test.wav); retrying in 0.05 s`,
    );
    await source.stop();
    expect(childProcesses(process.pid, 'sleep', true)).toEqual([]);
  });

  it('kills a recorder that ignores SIGINT once the grace period is over', async () => {
    const { source, lines } = recorder({
      env: { PATH: await fakeRecorderPath("trap '' INT\nprintf 'ab'\nexec SLEEP 60") },
      stopGraceMs: 200,
    });
    const sink = new CaptureSink(1);
    await source.start(sink);
    await sink.until(() => (sink.runs[0]?.length ?? 0) >= 1, 'the one sample the fake recorder writes');
    expect(firstSamples(sink, 0, 1)).toEqual([(0x62 * 256 + 0x61) / 32768]);
    await source.stop();
    expect(childProcesses(process.pid, 'sleep', true)).toEqual([]);
    expect(lines.some((line) => line['msg'] === 'recorder ignored SIGINT; killing it')).toBe(true);
  });
});
