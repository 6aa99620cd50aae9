import { GpioError } from './gpio-error.js';

/** One line of a GPIO character device as `gpioinfo` lists it. */
export interface GpioLineInfo {
  offset: number;
  /** The device tree's name for the line (`GPIO17`, `ID_SDA`), or undefined for an unnamed line. */
  name: string | undefined;
  /** Whether a kernel driver or a process holds the line. */
  used: boolean;
  /** Who holds it (`spi0 CS0`, `gpioset`, `kernel` when the holder gave no name); undefined when unused. */
  consumer: string | undefined;
  direction: 'input' | 'output';
}

/** One `/dev/gpiochipN` and its lines, in offset order. */
export interface GpioChipLines {
  /** The chip's device name, e.g. `gpiochip0`: what gpioset's chip argument takes. */
  name: string;
  lines: GpioLineInfo[];
}

/**
 * The line name that marks the 40-pin header's controller. Every Raspberry Pi device tree since
 * the Pi 3 names the header lines `GPIO2`..`GPIO27` at offsets 2..27 of that controller (lines 0
 * and 1 are `ID_SDA`/`ID_SCL`), while the chip numbers move between kernels: on a Pi 5 the RP1 is
 * gpiochip4 on early 6.6 kernels and gpiochip0 since (raspberrypi/linux#6084, #6144). So the
 * header chip is found by this name, never by number.
 */
export const HEADER_LINE_NAME = 'GPIO17';
const HEADER_LINE_OFFSET = 17;

const CHIP_HEADER = /^(\S+) - (\d+) lines:$/;
const LINE_START = /^\s*line\s+(\d+):\s*(?:"((?:[^"]|"(?!\s))*)"|(unnamed))\s+(.*)$/;
/** libgpiod 1.x: consumer column (quoted, `unused` or `kernel`), direction, active state, [flags]. */
const V1_REST = /^(?:"(.*)"|(unused)|(kernel))\s+(input|output)\s+(?:active-high|active-low)\s*(?:\[[^\]]*\])?\s*$/;
/** libgpiod 2.x: direction, then space-separated attributes, `consumer="..."` last when the line is used. */
const V2_REST = /^(input|output)((?:\s+[a-z-]+=?(?:"[^"]*"|\S*))*?)(?:\s+consumer="(.*)")?\s*$/;

/**
 * Parses the output of `gpioinfo` with no arguments, in the formats of libgpiod 1.x (Debian
 * Bookworm's gpiod 1.6) and 2.x (Trixie's gpiod 2.2): both start each chip with
 * `gpiochipN - M lines:` and each line with `line N:` and its quoted name; 1.x then prints padded
 * columns (`unused`/consumer, direction, active state, `[flags]`), 2.x tab-separated attributes with
 * `consumer="..."` for a used line. A chip listed twice (libgpiod 1.x also lists symlinks such as a
 * Pi 5's /dev/gpiochip4 → gpiochip0) is kept once. Lines that match neither format are errors.
 */
export function parseGpioinfo(text: string): GpioChipLines[] {
  const chips = new Map<string, GpioChipLines>();
  let current: { chip: GpioChipLines; declared: number } | undefined;
  const finish = (): void => {
    if (current && current.chip.lines.length !== current.declared) {
      throw new GpioError(
        `gpioinfo listed ${current.chip.lines.length} of the ${current.declared} lines of ${current.chip.name}`,
      );
    }
  };
  for (const [index, raw] of text.split('\n').entries()) {
    const row = raw.replace(/\r$/, '');
    if (row.trim() === '') continue;
    const header = CHIP_HEADER.exec(row);
    if (header) {
      finish();
      const chip: GpioChipLines = { name: header[1]!, lines: [] };
      current = { chip, declared: Number(header[2]) };
      if (!chips.has(chip.name)) chips.set(chip.name, chip);
      continue;
    }
    const line = current ? parseLine(row) : undefined;
    if (!current || !line || line.offset !== current.chip.lines.length) {
      throw new GpioError(`cannot read gpioinfo output line ${index + 1}: ${JSON.stringify(row)}`);
    }
    current.chip.lines.push(line);
  }
  finish();
  return [...chips.values()];
}

function parseLine(row: string): GpioLineInfo | undefined {
  const start = LINE_START.exec(row);
  if (!start) return undefined;
  const offset = Number(start[1]);
  const name = start[3] === undefined ? start[2] : undefined;
  const rest = start[4]!.trim();
  const v1 = V1_REST.exec(rest);
  if (v1) {
    const consumer = v1[1] ?? v1[3];
    return { offset, name, used: v1[2] === undefined, consumer, direction: v1[4] as 'input' | 'output' };
  }
  const v2 = V2_REST.exec(rest);
  if (v2) {
    const consumer = v2[3];
    return { offset, name, used: consumer !== undefined, consumer, direction: v2[1] as 'input' | 'output' };
  }
  return undefined;
}

/** The header chip and, for each BCM pin, its line there. */
export interface HeaderChip {
  chip: GpioChipLines;
  /** BCM pin → line on `chip`; on every Raspberry Pi the offset is the BCM number. */
  lineOf(pin: number): GpioLineInfo;
}

/**
 * The chip that drives the 40-pin header: the one with a line named HEADER_LINE_NAME, at offset
 * 17 as on every Raspberry Pi. Throws a GpioError listing the chips when there is none, when the
 * named line sits elsewhere (a board numbered unlike a Pi), or when a pin is beyond the chip.
 */
export function findHeaderChip(chips: readonly GpioChipLines[], pins: readonly number[]): HeaderChip {
  const chip = chips.find((candidate) => candidate.lines.some((line) => line.name === HEADER_LINE_NAME));
  if (!chip) {
    const listing = chips.length === 0 ? 'none' : chips.map((c) => `${c.name} (${c.lines.length} lines)`).join(', ');
    throw new GpioError(
      `no GPIO chip has a line named "${HEADER_LINE_NAME}", so none is a Raspberry Pi's 40-pin header ` +
        `(chips: ${listing}). See \`gpioinfo\`; on other boards set gpio.driver to "simulated".`,
    );
  }
  const named = chip.lines.find((line) => line.name === HEADER_LINE_NAME)!;
  if (named.offset !== HEADER_LINE_OFFSET) {
    throw new GpioError(
      `${chip.name} names line ${named.offset} "${HEADER_LINE_NAME}", not line ${HEADER_LINE_OFFSET} as a ` +
        'Raspberry Pi does: BCM pin numbers cannot be mapped to this board\'s lines.',
    );
  }
  for (const pin of pins) {
    if (pin >= chip.lines.length) {
      throw new GpioError(`BCM pin ${pin} is beyond ${chip.name}'s ${chip.lines.length} lines`, { pin });
    }
  }
  return {
    chip,
    lineOf: (pin: number): GpioLineInfo => {
      const line = chip.lines[pin];
      if (!line) throw new GpioError(`BCM pin ${pin} is beyond ${chip.name}'s ${chip.lines.length} lines`, { pin });
      return line;
    },
  };
}
