import { describe, expect, it } from 'vitest';
import { DEFAULT_CAPTURE_PERIOD_SECONDS, recorderCommand } from '../../src/capture/recorder-command.js';

describe('recorderCommand asks the recorder for the capture period', () => {
  it('gives arecord the period in microseconds, 200 ms by default, and a buffer of at least four periods and 500 ms', () => {
    expect(DEFAULT_CAPTURE_PERIOD_SECONDS).toBe(0.2);
    const option = (args: readonly string[], name: string) => args[args.indexOf(name) + 1];
    const byDefault = recorderCommand('arecord', 'plughw:1,0', 22_050).args;
    expect([option(byDefault, '--period-time'), option(byDefault, '--buffer-time')]).toEqual(['200000', '800000']);
    const short = recorderCommand('arecord', 'plughw:1,0', 22_050, 1 / 14).args;
    expect([option(short, '--period-time'), option(short, '--buffer-time')]).toEqual(['71429', '500000']);
  });

  it('gives sox the period as a buffer of whole 16-bit samples', () => {
    const byDefault = recorderCommand('sox', 'default', 22_050).args;
    expect(byDefault[byDefault.indexOf('--buffer') + 1]).toBe('8820');
    const short = recorderCommand('sox', 'default', 22_050, 1 / 14).args;
    expect(short[short.indexOf('--buffer') + 1]).toBe('3150');
  });
});
