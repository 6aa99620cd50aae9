import { loadAudio } from '../audio/load-clip.js';
import { SAMPLE_RATE } from '../dsp/constants.js';
import { describeError } from '../errors.js';
import { type Logger } from '../logging/logger.js';
import { systemClock, type Clock } from '../system/clock.js';
import { type AudioSink } from './audio-source.js';
import { DEFAULT_CAPTURE_PERIOD_SECONDS } from './recorder-command.js';
import { SourceBase } from './source-base.js';

export interface ReplaySourceOptions {
  logger: Logger;
  /** WAV, FLAC or MP3 files at any rate, replayed in order. */
  files: readonly string[];
  /**
   * true (default): each chunk is delivered when a microphone would have delivered it, at the
   * end of its stretch of audio. false: as fast as the sink takes them (tests, soak runs).
   */
  realtime?: boolean;
  /** Length of each delivered chunk; default DEFAULT_CAPTURE_PERIOD_SECONDS, like the live recorder's buffers. */
  chunkSeconds?: number;
  clock?: Clock;
}

/**
 * `ser-agent run --input FILE...`: recordings played through the same sink as live capture,
 * for demos and machines without a microphone. A file that cannot be decoded is reported as
 * 'degraded' and skipped; `end()` follows the last file.
 */
export class ReplaySource extends SourceBase {
  readonly sampleRate = SAMPLE_RATE;
  readonly description: string;

  private readonly files: readonly string[];
  private readonly realtime: boolean;
  private readonly chunkSeconds: number;
  private readonly clock: Clock;

  private playing: Promise<void> | undefined;
  private cancelled = false;
  private interruptWait: (() => void) | undefined;

  constructor(options: ReplaySourceOptions) {
    super(options.logger.child({ module: 'replay' }));
    this.files = [...options.files];
    this.realtime = options.realtime ?? true;
    this.chunkSeconds = options.chunkSeconds ?? DEFAULT_CAPTURE_PERIOD_SECONDS;
    this.clock = options.clock ?? systemClock;
    this.description = `replay of ${this.files.join(', ')}`;
  }

  protected begin(sink: AudioSink): void {
    this.cancelled = false;
    this.playing = this.play(sink).catch((error: unknown) => {
      // play() handles every file's failure itself; this is a sink that threw.
      this.logger.error({ err: error }, 'replay stopped by an unexpected error');
      this.report('degraded', `replay stopped: ${describeError(error)}`);
    });
  }

  protected async end(): Promise<void> {
    this.cancelled = true;
    this.interruptWait?.();
    await this.playing;
    this.playing = undefined;
  }

  private async play(sink: AudioSink): Promise<void> {
    const chunkLength = Math.max(1, Math.round(this.chunkSeconds * SAMPLE_RATE));
    for (const file of this.files) {
      let samples: Float32Array;
      try {
        samples = await loadAudio(file, { sampleRate: SAMPLE_RATE, durationSeconds: Infinity });
      } catch (error) {
        if (this.cancelled) return;
        const reason = `${describeError(error)}; skipped`;
        this.logger.warn({ file, err: error }, 'replay file skipped');
        this.report('degraded', reason);
        continue;
      }
      if (this.cancelled) return;
      this.logger.info({ file, seconds: samples.length / SAMPLE_RATE }, 'replaying');
      if (this.state !== 'running') this.report('running');
      // Chunks are scheduled from the file's start rather than from the previous chunk, so a
      // slow sink or a late timer does not make the replay drift behind real time.
      const origin = this.clock.monotonic();
      for (let index = 0; index * chunkLength < samples.length; index += 1) {
        const end = Math.min(samples.length, (index + 1) * chunkLength);
        if (this.realtime) await this.waitFor(origin + (end / SAMPLE_RATE) * 1000 - this.clock.monotonic());
        else await nextTurn();
        if (this.cancelled) return;
        sink.samples(samples.slice(index * chunkLength, end));
      }
    }
    if (!this.cancelled) sink.end();
  }

  private waitFor(delayMs: number): Promise<void> {
    return new Promise((resolve) => {
      const cancelTimer = this.clock.after(Math.max(0, delayMs), resolve);
      this.interruptWait = () => {
        cancelTimer();
        resolve();
      };
    });
  }
}

/** Lets other work (the consumer, a stop()) run between chunks of an unpaced replay. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
