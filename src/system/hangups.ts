/**
 * SIGHUP as the CLI hands it to the command it runs. `run` takes it as "reload" (the daemon
 * convention, and what systemd's ExecReload sends); every other command keeps its usual
 * meaning, ending the process, so a one-shot command started at a terminal still ends when the
 * terminal closes.
 *
 * The CLI catches SIGHUP from its first line, before it knows which command runs, so that a
 * reload asked for while the daemon is still starting never kills it: hang-ups are held until
 * the command says what it does with them (`listen` or `endOnHangup`).
 */
export class Hangups {
  readonly #end: () => void;
  #listener: (() => void) | undefined;
  #mode: 'undecided' | 'listen' | 'end' = 'undecided';
  #held = false;

  /** `end` ends the process as an unhandled SIGHUP would. */
  constructor(end: () => void) {
    this.#end = end;
  }

  /** A SIGHUP arrived. */
  received(): void {
    if (this.#mode === 'end') {
      this.#end();
    } else if (this.#listener !== undefined) {
      this.#listener();
    } else {
      // Undecided, or listened to and let go (the daemon is stopping): nothing to reload.
      this.#held = this.#mode === 'undecided';
    }
  }

  /**
   * The command reloads on SIGHUP: `listener` is called for each one, and at once for one
   * held before. Returns the function that stops listening.
   */
  listen(listener: () => void): () => void {
    this.#mode = 'listen';
    this.#listener = listener;
    if (this.#held) {
      this.#held = false;
      listener();
    }
    return () => {
      if (this.#listener === listener) this.#listener = undefined;
    };
  }

  /** The command does not reload: SIGHUP ends the process, also one held before. */
  endOnHangup(): void {
    this.#mode = 'end';
    if (this.#held) {
      this.#held = false;
      this.#end();
    }
  }
}
