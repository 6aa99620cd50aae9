import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describeError } from '../errors.js';
import { GpioError } from './gpio-error.js';

/** Where the kernel's legacy sysfs GPIO interface lives. */
export const SYSFS_GPIO_ROOT = '/sys/class/gpio';

/** One `/sys/class/gpio/gpiochipN` directory. */
export interface GpioChip {
  /** The directory name, e.g. `gpiochip512`. */
  name: string;
  /** sysfs number of the chip's first line. */
  base: number;
  /** Number of lines the chip has. */
  ngpio: number;
  /** The driver's label, e.g. `pinctrl-bcm2711`. */
  label: string;
}

/**
 * Labels of the controllers that drive the 40-pin header, most specific first. On a Pi 5 the
 * header is wired to the RP1 south bridge, not to the BCM2712's own `gpio-brcmstb` chips, which
 * sit at lower bases and would be picked by a lowest-base rule.
 */
const HEADER_CHIP_LABELS = ['pinctrl-rp1', 'pinctrl-bcm2711', 'pinctrl-bcm2835'] as const;

export interface ResolvedBase {
  base: number;
  /** The chip the base came from; undefined when the configuration set it. */
  chip: GpioChip | undefined;
}

/**
 * sysfs GPIO number of BCM pin 0. Kernels since 6.6 (Raspberry Pi OS Bookworm) number sysfs
 * GPIOs from a dynamic chip base (512 on a Pi 4, 571 on a Pi 5), so BCM 17 is sysfs 529 or 588
 * there, and exporting 17 fails with EINVAL. Rule, in order:
 * 1. `override` (config `gpio.chipBase`) when set: the escape hatch for boards this rule misses;
 * 2. the chip labelled as a Raspberry Pi header controller (HEADER_CHIP_LABELS order);
 * 3. otherwise the lowest-based chip with enough lines for the highest pin, which is the SoC's
 *    main controller on the boards seen so far (expanders are registered after it).
 */
export async function resolveGpioBase(options: {
  root: string;
  pins: readonly number[];
  override: number | null;
}): Promise<ResolvedBase> {
  if (options.override !== null) return { base: options.override, chip: undefined };
  const chips = await readGpioChips(options.root);
  const chip = pickHeaderChip(chips, options.pins, options.root);
  return { base: chip.base, chip };
}

/** Every readable gpiochip under `root`; a missing root is the same as no chips. */
export async function readGpioChips(root: string): Promise<GpioChip[]> {
  let names: string[];
  try {
    names = (await readdir(root)).filter((name) => /^gpiochip\d+$/.test(name));
  } catch (error) {
    if (isErrnoCode(error, 'ENOENT')) return [];
    throw new GpioError(`cannot list ${root}: ${describeError(error)}`, { cause: error });
  }
  const chips = await Promise.all(names.map((name) => readChip(root, name)));
  return chips.sort((a, b) => a.base - b.base);
}

/** The chip whose lines are the header's BCM pins, by the rule documented on resolveGpioBase. */
export function pickHeaderChip(chips: readonly GpioChip[], pins: readonly number[], root: string): GpioChip {
  if (chips.length === 0) {
    throw new GpioError(
      `no GPIO chip under ${root}: this kernel exposes no sysfs GPIO (CONFIG_GPIO_SYSFS) or this is not a ` +
        'Raspberry Pi. Set gpio.driver to "simulated", or gpio.chipBase if the chips live elsewhere.',
    );
  }
  for (const label of HEADER_CHIP_LABELS) {
    const chip = chips.find((candidate) => candidate.label === label);
    if (chip) return chip;
  }
  const needed = Math.max(0, ...pins) + 1;
  const covering = [...chips].sort((a, b) => a.base - b.base).find((chip) => chip.ngpio >= needed);
  if (covering) return covering;
  const listing = chips.map((chip) => `${chip.name} "${chip.label}" base ${chip.base}, ${chip.ngpio} lines`).join('; ');
  throw new GpioError(
    `no GPIO chip under ${root} has the ${needed} lines BCM pin ${needed - 1} needs (${listing}). ` +
      'Set gpio.chipBase to the sysfs number of BCM pin 0.',
  );
}

async function readChip(root: string, name: string): Promise<GpioChip> {
  const dir = path.join(root, name);
  const read = async (file: string): Promise<string> => {
    try {
      return (await readFile(path.join(dir, file), 'utf8')).trim();
    } catch (error) {
      throw new GpioError(`cannot read ${path.join(dir, file)}: ${describeError(error)}`, { cause: error });
    }
  };
  const [base, ngpio, label] = await Promise.all([read('base'), read('ngpio'), read('label')]);
  return {
    name,
    base: parseCount(base, path.join(dir, 'base')),
    ngpio: parseCount(ngpio, path.join(dir, 'ngpio')),
    label,
  };
}

function parseCount(text: string, file: string): number {
  if (!/^\d+$/.test(text)) throw new GpioError(`${file} holds "${text}", expected a non-negative integer`);
  return Number(text);
}

function isErrnoCode(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}
