import { type Logger } from '../logging/logger.js';
import { type LedDriver } from './led-driver.js';

/**
 * A LedDriver without hardware: each change is an info log line `{ pin, on }`, so a machine
 * without GPIO (a laptop, CI, the end-to-end test) still shows what the LEDs would do, and the
 * current states stay readable.
 */
export class SimulatedLedDriver implements LedDriver {
  readonly #logger: Logger;
  readonly #states = new Map<number, boolean>();

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  open(pins: readonly number[]): Promise<void> {
    for (const pin of pins) this.#states.set(pin, false);
    this.#logger.info({ pins: [...pins] }, 'simulated LEDs opened');
    return Promise.resolve();
  }

  set(pin: number, on: boolean): void {
    // Same contract as the real driver: writing a pin that was never claimed is a bug upstream.
    if (!this.#states.has(pin)) throw new Error(`LED pin ${pin} was not opened`);
    this.#states.set(pin, on);
    this.#logger.info({ pin, on }, 'led');
  }

  close(): Promise<void> {
    this.#states.clear();
    return Promise.resolve();
  }

  /** Whether the LED on `pin` is lit; undefined for a pin that is not open. */
  state(pin: number): boolean | undefined {
    return this.#states.get(pin);
  }

  /** Every open pin and whether it is lit. */
  states(): ReadonlyMap<number, boolean> {
    return new Map(this.#states);
  }
}
