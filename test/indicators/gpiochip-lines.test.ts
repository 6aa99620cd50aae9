import { describe, expect, it } from 'vitest';
import { findHeaderChip, parseGpioinfo, type GpioChipLines } from '../../src/indicators/gpiochip-lines.js';
import { GpioError } from '../../src/indicators/gpio-error.js';
import { gpioinfoFixture } from './fake-gpiod.js';

const HEADER_PINS = [5, 6, 17, 27];
const summary = (chips: readonly GpioChipLines[]): string[] => chips.map((chip) => `${chip.name}:${chip.lines.length}`);

describe('parseGpioinfo', () => {
  it('reads libgpiod 1.x and 2.x output of the same board alike', () => {
    for (const board of ['pi4', 'generic']) {
      const v1 = parseGpioinfo(gpioinfoFixture(`${board}-v1`));
      const v2 = parseGpioinfo(gpioinfoFixture(`${board}-v2`));
      expect(v1.length).toBeGreaterThan(0);
      expect(v1).toEqual(v2);
    }
    expect(parseGpioinfo(gpioinfoFixture('pi5-gpiochip0-v1'))).toEqual(parseGpioinfo(gpioinfoFixture('pi5-gpiochip0-v2')));
  });

  it('reads names, holders and directions, in 1.x padded columns and 2.x attributes', () => {
    for (const major of [1, 2]) {
      const [rp1] = parseGpioinfo(gpioinfoFixture(`pi5-gpiochip0-v${major}`));
      expect(rp1?.name).toBe('gpiochip0');
      expect(rp1?.lines[17]).toEqual({ offset: 17, name: 'GPIO17', used: false, consumer: undefined, direction: 'input' });
      expect(rp1?.lines[7]).toEqual({ offset: 7, name: 'GPIO7', used: true, consumer: 'spi0 CS1', direction: 'output' });
      // A name too long for its column: 1.x stops padding the rest of the row.
      expect(rp1?.lines[36]).toMatchObject({ name: 'RP1_PCIE_CLKREQ_N', used: false });
      const generic = parseGpioinfo(gpioinfoFixture(`generic-v${major}`))[0];
      expect(generic?.lines[0]).toEqual({ offset: 0, name: undefined, used: false, consumer: undefined, direction: 'input' });
      expect(generic?.lines[3]).toEqual({ offset: 3, name: undefined, used: true, consumer: 'kernel', direction: 'output' });
    }
    const pi5old = parseGpioinfo(gpioinfoFixture('pi5-gpiochip4-v1'));
    expect(pi5old[0]?.lines[1]).toEqual({ offset: 1, name: '2712_BOOT_CS_N', used: true, consumer: 'spi10 CS0', direction: 'output' });
    const [soc] = parseGpioinfo(gpioinfoFixture('pi5-gpiochip0-v2')).filter((chip) => chip.name === 'gpiochip10');
    // 2.x attributes before the consumer (active-low, bias=...) are skipped.
    expect(soc?.lines[20]).toEqual({ offset: 20, name: 'PWR_GPIO', used: true, consumer: 'pwr_button', direction: 'input' });
  });

  it('keeps a chip that libgpiod 1.x lists twice (a Pi 5 /dev/gpiochip4 symlink) once', () => {
    const text = gpioinfoFixture('pi5-gpiochip0-v1');
    expect(text.match(/^gpiochip0 - 54 lines:$/gm)).toHaveLength(2);
    expect(summary(parseGpioinfo(text))).toEqual(['gpiochip0:54', 'gpiochip10:32', 'gpiochip11:4', 'gpiochip12:17', 'gpiochip13:6']);
  });

  it('reads the lines users posted from real boards', () => {
    const posted = [
      'gpiochip0 - 3 lines:',
      '\tline   0:          "-"       unused   input  active-high ',
      '\tline   1: "2712_BOOT_CS_N" "spi10 CS0" output active-low [used]',
      '\tline   2:  "SPI_CE1_N"   "spi0 CS1"  output   active-low [used]',
      'gpiochip1 - 2 lines:',
      '\tline   0:\t"GPIO7"         \toutput active-low consumer="spi0 CS1"',
      '\tline   1:\t"PCIE_RP1_WAKE" \tinput',
    ].join('\n');
    expect(parseGpioinfo(posted).map((chip) => chip.lines.map((line) => [line.name, line.consumer ?? null]))).toEqual([
      [
        ['-', null],
        ['2712_BOOT_CS_N', 'spi10 CS0'],
        ['SPI_CE1_N', 'spi0 CS1'],
      ],
      [
        ['GPIO7', 'spi0 CS1'],
        ['PCIE_RP1_WAKE', null],
      ],
    ]);
  });

  it('is empty when there is no chip, and names the row it cannot read', () => {
    expect(parseGpioinfo('')).toEqual([]);
    expect(() => parseGpioinfo('gpiochip0 - 1 lines:\n\tline 0: something else\n')).toThrow(
      'cannot read gpioinfo output line 2: "\\tline 0: something else"',
    );
    expect(() => parseGpioinfo('\tline   0:\t"GPIO0"\tinput\n')).toThrow(GpioError);
    expect(() => parseGpioinfo('gpiochip0 - 54 lines:\n\tline   0:\t"ID_SDA"        \tinput\n')).toThrow(
      'gpioinfo listed 1 of the 54 lines of gpiochip0',
    );
  });
});

describe('findHeaderChip', () => {
  it.each([
    ['pi4-v1', 'gpiochip0'],
    ['pi4-v2', 'gpiochip0'],
    ['pi5-gpiochip4-v1', 'gpiochip4'],
    ['pi5-gpiochip0-v1', 'gpiochip0'],
    ['pi5-gpiochip0-v2', 'gpiochip0'],
  ])('finds the header on %s by its line names: %s', (fixture, chip) => {
    const header = findHeaderChip(parseGpioinfo(gpioinfoFixture(fixture)), HEADER_PINS);
    expect(header.chip.name).toBe(chip);
    expect(header.lineOf(17)).toMatchObject({ offset: 17, name: 'GPIO17' });
    expect(header.lineOf(0)).toMatchObject({ offset: 0, name: 'ID_SDA' });
  });

  it('picks the RP1 on a Pi 5 although the SoC chips come first', () => {
    const chips = parseGpioinfo(gpioinfoFixture('pi5-gpiochip4-v1'));
    expect(summary(chips).slice(0, 4)).toEqual(['gpiochip0:32', 'gpiochip1:4', 'gpiochip2:17', 'gpiochip3:6']);
    expect(findHeaderChip(chips, HEADER_PINS).chip.name).toBe('gpiochip4');
  });

  it('lists the chips when none has a line named GPIO17, and says how to go on', () => {
    for (const fixture of ['generic-v1', 'generic-v2']) {
      expect(() => findHeaderChip(parseGpioinfo(gpioinfoFixture(fixture)), HEADER_PINS)).toThrow(
        /no GPIO chip has a line named "GPIO17".*\(chips: gpiochip0 \(8 lines\)\).*gpioinfo.*"simulated"/,
      );
    }
    expect(() => findHeaderChip([], HEADER_PINS)).toThrow(/\(chips: none\)/);
  });

  it('refuses a board that names GPIO17 at another offset, and a pin beyond the chip', () => {
    const odd: GpioChipLines = {
      name: 'gpiochip2',
      lines: ['A', 'GPIO17'].map((name, offset) => ({ offset, name, used: false, consumer: undefined, direction: 'input' })),
    };
    expect(() => findHeaderChip([odd], [1])).toThrow(/gpiochip2 names line 1 "GPIO17", not line 17/);
    const [rp1] = parseGpioinfo(gpioinfoFixture('pi5-gpiochip0-v2'));
    const short: GpioChipLines = { name: 'gpiochip0', lines: rp1!.lines.slice(0, 20) };
    expect(() => findHeaderChip([short], [17, 27])).toThrow(/BCM pin 27 is beyond gpiochip0's 20 lines/);
  });
});
