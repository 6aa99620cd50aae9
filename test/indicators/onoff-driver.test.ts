import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { GpioError } from '../../src/indicators/gpio-error.js';
import { loadOnoff, OnoffLedDriver, type OnoffGpio, type OnoffModule } from '../../src/indicators/onoff-driver.js';
import { captureLogs } from './fixtures/log-lines.js';
import { ledDriverContract } from './led-driver-contract.js';

const pi4 = fileURLToPath(new URL('./fixtures/pi4-bookworm', import.meta.url));
const pi5 = fileURLToPath(new URL('./fixtures/pi5-bookworm', import.meta.url));

/** onoff at the hardware edge: records exports, writes and unexports; fails on chosen sysfs numbers. */
function fakeOnoff(failures: ReadonlyMap<number, string> = new Map()): { onoff: OnoffModule; log: string[] } {
  const log: string[] = [];
  class Gpio implements OnoffGpio {
    readonly #gpio: number;
    constructor(gpio: number, direction: 'low') {
      const code = failures.get(gpio);
      if (code) {
        throw Object.assign(new Error(`${code}: write /sys/class/gpio/export`), { code });
      }
      this.#gpio = gpio;
      log.push(`export ${gpio} ${direction}`);
    }
    writeSync(value: 0 | 1): void {
      log.push(`write ${this.#gpio} ${value}`);
    }
    unexport(): void {
      log.push(`unexport ${this.#gpio}`);
    }
  }
  return { onoff: { Gpio }, log };
}

const driverFor = (onoff: OnoffModule, sysfsRoot: string, chipBase: number | null = null): OnoffLedDriver =>
  new OnoffLedDriver({ onoff, logger: captureLogs().logger, chipBase, sysfsRoot });

/**
 * onoff over a model of the kernel's sysfs GPIO: an exported GPIO has a value until it is
 * unexported; exporting one that is exported already, or one refused, fails with EBUSY.
 */
function sysfsModel(): { onoff: OnoffModule; exported: Map<number, 0 | 1>; refused: Set<number> } {
  const exported = new Map<number, 0 | 1>();
  const refused = new Set<number>();
  const busy = (): Error => Object.assign(new Error('EBUSY: resource busy or locked, write'), { code: 'EBUSY' });
  class Gpio implements OnoffGpio {
    readonly #gpio: number;
    constructor(gpio: number, direction: 'low') {
      if (refused.has(gpio) || exported.has(gpio)) throw busy();
      this.#gpio = gpio;
      exported.set(gpio, direction === 'low' ? 0 : 1);
    }
    writeSync(value: 0 | 1): void {
      if (!exported.has(this.#gpio)) throw Object.assign(new Error(`ENOENT: no such file, gpio${this.#gpio}/value`), { code: 'ENOENT' });
      exported.set(this.#gpio, value);
    }
    unexport(): void {
      exported.delete(this.#gpio);
    }
  }
  return { onoff: { Gpio }, exported, refused };
}

const PI4_BASE = 512;
ledDriverContract(
  'OnoffLedDriver',
  () => {
    const sysfs = sysfsModel();
    return {
      driver: driverFor(sysfs.onoff, pi4),
      observe: () => new Map([...sysfs.exported].map(([gpio, value]) => [gpio - PI4_BASE, value === 1])),
      refuseClaim: (pin) => sysfs.refused.add(PI4_BASE + pin),
    };
  },
  { claimsCanFail: true },
);

describe('OnoffLedDriver', () => {
  it('maps BCM pins to sysfs numbers from the chip base, and unexports on close', async () => {
    const { onoff, log } = fakeOnoff();
    const driver = driverFor(onoff, pi5);
    await driver.open([17, 27]);
    driver.set(17, true);
    driver.set(17, false);
    await driver.close();
    await driver.close();
    expect(log).toEqual([
      'export 588 low',
      'export 598 low',
      'write 588 1',
      'write 588 0',
      'unexport 588',
      'unexport 598',
    ]);
  });

  it('uses gpio.chipBase over sysfs', async () => {
    const { onoff, log } = fakeOnoff();
    await driverFor(onoff, pi4, 0).open([17]);
    expect(log).toEqual(['export 17 low']);
  });

  it('explains EINVAL as a wrong chip base, naming the pin, sysfs number and the override', async () => {
    const { onoff, log } = fakeOnoff(new Map([[529, 'EINVAL']]));
    const failure = driverFor(onoff, pi4).open([4, 17]);
    await expect(failure).rejects.toBeInstanceOf(GpioError);
    await expect(failure).rejects.toMatchObject({ code: 'GPIO', pin: 17 });
    await expect(failure).rejects.toThrow(
      /BCM pin 17 \(sysfs GPIO 529 = chip base 512 \+ 17\).*EINVAL.*gpiochip512 "pinctrl-bcm2711".*gpio\.chipBase/,
    );
    // The pin claimed before the failure is released again.
    expect(log).toEqual(['export 516 low', 'unexport 516']);
  });

  it('explains EINVAL with a configured base as coming from gpio.chipBase', async () => {
    const { onoff } = fakeOnoff(new Map([[17, 'EINVAL']]));
    await expect(driverFor(onoff, pi4, 0).open([17])).rejects.toThrow(/base was set by gpio\.chipBase/);
  });

  it('explains EACCES as a missing gpio group', async () => {
    const { onoff } = fakeOnoff(new Map([[517, 'EACCES']]));
    await expect(driverFor(onoff, pi4).open([5])).rejects.toThrow(
      /BCM pin 5 \(sysfs GPIO 517.*permission denied \(EACCES\).*gpio group.*usermod -aG gpio/,
    );
  });

  it('explains EBUSY as a pin held by another driver or program', async () => {
    const { onoff } = fakeOnoff(new Map([[575, 'EBUSY']]));
    await expect(driverFor(onoff, pi5).open([4])).rejects.toThrow(
      /BCM pin 4 \(sysfs GPIO 575.*in use \(EBUSY\).*dtoverlay.*gpio\.pins/,
    );
  });

  it('refuses to write a pin it did not open', async () => {
    const driver = driverFor(fakeOnoff().onoff, pi4);
    await driver.open([17]);
    expect(() => driver.set(18, true)).toThrow('LED pin 18 was not opened');
  });
});

describe('loadOnoff', () => {
  afterEach(() => {
    vi.doUnmock('onoff');
    vi.resetModules();
  });

  it('loads the real onoff, whose native epoll addon was built at install', async () => {
    const onoff = await loadOnoff();
    expect(typeof onoff.Gpio).toBe('function');
  });

  it('turns a missing native build into a GpioError saying how to rebuild or simulate', async () => {
    vi.doMock('onoff', () => {
      throw new Error('Could not locate the bindings file. Tried: .../epoll/build/Release/epoll.node');
    });
    vi.resetModules();
    const fresh = await import('../../src/indicators/onoff-driver.js');
    const failure = fresh.loadOnoff();
    await expect(failure).rejects.toMatchObject({ name: 'GpioError', code: 'GPIO' });
    // vitest wraps the factory's error, so only our part of the message is asserted.
    await expect(failure).rejects.toThrow(
      /onoff GPIO library cannot be loaded: .*npm rebuild epoll.*gpio\.driver to "simulated"/,
    );
  });
});
