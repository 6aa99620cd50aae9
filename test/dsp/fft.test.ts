import { describe, expect, it } from 'vitest';
import { RealFft } from '../../src/dsp/fft.js';
import { readGoldenF32 } from '../helpers/golden.js';
import { naiveSpectrum } from './reference-dft.js';

function speechFrame(size: number, start: number): Float64Array {
  return Float64Array.from(readGoldenF32('long_5s_16k.audio').subarray(start, start + size));
}

describe('RealFft', () => {
  it.each([4, 8, 16, 64, 512, 2048])('matches the defining DFT sum for size %i on speech', (size) => {
    const frame = speechFrame(size, 20_000);
    const fft = new RealFft(size);
    fft.transform(frame);
    const expected = naiveSpectrum(frame);
    // |X[k]| <= sum |x|, and both sides round at about 1e-16 of that per operation.
    const scale = frame.reduce((sum, x) => sum + Math.abs(x), 0);
    let worst = 0;
    for (let k = 0; k <= size / 2; k++) {
      worst = Math.max(
        worst,
        Math.abs((fft.re[k] as number) - (expected.re[k] as number)),
        Math.abs((fft.im[k] as number) - (expected.im[k] as number)),
      );
    }
    expect(scale).toBeGreaterThan(0);
    expect(worst).toBeLessThanOrEqual(1e-14 * scale);
    expect(fft.im[0]).toBe(0);
    expect(fft.im[size / 2]).toBe(0);
  });

  it.each([4, 8, 16, 64, 2048])('gives the power of the periodic-Hann-windowed frame for size %i', (size) => {
    const frame = speechFrame(size, 20_000);
    const windowed = frame.map((x, n) => x * (0.5 - 0.5 * Math.cos((2 * Math.PI * n) / size)));
    const expected = naiveSpectrum(windowed);
    const out = new Float64Array(size / 2 + 3).fill(Number.NaN);
    new RealFft(size).periodicHannPower(frame, out, 1);
    expect(out[0]).toBeNaN();
    expect(out[size / 2 + 2]).toBeNaN();
    let peak = 0;
    let worst = 0;
    for (let k = 0; k <= size / 2; k++) {
      const power = (expected.re[k] as number) ** 2 + (expected.im[k] as number) ** 2;
      peak = Math.max(peak, power);
      worst = Math.max(worst, Math.abs((out[k + 1] as number) - power));
    }
    expect(peak).toBeGreaterThan(0);
    expect(worst).toBeLessThanOrEqual(3e-14 * peak);
  });

  it('transforms each frame independently of the previous one', () => {
    const fft = new RealFft(2048);
    const first = speechFrame(2048, 10_000);
    fft.transform(first);
    const before = Float64Array.from(fft.re);
    fft.transform(speechFrame(2048, 40_000));
    fft.transform(first);
    expect(Array.from(fft.re)).toEqual(Array.from(before));
  });

  it('rejects sizes that are not powers of two and frames of the wrong length', () => {
    expect(() => new RealFft(1000)).toThrow(/size is 1000; use a power of two/);
    expect(() => new RealFft(2)).toThrow(RangeError);
    expect(() => new RealFft(2048).transform(new Float64Array(1024))).toThrow(
      /frame length is 1024; expected 2048/,
    );
  });
});
