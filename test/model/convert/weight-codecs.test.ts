import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FLOAT16_MAX, encodeAffineUint8, encodeFloat16 } from '../../../src/model/convert/weight-codecs.js';

/** IEEE 754 binary16 bit pattern to its value, straight from the definition. */
function float16Value(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : NaN;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

describe('encodeAffineUint8', () => {
  it('maps min to 0, max to 255 and rounds in between', () => {
    const { codes, min, scale } = encodeAffineUint8(Float32Array.of(-1, 1, 0, 0.5));
    expect(min).toBe(-1);
    expect(scale).toBe(2 / 255);
    // 0 sits at 127.5 steps: rounds up; 0.5 at 191.25 steps.
    expect([...codes]).toEqual([0, 255, 128, 191]);
  });

  it('decodes every value to within scale / 2', () => {
    fc.assert(
      fc.property(fc.array(fc.float({ min: -1e3, max: 1e3, noNaN: true }), { minLength: 2 }), (values) => {
        const input = Float32Array.from(values);
        const { codes, min, scale } = encodeAffineUint8(input);
        input.forEach((value, i) => {
          // Double-precision round-off of (value - min) / scale, far below a quantization step.
          const roundOff = 1e-12 * Math.max(Math.abs(value), Math.abs(min), 1);
          expect(Math.abs((codes[i] as number) * scale + min - value)).toBeLessThanOrEqual(scale / 2 + roundOff);
        });
      }),
    );
  });

  it('stores a constant tensor as scale 0, which decodes exactly, without dividing by zero', () => {
    expect(encodeAffineUint8(Float32Array.of(0.25, 0.25, 0.25))).toEqual({ codes: new Uint8Array(3), min: 0.25, scale: 0 });
    expect(encodeAffineUint8(new Float32Array(0))).toEqual({ codes: new Uint8Array(0), min: 0, scale: 0 });
  });

  it('refuses non-finite values', () => {
    expect(() => encodeAffineUint8(Float32Array.of(1, Number.NaN))).toThrow(RangeError);
    expect(() => encodeAffineUint8(Float32Array.of(1, Infinity))).toThrow(/non-finite weight value \(Infinity\)/);
  });
});

describe('encodeFloat16', () => {
  it('gives the IEEE bit patterns of known values', () => {
    const cases: Array<[number, number]> = [
      [1, 0x3c00],
      [-2, 0xc000],
      [0, 0x0000],
      [-0, 0x8000],
      [FLOAT16_MAX, 0x7bff],
      [0.1, 0x2e66],
      [2 ** -14, 0x0400], // smallest normal
      [2 ** -24, 0x0001], // smallest subnormal
      [2 ** -25, 0x0000], // halfway to the smallest subnormal: ties to even (0)
      [3 * 2 ** -25, 0x0002], // halfway between subnormals 1 and 2: ties to even (2)
      [1 + 2 ** -11, 0x3c00], // halfway between 1 and the next: ties to even (1)
      [1 + 3 * 2 ** -11, 0x3c02],
      [65503, 0x7bff],
      [1e-9, 0x0000],
    ];
    const bits = encodeFloat16(Float32Array.from(cases.map(([value]) => value)));
    expect([...bits].map((b) => b.toString(16))).toEqual(cases.map(([, expected]) => expected.toString(16)));
  });

  it('rounds every float32 in range to the nearest float16', () => {
    fc.assert(
      fc.property(fc.float({ min: -FLOAT16_MAX, max: FLOAT16_MAX, noNaN: true }), (value) => {
        const [bits] = encodeFloat16(Float32Array.of(value)) as unknown as [number];
        const error = Math.abs(float16Value(bits) - value);
        // The neighbours one step towards and away from zero are no closer.
        for (const neighbour of [bits - 1, bits + 1]) {
          if ((neighbour & 0x7fff) <= 0x7bff && (neighbour & 0x8000) === (bits & 0x8000)) {
            expect(error).toBeLessThanOrEqual(Math.abs(float16Value(neighbour) - value));
          }
        }
      }),
      { numRuns: 5000 },
    );
  });

  it('refuses values that would become infinite', () => {
    expect(() => encodeFloat16(Float32Array.of(70000))).toThrow(/70000 is not representable as float16/);
    expect(() => encodeFloat16(Float32Array.of(-Infinity))).toThrow(RangeError);
    expect(() => encodeFloat16(Float32Array.of(Number.NaN))).toThrow(RangeError);
  });
});
