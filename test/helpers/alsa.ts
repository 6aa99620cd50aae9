import { readdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { AudioSink, CaptureState } from '../../src/capture/audio-source.js';

export interface AlsaReplay {
  /** Add to a recorder's (or the daemon's) environment: points ALSA at the test config. */
  env: Record<string, string>;
  /** The ALSA PCM name to capture from (`arecord -D <device>`). */
  device: string;
  /** The samples a capture of `device` starts with: the input quantised to 16 bits. */
  samples: Float32Array;
  /** The raw S16_LE file the device replays. */
  rawFile: string;
}

/** The PCM name the test ALSA configuration defines. */
export const REPLAY_DEVICE = 'ser_replay';

/**
 * Makes the real `arecord` capture a recording: an ALSA `file` PCM whose `infile` is a raw
 * S16_LE mono file, over a `null` slave, in a test-only configuration that ALSA_CONFIG_PATH
 * selects instead of the system's. Capturing from it yields the recording, faster than real
 * time, then zeros for as long as the recorder runs (the null slave's capture is silence once
 * the file is exhausted). Restarting the recorder replays the file from the start.
 * The configuration defines only this PCM: `default`, `plughw` and friends do not exist under
 * it, which makes any other device name fail as an absent device would.
 */
export async function createAlsaReplay(samples: Float32Array, dir: string): Promise<AlsaReplay> {
  const rawFile = path.join(dir, 'replay.s16le');
  const configFile = path.join(dir, 'asoundrc');
  const bytes = encodeS16le(samples);
  await writeFile(rawFile, bytes);
  await writeFile(
    configFile,
    [
      `pcm.${REPLAY_DEVICE} {`,
      '  type file',
      '  slave.pcm { type null }',
      '  file "/dev/null"',
      `  infile ${JSON.stringify(rawFile)}`,
      '  format "raw"',
      '  hint { show on description "ser-agent test replay" }',
      '}',
      '',
    ].join('\n'),
  );
  return {
    env: { ALSA_CONFIG_PATH: configFile },
    device: REPLAY_DEVICE,
    samples: decodeS16le(bytes),
    rawFile,
  };
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
 * each 'running') and only up to `keepPerRun`, because the ALSA replay device streams zeros
 * without end once its file is exhausted.
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
