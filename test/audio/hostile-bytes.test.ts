import { readFile } from 'node:fs/promises';
import fc from 'fast-check';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { decodeAudio, readAudioFile, type DecodedAudio } from '../../src/audio/decode.js';
import { MAX_SAMPLE_RATE } from '../../src/audio/decoded-audio.js';
import { AudioError } from '../../src/errors.js';
import { goldenWavPath } from '../helpers/golden.js';
import { audioFixture } from './helpers/fixtures.js';
import { encodeWav } from './helpers/wav-writer.js';

/**
 * Whatever the bytes, decoding ends in a DecodedAudio of finite samples at a sane rate, or
 * in an AudioError; never another exception, a crash or a hang. Runs are few per property
 * (the machine is small); the seeds change every run, so CI keeps exploring.
 */
const RUNS = 150;

async function decodeOutcome(bytes: Uint8Array): Promise<DecodedAudio | AudioError> {
  try {
    return await decodeAudio(bytes, 'fuzz.bin');
  } catch (error) {
    if (error instanceof AudioError) return error;
    throw error;
  }
}

function expectSane(outcome: DecodedAudio | AudioError): void {
  if (outcome instanceof AudioError) {
    expect(outcome.message.startsWith('fuzz.bin: ')).toBe(true);
    return;
  }
  expect(outcome.sampleRate).toBeGreaterThan(0);
  expect(outcome.sampleRate).toBeLessThanOrEqual(MAX_SAMPLE_RATE);
  expect(outcome.channelCount).toBeGreaterThan(0);
  expect(outcome.samples.every(Number.isFinite)).toBe(true);
}

/** A valid file with some bytes overwritten and possibly cut short. */
function mutated(valid: Uint8Array): fc.Arbitrary<Uint8Array> {
  return fc
    .record({
      edits: fc.array(fc.record({ at: fc.nat({ max: valid.length - 1 }), value: fc.integer({ min: 0, max: 255 }) }), {
        maxLength: 24,
      }),
      keep: fc.integer({ min: 0, max: valid.length }),
    })
    .map(({ edits, keep }) => {
      const bytes = Uint8Array.from(valid);
      for (const { at, value } of edits) bytes[at] = value;
      return bytes.subarray(0, keep);
    });
}

const SIGNATURES = [
  [0x52, 0x49, 0x46, 0x46, 0x24, 0, 0, 0, 0x57, 0x41, 0x56, 0x45],
  [0x66, 0x4c, 0x61, 0x43],
  [0x49, 0x44, 0x33, 4, 0, 0, 0, 0, 0, 0],
  [0xff, 0xfb, 0x90, 0x64],
  [0xff, 0xf3, 0x48, 0xc4],
];

describe('decodeAudio on hostile bytes', () => {
  let wav: Uint8Array;
  let flac: Uint8Array;
  let mp3: Uint8Array;

  beforeAll(async () => {
    // The wasm decoders log what they reject; the outcome is what is asserted.
    vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const speech = (await readAudioFile(goldenWavPath('speech_e_22k'))).samples.subarray(0, 2_000);
    wav = encodeWav([speech, speech], 22_050, { kind: 'pcm', bits: 24 }, { extensible: true });
    flac = await readFile(audioFixture('speech_c_16k_stereo24_1s.flac'));
    mp3 = await readFile(audioFixture('speech_c_16k.mp3'));
  });

  it('random bytes, bare or behind a real signature', async () => {
    const bytes = fc.tuple(fc.constantFrom([], ...SIGNATURES), fc.uint8Array({ maxLength: 4_096 }));
    await fc.assert(
      fc.asyncProperty(bytes, async ([signature, body]) => {
        expectSane(await decodeOutcome(Uint8Array.from([...signature, ...body])));
      }),
      { numRuns: RUNS },
    );
  });

  it.each(['wav', 'flac', 'mp3'] as const)('damaged and truncated %s files', async (kind) => {
    const valid = { wav, flac, mp3 }[kind];
    await fc.assert(
      fc.asyncProperty(mutated(valid), async (bytes) => {
        expectSane(await decodeOutcome(bytes));
      }),
      { numRuns: RUNS },
    );
  });
});
