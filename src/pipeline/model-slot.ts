import { type Logger } from '../logging/logger.js';

/** Something a model holds that must be freed: an EmotionClassifier, a SpeechDetector. */
export interface ModelResource {
  dispose(): void;
}

/** What the slot needs to know of a model: what it holds. */
export interface SlotModel {
  /**
   * What this model holds. Two models may share a resource (a reload that changes the model
   * but not the speech detector keeps the detector); it is freed once no model that is still
   * in place or still in use holds it.
   */
  readonly resources: readonly ModelResource[];
}

/**
 * The model the pipeline runs, replaceable while it runs. Each window takes the model in place
 * when its inference begins (`use`) and keeps it to the end, so a window in flight when the
 * model is replaced finishes on the old one; the old one is freed only once no window uses it.
 * The new model must be fully built and tested before `replace` is called: the swap itself
 * cannot fail.
 */
export class ModelSlot<T extends SlotModel> {
  #current: T;
  /** Windows in flight on each model. */
  readonly #uses = new Map<T, number>();
  /** Replaced (or closed) models not yet freed because windows still use them. */
  readonly #retiring = new Set<T>();
  #closed = false;
  readonly #log: Logger | undefined;
  #idleWaiters: Array<() => void> = [];

  constructor(initial: T, options: { logger?: Logger } = {}) {
    this.#current = initial;
    this.#log = options.logger?.child({ module: 'model-slot' });
  }

  /** The model the next window runs on. */
  get current(): T {
    return this.#current;
  }

  /** Windows in flight, on any model. */
  get inFlight(): number {
    let total = 0;
    for (const count of this.#uses.values()) total += count;
    return total;
  }

  /**
   * Runs `work` on the model in place now; that model stays usable until `work` returns (or
   * its promise settles), whatever `replace` is called meanwhile.
   */
  use<R>(work: (model: T) => R): R {
    if (this.#closed) throw new Error('the model slot is closed: the agent is stopping');
    const model = this.#current;
    this.#uses.set(model, (this.#uses.get(model) ?? 0) + 1);
    let result: R;
    try {
      result = work(model);
    } catch (error) {
      this.#release(model);
      throw error;
    }
    if (isPromiseLike(result)) {
      return Promise.resolve(result).finally(() => this.#release(model)) as R;
    }
    this.#release(model);
    return result;
  }

  /**
   * Puts `next` in place for the next window. The model it replaces is freed (the resources
   * `next` does not share) once the windows in flight on it have finished: at once when none are.
   */
  replace(next: T): void {
    if (this.#closed) throw new Error('the model slot is closed: the agent is stopping');
    if (next === this.#current) return;
    const previous = this.#current;
    this.#current = next;
    this.#retire(previous);
  }

  /**
   * Frees every model once the windows in flight have finished; resolves when all is freed.
   * No window may start afterwards. Idempotent.
   */
  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#retire(this.#current);
    }
    return this.#retiring.size === 0 ? Promise.resolve() : new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #retire(model: T): void {
    this.#retiring.add(model);
    this.#freeIfIdle(model);
  }

  #release(model: T): void {
    const left = (this.#uses.get(model) ?? 1) - 1;
    if (left > 0) this.#uses.set(model, left);
    else this.#uses.delete(model);
    if (left <= 0) this.#freeIfIdle(model);
  }

  #freeIfIdle(model: T): void {
    if (!this.#retiring.has(model) || this.#uses.has(model)) return;
    this.#retiring.delete(model);
    const held = new Set<ModelResource>(this.#closed ? [] : this.#current.resources);
    for (const other of this.#retiring) for (const resource of other.resources) held.add(resource);
    disposeUnheld(model, held, this.#log, 'could not free a replaced model');
    if (this.#retiring.size === 0) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }
}

/**
 * Frees what `built` holds and `running` does not share: a model built for a change that was
 * not made after all (a reload abandoned as the agent stops, a settings change not persisted).
 */
export function freeUnshared(built: SlotModel, running: SlotModel, log: Logger): void {
  if (built === running) return;
  disposeUnheld(built, new Set(running.resources), log, 'could not free a model that was not used');
}

/** Disposes each resource of `model` (once, if listed twice) that `held` does not keep. */
function disposeUnheld(model: SlotModel, held: ReadonlySet<ModelResource>, log: Logger | undefined, failure: string): void {
  for (const resource of new Set(model.resources)) {
    if (held.has(resource)) continue;
    try {
      resource.dispose();
    } catch (error) {
      // A failed free leaks memory but must not take the pipeline down.
      log?.error({ err: error }, failure);
    }
  }
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}
