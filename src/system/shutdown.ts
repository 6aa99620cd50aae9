import { type Clock } from './clock.js';

/** What a command sees of the shutdown; Shutdown is the one. */
export interface CloseControl {
  /** Aborted when the close begins: a signal, a fatal error, or the command's own close(). */
  readonly signal: AbortSignal;
  /**
   * Races the close against `deadlineMs()`, read when the close begins (a reload may have
   * changed it); past it the process exits 1 whatever is still stopping. Without it a close
   * takes as long as it takes, as a one-shot command's does.
   */
  setDeadline(deadlineMs: () => number): void;
  /** Begins the close from inside the command (its work has ended), under the same deadline. */
  close(): void;
}

export interface ShutdownOptions {
  /** Ends the process now with `code`: process.exit, which only the entry file calls. */
  exit: (code: number) => void;
  /** One line for the operator, on stderr. */
  say: (line: string) => void;
  clock: Pick<Clock, 'after'>;
}

/** The exit code of a close that failed: a fatal error, a second signal, the deadline passed. */
const FAILED = 1;

/**
 * The one owner of how the process ends, in close-with-grace's shape: the first SIGINT or
 * SIGTERM, fatal error (uncaught exception, unhandled rejection) or close() from the command
 * begins one graceful close, which the command carries out (the daemon stops its stop list)
 * raced against the deadline; a second signal or fatal error, or the deadline passing, exits 1
 * at once, instead of waiting for systemd's SIGKILL. The CLI hands the events over and calls
 * finish() with the command's exit code.
 */
export class Shutdown implements CloseControl {
  readonly #options: ShutdownOptions;
  readonly #abort = new AbortController();
  #deadlineMs: (() => number) | undefined;
  #cancelDeadline: (() => void) | undefined;
  #fatal = false;

  constructor(options: ShutdownOptions) {
    this.#options = options;
  }

  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  setDeadline(deadlineMs: () => number): void {
    this.#deadlineMs = deadlineMs;
    if (this.#abort.signal.aborted) this.#armDeadline();
  }

  /** A SIGINT or SIGTERM arrived. */
  signalled(signal: string): void {
    if (this.#abort.signal.aborted) {
      this.#options.say(`ser-agent: ${signal} received again, exiting now`);
      this.#options.exit(FAILED);
      return;
    }
    this.#options.say(`ser-agent: ${signal} received, stopping (send it again to exit now)`);
    this.#begin();
  }

  /**
   * An error nothing caught (`origin`: uncaught exception, unhandled rejection). The agent is
   * in a state no code expected, so it closes as on SIGTERM and exits 1 however the close goes;
   * one during the close exits at once.
   */
  fatal(error: unknown, origin: string): void {
    const described = error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : String(error);
    this.#options.say(`ser-agent: ${origin}, stopping: ${described}`);
    if (this.#abort.signal.aborted) {
      this.#options.exit(FAILED);
      return;
    }
    this.#fatal = true;
    this.#begin();
  }

  close(): void {
    if (!this.#abort.signal.aborted) this.#begin();
  }

  /**
   * The command has returned `code`. After a close the process ends now with it (1 after a
   * fatal error): a part that could not stop may still hold it open, and its exit code already
   * says so. Otherwise returns the code, for the process to end with once its work drains.
   */
  finish(code: number): number {
    this.#cancelDeadline?.();
    this.#cancelDeadline = undefined;
    const final = this.#fatal && code === 0 ? FAILED : code;
    if (this.#abort.signal.aborted) this.#options.exit(final);
    return final;
  }

  #begin(): void {
    this.#abort.abort();
    this.#armDeadline();
  }

  #armDeadline(): void {
    if (this.#deadlineMs === undefined || this.#cancelDeadline !== undefined) return;
    const deadlineMs = this.#deadlineMs();
    this.#cancelDeadline = this.#options.clock.after(deadlineMs, () => {
      this.#options.say(`ser-agent: still stopping after ${deadlineMs / 1000} s (shutdownSeconds); exiting now`);
      this.#options.exit(FAILED);
    });
  }
}
