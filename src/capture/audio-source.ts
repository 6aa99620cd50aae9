/**
 * The capture contract the daemon is wired against: a source pushes mono float samples at the
 * model's rate into a sink and reports its health; it never throws out of its own event
 * handlers, so a broken microphone degrades the agent instead of ending it.
 */
export type CaptureState = 'starting' | 'running' | 'degraded' | 'stopped';

export interface AudioSink {
  /** Mono samples in [-1, 1) at the source's sampleRate (22,050 Hz), in capture order. */
  samples(chunk: Float32Array): void;
  /**
   * Every state change, with a human-readable reason for 'degraded' (what failed, the fix).
   * 'degraded' is reported again on each further failure, since the reason is news.
   */
  state(state: CaptureState, reason?: string): void;
  /** A finite source (file replay) has delivered everything. */
  end(): void;
}

export interface AudioSource {
  readonly sampleRate: number;
  /** What is being captured, for logs: "arecord -D plughw:1,0", "replay of a.wav, b.flac". */
  readonly description: string;
  /** Resolves once started (not when audio flows); idempotent. */
  start(sink: AudioSink): Promise<void>;
  /** Idempotent; ends any recorder process (SIGINT, then SIGKILL after a grace period). */
  stop(): Promise<void>;
}
