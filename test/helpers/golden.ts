import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** ../shared beside the repository root, where CI puts it. */
export const SHARED_DIR = path.resolve(fileURLToPath(new URL('../../../shared', import.meta.url)));
export const GOLDEN_DIR = path.join(SHARED_DIR, 'golden');
export const DATASETS_DIR = path.join(SHARED_DIR, 'datasets');

/** The golden test recordings, by base name (../shared/golden/README.md, "Test audio"). */
export const GOLDEN_WAVS = [
  'speech_e_22k',
  'speech_a_16k',
  'speech_c_16k',
  'speech_b_44k',
  'speech_d_44k',
  'long_5s_16k',
  'sine440_1s_44k',
  'silence_2s_16k',
] as const;
export type GoldenWav = (typeof GOLDEN_WAVS)[number];

export function goldenWavPath(name: GoldenWav): string {
  return path.join(GOLDEN_DIR, 'wav', `${name}.wav`);
}

/** A raw little-endian float32 array from golden/arrays, e.g. `speech_e_22k.features`. */
export function readGoldenF32(file: string): Float32Array {
  const buf = readFileSync(path.join(GOLDEN_DIR, 'arrays', `${file}.f32`));
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

/** A raw little-endian float64 array from golden/arrays. */
export function readGoldenF64(file: string): Float64Array {
  const buf = readFileSync(path.join(GOLDEN_DIR, 'arrays', `${file}.f64`));
  return new Float64Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

/** max and mean absolute difference; throws on a length mismatch so a shape bug cannot hide. */
export function absDiff(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
): { max: number; mean: number } {
  if (actual.length !== expected.length) {
    throw new Error(`length mismatch: actual ${actual.length}, expected ${expected.length}`);
  }
  let max = 0;
  let sum = 0;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs((actual[i] as number) - (expected[i] as number));
    if (!(d <= max)) max = Number.isNaN(d) ? Infinity : d;
    sum += d;
  }
  return { max, mean: sum / actual.length };
}
