/**
 * Encoders for the two quantized weight formats TensorFlow.js decodes on load
 * (tfjs-core io_utils decodeWeight): affine uint8 (`value = code * scale + min`) and IEEE 754
 * half precision.
 */

export interface AffineUint8 {
  codes: Uint8Array;
  min: number;
  scale: number;
}

const UINT8_LEVELS = 255;

/**
 * Per-tensor affine quantization: the range [min, max] is cut into 255 equal steps, so each
 * value is off by at most scale / 2. A constant tensor gets scale 0 (all codes 0 decode to
 * min exactly) rather than a division by zero.
 */
export function encodeAffineUint8(values: Float32Array): AffineUint8 {
  let min = Infinity;
  let max = -Infinity;
  for (const value of values) {
    if (!Number.isFinite(value)) throw new RangeError(`cannot quantize a non-finite weight value (${value})`);
    if (value < min) min = value;
    if (value > max) max = value;
  }
  const codes = new Uint8Array(values.length);
  if (values.length === 0 || max === min) return { codes, min: values.length === 0 ? 0 : min, scale: 0 };
  const scale = (max - min) / UINT8_LEVELS;
  for (let i = 0; i < values.length; i++) {
    const code = Math.round(((values[i] as number) - min) / scale);
    codes[i] = Math.min(UINT8_LEVELS, Math.max(0, code));
  }
  return { codes, min, scale };
}

/** The largest finite float16, 65504; larger magnitudes would round to infinity. */
export const FLOAT16_MAX = 65504;

const f32 = new Float32Array(1);
const f32Bits = new Uint32Array(f32.buffer);

/**
 * Rounds each float32 to the nearest float16 (ties to even), returning the 16-bit patterns.
 * Values beyond ±FLOAT16_MAX are refused: infinities in a model's weights break it silently.
 */
export function encodeFloat16(values: Float32Array): Uint16Array {
  const halves = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const value = values[i] as number;
    if (!(Math.abs(value) <= FLOAT16_MAX)) {
      throw new RangeError(`${value} is not representable as float16 (finite magnitudes up to ${FLOAT16_MAX})`);
    }
    halves[i] = float32ToFloat16Bits(value);
  }
  return halves;
}

function float32ToFloat16Bits(value: number): number {
  f32[0] = value;
  const bits = f32Bits[0] as number;
  const sign = (bits >>> 16) & 0x8000;
  const exponent = ((bits >>> 23) & 0xff) - 127 + 15;
  const mantissa = bits & 0x7fffff;
  if (exponent >= 1) {
    // Normal: keep the top 10 mantissa bits and round on the 13 dropped ones. A carry out of
    // the mantissa correctly bumps the exponent.
    const half = (exponent << 10) | (mantissa >>> 13);
    return sign | roundDropped(half, mantissa & 0x1fff, 13);
  }
  if (exponent < -10) return sign; // below half the smallest subnormal: rounds to zero
  // Subnormal: shift the mantissa, with its implicit leading 1, into the 10-bit field.
  const shift = 14 - exponent;
  const full = mantissa | 0x800000;
  return sign | roundDropped(full >>> shift, full & ((1 << shift) - 1), shift);
}

/** Round-half-to-even of `kept`, given the `droppedBits` low bits that were shifted out. */
function roundDropped(kept: number, dropped: number, droppedBits: number): number {
  const halfway = 1 << (droppedBits - 1);
  return dropped > halfway || (dropped === halfway && (kept & 1) === 1) ? kept + 1 : kept;
}
