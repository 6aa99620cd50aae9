import { spawnSync } from 'node:child_process';
import { constants } from 'node:fs';
import { mkdtemp, open, rename, rm, type FileHandle } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadAudio } from '../../src/audio/load-clip.js';
import { RecorderSource, type RecorderSourceOptions } from '../../src/capture/recorder-source.js';
import { SAMPLE_RATE } from '../../src/dsp/constants.js';
import {
  type AlsaReplay,
  CaptureSink,
  childProcesses,
  createAlsaReplay,
  encodeS16le,
  FED_AHEAD_PERIOD_SECONDS,
  writeAtomicPeriods,
} from '../helpers/alsa.js';
import { captureLogs } from '../helpers/logs.js';
import { goldenWavPath } from '../helpers/golden.js';

/**
 * Issue 3, part 2: the capture heals itself. A real arecord, reading through the ALSA file
 * plugin, is killed mid-stream, frozen with SIGSTOP, and loses its device; each time the
 * source reports 'degraded' with the reason, restarts it with backoff, and reports 'running'
 * again once audio flows, delivering exactly what the device then delivers.
 */
const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/**
 * The frames arecord reads at a time from the file plugin: the capture period the recorders
 * here are given, since the live microphone is fed a whole recording at once.
 */
const PERIOD_FRAMES = Math.round(FED_AHEAD_PERIOD_SECONDS * SAMPLE_RATE);

async function speech(): Promise<Float32Array> {
  return loadAudio(goldenWavPath('speech_e_22k'), { durationSeconds: Infinity });
}

async function replayDevice(samples: Float32Array): Promise<AlsaReplay> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ser-recovery-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return createAlsaReplay(samples, dir);
}

function recorder(replay: AlsaReplay, options: Partial<RecorderSourceOptions>): RecorderSource {
  const source = new RecorderSource({
    logger: captureLogs().logger,
    device: replay.device,
    env: { ...process.env, ...replay.env },
    initialRetryMs: 50,
    periodSeconds: FED_AHEAD_PERIOD_SECONDS,
    ...options,
  });
  cleanups.push(() => source.stop());
  return source;
}

function onlyRecorder(): number {
  const pids = childProcesses(process.pid, 'arecord');
  expect(pids).toHaveLength(1);
  return pids[0] as number;
}

function run(sink: CaptureSink, index: number, length: number): number[] {
  return Array.from(sink.runs[index]?.samples.subarray(0, length) ?? []);
}

/**
 * Turns the replay device into a live microphone: its infile becomes a FIFO the test writes
 * into, so audio arrives when the test says, as from a sound card. A read end held open here
 * (never read) keeps the FIFO's buffer alive while no recorder has it open.
 */
async function liveMicrophone(replay: AlsaReplay): Promise<{ write(samples: Float32Array): Promise<void> }> {
  await rm(replay.rawFile);
  const made = spawnSync('mkfifo', [replay.rawFile]);
  if (made.status !== 0) throw new Error(`mkfifo ${replay.rawFile} failed: ${made.stderr.toString()}`);
  const holder = await open(replay.rawFile, constants.O_RDONLY | constants.O_NONBLOCK);
  const writer: FileHandle = await open(replay.rawFile, 'w');
  cleanups.push(async () => {
    await writer.close();
    await holder.close();
  });
  return {
    async write(samples: Float32Array) {
      await writeAtomicPeriods(writer, encodeS16le(samples), PERIOD_FRAMES * 2);
    },
  };
}

describe('RecorderSource heals itself with the real arecord', () => {
  it('restarts a recorder killed mid-speech; the rest of the speech arrives after the restart', async () => {
    const audio = await speech();
    const periods = Math.floor(audio.length / PERIOD_FRAMES);
    const replay = await replayDevice(audio.subarray(0, PERIOD_FRAMES * periods));
    const quantised = replay.samples;
    const microphone = await liveMicrophone(replay);
    const firstPart = quantised.subarray(0, PERIOD_FRAMES * Math.floor(periods * 0.4));
    const rest = quantised.subarray(firstPart.length);
    // A long stall limit: the recorder waits for the test's audio without being called hung.
    const source = recorder(replay, { stallSeconds: 60 });
    const sink = new CaptureSink(quantised.length);
    await source.start(sink);

    await microphone.write(firstPart);
    await sink.until(() => (sink.runs[0]?.length ?? 0) >= firstPart.length, 'the first part of the speech');
    process.kill(onlyRecorder(), 'SIGKILL');
    await sink.until(() => sink.degradedReasons().length === 1, 'the kill to be noticed');
    await microphone.write(rest);
    await sink.until(() => (sink.runs[1]?.length ?? 0) >= rest.length, 'the rest of the speech from a new recorder');

    // Nothing lost, nothing repeated: each recorder delivered exactly what it was given.
    expect(sink.runs.map((entry) => entry.length)).toEqual([firstPart.length, rest.length]);
    expect(run(sink, 0, firstPart.length)).toEqual(Array.from(firstPart));
    expect(run(sink, 1, rest.length)).toEqual(Array.from(rest));
    expect(sink.degradedReasons()).toEqual([`arecord -D ${replay.device} was killed by SIGKILL; retrying in 0.05 s`]);
    expect(sink.states.map((entry) => entry.state)).toEqual(['starting', 'running', 'degraded', 'running']);
  });

  it('restarts a recorder that exits on its own with an error code', async () => {
    const replay = await replayDevice(await speech());
    const length = replay.samples.length;
    const source = recorder(replay, {});
    const sink = new CaptureSink(length);
    await source.start(sink);
    await sink.until(() => (sink.runs[0]?.length ?? 0) >= length, 'the recording');
    // arecord catches SIGTERM, closes the device and exits with code 1.
    process.kill(onlyRecorder(), 'SIGTERM');
    await sink.until(() => (sink.runs[1]?.length ?? 0) >= length, 'the recording from a new recorder');

    expect(sink.degradedReasons()).toEqual([`arecord -D ${replay.device} exited with code 1; retrying in 0.05 s`]);
    expect(sink.states.map((entry) => entry.state)).toEqual(['starting', 'running', 'degraded', 'running']);
    expect(run(sink, 1, length)).toEqual(Array.from(replay.samples));
  });

  it('kills a recorder frozen with SIGSTOP once no audio came for stallSeconds, and restarts it', async () => {
    const replay = await replayDevice(await speech());
    const length = replay.samples.length;
    // Counted from each recorder's spawn too, so long enough for a loaded machine to start one.
    const source = recorder(replay, { stallSeconds: 2 });
    const sink = new CaptureSink(length);
    await source.start(sink);
    await sink.until(() => (sink.runs[0]?.length ?? 0) >= length, 'the recording');

    const frozen = onlyRecorder();
    process.kill(frozen, 'SIGSTOP');
    await sink.until(() => sink.runs.length === 2 && (sink.runs[1]?.length ?? 0) >= length, 'a new recorder to replay the recording');

    expect(sink.degradedReasons()).toEqual([
      `no audio from arecord -D ${replay.device} for 2 s; check that the device delivers sound (try: arecord -D ${replay.device} -d 3 test.wav); retrying in 0.05 s`,
    ]);
    expect(sink.states.map((entry) => entry.state)).toEqual(['starting', 'running', 'degraded', 'running']);
    expect(run(sink, 1, length)).toEqual(Array.from(replay.samples));
    // The frozen recorder was killed and reaped, not left stopped beside its successor.
    await sink.until(() => !childProcesses(process.pid, 'arecord', true).includes(frozen), 'the frozen recorder to be reaped', 5000);
    expect(childProcesses(process.pid, 'arecord')).not.toContain(frozen);
  });

  it('stays degraded with a clear reason while the device is gone, and recovers when it returns', async () => {
    const replay = await replayDevice(await speech());
    const length = replay.samples.length;
    const source = recorder(replay, { maxRetryMs: 400 });
    const sink = new CaptureSink(length);
    await source.start(sink);
    await sink.until(() => (sink.runs[0]?.length ?? 0) >= length, 'the recording');

    // An unplugged USB microphone: its device disappears, and the recorder reading it ends.
    const unplugged = `${replay.rawFile}.unplugged`;
    await rename(replay.rawFile, unplugged);
    process.kill(onlyRecorder(), 'SIGKILL');
    await sink.until(() => sink.degradedReasons().length >= 4, 'three failed attempts to reopen the device');
    const gone = `arecord -D ${replay.device}: capture device "${replay.device}" cannot be opened (absent or unplugged); list devices with "ser-agent devices" and set audio.device, or replay files with --input`;
    expect(sink.degradedReasons().slice(0, 4)).toEqual([
      `arecord -D ${replay.device} was killed by SIGKILL; retrying in 0.05 s`,
      `${gone}; retrying in 0.1 s`,
      `${gone}; retrying in 0.2 s`,
      `${gone}; retrying in 0.4 s`,
    ]);
    expect(sink.runs).toHaveLength(1);

    await rename(unplugged, replay.rawFile);
    await sink.until(() => (sink.runs[1]?.length ?? 0) >= length, 'the recording from the device plugged in again');
    expect(run(sink, 1, length)).toEqual(Array.from(replay.samples));
    expect(sink.states.at(-1)?.state).toBe('running');
  });
});
