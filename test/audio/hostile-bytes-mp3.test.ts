import { readFile } from 'node:fs/promises';
import fc from 'fast-check';
import { beforeAll, describe, it, vi } from 'vitest';
import { audioFixture } from './helpers/fixtures.js';
import { CASE_TIMEOUT_MS, HOSTILE_RUNS, MP3_FIELDS, decodeOutcome, expectSane, mutated } from './helpers/hostile.js';

/**
 * Issue 3, part 4 ("Hostile input"), MP3: the real MP3 fixture truncated, with bytes
 * flipped and frame-header and Info-tag fields set to absurd values. Separate from
 * hostile-bytes.test.ts because mpg123 costs a few ms per file (a fresh wasm decoder each
 * time), and a file of its own runs in parallel with the others.
 */
describe('decodeAudio on hostile MP3 bytes', () => {
  let mp3: Uint8Array;

  beforeAll(async () => {
    // mpg123 logs what it rejects; the outcome is what is asserted.
    vi.spyOn(console, 'error').mockImplementation(() => undefined);
    mp3 = await readFile(audioFixture('speech_c_16k.mp3'));
  });

  it('damaged and truncated MP3 files', async () => {
    await fc.assert(
      fc.asyncProperty(mutated(mp3, MP3_FIELDS), async (bytes) => {
        expectSane(await decodeOutcome(bytes));
      }),
      { numRuns: HOSTILE_RUNS, timeout: CASE_TIMEOUT_MS },
    );
  });
});
