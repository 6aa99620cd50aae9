import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { GpioError } from '../../src/indicators/gpio-error.js';
import { GpiodLedDriver } from '../../src/indicators/gpiod-driver.js';
import { type SpawnTool } from '../../src/indicators/gpiod-tools.js';
import { OnoffLedDriver, type OnoffModule } from '../../src/indicators/onoff-driver.js';
import { selectLedDriver } from '../../src/indicators/select-driver.js';
import { SimulatedLedDriver } from '../../src/indicators/simulated-driver.js';
import { FakeGpiod, gpioinfoFixture } from './fake-gpiod.js';
import { captureLogs, LEVEL } from './fixtures/log-lines.js';

const tree = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

/** onoff whose exports only record, so selecting it touches no real GPIO. */
const recordingOnoff = (exported: number[]): OnoffModule => ({
  Gpio: class {
    constructor(gpio: number) {
      exported.push(gpio);
    }
    writeSync(): void {}
    unexport(): void {}
  },
});
const brokenOnoff = (): Promise<OnoffModule> =>
  Promise.reject(new GpioError('the onoff GPIO library cannot be loaded: epoll.node missing'));
/** Tools that must not be run: the case at hand is decided before the character device is looked at. */
const noTools: SpawnTool = (command) => {
  throw new Error(`${command} must not be run`);
};
const noGpiochip = tree('dev/no-gpiochip');
const pi5Dev = tree('dev/pi5-trixie');

describe('selectLedDriver', () => {
  it('auto: takes onoff when sysfs GPIO is usable, without a warning', async () => {
    const { logger, lines } = captureLogs();
    const exported: number[] = [];
    const driver = await selectLedDriver({
      driver: 'auto',
      chipBase: null,
      logger,
      sysfsRoot: tree('pi4-bookworm'),
      loadOnoff: () => Promise.resolve(recordingOnoff(exported)),
      devRoot: pi5Dev,
      spawnTool: noTools,
    });
    expect(driver).toBeInstanceOf(OnoffLedDriver);
    await driver.open([17]);
    expect(exported).toEqual([529]);
    expect(lines.filter((line) => line.level >= LEVEL.warn)).toEqual([]);
  });

  it.each([
    ['does-not-exist', /does-not-exist\/export is not writable \(ENOENT\)/],
    ['no-gpiochip', /no gpiochip under .*no-gpiochip/],
  ])('auto: simulates, warning why, with the sysfs tree %s and no GPIO character device', async (name, reason) => {
    const { logger, lines } = captureLogs();
    const loadOnoff = (): Promise<OnoffModule> => Promise.reject(new Error('must not be loaded'));
    const driver = await selectLedDriver({
      driver: 'auto',
      chipBase: null,
      logger,
      sysfsRoot: tree(name),
      loadOnoff,
      devRoot: noGpiochip,
      spawnTool: noTools,
    });
    expect(driver).toBeInstanceOf(SimulatedLedDriver);
    const warnings = lines.filter((line) => line.level === LEVEL.warn);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.['reason']).toMatch(reason);
    expect(warnings[0]?.['reason']).toMatch(/no GPIO character device \(.*dev\/no-gpiochip\/gpiochip\*\)/);
    expect(warnings[0]?.msg).toMatch(/simulated/);
  });

  it('auto: a chip base override makes a tree without listed chips usable', async () => {
    const driver = await selectLedDriver({
      driver: 'auto',
      chipBase: 512,
      logger: captureLogs().logger,
      sysfsRoot: tree('no-gpiochip'),
      loadOnoff: () => Promise.resolve(recordingOnoff([])),
    });
    expect(driver).toBeInstanceOf(OnoffLedDriver);
  });

  it('auto: simulates, warning why, when onoff cannot load', async () => {
    const { logger, lines } = captureLogs();
    const driver = await selectLedDriver({
      driver: 'auto',
      chipBase: null,
      logger,
      sysfsRoot: tree('pi5-bookworm'),
      loadOnoff: brokenOnoff,
      devRoot: noGpiochip,
      spawnTool: noTools,
    });
    expect(driver).toBeInstanceOf(SimulatedLedDriver);
    expect(lines.find((line) => line.level === LEVEL.warn)?.['reason']).toMatch(/epoll\.node missing/);
  });

  it('onoff: fails instead of simulating when onoff cannot load', async () => {
    const options = { driver: 'onoff', chipBase: null, logger: captureLogs().logger, loadOnoff: brokenOnoff } as const;
    await expect(selectLedDriver({ ...options, sysfsRoot: tree('pi4-bookworm') })).rejects.toBeInstanceOf(GpioError);
  });

  it('simulated: simulates even where GPIO is usable, without a warning', async () => {
    const { logger, lines } = captureLogs();
    const sysfsRoot = tree('pi4-bookworm');
    const driver = await selectLedDriver({ driver: 'simulated', chipBase: null, logger, sysfsRoot });
    expect(driver).toBeInstanceOf(SimulatedLedDriver);
    expect(lines).toEqual([]);
  });
  it('auto: takes the gpiod driver where sysfs GPIO is gone and a Raspberry Pi header chip is there (Trixie)', async () => {
    const { logger, lines } = captureLogs();
    const tools = new FakeGpiod({ major: 2, gpioinfo: gpioinfoFixture('pi5-gpiochip0-v2') });
    const loadOnoff = (): Promise<OnoffModule> => Promise.reject(new Error('must not be loaded'));
    const driver = await selectLedDriver({
      driver: 'auto',
      chipBase: null,
      logger,
      sysfsRoot: tree('does-not-exist'),
      loadOnoff,
      devRoot: pi5Dev,
      spawnTool: tools.spawn,
    });
    expect(driver).toBeInstanceOf(GpiodLedDriver);
    expect(lines.filter((line) => line.level >= LEVEL.warn)).toEqual([]);
    const chosen = lines.find((line) => line.level === LEVEL.info && /gpiod driver/.test(line.msg));
    expect(chosen?.['reason']).toMatch(/does-not-exist\/export is not writable \(ENOENT\)/);
    await driver.open([17]);
    expect(tools.held('gpiochip0')).toEqual(new Map([[17, false]]));
    await driver.close();
  });

  it('auto: takes the gpiod driver when sysfs is there but onoff cannot load', async () => {
    const tools = new FakeGpiod({ major: 1, gpioinfo: gpioinfoFixture('pi5-gpiochip0-v1') });
    const driver = await selectLedDriver({
      driver: 'auto',
      chipBase: null,
      logger: captureLogs().logger,
      sysfsRoot: tree('pi5-bookworm'),
      loadOnoff: brokenOnoff,
      devRoot: pi5Dev,
      spawnTool: tools.spawn,
    });
    expect(driver).toBeInstanceOf(GpiodLedDriver);
  });

  it.each([
    ['the libgpiod tools are missing', { missing: true }, 'pi5-gpiochip0-v2', /the libgpiod tools are not installed: `sudo apt-get install gpiod`/],
    ['no chip is a Raspberry Pi header', {}, 'generic-v2', /no GPIO chip has a line named "GPIO17"/],
  ])('auto: simulates, warning why, when the GPIO character devices are there but %s', async (_case, options, fixture, reason) => {
    const { logger, lines } = captureLogs();
    const tools = new FakeGpiod({ major: 2, gpioinfo: gpioinfoFixture(fixture), ...options });
    const driver = await selectLedDriver({
      driver: 'auto',
      chipBase: null,
      logger,
      sysfsRoot: tree('does-not-exist'),
      devRoot: pi5Dev,
      spawnTool: tools.spawn,
    });
    expect(driver).toBeInstanceOf(SimulatedLedDriver);
    const warnings = lines.filter((line) => line.level === LEVEL.warn);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.['reason']).toMatch(/export is not writable \(ENOENT\); /);
    expect(warnings[0]?.['reason']).toMatch(reason);
  });

  it('gpiod: builds the gpiod driver without looking at the hardware, which open() then does', async () => {
    const driver = await selectLedDriver({
      driver: 'gpiod',
      chipBase: null,
      logger: captureLogs().logger,
      sysfsRoot: tree('pi4-bookworm'),
      devRoot: noGpiochip,
      spawnTool: new FakeGpiod({ major: 2, gpioinfo: '', missing: true }).spawn,
    });
    expect(driver).toBeInstanceOf(GpiodLedDriver);
    await expect(driver.open([17])).rejects.toThrow(/libgpiod tools are not installed/);
  });
});
