import { access, constants, readdir } from 'node:fs/promises';
import path from 'node:path';
import { describeError } from '../errors.js';
import { type Logger } from '../logging/logger.js';
import { readGpioChips, SYSFS_GPIO_ROOT } from './gpio-base.js';
import { findHeaderChip } from './gpiochip-lines.js';
import { GpiodLedDriver } from './gpiod-driver.js';
import { readChipLines, readToolsVersion, spawnTool, type SpawnTool } from './gpiod-tools.js';
import { type LedDriver } from './led-driver.js';
import { loadOnoff, OnoffLedDriver, type OnoffModule } from './onoff-driver.js';
import { SimulatedLedDriver } from './simulated-driver.js';

export const LED_DRIVER_CHOICES = ['auto', 'onoff', 'gpiod', 'simulated'] as const;
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
  /** Where the GPIO character devices are; default /dev, tests point it at a fixture tree. */
  devRoot?: string;
  /** Default: the real libgpiod tools; tests pass a fake. */
  spawnTool?: SpawnTool;
}

/**
 * Builds the configured LedDriver. `auto` takes, in order: onoff when sysfs GPIO is usable (Raspberry
 * Pi OS Bookworm and older); the gpiod driver when it is not (Trixie has no /sys/class/gpio) but a
 * GPIO character device with a Raspberry Pi header is there; else the simulated driver with a
 * warning saying why, so the agent runs on any machine. An explicit `onoff` or `gpiod` fails
 * instead, because then missing LEDs are a fault the operator must hear about.
 */
export async function selectLedDriver(options: SelectDriverOptions): Promise<LedDriver> {
  const sysfsRoot = options.sysfsRoot ?? SYSFS_GPIO_ROOT;
  const load = options.loadOnoff ?? loadOnoff;
  const onoffDriver = (onoff: OnoffModule): LedDriver =>
    new OnoffLedDriver({ onoff, logger: options.logger, chipBase: options.chipBase, sysfsRoot });
  const spawn = options.spawnTool ?? spawnTool;
  const gpiodDriver = (): LedDriver => new GpiodLedDriver({ logger: options.logger, spawn });

  switch (options.driver) {
    case 'simulated':
      return new SimulatedLedDriver(options.logger);
    case 'onoff':
      return onoffDriver(await load());
    case 'gpiod':
      return gpiodDriver();
    case 'auto': {
      let sysfs = await whySysfsGpioUnusable(sysfsRoot, options.chipBase);
      if (sysfs === undefined) {
        try {
          return onoffDriver(await load());
        } catch (error) {
          sysfs = describeError(error);
        }
      }
      const chardev = await whyGpiodUnusable(options.devRoot ?? '/dev', spawn);
      if (chardev === undefined) {
        options.logger.info(
          { reason: sysfs },
          `sysfs GPIO is not usable (${sysfs}); LEDs use the GPIO character device through the libgpiod tools (gpiod driver)`,
        );
        return gpiodDriver();
      }
      return simulatedBecause(options.logger, `${sysfs}; ${chardev}`);
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

/**
 * Undefined when the gpiod driver can work: a /dev/gpiochipN exists, the libgpiod tools run, and
 * `gpioinfo` shows a chip with the Raspberry Pi header's line names. Else the reason it cannot.
 */
export async function whyGpiodUnusable(devRoot: string, spawn: SpawnTool): Promise<string | undefined> {
  let devices: string[];
  try {
    devices = (await readdir(devRoot)).filter((name) => /^gpiochip\d+$/.test(name));
  } catch (error) {
    return `cannot list ${devRoot} (${errnoCode(error)})`;
  }
  if (devices.length === 0) return `no GPIO character device (${path.join(devRoot, 'gpiochip*')})`;
  try {
    await readToolsVersion(spawn);
    findHeaderChip(await readChipLines(spawn), []);
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
