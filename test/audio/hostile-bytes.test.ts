import { readFile } from 'node:fs/promises';
import fc from 'fast-check';
import { beforeAll, describe, it, vi } from 'vitest';
import { readAudioFile } from '../../src/audio/decode.js';
import { goldenWavPath } from '../helpers/golden.js';
import { audioFixture } from './helpers/fixtures.js';
import {
  CASE_TIMEOUT_MS,
  FLAC_FIELDS,
  HOSTILE_RUNS,
  WAV_FIELDS,
  decodeOutcome,
  expectSane,
  mutated,
} from './helpers/hostile.js';
import { encodeWav } from './helpers/wav-writer.js';

/**
 * Issue 3, part 4 ("Hostile input"): random bytes, and real WAV and FLAC files truncated,
 * with bytes flipped and header fields (rates, channel counts, sizes) set to absurd values.
 * HOSTILE_RUNS cases per property; the seeds change every run, so CI keeps exploring. MP3
 * has its own file (hostile-bytes-mp3.test.ts) so that its slower decoder runs in parallel.
 */

const SIGNATURES = [
  [0x52, 0x49, 0x46, 0x46, 0x24, 0, 0, 0, 0x57, 0x41, 0x56, 0x45],
  [0x66, 0x4c, 0x61, 0x43],
  [0x66, 0x4c, 0x61, 0x43, 0x80, 0, 0, 0x22],
  [0x49, 0x44, 0x33, 4, 0, 0, 0, 0, 0, 0],
  [0xff, 0xfb, 0x90, 0x64],
  [0xff, 0xf3, 0x48, 0xc4],
];

describe('decodeAudio on hostile bytes', () => {
  let wavs: Uint8Array[];
  let flacs: Uint8Array[];

  beforeAll(async () => {
    // The wasm decoders log what they reject; the outcome is what is asserted.
    vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const speech = (await readAudioFile(goldenWavPath('speech_e_22k'))).samples.subarray(0, 2_000);
    wavs = [
      encodeWav([speech, speech], 22_050, { kind: 'pcm', bits: 24 }, { extensible: true }),
      encodeWav([speech], 22_050, { kind: 'float', bits: 32 }),
      // Real recordings, cut to a few thousand samples to keep each case quick.
      ...(await Promise.all(
        (['speech_a_16k', 'sine440_1s_44k'] as const).map(async (name) => (await readFile(goldenWavPath(name))).subarray(0, 8_044)),
      )),
    ];
    flacs = await Promise.all(
      ['speech_a_16k.flac', 'speech_c_16k_stereo24_1s.flac'].map(async (name) => readFile(audioFixture(name))),
    );
  });

  it('random bytes, bare or behind a real signature', async () => {
    const bytes = fc.tuple(fc.constantFrom([], ...SIGNATURES), fc.uint8Array({ maxLength: 4_096 }));
    await fc.assert(
      fc.asyncProperty(bytes, async ([signature, body]) => {
        expectSane(await decodeOutcome(Uint8Array.from([...signature, ...body])));
      }),
      { numRuns: HOSTILE_RUNS, timeout: CASE_TIMEOUT_MS },
    );
  });

  it('damaged and truncated WAV files', async () => {
    // The golden WAVs are canonical 44-byte-header files; 8,044 bytes keeps their header whole.
    const damaged = fc.constantFrom(...wavs.keys()).chain((index) => mutated(wavs[index] as Uint8Array, WAV_FIELDS));
    await fc.assert(
      fc.asyncProperty(damaged, async (bytes) => {
        expectSane(await decodeOutcome(bytes));
      }),
      { numRuns: HOSTILE_RUNS, timeout: CASE_TIMEOUT_MS },
    );
  });

  it('damaged and truncated FLAC files', async () => {
    const damaged = fc.constantFrom(...flacs.keys()).chain((index) => mutated(flacs[index] as Uint8Array, FLAC_FIELDS));
    await fc.assert(
      fc.asyncProperty(damaged, async (bytes) => {
        expectSane(await decodeOutcome(bytes));
      }),
      { numRuns: HOSTILE_RUNS, timeout: CASE_TIMEOUT_MS },
    );
  });
});
