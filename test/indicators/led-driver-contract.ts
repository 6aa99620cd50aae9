import { describe, expect, it } from 'vitest';
import { type LedDriver } from '../../src/indicators/led-driver.js';

/** A driver under test and a view of the hardware behind it. */
export interface LedDriverHarness {
  driver: LedDriver;
  /**
   * What the hardware shows now: each pin the driver holds and whether its LED is lit; a released
   * pin is absent. Read through the driver's own edge (the fake binding, sysfs or tools), except
   * for the simulated driver, whose states are its hardware.
   */
  observe(): ReadonlyMap<number, boolean>;
  /** Makes claiming `pin` fail at the hardware edge (drivers with hardware only). */
  refuseClaim?: (pin: number) => void;
}

export interface LedDriverContractOptions {
  /** The driver has hardware that can refuse a pin, and the harness can make it (refuseClaim). */
  claimsCanFail: boolean;
}

const PINS = [17, 27, 5] as const;
/** Long enough for anything a driver left running to claim a pin again, were it to. */
const afterwards = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 50));
const [A, B, C] = PINS;

/**
 * What every LedDriver promises the indicators (src/indicators/led-driver.ts), run against the
 * simulated, onoff and gpiod drivers alike. Drivers may apply a write after set() returns (gpiod
 * restarts a process), so the hardware is polled until it shows the expected state.
 */
export function ledDriverContract(
  name: string,
  build: () => LedDriverHarness | Promise<LedDriverHarness>,
  options: LedDriverContractOptions,
): void {
  const shows = (harness: LedDriverHarness, expected: readonly (readonly [number, boolean])[]): Promise<void> =>
    expect.poll(() => harness.observe(), { timeout: 5000, interval: 5 }).toEqual(new Map(expected));

  describe(`${name}: the LedDriver contract`, () => {
    it('claims every pin as an output, all off', async () => {
      const harness = await build();
      await harness.driver.open(PINS);
      await shows(harness, [
        [A, false],
        [B, false],
        [C, false],
      ]);
      await harness.driver.close();
    });

    it('lights the pin it is told to and no other, and turns it off again', async () => {
      const harness = await build();
      const { driver } = harness;
      await driver.open(PINS);
      driver.set(B, true);
      await shows(harness, [
        [A, false],
        [B, true],
        [C, false],
      ]);
      driver.set(A, true);
      driver.set(B, false);
      await shows(harness, [
        [A, true],
        [B, false],
        [C, false],
      ]);
      driver.set(A, false);
      await shows(harness, [
        [A, false],
        [B, false],
        [C, false],
      ]);
      await driver.close();
    });

    it('ends on the last value written when writes come faster than the hardware changes', async () => {
      const harness = await build();
      const { driver } = harness;
      await driver.open(PINS);
      for (let i = 0; i < 9; i += 1) driver.set(C, i % 2 === 0);
      for (let i = 0; i < 6; i += 1) driver.set(A, i % 2 === 0);
      await shows(harness, [
        [A, false],
        [B, false],
        [C, true],
      ]);
      await driver.close();
    });

    it('refuses at once to write a pin it did not open, naming it', async () => {
      const harness = await build();
      await harness.driver.open(PINS);
      expect(() => harness.driver.set(4, true)).toThrow('LED pin 4 was not opened');
      await harness.driver.close();
    });

    it('releases every pin on close; closing again, or before opening, is safe', async () => {
      const harness = await build();
      const { driver } = harness;
      await driver.close();
      await driver.open(PINS);
      driver.set(A, true);
      await shows(harness, [
        [A, true],
        [B, false],
        [C, false],
      ]);
      await driver.close();
      expect(harness.observe()).toEqual(new Map());
      await driver.close();
      await afterwards();
      expect(harness.observe()).toEqual(new Map());
      expect(() => driver.set(A, true)).toThrow(`LED pin ${A} was not opened`);
    });

    it('releases every pin when closed with writes still under way', async () => {
      const harness = await build();
      const { driver } = harness;
      await driver.open(PINS);
      driver.set(A, true);
      // One turn of the event loop: a driver that applies writes asynchronously is now mid-change.
      await new Promise((resolve) => setImmediate(resolve));
      driver.set(B, true);
      driver.set(A, false);
      await driver.close();
      expect(harness.observe()).toEqual(new Map());
      await afterwards();
      expect(harness.observe()).toEqual(new Map());
    });

    it('claims the pins again after close, all off', async () => {
      const harness = await build();
      const { driver } = harness;
      await driver.open(PINS);
      driver.set(B, true);
      await driver.close();
      await driver.open([B, C]);
      await shows(harness, [
        [B, false],
        [C, false],
      ]);
      await driver.close();
    });

    // A driver without hardware has nothing that could refuse a pin.
    if (options.claimsCanFail) {
      it('rejects naming the first pin that cannot be claimed, and releases the others', async () => {
        const harness = await build();
        if (!harness.refuseClaim) throw new Error(`${name}'s harness cannot refuse a claim`);
        harness.refuseClaim(B);
        const failure = harness.driver.open(PINS);
        await expect(failure).rejects.toMatchObject({ code: 'GPIO', pin: B });
        await expect(failure).rejects.toThrow(`BCM pin ${B}`);
        expect(harness.observe()).toEqual(new Map());
        expect(() => harness.driver.set(A, true)).toThrow(`LED pin ${A} was not opened`);
      });
    }
  });
}
