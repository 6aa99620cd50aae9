import { ConfigError } from '../errors.js';
import { EMOTIONS, isEmotion, type Emotion } from '../labels.js';
import { type Logger } from '../logging/logger.js';
import { type LedDriver } from './led-driver.js';
import { systemClock, type Clock } from '../system/clock.js';

/** The `gpio` config keys the indicators use. */
export interface IndicatorConfig {
  /** Emotion → BCM pin, for any subset of the emotions. */
  pins: Partial<Record<Emotion, number>>;
  /** BCM pin of the status LED, or null for none. */
  statusPin: number | null;
  /** Seconds an emotion LED stays lit. */
  holdSeconds: number;
}

/**
 * What the status LED shows: steady on = listening, slow blink = broker unreachable, fast
 * blink = capture or model error, off = not running.
 */
export type IndicatorStatus = 'listening' | 'broker-down' | 'error' | 'off';

/** Half-periods of the blink patterns: 1 Hz is slow enough to read as "waiting", 4 Hz as "fault". */
export const BLINK_HALF_PERIOD_MS: Readonly<Record<'broker-down' | 'error', number>> = {
  'broker-down': 500,
  error: 125,
};

/** The highest BCM GPIO on the 40-pin header. */
const MAX_HEADER_PIN = 27;

/**
 * The status to show for the agent's state. A capture or model error outranks an unreachable
 * broker: with no audio or no model there is nothing to publish, so the broker is not the
 * problem to fix first.
 */
export function statusFor(state: { listening: boolean; brokerReachable: boolean; fault: boolean }): IndicatorStatus {
  if (state.fault) return 'error';
  if (!state.brokerReachable) return 'broker-down';
  return state.listening ? 'listening' : 'off';
}

/** Every problem in an indicator config, each naming the key and the value; empty when valid. */
export function checkIndicatorConfig(config: IndicatorConfig): string[] {
  const problems: string[] = [];
  const owners = new Map<number, string[]>();
  const claim = (key: string, pin: unknown): void => {
    if (typeof pin !== 'number' || !Number.isInteger(pin) || pin < 0 || pin > MAX_HEADER_PIN) {
      problems.push(`${key}: ${JSON.stringify(pin)} is not a BCM pin 0-${MAX_HEADER_PIN}`);
      return;
    }
    owners.set(pin, [...(owners.get(pin) ?? []), key]);
  };
  for (const [emotion, pin] of Object.entries(config.pins)) {
    if (!isEmotion(emotion)) {
      problems.push(`gpio.pins.${emotion}: not an emotion (one of ${EMOTIONS.join(', ')})`);
      continue;
    }
    claim(`gpio.pins.${emotion}`, pin);
  }
  if (config.statusPin !== null) claim('gpio.statusPin', config.statusPin);
  for (const [pin, keys] of owners) {
    if (keys.length > 1) problems.push(`pin ${pin} is used by more than one LED: ${keys.join(', ')}`);
  }
  if (!(config.holdSeconds > 0) || !Number.isFinite(config.holdSeconds)) {
    problems.push(`gpio.holdSeconds: ${config.holdSeconds} must be a number greater than 0`);
  }
  return problems;
}

export interface IndicatorsOptions {
  config: IndicatorConfig;
  driver: LedDriver;
  logger: Logger;
  clock?: Pick<Clock, 'after' | 'every'>;
}

/**
 * The LED behaviour: one emotion LED lit for the hold time after each published emotion, and the
 * status LED's pattern. Calls before start() or after stop() change nothing on the pins; a
 * status set before start() is shown once started.
 */
export class Indicators {
  readonly #config: IndicatorConfig;
  readonly #driver: LedDriver;
  readonly #logger: Logger;
  readonly #clock: Pick<Clock, 'after' | 'every'>;
  /** What each open pin shows now, so only real changes reach the driver. */
  readonly #lit = new Map<number, boolean>();
  /** Pins whose last write failed; their next failure is not logged again. */
  readonly #failing = new Set<number>();
  #starting: Promise<void> | undefined;
  #running = false;
  #status: IndicatorStatus = 'off';
  #cancelHold: (() => void) | undefined;
  #cancelBlink: (() => void) | undefined;

  constructor(options: IndicatorsOptions) {
    this.#config = options.config;
    this.#driver = options.driver;
    this.#logger = options.logger;
    this.#clock = options.clock ?? systemClock;
  }

  /** Validates the config, claims the pins (all off) and shows the current status. */
  start(): Promise<void> {
    // A failed start is forgotten so that a later start() tries again.
    this.#starting ??= this.#start().catch((error: unknown) => {
      this.#starting = undefined;
      throw error;
    });
    return this.#starting;
  }

  async #start(): Promise<void> {
    const problems = checkIndicatorConfig(this.#config);
    if (problems.length > 0) {
      throw new ConfigError(`invalid LED configuration:\n  ${problems.join('\n  ')}`);
    }
    const pins = this.#pins();
    await this.#driver.open(pins);
    for (const pin of pins) this.#lit.set(pin, false);
    this.#running = true;
    this.#showStatus();
  }

  /** Lights `emotion`'s LED for the hold time and turns the other emotion LEDs off. */
  showEmotion(emotion: Emotion): void {
    if (!this.#running) return;
    this.#cancelHold?.();
    const pin = this.#config.pins[emotion];
    for (const other of Object.values(this.#config.pins)) {
      if (other !== pin) this.#write(other, false);
    }
    // An emotion without an LED still clears the previous one: it no longer describes the room.
    if (pin === undefined) {
      this.#cancelHold = undefined;
      return;
    }
    this.#write(pin, true);
    this.#cancelHold = this.#clock.after(this.#config.holdSeconds * 1000, () => {
      this.#cancelHold = undefined;
      this.#write(pin, false);
    });
  }

  /** Shows `status` on the status LED; setting the current status again keeps the blink phase. */
  setStatus(status: IndicatorStatus): void {
    if (status === this.#status) return;
    this.#status = status;
    if (this.#running) this.#showStatus();
  }

  /** Turns every LED off and releases the pins. */
  async stop(): Promise<void> {
    if (this.#starting) {
      // A stop during start must wait for the pins to be claimed before it can release them.
      await this.#starting.catch(() => undefined);
    }
    if (!this.#running) return;
    this.#running = false;
    this.#starting = undefined;
    this.#cancelHold?.();
    this.#cancelHold = undefined;
    this.#cancelBlink?.();
    this.#cancelBlink = undefined;
    for (const pin of this.#lit.keys()) this.#write(pin, false);
    this.#lit.clear();
    await this.#driver.close();
  }

  #pins(): number[] {
    const pins = Object.values(this.#config.pins);
    if (this.#config.statusPin !== null) pins.push(this.#config.statusPin);
    return pins;
  }

  #showStatus(): void {
    const pin = this.#config.statusPin;
    this.#cancelBlink?.();
    this.#cancelBlink = undefined;
    if (pin === null) return;
    const status = this.#status;
    if (status === 'listening' || status === 'off') {
      this.#write(pin, status === 'listening');
      return;
    }
    // Blinks start lit so a change of pattern is visible at once.
    this.#write(pin, true);
    this.#cancelBlink = this.#clock.every(BLINK_HALF_PERIOD_MS[status], () => {
      this.#write(pin, !this.#lit.get(pin));
    });
  }

  /**
   * A failed LED write is logged, never thrown: the LEDs are a side channel and must not stop
   * the events. Repeats are not logged so a blinking LED cannot flood the journal.
   */
  #write(pin: number, on: boolean): void {
    if (this.#lit.get(pin) === on) return;
    try {
      this.#driver.set(pin, on);
      this.#lit.set(pin, on);
      this.#failing.delete(pin);
    } catch (error) {
      if (!this.#failing.has(pin)) this.#logger.warn({ err: error, pin, on }, 'cannot set LED');
      this.#failing.add(pin);
    }
  }
}
