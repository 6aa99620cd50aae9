import { spawn, type ChildProcess } from 'node:child_process';
import { SAMPLE_RATE } from '../dsp/constants.js';
import { describeError } from '../errors.js';
import { type Logger } from '../logging/logger.js';
import { reconnectDelay, validateBackoff, type Backoff } from '../system/backoff.js';
import { systemClock, type Clock } from '../system/clock.js';
import { findExecutable } from './find-executable.js';
import { S16leDecoder } from './pcm.js';
import { SourceBase } from './source-base.js';
import { recorderCommand, type RecorderCommand, type RecorderName } from './recorder-command.js';
import { diagnoseRecorderExit } from './recorder-diagnosis.js';

export interface RecorderSourceOptions {
  logger: Logger;
  /** Default 'arecord'. */
  recorder?: RecorderName;
  /** ALSA device: 'default', 'plughw:1,0', 'plughw:CARD=Device,DEV=0'. Default 'default'. */
  device?: string;
  /** Seconds without a byte from the recorder before it is declared stalled; default 5. */
  stallSeconds?: number;
  /** Seconds of audio the recorder hands over at a time; default DEFAULT_CAPTURE_PERIOD_SECONDS. */
  periodSeconds?: number;
  /** First retry delay, doubled after each failure up to maxRetryMs; defaults 1 s and 60 s. */
  initialRetryMs?: number;
  maxRetryMs?: number;
  /** Time the recorder gets to exit after SIGINT before it is killed; default 2 s. */
  stopGraceMs?: number;
  /**
   * The recorder's environment (PATH is also where its binary is looked up): the agent's own,
   * handed down by the CLI, or a test's.
   */
  env: Readonly<Record<string, string | undefined>>;
  clock?: Clock;
}

/**
 * Live capture from ALSA through `arecord` (or `sox`) writing raw S16_LE mono at 22,050 Hz to a
 * pipe. Every failure (binary missing, device absent or busy, recorder exiting, recorder
 * silent) is logged, reported as 'degraded' with its reason, and retried with exponential
 * backoff that resets once audio flows; nothing is thrown, so the daemon keeps running.
 *
 * The recorder is spawned here rather than through node-record-lpcm16 (the dependency the
 * issue names): that library builds exactly these arecord arguments, but it passes no
 * environment to arecord (only sox gets one, for AUDIODEV), so the recorder could not be given
 * an ALSA configuration or PATH without changing the agent's own process.env; its stop() sends
 * one SIGTERM with no escalation; and it reports an exit by emitting a string, not an Error,
 * as the stream's 'error'. Working around all three would leave it contributing only an
 * argument list.
 */
export class RecorderSource extends SourceBase {
  readonly sampleRate = SAMPLE_RATE;
  readonly description: string;

  private readonly command: RecorderCommand;
  private readonly device: string;
  private readonly stallMs: number;
  private readonly stopGraceMs: number;
  private readonly env: Readonly<Record<string, string | undefined>>;
  private readonly clock: Clock;
  private readonly backoff: Backoff;
  /** Failed starts since audio last flowed: the exponent of the retry wait. */
  private failures = 0;

  /** The recorder whose output is delivered; older ones are being killed and are ignored. */
  private current: ChildProcess | undefined;
  /** Every recorder not yet reaped, with a promise of its exit, so stop() leaves none behind. */
  private readonly alive = new Map<ChildProcess, Promise<void>>();
  private lastDataAt = 0;
  private cancelRetry: (() => void) | undefined;
  private cancelStallCheck: (() => void) | undefined;

  constructor(options: RecorderSourceOptions) {
    super(options.logger.child({ module: 'capture' }));
    this.device = options.device ?? 'default';
    this.command = recorderCommand(options.recorder ?? 'arecord', this.device, SAMPLE_RATE, options.periodSeconds);
    this.description = this.command.description;
    this.stallMs = (options.stallSeconds ?? 5) * 1000;
    this.stopGraceMs = options.stopGraceMs ?? 2000;
    this.env = options.env;
    this.clock = options.clock ?? systemClock;
    this.backoff = validateBackoff({ minMs: options.initialRetryMs ?? 1000, maxMs: options.maxRetryMs ?? 60_000 });
  }

  protected begin(): void {
    this.failures = 0;
    this.launch();
  }

  protected async end(): Promise<void> {
    this.cancelRetry?.();
    this.cancelRetry = undefined;
    this.cancelStallCheck?.();
    this.cancelStallCheck = undefined;
    this.current = undefined;
    await Promise.all([...this.alive.keys()].map((child) => this.terminate(child)));
  }

  private launch(): void {
    this.cancelRetry = undefined;
    if (this.sink === undefined || this.stopping !== undefined) return;
    const { binary, args, debianPackage } = this.command;
    const path = this.env['PATH'];
    const executable = findExecutable(binary, path);
    if (executable === undefined) {
      this.fail(`${binary} not found in PATH; install ${debianPackage}`);
      return;
    }
    let child: ChildProcess;
    try {
      child = spawn(executable, args, {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: this.env,
      });
    } catch (error) {
      this.fail(`${this.description} could not be started: ${describeError(error)}`, error);
      return;
    }
    this.track(child);
    this.current = child;
    this.lastDataAt = this.clock.monotonic();
    this.scheduleStallCheck(this.stallMs);
    this.logger.info({ pid: child.pid, command: [executable, ...args].join(' ') }, 'recorder started');

    const decoder = new S16leDecoder();
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      if (child === this.current) this.deliver(decoder.decode(chunk));
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (text: string) => {
      // Only the end matters for the diagnosis; keep the memory of a chatty recorder bounded.
      stderr = (stderr + text).slice(-4096);
    });
    // A broken pipe is followed by the process's 'close', which reports it; without a
    // listener, a stream 'error' would be thrown out of the event loop and end the agent.
    for (const stream of [child.stdout, child.stderr]) {
      stream?.on('error', (error) => this.logger.debug({ err: error }, 'recorder pipe error'));
    }
    child.on('error', (error) => {
      if (child !== this.current) return;
      this.current = undefined;
      this.fail(`${this.description} could not be started: ${describeError(error)}`, error);
    });
    child.on('close', (code, signal) => {
      if (child !== this.current) return;
      this.current = undefined;
      this.fail(diagnoseRecorderExit(this.command, this.device, stderr, code, signal));
    });
  }

  private deliver(samples: Float32Array): void {
    this.lastDataAt = this.clock.monotonic();
    if (this.state !== 'running') {
      this.failures = 0;
      this.report('running');
    }
    if (samples.length === 0) return;
    try {
      this.sink?.samples(samples);
    } catch (error) {
      this.logger.error({ err: error }, 'the audio sink threw; samples dropped');
    }
  }

  /**
   * One timer per stall period instead of one per chunk: when it fires early relative to the
   * last data, it re-arms for the remainder.
   */
  private scheduleStallCheck(delayMs: number): void {
    this.cancelStallCheck?.();
    this.cancelStallCheck = this.clock.after(delayMs, () => {
      this.cancelStallCheck = undefined;
      const child = this.current;
      if (child === undefined) return;
      const silentMs = this.clock.monotonic() - this.lastDataAt;
      if (silentMs < this.stallMs) {
        this.scheduleStallCheck(this.stallMs - silentMs);
        return;
      }
      this.current = undefined;
      // A recorder that is alive but silent is hung (e.g. a USB device gone away mid-read).
      child.kill('SIGKILL');
      this.fail(
        `no audio from ${this.description} for ${this.stallMs / 1000} s; check that the device delivers sound (try: arecord -D ${this.device} -d 3 test.wav)`,
      );
    });
  }

  private fail(reason: string, cause?: unknown): void {
    this.cancelStallCheck?.();
    this.cancelStallCheck = undefined;
    if (this.sink === undefined || this.stopping !== undefined) return;
    const delayMs = reconnectDelay(this.failures, this.backoff);
    this.failures++;
    this.logger.warn({ reason, retryInMs: delayMs, ...(cause === undefined ? {} : { err: cause }) }, 'capture failed');
    this.report('degraded', `${reason}; retrying in ${delayMs / 1000} s`);
    this.cancelRetry = this.clock.after(delayMs, () => this.launch());
  }

  private track(child: ChildProcess): void {
    const exited = new Promise<void>((resolve) => {
      child.once('close', () => resolve());
      // A process that never started emits 'error' and may emit nothing after it.
      child.once('error', () => {
        if (child.pid === undefined) resolve();
      });
    }).then(() => {
      this.alive.delete(child);
    });
    this.alive.set(child, exited);
  }

  /** SIGINT lets arecord close the device cleanly; SIGKILL if it has not exited in time. */
  private async terminate(child: ChildProcess): Promise<void> {
    const exited = this.alive.get(child);
    if (exited === undefined) return;
    child.kill('SIGINT');
    let cancelKill: (() => void) | undefined;
    const killed = new Promise<void>((resolve) => {
      cancelKill = this.clock.after(this.stopGraceMs, () => {
        this.logger.warn({ pid: child.pid, graceMs: this.stopGraceMs }, 'recorder ignored SIGINT; killing it');
        child.kill('SIGKILL');
        resolve();
      });
    });
    await Promise.race([exited, killed]);
    cancelKill?.();
    await exited;
  }
}
