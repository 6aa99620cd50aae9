import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { readGpioChips, resolveGpioBase } from '../../src/indicators/gpio-base.js';
import { GpioError } from '../../src/indicators/gpio-error.js';

const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
const tree = (name: string): string => path.join(fixtures, name);
const HEADER_PINS = [5, 6, 17, 27];

describe('resolveGpioBase', () => {
  it('finds base 512 on a Pi 4 with kernel 6.6+ (Bookworm)', async () => {
    const resolved = await resolveGpioBase({ root: tree('pi4-bookworm'), pins: HEADER_PINS, override: null });
    expect(resolved.base).toBe(512);
    expect(resolved.chip?.label).toBe('pinctrl-bcm2711');
  });

  it('finds the RP1 at 571 on a Pi 5, not the lower brcmstb chips', async () => {
    const resolved = await resolveGpioBase({ root: tree('pi5-bookworm'), pins: HEADER_PINS, override: null });
    expect(resolved).toMatchObject({ base: 571, chip: { name: 'gpiochip571', label: 'pinctrl-rp1', ngpio: 54 } });
  });

  it('finds base 0 on an older kernel', async () => {
    const resolved = await resolveGpioBase({ root: tree('pi3-legacy'), pins: HEADER_PINS, override: null });
    expect(resolved.base).toBe(0);
    expect(resolved.chip?.label).toBe('pinctrl-bcm2835');
  });

  it('falls back to the lowest-based chip with enough lines when no label is known', async () => {
    const root = tree('generic-board');
    expect((await resolveGpioBase({ root, pins: [3, 15], override: null })).base).toBe(32);
    expect((await resolveGpioBase({ root, pins: [3, 27], override: null })).base).toBe(64);
  });

  it('uses the configured base without reading sysfs', async () => {
    const resolved = await resolveGpioBase({ root: tree('does-not-exist'), pins: HEADER_PINS, override: 600 });
    expect(resolved).toEqual({ base: 600, chip: undefined });
  });

  it('says clearly when there is no gpiochip, and how to go on', async () => {
    for (const root of [tree('no-gpiochip'), tree('does-not-exist')]) {
      const failure = resolveGpioBase({ root, pins: HEADER_PINS, override: null });
      await expect(failure).rejects.toBeInstanceOf(GpioError);
      await expect(failure).rejects.toThrow(`no GPIO chip under ${root}`);
      await expect(failure).rejects.toThrow(/gpio\.driver.*"simulated".*gpio\.chipBase/);
    }
  });
});

describe('gpio chips that do not fit', () => {
  let root: string | undefined;
  afterEach(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  const chip = async (name: string, files: Record<string, string>): Promise<void> => {
    if (!root) throw new Error('no temp dir');
    await mkdir(path.join(root, name));
    for (const [file, text] of Object.entries(files)) await writeFile(path.join(root, name, file), `${text}\n`);
  };

  it('lists the chips when none has enough lines for the pins', async () => {
    root = await mkdtemp(path.join(tmpdir(), 'ser-gpio-'));
    await chip('gpiochip0', { base: '0', ngpio: '16', label: 'small-soc' });
    await expect(resolveGpioBase({ root, pins: [27], override: null })).rejects.toThrow(
      /28 lines BCM pin 27 needs \(gpiochip0 "small-soc" base 0, 16 lines\).*gpio\.chipBase/,
    );
  });

  it('names the file holding a malformed number', async () => {
    root = await mkdtemp(path.join(tmpdir(), 'ser-gpio-'));
    await chip('gpiochip7', { base: 'x7', ngpio: '16', label: 'odd' });
    await expect(readGpioChips(root)).rejects.toThrow(`${path.join(root, 'gpiochip7', 'base')} holds "x7"`);
  });
});
