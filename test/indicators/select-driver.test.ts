import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { GpioError } from '../../src/indicators/gpio-error.js';
import { OnoffLedDriver, type OnoffModule } from '../../src/indicators/onoff-driver.js';
import { selectLedDriver } from '../../src/indicators/select-driver.js';
import { SimulatedLedDriver } from '../../src/indicators/simulated-driver.js';
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
    });
    expect(driver).toBeInstanceOf(OnoffLedDriver);
    await driver.open([17]);
    expect(exported).toEqual([529]);
    expect(lines.filter((line) => line.level >= LEVEL.warn)).toEqual([]);
  });

  it.each([
    ['does-not-exist', /does-not-exist\/export is not writable \(ENOENT\)/],
    ['no-gpiochip', /no gpiochip under .*no-gpiochip/],
  ])('auto: simulates, warning why, when %s', async (name, reason) => {
    const { logger, lines } = captureLogs();
    const loadOnoff = (): Promise<OnoffModule> => Promise.reject(new Error('must not be loaded'));
    const driver = await selectLedDriver({ driver: 'auto', chipBase: null, logger, sysfsRoot: tree(name), loadOnoff });
    expect(driver).toBeInstanceOf(SimulatedLedDriver);
    const warnings = lines.filter((line) => line.level === LEVEL.warn);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.['reason']).toMatch(reason);
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
});
