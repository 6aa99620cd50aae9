import { describe, expect, it } from 'vitest';
import { GpioError } from '../../src/indicators/gpio-error.js';
import { GpiodLedDriver } from '../../src/indicators/gpiod-driver.js';
import { type SpawnTool } from '../../src/indicators/gpiod-tools.js';
import { Indicators } from '../../src/indicators/indicators.js';
import { FakeGpiod, gpioinfoFixture } from './fake-gpiod.js';
import { captureLogs, LEVEL } from './fixtures/log-lines.js';
import { ledDriverContract } from './led-driver-contract.js';

/** A board: the gpioinfo fixture, the libgpiod release of its tools, and the header chip it has. */
interface Board {
  fixture: string;
  major: 1 | 2;
  chip: string;
}
const PI5_TRIXIE: Board = { fixture: 'pi5-gpiochip0-v2', major: 2, chip: 'gpiochip0' };
const PI4_TRIXIE: Board = { fixture: 'pi4-v2', major: 2, chip: 'gpiochip0' };
const PI5_BOOKWORM_66: Board = { fixture: 'pi5-gpiochip4-v1', major: 1, chip: 'gpiochip4' };
const PI5_BOOKWORM: Board = { fixture: 'pi5-gpiochip0-v1', major: 1, chip: 'gpiochip0' };
const PI4_BOOKWORM: Board = { fixture: 'pi4-v1', major: 1, chip: 'gpiochip0' };

function setup(board: Board, options: { missing?: boolean; reclaimMs?: number } = {}) {
  const { reclaimMs = 60_000, ...fake } = options;
  const tools = new FakeGpiod({ major: board.major, gpioinfo: gpioinfoFixture(board.fixture), ...fake });
  const { logger, lines } = captureLogs();
  const driver = new GpiodLedDriver({ logger, spawn: tools.spawn, settleMs: 20, timeoutMs: 1000, reclaimMs });
  return { tools, driver, lines };
}

for (const board of [PI5_TRIXIE, PI4_TRIXIE, PI5_BOOKWORM_66, PI4_BOOKWORM]) {
  ledDriverContract(
    `GpiodLedDriver (libgpiod ${board.major}, ${board.fixture})`,
    () => {
      const { tools, driver } = setup(board);
      return {
        driver,
        observe: () => tools.held(board.chip),
        refuseClaim: (pin) => tools.refuse(board.chip, pin, 'unable to request lines: Device or resource busy'),
      };
    },
    { claimsCanFail: true },
  );
}

const gpiosets = (tools: FakeGpiod): string[] => tools.commands.filter((command) => command.startsWith('gpioset ') && !command.endsWith('--version'));

describe('GpiodLedDriver', () => {
  it.each([
    [PI5_TRIXIE, 'gpioset --banner --consumer=ser-agent --chip gpiochip0 17=0'],
    [PI4_TRIXIE, 'gpioset --banner --consumer=ser-agent --chip gpiochip0 17=0'],
    [PI5_BOOKWORM_66, 'gpioset --mode=wait gpiochip4 17=0'],
    [PI5_BOOKWORM, 'gpioset --mode=wait gpiochip0 17=0'],
    [PI4_BOOKWORM, 'gpioset --mode=wait gpiochip0 17=0'],
  ])('holds each line with one gpioset in the dialect of the installed libgpiod (%o)', async (board, command) => {
    const { tools, driver, lines } = setup(board);
    await driver.open([17]);
    expect(tools.commands).toEqual(['gpioset --version', 'gpioinfo', command]);
    expect(tools.running).toBe(1);
    const found = lines.find((line) => line.msg === 'GPIO header chip found');
    expect(found).toMatchObject({ level: LEVEL.info, chip: board.chip, libgpiod: board.major === 1 ? 'v1.6.3' : 'v2.2.1', pins: [17] });
    await driver.close();
    expect(tools.running).toBe(0);
  });

  it('changes an LED by restarting only its own gpioset, after the old one has released the line', async () => {
    const { tools, driver, lines } = setup(PI5_TRIXIE);
    await driver.open([17, 27]);
    driver.set(27, true);
    await expect.poll(() => tools.held('gpiochip0').get(27)).toBe(true);
    expect(gpiosets(tools)).toEqual([
      'gpioset --banner --consumer=ser-agent --chip gpiochip0 17=0',
      'gpioset --banner --consumer=ser-agent --chip gpiochip0 27=0',
      'gpioset --banner --consumer=ser-agent --chip gpiochip0 27=1',
    ]);
    expect(tools.running).toBe(2);
    // Had a new gpioset started before the old one ended, the fake kernel would have said busy.
    expect(lines.filter((line) => line.level >= LEVEL.warn)).toEqual([]);
    await driver.close();
  });

  it('coalesces a burst of writes into the changes it has time for, never more processes than LEDs', async () => {
    const { tools, driver } = setup(PI5_TRIXIE);
    await driver.open([17]);
    for (let i = 0; i < 50; i += 1) driver.set(17, i % 2 === 0);
    await expect.poll(() => tools.held('gpiochip0').get(17)).toBe(false);
    expect(gpiosets(tools).length).toBeLessThan(10);
    expect(tools.running).toBe(1);
    await driver.close();
  });

  it('refuses a pin that gpioinfo shows in use, naming the holder, and starts no gpioset', async () => {
    const { tools, driver } = setup(PI4_TRIXIE);
    const failure = driver.open([17, 7]);
    await expect(failure).rejects.toMatchObject({ code: 'GPIO', pin: 7 });
    await expect(failure).rejects.toThrow(/BCM pin 7 \(gpiochip0 line 7\).*in use by "spi0 CS1".*dtparam.*gpio\.pins/);
    expect(gpiosets(tools)).toEqual([]);
  });

  it('says how to stop a gpioset left holding a pin by an earlier run', async () => {
    const text = gpioinfoFixture('pi5-gpiochip0-v2').replace(
      '"GPIO17"        \tinput',
      '"GPIO17"        \toutput consumer="ser-agent"',
    );
    const tools = new FakeGpiod({ major: 2, gpioinfo: text });
    const driver = new GpiodLedDriver({ logger: captureLogs().logger, spawn: tools.spawn });
    await expect(driver.open([17])).rejects.toThrow(/in use by "ser-agent"; a gpioset process holds it.*ps -C gpioset/);
  });

  it('explains a busy line and a permission problem when gpioset cannot claim it', async () => {
    const busy = setup(PI4_BOOKWORM);
    busy.tools.refuse('gpiochip0', 27, 'error setting the GPIO line values: Device or resource busy');
    await expect(busy.driver.open([17, 27])).rejects.toThrow(
      /cannot claim BCM pin 27 \(gpiochip0 line 27\): gpioset: error setting the GPIO line values: Device or resource busy\. .*EBUSY.*gpio\.pins/,
    );
    expect(busy.tools.held('gpiochip0')).toEqual(new Map());
    expect(busy.tools.running).toBe(0);

    const denied = setup(PI5_TRIXIE);
    denied.tools.refuse('gpiochip0', 17, "unable to open chip '/dev/gpiochip0': Permission denied");
    await expect(denied.driver.open([17])).rejects.toThrow(/Permission denied\. .*gpio group.*usermod -aG gpio/);
  });

  it('names the chips it saw when none is a Raspberry Pi header', async () => {
    for (const major of [1, 2] as const) {
      const tools = new FakeGpiod({ major, gpioinfo: gpioinfoFixture(`generic-v${major}`) });
      const driver = new GpiodLedDriver({ logger: captureLogs().logger, spawn: tools.spawn });
      const failure = driver.open([17]);
      await expect(failure).rejects.toBeInstanceOf(GpioError);
      await expect(failure).rejects.toThrow(/no GPIO chip has a line named "GPIO17".*gpiochip0 \(8 lines\).*"simulated"/);
    }
  });

  it('says how to install the tools when they are missing', async () => {
    const { driver } = setup(PI5_TRIXIE, { missing: true });
    await expect(driver.open([17])).rejects.toThrow(/cannot run gpioset: the libgpiod tools are not installed: `sudo apt-get install gpiod`/);
  });

  it('logs a failed change once, keeps trying on later writes, and logs again only after one worked', async () => {
    const { tools, driver, lines } = setup(PI5_TRIXIE);
    await driver.open([17]);
    tools.refuse('gpiochip0', 17, "unable to request lines on chip '/dev/gpiochip0': Device or resource busy");
    const warnings = (): unknown[] => lines.filter((line) => line.level === LEVEL.warn).map((line) => [line.msg, line['pin']]);
    driver.set(17, true);
    await expect.poll(warnings).toEqual([['cannot set LED', 17]]);
    driver.set(17, false);
    driver.set(17, true);
    await expect.poll(() => tools.running).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(warnings()).toEqual([['cannot set LED', 17]]);
    tools.allow('gpiochip0', 17);
    driver.set(17, false);
    await expect.poll(() => tools.held('gpiochip0')).toEqual(new Map([[17, false]]));
    await driver.close();
  });

  it('warns, naming the pin, when a gpioset ends on its own, and a write before the reclaim claims the line at once', async () => {
    const { tools, driver, lines } = setup(PI5_BOOKWORM);
    await driver.open([17, 27]);
    tools.crash('gpiochip0', 27, 'gpioset: something went wrong');
    await expect.poll(() => lines.find((line) => line.msg === 'LED line released: its gpioset ended')).toMatchObject({
      level: LEVEL.warn,
      pin: 27,
      err: { message: expect.stringMatching(/BCM pin 27 \(gpiochip0 line 27\): gpioset: something went wrong/) as unknown },
    });
    expect(tools.held('gpiochip0')).toEqual(new Map([[17, false]]));
    driver.set(27, true);
    await expect.poll(() => tools.held('gpiochip0')).toEqual(
      new Map([
        [17, false],
        [27, true],
      ]),
    );
    await driver.close();
  });

  it('claims a lost line again at its value without waiting for a write (a status LED is written rarely)', async () => {
    const { tools, driver, lines } = setup(PI5_TRIXIE, { reclaimMs: 30 });
    await driver.open([17, 27]);
    driver.set(27, true);
    await expect.poll(() => tools.held('gpiochip0').get(27)).toBe(true);
    tools.crash('gpiochip0', 27, 'gpioset: killed');
    await expect.poll(() => tools.held('gpiochip0').get(27)).toBe(true);
    expect(gpiosets(tools).filter((command) => command.endsWith(' 27=1'))).toHaveLength(2);
    expect(lines.filter((line) => line.level === LEVEL.warn).map((line) => line.msg)).toEqual(['LED line released: its gpioset ended']);
    await driver.close();
    expect(tools.releasedAt('gpiochip0').get(27)).toBe(true);
  });

  it('keeps reclaiming a lost line that is refused, backing off, until it is free again', async () => {
    const { tools, driver, lines } = setup(PI5_TRIXIE, { reclaimMs: 20 });
    await driver.open([17]);
    driver.set(17, true);
    await expect.poll(() => tools.held('gpiochip0').get(17)).toBe(true);
    tools.refuse('gpiochip0', 17, 'unable to request lines: Device or resource busy');
    tools.crash('gpiochip0', 17, 'gpioset: killed');
    const attempts = (): number => gpiosets(tools).filter((command) => command.endsWith(' 17=1')).length;
    // Reclaims after 20, 40, 80, 160 ms...: within 400 ms at most 5 of them (a slow machine only
    // makes fewer), where a retry every 20 ms would have made about 20.
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(attempts()).toBeGreaterThanOrEqual(3);
    expect(attempts()).toBeLessThanOrEqual(1 + 5);
    tools.allow('gpiochip0', 17);
    await expect.poll(() => tools.held('gpiochip0').get(17), { timeout: 5000 }).toBe(true);
    // One warning for the loss; the failed reclaims are not logged again until the line is held.
    expect(lines.filter((line) => line.level === LEVEL.warn).map((line) => line.msg)).toEqual(['LED line released: its gpioset ended']);
    await driver.close();
  });

  it('reclaims nothing once closed', async () => {
    const { tools, driver } = setup(PI5_TRIXIE, { reclaimMs: 30 });
    await driver.open([17]);
    tools.crash('gpiochip0', 17, 'gpioset: killed');
    await expect.poll(() => tools.running).toBe(0);
    await driver.close();
    const spawned = gpiosets(tools).length;
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(gpiosets(tools)).toHaveLength(spawned);
    expect(tools.running).toBe(0);
  });

  it('applies the writes made before close, then releases: the LEDs turned off stay off', async () => {
    const { tools, driver } = setup(PI5_TRIXIE);
    await driver.open([17, 27]);
    driver.set(17, true);
    driver.set(27, true);
    await expect.poll(() => tools.held('gpiochip0')).toEqual(
      new Map([
        [17, true],
        [27, true],
      ]),
    );
    // What Indicators.stop() does: every LED off, then close.
    driver.set(17, false);
    driver.set(27, false);
    await driver.close();
    expect(tools.held('gpiochip0')).toEqual(new Map());
    expect(tools.running).toBe(0);
    expect(tools.releasedAt('gpiochip0')).toEqual(
      new Map([
        [17, false],
        [27, false],
      ]),
    );
  });

  it('drives the indicators on a Pi 5 under Trixie: emotion and status LEDs light, stop leaves them off and released', async () => {
    const { tools, driver } = setup(PI5_TRIXIE);
    const config = { pins: { anger: 17, happiness: 27 }, statusPin: 5, holdSeconds: 60 };
    const indicators = new Indicators({ config, driver, logger: captureLogs().logger });
    await indicators.start();
    indicators.setStatus('listening');
    indicators.showEmotion('anger');
    const lit = (anger: boolean, happiness: boolean, status: boolean): Map<number, boolean> =>
      new Map([
        [17, anger],
        [27, happiness],
        [5, status],
      ]);
    await expect.poll(() => tools.held('gpiochip0')).toEqual(lit(true, false, true));
    indicators.showEmotion('happiness');
    await expect.poll(() => tools.held('gpiochip0')).toEqual(lit(false, true, true));
    await indicators.stop();
    expect(tools.held('gpiochip0')).toEqual(new Map());
    expect(tools.releasedAt('gpiochip0')).toEqual(lit(false, false, false));
    expect(tools.running).toBe(0);
  });

  it('logs a change whose gpioset cannot even be started, and goes on with the next ones', async () => {
    const tools = new FakeGpiod({ major: 2, gpioinfo: gpioinfoFixture(PI5_TRIXIE.fixture) });
    let refuseNext = false;
    const spawn: SpawnTool = (command, args) => {
      if (refuseNext) {
        refuseNext = false;
        throw Object.assign(new Error('spawn EAGAIN'), { code: 'EAGAIN' });
      }
      return tools.spawn(command, args);
    };
    const { logger, lines } = captureLogs();
    const driver = new GpiodLedDriver({ logger, spawn });
    await driver.open([17]);
    refuseNext = true;
    driver.set(17, true);
    await expect.poll(() => lines.find((line) => line.msg === 'cannot set LED')).toMatchObject({ pin: 17, err: { message: 'spawn EAGAIN' } });
    driver.set(17, false);
    driver.set(17, true);
    await expect.poll(() => tools.held('gpiochip0')).toEqual(new Map([[17, true]]));
    await driver.close();
    expect(tools.running).toBe(0);
  });

  it('refuses a second open before close', async () => {
    const { driver } = setup(PI5_TRIXIE);
    await driver.open([17]);
    await expect(driver.open([27])).rejects.toThrow('already open');
    await driver.close();
  });
});
