import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { checkIndicatorConfig, Indicators, statusFor, type IndicatorConfig } from '../../src/indicators/indicators.js';
import { type LedDriver } from '../../src/indicators/led-driver.js';
import { captureLogs, LEVEL } from './fixtures/log-lines.js';

interface Change {
  t: number;
  pin: number;
  on: boolean;
}

/** The hardware edge, recording every write with the fake clock's time since the test began. */
class RecordingDriver implements LedDriver {
  readonly changes: Change[] = [];
  opened: number[] | undefined;
  closed = 0;
  failWrites = false;
  readonly #t0 = Date.now();

  open(pins: readonly number[]): Promise<void> {
    this.opened = [...pins];
    return Promise.resolve();
  }

  set(pin: number, on: boolean): void {
    if (this.failWrites) throw new Error('EIO: i/o error, write');
    this.changes.push({ t: Date.now() - this.#t0, pin, on });
  }

  close(): Promise<void> {
    this.closed += 1;
    return Promise.resolve();
  }

  /** Changes of one pin as [t, on] pairs. */
  of(pin: number): [number, boolean][] {
    return this.changes.filter((c) => c.pin === pin).map((c) => [c.t, c.on]);
  }
}

const ANGER = 17;
const HAPPY = 27;
const STATUS = 5;
const config: IndicatorConfig = { pins: { anger: ANGER, happiness: HAPPY }, statusPin: STATUS, holdSeconds: 3 };

describe('Indicators', () => {
  let driver: RecordingDriver;
  let indicators: Indicators;

  beforeEach(async () => {
    vi.useFakeTimers();
    driver = new RecordingDriver();
    indicators = new Indicators({ config, driver, logger: captureLogs().logger });
    await indicators.start();
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  it('claims the emotion and status pins, all off at first', () => {
    expect(driver.opened).toEqual([ANGER, HAPPY, STATUS]);
    expect(driver.changes).toEqual([]);
  });

  it('lights an emotion for the hold time, then turns it off', () => {
    vi.advanceTimersByTime(1000);
    indicators.showEmotion('anger');
    vi.advanceTimersByTime(10_000);
    expect(driver.changes).toEqual([
      { t: 1000, pin: ANGER, on: true },
      { t: 4000, pin: ANGER, on: false },
    ]);
  });

  it('replaces the lit emotion with a new one, whose hold starts anew', () => {
    indicators.showEmotion('anger');
    vi.advanceTimersByTime(2000);
    indicators.showEmotion('happiness');
    vi.advanceTimersByTime(10_000);
    expect(driver.changes).toEqual([
      { t: 0, pin: ANGER, on: true },
      { t: 2000, pin: ANGER, on: false },
      { t: 2000, pin: HAPPY, on: true },
      { t: 5000, pin: HAPPY, on: false },
    ]);
  });

  it('extends the hold when the same emotion comes again, without flicker', () => {
    indicators.showEmotion('anger');
    vi.advanceTimersByTime(2000);
    indicators.showEmotion('anger');
    vi.advanceTimersByTime(10_000);
    expect(driver.of(ANGER)).toEqual([
      [0, true],
      [5000, false],
    ]);
  });

  it('turns the lit emotion off for an emotion that has no LED', () => {
    indicators.showEmotion('anger');
    vi.advanceTimersByTime(1000);
    indicators.showEmotion('sadness');
    vi.advanceTimersByTime(10_000);
    expect(driver.changes).toEqual([
      { t: 0, pin: ANGER, on: true },
      { t: 1000, pin: ANGER, on: false },
    ]);
  });

  it('shows listening as a steady light', () => {
    indicators.setStatus('listening');
    vi.advanceTimersByTime(5000);
    expect(driver.of(STATUS)).toEqual([[0, true]]);
  });

  it('blinks slowly (1 Hz) while the broker is unreachable', () => {
    indicators.setStatus('broker-down');
    vi.advanceTimersByTime(2000);
    expect(driver.of(STATUS)).toEqual([
      [0, true],
      [500, false],
      [1000, true],
      [1500, false],
      [2000, true],
    ]);
  });

  it('blinks fast (4 Hz) on an error, and goes steady when listening again', () => {
    indicators.setStatus('error');
    vi.advanceTimersByTime(500);
    indicators.setStatus('listening');
    vi.advanceTimersByTime(2000);
    expect(driver.of(STATUS)).toEqual([
      [0, true],
      [125, false],
      [250, true],
      [375, false],
      [500, true],
    ]);
  });

  it('keeps the blink phase when the same status is set again', () => {
    indicators.setStatus('broker-down');
    vi.advanceTimersByTime(300);
    indicators.setStatus('broker-down');
    vi.advanceTimersByTime(300);
    expect(driver.of(STATUS)).toEqual([
      [0, true],
      [500, false],
    ]);
  });

  it('shows a status set before start once started', async () => {
    const early = new RecordingDriver();
    const later = new Indicators({ config, driver: early, logger: captureLogs().logger });
    later.setStatus('listening');
    later.showEmotion('anger');
    expect(early.changes).toEqual([]);
    await later.start();
    expect(early.changes).toEqual([{ t: 0, pin: STATUS, on: true }]);
    await later.stop();
  });

  it('turns every lit LED off and closes the driver on stop, once', async () => {
    indicators.setStatus('broker-down');
    indicators.showEmotion('happiness');
    vi.advanceTimersByTime(100);
    await indicators.stop();
    await indicators.stop();
    vi.advanceTimersByTime(10_000);
    expect(driver.changes).toEqual([
      { t: 0, pin: STATUS, on: true },
      { t: 0, pin: HAPPY, on: true },
      { t: 100, pin: HAPPY, on: false },
      { t: 100, pin: STATUS, on: false },
    ]);
    expect(driver.closed).toBe(1);
    indicators.showEmotion('anger');
    expect(driver.changes).toHaveLength(4);
  });

  it('logs a failing LED once and keeps running', async () => {
    const { logger, lines } = captureLogs();
    const failing = new RecordingDriver();
    const leds = new Indicators({ config, driver: failing, logger });
    await leds.start();
    failing.failWrites = true;
    leds.setStatus('error');
    vi.advanceTimersByTime(1000);
    expect(lines.filter((line) => line.level === LEVEL.warn)).toEqual([
      expect.objectContaining({ msg: 'cannot set LED', pin: STATUS, on: true }),
    ]);
    failing.failWrites = false;
    vi.advanceTimersByTime(125);
    expect(failing.of(STATUS)).toEqual([[1125, true]]);
    await leds.stop();
  });

  it('can start again after the driver failed to open', async () => {
    const flaky = new RecordingDriver();
    const open = vi.spyOn(flaky, 'open').mockRejectedValueOnce(new Error('EBUSY'));
    const leds = new Indicators({ config, driver: flaky, logger: captureLogs().logger });
    leds.setStatus('listening');
    await expect(leds.start()).rejects.toThrow('EBUSY');
    await leds.start();
    await leds.start();
    expect(open).toHaveBeenCalledTimes(2);
    expect(flaky.of(STATUS)).toEqual([[0, true]]);
    await leds.stop();
  });

  it('refuses to start with an invalid config, listing every problem, without claiming pins', async () => {
    const bad = new RecordingDriver();
    const leds = new Indicators({
      config: { pins: { anger: 17, fear: 17, disgust: 40 }, statusPin: 17, holdSeconds: 3 },
      driver: bad,
      logger: captureLogs().logger,
    });
    const failure = leds.start();
    await expect(failure).rejects.toBeInstanceOf(ConfigError);
    await expect(failure).rejects.toThrow(/gpio\.pins\.disgust: 40 is not a BCM pin 0-27/);
    await expect(failure).rejects.toThrow(
      /pin 17 is used by more than one LED: gpio\.pins\.anger, gpio\.pins\.fear, gpio\.statusPin/,
    );
    expect(bad.opened).toBeUndefined();
  });
});

describe('checkIndicatorConfig', () => {
  it('accepts any subset of the emotions, with or without a status pin', () => {
    expect(checkIndicatorConfig({ pins: {}, statusPin: null, holdSeconds: 1 })).toEqual([]);
    expect(checkIndicatorConfig({ pins: { neutral: 0, surprise: 27 }, statusPin: 4, holdSeconds: 0.5 })).toEqual([]);
  });

  it('reports every problem, each naming the key and the value', () => {
    const untyped = { pins: { anger: 3, joy: 4, fear: 3.5, sadness: -1 }, statusPin: 3, holdSeconds: 0 };
    expect(checkIndicatorConfig(untyped as IndicatorConfig)).toEqual([
      'gpio.pins.joy: not an emotion (one of anger, disgust, fear, happiness, neutral, sadness, surprise)',
      'gpio.pins.fear: 3.5 is not a BCM pin 0-27',
      'gpio.pins.sadness: -1 is not a BCM pin 0-27',
      'pin 3 is used by more than one LED: gpio.pins.anger, gpio.statusPin',
      'gpio.holdSeconds: 0 must be a number greater than 0',
    ]);
  });
});

describe('statusFor', () => {
  it('ranks an error above an unreachable broker above listening', () => {
    expect(statusFor({ listening: true, brokerReachable: false, fault: true })).toBe('error');
    expect(statusFor({ listening: false, brokerReachable: true, fault: true })).toBe('error');
    expect(statusFor({ listening: true, brokerReachable: false, fault: false })).toBe('broker-down');
    expect(statusFor({ listening: false, brokerReachable: false, fault: false })).toBe('broker-down');
    expect(statusFor({ listening: true, brokerReachable: true, fault: false })).toBe('listening');
    expect(statusFor({ listening: false, brokerReachable: true, fault: false })).toBe('off');
  });
});
