import { describe, expect, it } from 'vitest';
import { SimulatedLedDriver } from '../../src/indicators/simulated-driver.js';
import { captureLogs, LEVEL } from './fixtures/log-lines.js';
import { ledDriverContract } from './led-driver-contract.js';

ledDriverContract(
  'SimulatedLedDriver',
  () => {
    const driver = new SimulatedLedDriver(captureLogs().logger);
    return { driver, observe: () => driver.states() };
  },
  { claimsCanFail: false },
);

describe('SimulatedLedDriver', () => {
  it('logs each LED change as { pin, on } at info and keeps the states readable', async () => {
    const { logger, lines } = captureLogs();
    const driver = new SimulatedLedDriver(logger.child({ module: 'gpio' }));
    await driver.open([17, 5]);
    driver.set(17, true);
    driver.set(5, true);
    driver.set(17, false);

    const changes = lines.filter((line) => line.msg === 'led');
    expect(changes.map(({ level, module, pin, on }) => ({ level, module, pin, on }))).toEqual([
      { level: LEVEL.info, module: 'gpio', pin: 17, on: true },
      { level: LEVEL.info, module: 'gpio', pin: 5, on: true },
      { level: LEVEL.info, module: 'gpio', pin: 17, on: false },
    ]);
    expect(driver.state(17)).toBe(false);
    expect(driver.state(5)).toBe(true);
    expect([...driver.states()]).toEqual([
      [17, false],
      [5, true],
    ]);
  });

  it('rejects writes to pins it did not open, like the real driver', async () => {
    const driver = new SimulatedLedDriver(captureLogs().logger);
    await driver.open([17]);
    expect(() => driver.set(4, true)).toThrow('LED pin 4 was not opened');
    await driver.close();
    expect(driver.state(17)).toBeUndefined();
    expect(() => driver.set(17, true)).toThrow('LED pin 17 was not opened');
  });
});
