import { describe, expect, it } from 'vitest';
import { CLIP_SAMPLES } from '../../src/dsp/constants.js';
import { SilenceGate } from '../../src/pipeline/silence.js';
import { modelWindowOptions, Windower } from '../../src/pipeline/windower.js';
import { ManualClock } from '../helpers/manual-clock.js';

describe('SilenceGate', () => {
  it('skips and counts windows below the threshold, passes the rest', () => {
    const gate = new SilenceGate(-50);
    const windower = new Windower(modelWindowOptions(3), new ManualClock(0));
    // Constant levels: 0.001 is -60 dBFS, 0.01 is -40 dBFS; zeros are digital silence.
    const admitted = [0.001, 0.01, 0, 0.5].map((amplitude) => {
      const [window] = windower.push(new Float32Array(CLIP_SAMPLES).fill(amplitude));
      if (window === undefined) throw new Error('expected a window');
      return gate.admit(window);
    });
    expect(admitted).toEqual([false, true, false, true]);
    expect(gate.skipped).toBe(2);
  });

  it('treats a window exactly at the threshold as sound', () => {
    const gate = new SilenceGate(-40);
    expect(gate.admit({ levelDbfs: -40 })).toBe(true);
    expect(gate.admit({ levelDbfs: -40.001 })).toBe(false);
    expect(gate.skipped).toBe(1);
  });

  it('with a -Infinity threshold passes even digital silence', () => {
    const gate = new SilenceGate(-Infinity);
    expect(gate.admit({ levelDbfs: -Infinity })).toBe(true);
    expect(gate.skipped).toBe(0);
  });

  it('setThreshold applies to the windows that come next, keeping the count', () => {
    const gate = new SilenceGate(-50);
    expect(gate.admit({ levelDbfs: -60 })).toBe(false);
    gate.setThreshold(-70);
    expect(gate.admit({ levelDbfs: -60 })).toBe(true);
    expect(gate.skipped).toBe(1);
    expect(() => gate.setThreshold(1)).toThrow(/threshold 1 dBFS/);
    expect(gate.admit({ levelDbfs: -60 })).toBe(true);
  });

  it('defaults to -50 dBFS and rejects thresholds above full scale or not a number', () => {
    const gate = new SilenceGate();
    expect([gate.admit({ levelDbfs: -50.5 }), gate.admit({ levelDbfs: -49.5 })]).toEqual([false, true]);
    expect(() => new SilenceGate(3)).toThrow(/threshold 3 dBFS/);
    expect(() => new SilenceGate(Number.NaN)).toThrow(/threshold NaN dBFS/);
  });
});
