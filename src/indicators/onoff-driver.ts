import { describeError } from '../errors.js';
import { type Logger } from '../logging/logger.js';
import { resolveGpioBase, type ResolvedBase } from './gpio-base.js';
import { GpioError } from './gpio-error.js';
import { type LedDriver } from './led-driver.js';

/** The part of onoff's Gpio this driver uses; tests pass a fake with the same shape. */
export interface OnoffGpio {
  writeSync(value: 0 | 1): void;
  unexport(): void;
}

export interface OnoffModule {
  /** Exports sysfs GPIO `gpio`; direction 'low' makes it an output that starts off. */
  Gpio: new (gpio: number, direction: 'low') => OnoffGpio;
}

/**
 * Imports onoff on demand: it loads the native `epoll` addon at import time, so a static import
 * would crash the whole agent on a machine where that addon was not built, even one that only
 * needs the simulated LEDs.
 */
export async function loadOnoff(): Promise<OnoffModule> {
  try {
    const { Gpio } = await import('onoff');
    return { Gpio };
  } catch (error) {
    throw new GpioError(
      `the onoff GPIO library cannot be loaded: ${describeError(error)}. Its native dependency epoll ` +
        'is built at install time (needs python3, make and g++): run `npm rebuild epoll` in the ' +
        'install directory, or set gpio.driver to "simulated".',
      { cause: error },
    );
  }
}

export interface OnoffDriverOptions {
  onoff: OnoffModule;
  logger: Logger;
  /** config `gpio.chipBase`: sysfs number of BCM pin 0, or null to read it from sysfs. */
  chipBase: number | null;
  /** The sysfs GPIO directory the chip base is read from; onoff itself always uses the real one. */
  sysfsRoot: string;
}

/** LEDs on the kernel's sysfs GPIO interface through onoff, with BCM pins mapped to sysfs numbers. */
export class OnoffLedDriver implements LedDriver {
  readonly #options: OnoffDriverOptions;
  readonly #gpios = new Map<number, OnoffGpio>();

  constructor(options: OnoffDriverOptions) {
    this.#options = options;
  }

  async open(pins: readonly number[]): Promise<void> {
    if (this.#gpios.size > 0) throw new Error('LED pins are already open; close() first');
    const resolved = await resolveGpioBase({
      root: this.#options.sysfsRoot,
      pins,
      override: this.#options.chipBase,
    });
    this.#options.logger.info(
      { base: resolved.base, chip: resolved.chip?.name, label: resolved.chip?.label },
      'GPIO chip base resolved',
    );
    for (const pin of pins) {
      const sysfs = resolved.base + pin;
      try {
        this.#gpios.set(pin, new this.#options.onoff.Gpio(sysfs, 'low'));
      } catch (error) {
        // Release what was claimed so a retry (or another program) finds the pins free.
        await this.close();
        throw exportFailure(error, pin, sysfs, resolved);
      }
    }
  }

  set(pin: number, on: boolean): void {
    const gpio = this.#gpios.get(pin);
    if (!gpio) throw new Error(`LED pin ${pin} was not opened`);
    gpio.writeSync(on ? 1 : 0);
  }

  close(): Promise<void> {
    for (const [pin, gpio] of this.#gpios) {
      try {
        gpio.unexport();
      } catch (error) {
        this.#options.logger.warn({ err: error, pin }, 'cannot unexport LED pin');
      }
    }
    this.#gpios.clear();
    return Promise.resolve();
  }
}

/** Turns a failed export into a message naming the pin, its sysfs number and the usual fix. */
export function exportFailure(error: unknown, pin: number, sysfs: number, resolved: ResolvedBase): GpioError {
  const code = error instanceof Error ? (error as NodeJS.ErrnoException).code : undefined;
  const where = `BCM pin ${pin} (sysfs GPIO ${sysfs} = chip base ${resolved.base} + ${pin})`;
  const baseOrigin = resolved.chip
    ? `the base was read from ${resolved.chip.name} "${resolved.chip.label}"`
    : 'the base was set by gpio.chipBase';
  let advice: string;
  switch (code) {
    case 'EINVAL':
      advice =
        `the kernel has no such GPIO (EINVAL); ${baseOrigin}. Set gpio.chipBase (SER_GPIO_CHIP_BASE) ` +
        'to the base of the header chip: see `cat /sys/class/gpio/gpiochip*/label` and `.../base` ' +
        '(512 on a Pi 4 and 571 on a Pi 5 with kernel 6.6+, 0 on older kernels)';
      break;
    case 'EACCES':
    case 'EPERM':
      advice =
        `permission denied (${code}): the agent's user must be in the gpio group ` +
        '(`sudo usermod -aG gpio <user>`, then log in again; the systemd unit sets SupplementaryGroups=gpio)';
      break;
    case 'EBUSY':
      advice =
        'the pin is in use (EBUSY) by a kernel driver (a dtoverlay such as w1-gpio or gpio-led) or ' +
        'another program: free it, or choose another pin in gpio.pins / gpio.statusPin';
      break;
    default:
      advice = describeError(error);
  }
  return new GpioError(`cannot export ${where}: ${advice}`, { cause: error, pin });
}
