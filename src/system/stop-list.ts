import { type Logger } from '../logging/logger.js';

/** How a stop went: the parts that could not stop cleanly, in the order they were stopped. */
export interface StopOutcome {
  failed: string[];
}

interface Part {
  name: string;
  stop: () => Promise<void> | void;
}

/**
 * The agent's one list of what is running, stopped newest first. Whoever starts a part adds
 * how to stop it before awaiting its start, so a stop that comes while it starts reaches it
 * too; the order the parts were added in is the order constraint (the event queue before the
 * publisher that writes to it, so the publisher stops first), with no comment to keep true.
 * Each stop runs on its own: one that throws is logged and recorded, and the rest still stop.
 */
export class StopList {
  readonly #log: Logger;
  readonly #parts: Part[] = [];
  #stopping: Promise<StopOutcome> | undefined;

  constructor(logger: Logger) {
    this.#log = logger;
  }

  /** True from the first stop(): a start still in progress must bring up nothing more. */
  get stopping(): boolean {
    return this.#stopping !== undefined;
  }

  /** Adds `name`, stopped by `stop`; one added while the list stops is stopped next. */
  add(name: string, stop: () => Promise<void> | void): void {
    this.#parts.push({ name, stop });
  }

  /** Stops every part, newest first; idempotent: every call gets the first call's outcome. */
  stop(): Promise<StopOutcome> {
    this.#stopping ??= this.#stopAll();
    return this.#stopping;
  }

  async #stopAll(): Promise<StopOutcome> {
    const failed: string[] = [];
    for (let part = this.#parts.pop(); part !== undefined; part = this.#parts.pop()) {
      try {
        await part.stop();
      } catch (error) {
        failed.push(part.name);
        this.#log.error({ err: error, part: part.name }, 'could not stop cleanly');
      }
    }
    if (failed.length === 0) this.#log.info({}, 'stopped');
    else this.#log.warn({ failed }, 'stopped, but not cleanly');
    return { failed };
  }
}
