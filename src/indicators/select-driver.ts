import { access, constants } from 'node:fs/promises';
import path from 'node:path';
import { describeError } from '../errors.js';
import { type Logger } from '../logging/logger.js';
import { readGpioChips, SYSFS_GPIO_ROOT } from './gpio-base.js';
import { type LedDriver } from './led-driver.js';
import { loadOnoff, OnoffLedDriver, type OnoffModule } from './onoff-driver.js';
import { SimulatedLedDriver } from './simulated-driver.js';

export const LED_DRIVER_CHOICES = ['auto', 'onoff', 'simulated'] as const;
export type LedDriverChoice = (typeof LED_DRIVER_CHOICES)[number];

export interface SelectDriverOptions {
  /** config `gpio.driver`. */
  driver: LedDriverChoice;
  /** config `gpio.chipBase`. */
  chipBase: number | null;
  logger: Logger;
  /** Default /sys/class/gpio; tests point it at a fixture tree. */
  sysfsRoot?: string;
  /** Default: import the real onoff; tests pass a fake. */
  loadOnoff?: () => Promise<OnoffModule>;
}

/**
 * Builds the configured LedDriver. `auto` takes onoff when sysfs GPIO is usable and otherwise the
 * simulated driver with a warning saying why, so the agent runs on any machine; an explicit
 * `onoff` fails instead, because then missing LEDs are a fault the operator must hear about.
 */
export async function selectLedDriver(options: SelectDriverOptions): Promise<LedDriver> {
  const sysfsRoot = options.sysfsRoot ?? SYSFS_GPIO_ROOT;
  const load = options.loadOnoff ?? loadOnoff;
  const onoffDriver = (onoff: OnoffModule): LedDriver =>
    new OnoffLedDriver({ onoff, logger: options.logger, chipBase: options.chipBase, sysfsRoot });

  switch (options.driver) {
    case 'simulated':
      return new SimulatedLedDriver(options.logger);
    case 'onoff':
      return onoffDriver(await load());
    case 'auto': {
      const unusable = await whySysfsGpioUnusable(sysfsRoot, options.chipBase);
      if (unusable === undefined) {
        try {
          return onoffDriver(await load());
        } catch (error) {
          return simulatedBecause(options.logger, describeError(error));
        }
      }
      return simulatedBecause(options.logger, unusable);
    }
  }
}

/** Undefined when onoff can work under `root`, else the reason it cannot. */
export async function whySysfsGpioUnusable(root: string, chipBase: number | null): Promise<string | undefined> {
  const exportFile = path.join(root, 'export');
  try {
    await access(exportFile, constants.W_OK);
  } catch (error) {
    return `${exportFile} is not writable (${errnoCode(error)})`;
  }
  // With an explicit base the chips need not be listed (some kernels hide them from sysfs).
  if (chipBase !== null) return undefined;
  try {
    if ((await readGpioChips(root)).length === 0) return `no gpiochip under ${root}`;
  } catch (error) {
    return describeError(error);
  }
  return undefined;
}

function simulatedBecause(logger: Logger, reason: string): LedDriver {
  logger.warn({ reason }, `GPIO is not usable (${reason}); LED changes are only logged (simulated driver)`);
  return new SimulatedLedDriver(logger);
}

function errnoCode(error: unknown): string {
  return (error instanceof Error && (error as NodeJS.ErrnoException).code) || describeError(error);
}
