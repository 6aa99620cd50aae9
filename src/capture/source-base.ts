import { type Logger } from '../logging/logger.js';
import { type AudioSink, type AudioSource, type CaptureState } from './audio-source.js';

/**
 * The start and stop every capture source shares, owned once: start() takes the sink and says
 * 'starting' (again only after a stop), concurrent stop() calls share one shutdown, which says
 * 'stopped' once the source's own work has ended, and a sink that throws on a state change is
 * logged, never thrown back into capture. A source supplies what it starts (`begin`) and how
 * that ends (`end`).
 */
export abstract class SourceBase implements AudioSource {
  abstract readonly sampleRate: number;
  abstract readonly description: string;

  protected readonly logger: Logger;
  /** The sink of the running source; undefined before start() and after stop(). */
  protected sink: AudioSink | undefined;
  protected state: CaptureState = 'stopped';
  /** Set from the first stop() until its shutdown is done: work still running must not start more. */
  protected stopping: Promise<void> | undefined;

  protected constructor(logger: Logger) {
    this.logger = logger;
  }

  start(sink: AudioSink): Promise<void> {
    if (this.sink !== undefined) return Promise.resolve();
    this.sink = sink;
    this.report('starting');
    this.begin(sink);
    return Promise.resolve();
  }

  async stop(): Promise<void> {
    if (this.sink === undefined) return;
    this.stopping ??= this.#shutdown();
    await this.stopping;
  }

  /** Starts delivering to `sink`; failures are reported through the sink, never thrown. */
  protected abstract begin(sink: AudioSink): void;

  /** Ends what begin() started (and any retry it scheduled); resolves once nothing is left running. */
  protected abstract end(): Promise<void>;

  protected report(state: CaptureState, reason?: string): void {
    this.state = state;
    try {
      this.sink?.state(state, reason);
    } catch (error) {
      this.logger.error({ err: error }, 'the audio sink threw on a state change');
    }
  }

  async #shutdown(): Promise<void> {
    await this.end();
    this.report('stopped');
    this.sink = undefined;
    this.stopping = undefined;
  }
}
