import { describe, expect, it } from 'vitest';
import { WasmComplexFft } from '../../src/dsp/fft-wasm.js';
import { readGoldenF32 } from '../helpers/golden.js';

/** X[k] of interleaved complex x by the defining sum, with twiddles indexed exactly by (k n) mod size. */
function naiveDft(x: Float64Array): Float64Array {
  const size = x.length / 2;
  const out = new Float64Array(2 * size);
  for (let k = 0; k < size; k++) {
    let sumRe = 0;
    let sumIm = 0;
    for (let n = 0; n < size; n++) {
      const angle = (-2 * Math.PI * ((k * n) % size)) / size;
      const cos = Math.cos(angle);
      const sin = Math.sin(angle);
      const re = x[2 * n] as number;
      const im = x[2 * n + 1] as number;
      sumRe += re * cos - im * sin;
      sumIm += re * sin + im * cos;
    }
    out[2 * k] = sumRe;
    out[2 * k + 1] = sumIm;
  }
  return out;
}

/** Speech samples read as interleaved complex numbers, as RealFft feeds them. */
function speech(size: number, start: number): Float64Array {
  return Float64Array.from(readGoldenF32('long_5s_16k.audio').subarray(start, start + 2 * size));
}

describe('WasmComplexFft', () => {
  // Even and odd powers of two: the first pass is radix 4 or radix 2.
  it.each([2, 4, 8, 16, 32, 64, 256, 1024])('matches the defining DFT sum for size %i', (size) => {
    const x = speech(size, 20_000);
    const fft = new WasmComplexFft(size);
    fft.input.set(x);
    fft.transform();
    const expected = naiveDft(x);
    // |X[k]| <= sum |x|, and both sides round at about 1e-16 of that per operation.
    const scale = x.reduce((sum, value) => sum + Math.abs(value), 0);
    let worst = 0;
    for (let i = 0; i < 2 * size; i++) {
      worst = Math.max(worst, Math.abs((fft.output[i] as number) - (expected[i] as number)));
    }
    expect(scale).toBeGreaterThan(0);
    expect(worst).toBeLessThanOrEqual(1e-14 * scale);
  });

  it('keeps instances apart: each owns its memory', () => {
    const small = new WasmComplexFft(64);
    const large = new WasmComplexFft(1024);
    small.input.set(speech(64, 30_000));
    small.transform();
    const before = Float64Array.from(small.output);
    large.input.set(speech(1024, 5_000));
    large.transform();
    small.transform();
    expect(Array.from(small.output)).toEqual(Array.from(before));
  });

  it('rejects sizes that are not powers of two', () => {
    expect(() => new WasmComplexFft(1000)).toThrow(/size is 1000; use a power of two/);
    expect(() => new WasmComplexFft(1)).toThrow(RangeError);
  });
});
