import { describe, expect, it } from 'vitest';
import { DEFAULT_CAPTURE_PERIOD_SECONDS, recorderCommand } from '../../src/capture/recorder-command.js';

describe('recorderCommand asks the recorder for the capture period', () => {
  it('gives arecord the period in microseconds, 200 ms by default', () => {
    expect(DEFAULT_CAPTURE_PERIOD_SECONDS).toBe(0.2);
    const byDefault = recorderCommand('arecord', 'plughw:1,0', 22_050).args;
    expect(byDefault.slice(byDefault.indexOf('--period-time'), byDefault.indexOf('--period-time') + 2)).toEqual(['--period-time', '200000']);
    const short = recorderCommand('arecord', 'plughw:1,0', 22_050, 1 / 14).args;
    expect(short[short.indexOf('--period-time') + 1]).toBe('71429');
  });

  it('gives sox the period as a buffer of whole 16-bit samples', () => {
    const byDefault = recorderCommand('sox', 'default', 22_050).args;
    expect(byDefault[byDefault.indexOf('--buffer') + 1]).toBe('8820');
    const short = recorderCommand('sox', 'default', 22_050, 1 / 14).args;
    expect(short[short.indexOf('--buffer') + 1]).toBe('3150');
  });
});
