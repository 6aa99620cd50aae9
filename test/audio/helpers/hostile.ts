import fc from 'fast-check';
import { expect } from 'vitest';
import { decodeAudio, type DecodedAudio } from '../../../src/audio/decode.js';
import { MAX_SAMPLE_RATE } from '../../../src/audio/decoded-audio.js';
import { AudioError } from '../../../src/errors.js';

/**
 * Shared by the hostile-input property tests of the decoders: whatever the bytes, decoding
 * ends in a DecodedAudio of finite samples at a sane rate, or in an AudioError naming the
 * source; never another exception, a crash or a hang.
 */

/** Issue 3, part 4: every property of the hostile-input suite runs this many cases. */
export const HOSTILE_RUNS = 10_000;

/**
 * fast-check fails a case whose promise is still pending after this long. The decoders are
 * synchronous wasm, so this catches an await that never settles, not a busy loop; inputs are
 * kept small so that a busy loop would show as a test timeout instead of a slow pass.
 */
export const CASE_TIMEOUT_MS = 5_000;

export const SOURCE = 'fuzz.bin';

export async function decodeOutcome(bytes: Uint8Array): Promise<DecodedAudio | AudioError> {
  try {
    return await decodeAudio(bytes, SOURCE);
  } catch (error) {
    if (error instanceof AudioError) return error;
    throw error;
  }
}

export function expectSane(outcome: DecodedAudio | AudioError): void {
  if (outcome instanceof AudioError) {
    expect(outcome.message.startsWith(`${SOURCE}: `)).toBe(true);
    expect(outcome.file).toBe(SOURCE);
    expect(['AUDIO_DECODE', 'AUDIO_UNSUPPORTED']).toContain(outcome.code);
    return;
  }
  expect(Number.isInteger(outcome.sampleRate)).toBe(true);
  expect(outcome.sampleRate).toBeGreaterThan(0);
  expect(outcome.sampleRate).toBeLessThanOrEqual(MAX_SAMPLE_RATE);
  expect(Number.isInteger(outcome.channelCount)).toBe(true);
  expect(outcome.channelCount).toBeGreaterThan(0);
  expect(outcome.samples).toBeInstanceOf(Float32Array);
  expect(outcome.samples.every(Number.isFinite)).toBe(true);
}

/** A header field of a format: where it sits, how wide it is, and its byte order. */
export interface HeaderField {
  at: number;
  bytes: 1 | 2 | 4;
  littleEndian: boolean;
}

/**
 * Values a corrupt header holds: zero, one, all ones, just past the largest sane sample rate,
 * and anything else that fits the field.
 */
function absurdValue(bytes: 1 | 2 | 4): fc.Arbitrary<number> {
  const max = 2 ** (8 * bytes) - 1;
  return fc.oneof(
    fc.constantFrom(0, 1, 2, max, max - 1, Math.min(max, MAX_SAMPLE_RATE + 1), Math.min(max, 0x7fffffff), Math.min(max, 255)),
    fc.integer({ min: 0, max }),
  );
}

function writeField(bytes: Uint8Array, field: HeaderField, value: number): void {
  for (let i = 0; i < field.bytes; i++) {
    const shift = 8 * (field.littleEndian ? i : field.bytes - 1 - i);
    const at = field.at + i;
    if (at < bytes.length) bytes[at] = Math.floor(value / 2 ** shift) & 0xff;
  }
}

/**
 * A valid file with some header fields set to absurd values, some bytes overwritten (often
 * in the first 64, where the headers are) and possibly cut short.
 */
export function mutated(valid: Uint8Array, fields: readonly HeaderField[]): fc.Arbitrary<Uint8Array> {
  const fieldEdit = fc
    .constantFrom(...fields)
    .chain((field) => absurdValue(field.bytes).map((value) => ({ field, value })));
  const byteEdit = fc.record({
    at: fc.oneof(fc.nat({ max: Math.min(63, valid.length - 1) }), fc.nat({ max: valid.length - 1 })),
    value: fc.integer({ min: 0, max: 255 }),
  });
  return fc
    .record({
      fieldEdits: fields.length > 0 ? fc.array(fieldEdit, { maxLength: 3 }) : fc.constant([]),
      byteEdits: fc.array(byteEdit, { maxLength: 24 }),
      // Half the cases keep the whole file, so damage alone is exercised, not only truncation.
      keep: fc.oneof(fc.constant(valid.length), fc.integer({ min: 0, max: valid.length })),
    })
    .map(({ fieldEdits, byteEdits, keep }) => {
      const bytes = Uint8Array.from(valid);
      for (const { field, value } of fieldEdits) writeField(bytes, field, value);
      for (const { at, value } of byteEdits) bytes[at] = value;
      return bytes.subarray(0, keep);
    });
}

const le = (at: number, bytes: 1 | 2 | 4): HeaderField => ({ at, bytes, littleEndian: true });
const be = (at: number, bytes: 1 | 2 | 4): HeaderField => ({ at, bytes, littleEndian: false });

/** A canonical WAV: RIFF size, fmt size, tag, channels, rate, byte rate, block align, bits, data size. */
export const WAV_FIELDS: readonly HeaderField[] = [
  le(4, 4), le(16, 4), le(20, 2), le(22, 2), le(24, 4), le(28, 4), le(32, 2), le(34, 2), le(40, 4),
];

/**
 * fLaC, then the STREAMINFO block header (type and 24-bit length), block sizes, frame sizes,
 * and the packed sample rate / channels / bits / total samples (RFC 9639, 8.2).
 */
export const FLAC_FIELDS: readonly HeaderField[] = [
  be(4, 1), be(5, 2), be(6, 2), be(8, 2), be(10, 2), be(12, 4), be(15, 4), be(18, 4), be(20, 2), be(22, 4),
];

/** The first frame header (sync, version, layer, bitrate, rate, mode) and its Xing/Info tag fields. */
export const MP3_FIELDS: readonly HeaderField[] = [be(0, 2), be(1, 1), be(2, 1), be(3, 1), be(13, 4), be(17, 4), be(21, 4)];
