import { execFile } from 'node:child_process';
import { constants, readdirSync, readFileSync } from 'node:fs';
import { open, writeFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import type { AudioSink, CaptureState } from '../../src/capture/audio-source.js';
import { SAMPLE_RATE } from '../../src/dsp/constants.js';

const execFileAsync = promisify(execFile);

/** A capture device that exists only in a test-only ALSA configuration. */
export interface AlsaCapture {
  /** Add to a recorder's (or the daemon's) environment: points ALSA at the test config. */
  env: Record<string, string>;
  /** The ALSA PCM name to capture from (`arecord -D <device>`). */
  device: string;
}

export interface AlsaReplay extends AlsaCapture {
  /** The samples a capture of `device` starts with: the input quantised to 16 bits. */
  samples: Float32Array;
  /** The raw S16_LE file the device replays. */
  rawFile: string;
}

export interface AlsaFifoCapture extends AlsaCapture {
  /**
   * The FIFO the device reads, raw S16_LE mono: write to it as a sound card delivers. The file
   * plugin reads whole periods and pads a short read with silence, so write whole periods.
   */
  fifo: string;
}

/**
 * The capture period (`audio.periodSeconds`) for a FIFO microphone fed ahead of the agent (a
 * recording at once, or windows ahead of their events): 1/14 s, 1,575 samples at 22,050 Hz,
 * whose 3,150 bytes fit in one atomic pipe write (PIPE_BUF, 4,096 bytes). Such a writer fills
 * the FIFO and waits for room in the middle of a larger write, and arecord, reading a period at
 * a time, can then find part of a period alone in the FIFO: the file plugin pads that read
 * with silence and every later sample moves (35 of 3,600 soak windows with 200 ms periods, on
 * a loaded machine). A writer in real time never fills the FIFO, and Linux copies a write into
 * a pipe that has room for it whole, under the pipe's lock: the bench feeds the agent's
 * default period that way.
 */
export const FED_AHEAD_PERIOD_SECONDS = 1 / 14;

/** The most bytes POSIX promises to write into a pipe at once (Linux's PIPE_BUF). */
const PIPE_BUF = 4096;

/** Writes `bytes`, whole periods of `periodBytes`, as many per write as fit in PIPE_BUF: each write is atomic. */
export async function writeAtomicPeriods(fifo: FileHandle, bytes: Uint8Array, periodBytes: number): Promise<void> {
  const writeBytes = periodBytes * Math.floor(PIPE_BUF / periodBytes);
  if (writeBytes === 0) throw new Error(`a ${periodBytes}-byte period does not fit in one atomic pipe write (${PIPE_BUF} bytes)`);
  if (bytes.length % periodBytes !== 0) throw new Error(`${bytes.length} bytes are not whole ${periodBytes}-byte periods`);
  for (let offset = 0; offset < bytes.length; offset += writeBytes) {
    const length = Math.min(writeBytes, bytes.length - offset);
    const { bytesWritten } = await fifo.write(bytes, offset, length);
    if (bytesWritten !== length) throw new Error(`short write to the capture FIFO: ${bytesWritten} of ${length} bytes`);
  }
}


/** The PCM name the test ALSA configuration defines. */
export const REPLAY_DEVICE = 'ser_replay';

/**
 * Makes the real `arecord` capture a recording: a device reading a raw S16_LE mono file (see
 * writeAlsaConfig). Capturing from it yields the recording as fast as the reader takes it (the
 * null slave keeps no time), then the recording's last period again and again for as long as
 * the recorder runs: once the file is exhausted the plugin leaves its buffer as it was.
 * Restarting the recorder replays the file from the start. A daemon reading this fire hose
 * cuts windows far faster than it classifies them and drops the oldest, which may be the
 * speech: a test of what the daemon hears speaks to it in real time (startRealTimeMicrophone).
 */
export async function createAlsaReplay(samples: Float32Array, dir: string): Promise<AlsaReplay> {
  const rawFile = path.join(dir, 'replay.s16le');
  const bytes = encodeS16le(samples);
  await writeFile(rawFile, bytes);
  return { ...(await writeAlsaConfig(rawFile, dir)), samples: decodeS16le(bytes), rawFile };
}

/**
 * Makes the real `arecord` capture what the caller writes to a FIFO, at the pace it is
 * written: a microphone whose sound the caller times (real time, or as fast as the agent
 * keeps up). Opening the FIFO for writing waits for its reader, the recorder.
 */
export async function createAlsaFifoCapture(dir: string): Promise<AlsaFifoCapture> {
  const fifo = path.join(dir, 'microphone.fifo');
  await execFileAsync('mkfifo', [fifo]);
  return { ...(await writeAlsaConfig(fifo, dir)), fifo };
}

/** A FIFO microphone that speaks by itself, in real time, to every recorder that opens it. */
export interface RealTimeMicrophone extends AlsaCapture {
  /** Resolves when the first recorder has opened the device and the recording begins. */
  opened: Promise<void>;
  /** Stops speaking and closes the FIFO: the recorder reading it sees the end of its input. */
  stop(): Promise<void>;
}

export interface RealTimeMicrophoneOptions {
  /** The recorder's capture period (`audio.periodSeconds`): the microphone writes one at a time. */
  periodSeconds: number;
  /** After the recording: `repeat` it, or digital `silence`, for as long as the recorder reads. */
  afterwards: 'repeat' | 'silence';
}

/**
 * A microphone as a sound card delivers it: `samples` (at the agent's rate) written into a FIFO
 * capture device one period at a time, each when a sound card would have filled it, so that
 * the daemon hears every window at the pace it would on a box and never has to drop one.
 * Every recorder that opens the device (the first, and each one restarted after a failure)
 * hears the recording from its start. A period may be more than one atomic pipe write, but
 * written in real time into a FIFO that the recorder keeps empty it is copied in whole under
 * the pipe's lock before the reader wakes (see FED_AHEAD_PERIOD_SECONDS).
 */
export async function startRealTimeMicrophone(
  samples: Float32Array,
  dir: string,
  options: RealTimeMicrophoneOptions,
): Promise<RealTimeMicrophone> {
  const capture = await createAlsaFifoCapture(dir);
  const periodSamples = Math.round(options.periodSeconds * SAMPLE_RATE);
  // Whole periods only: the file plugin pads a short read with silence.
  const periods = Math.ceil(samples.length / periodSamples);
  const periodBytes = periodSamples * 2;
  const recording = encodeS16le(samples);
  const speech = Buffer.concat([recording, Buffer.alloc(periods * periodBytes - recording.length)]);
  const silence = Buffer.alloc(periodBytes);
  let stopped = false;
  let firstOpened: () => void = () => undefined;
  const opened = new Promise<void>((resolve) => {
    firstOpened = resolve;
  });

  const speakTo = async (fifo: FileHandle): Promise<void> => {
    const origin = performance.now();
    for (let period = 0; !stopped; period++) {
      await sleep(Math.max(0, origin + (period + 1) * options.periodSeconds * 1000 - performance.now()));
      const offset = (period % periods) * periodBytes;
      const silent = period >= periods && options.afterwards === 'silence';
      await fifo.write(silent ? silence : speech.subarray(offset, offset + periodBytes));
    }
  };
  const speaking = (async () => {
    while (!stopped) {
      // Opening a FIFO for writing waits for its reader: the next recorder.
      const fifo = await open(capture.fifo, 'w');
      firstOpened();
      try {
        await speakTo(fifo);
      } catch (error) {
        // The recorder went away (killed, or stopped by the daemon): wait for the next one.
        if ((error as NodeJS.ErrnoException).code !== 'EPIPE') throw error;
      } finally {
        await fifo.close();
      }
    }
  })();
  return {
    ...capture,
    opened,
    async stop() {
      stopped = true;
      // A reader of our own lets an open that waits for the next recorder return.
      const reader = await open(capture.fifo, constants.O_RDONLY | constants.O_NONBLOCK);
      try {
        await speaking;
      } finally {
        await reader.close();
      }
    },
  };
}

/**
 * The test-only ALSA configuration, which ALSA_CONFIG_PATH selects instead of the system's: one
 * capture PCM, an ALSA `file` PCM whose `infile` is `infile` (raw S16_LE mono), over a `null`
 * slave. It defines only this PCM: `default`, `plughw` and friends do not exist under it, which
 * makes any other device name fail as an absent device would.
 */
async function writeAlsaConfig(infile: string, dir: string): Promise<AlsaCapture> {
  const configFile = path.join(dir, 'asoundrc');
  await writeFile(
    configFile,
    [
      `pcm.${REPLAY_DEVICE} {`,
      '  type file',
      '  slave.pcm { type null }',
      '  file "/dev/null"',
      `  infile ${JSON.stringify(infile)}`,
      '  format "raw"',
      '  hint { show on description "ser-agent test replay" }',
      '}',
      '',
    ].join('\n'),
  );
  return { env: { ALSA_CONFIG_PATH: configFile }, device: REPLAY_DEVICE };
}

/** Float samples to signed 16-bit little-endian, rounded and clipped as a sound card would. */
export function encodeS16le(samples: Float32Array): Buffer {
  const bytes = Buffer.alloc(samples.length * 2);
  samples.forEach((sample, index) => {
    const value = Math.max(-32768, Math.min(32767, Math.round(sample * 32768)));
    bytes.writeInt16LE(value, index * 2);
  });
  return bytes;
}

function decodeS16le(bytes: Buffer): Float32Array {
  const samples = new Float32Array(bytes.length / 2);
  for (let index = 0; index < samples.length; index += 1) samples[index] = bytes.readInt16LE(index * 2) / 32768;
  return samples;
}

/**
 * The pids of the child processes of `parentPid` named `name`, read from /proc: how a test
 * finds the recorder a source or the daemon spawned, to kill it or to check that none is left.
 * Zombies (exited, not yet reaped by the parent) count only with `includeZombies`.
 */
export function childProcesses(parentPid: number, name: string, includeZombies = false): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited while we looked
    }
    // "pid (comm) state ppid ...": comm may contain spaces and parentheses, so split at the last ")".
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const [state, ppid] = stat.slice(close + 2).split(' ');
    if (comm === name && Number(ppid) === parentPid && (includeZombies || state !== 'Z')) pids.push(Number(entry));
  }
  return pids;
}

/**
 * A sink that records what a source delivers. Samples are kept per run (a new run starts at
 * each 'running') and only up to `keepPerRun`, because the ALSA replay device streams its
 * last period without end once its file is exhausted.
 */
export class CaptureSink implements AudioSink {
  readonly states: { state: CaptureState; reason: string | undefined }[] = [];
  readonly runs: { samples: Float32Array; length: number }[] = [];
  ended = false;
  /** Pending `until` checks; each returns true once satisfied. */
  private waiters: (() => boolean)[] = [];

  constructor(private readonly keepPerRun: number) {}

  samples(chunk: Float32Array): void {
    const run = this.runs.at(-1);
    if (run === undefined) throw new Error('samples delivered before the source reported running');
    const room = this.keepPerRun - run.length;
    run.samples.set(chunk.subarray(0, Math.max(0, room)), run.length);
    run.length += Math.min(room, chunk.length);
    this.notify();
  }

  state(state: CaptureState, reason?: string): void {
    this.states.push({ state, reason });
    if (state === 'running') this.runs.push({ samples: new Float32Array(this.keepPerRun), length: 0 });
    this.notify();
  }

  end(): void {
    this.ended = true;
    this.notify();
  }

  /** The reasons of every 'degraded' report so far. */
  degradedReasons(): string[] {
    return this.states.filter((entry) => entry.state === 'degraded').map((entry) => entry.reason ?? '');
  }

  /** Resolves once `condition` holds after some delivery; rejects after `guardMs` (a hang guard). */
  until(condition: () => boolean, what: string, guardMs = 30_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const guard = setTimeout(() => {
        reject(new Error(`timed out waiting for ${what}; states so far: ${JSON.stringify(this.states)}`));
      }, guardMs);
      const check = () => {
        if (!condition()) return false;
        clearTimeout(guard);
        resolve();
        return true;
      };
      if (!check()) this.waiters.push(check);
    });
  }

  private notify(): void {
    this.waiters = this.waiters.filter((check) => !check());
  }
}
