import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_RATE } from '../../../src/dsp/constants.js';
import { ConfigError } from '../../../src/errors.js';
import { backgroundSegment, loadBackgroundBank } from '../../../src/training/augment/background.js';
import { createRandom } from '../../../src/training/random.js';
import { encodeWav } from '../../audio/helpers/wav-writer.js';
import { scratchDir } from '../../model/seed-model-fixture.js';

let work: { dir: string; cleanup: () => Promise<void> };
const ramp = Float32Array.from({ length: 1000 }, (_, i) => i / 2000);
const constant = new Float32Array(SAMPLE_RATE).fill(0.25);

beforeAll(async () => {
  work = await scratchDir();
  const folder = path.join(work.dir, 'noise');
  await mkdir(folder);
  await writeFile(path.join(folder, 'b-ramp.wav'), encodeWav([ramp], SAMPLE_RATE, { kind: 'float', bits: 32 }));
  await writeFile(path.join(folder, 'a-hum.wav'), encodeWav([constant], SAMPLE_RATE, { kind: 'float', bits: 32 }));
  await writeFile(path.join(folder, 'notes.txt'), 'not audio');
});

afterAll(async () => {
  await work.cleanup();
});

describe('background bank', () => {
  it('loads the audio files of a folder, sorted, skipping other files', async () => {
    const bank = await loadBackgroundBank(path.join(work.dir, 'noise'));
    expect(bank.files).toEqual(['a-hum.wav', 'b-ramp.wav']);
    expect(bank.clips[1]).toEqual(ramp);
    expect(bank.digest).toMatch(/^[0-9a-f]{64}$/);
  });

  it('cuts segments of any length from a random file and start, looping a short file', async () => {
    const bank = await loadBackgroundBank(path.join(work.dir, 'noise'));
    const random = createRandom(5);
    const seen = new Set<string>();
    for (let i = 0; i < 20; i += 1) {
      const segment = backgroundSegment(bank, 2500, random);
      expect(segment.length).toBe(2500);
      if (segment[0] === 0.25) {
        seen.add('hum');
        expect(segment.every((v) => v === 0.25)).toBe(true);
      } else {
        seen.add('ramp');
        // Consecutive ramp values, wrapping from the last sample back to the first.
        const start = Math.round((segment[0] as number) * 2000);
        segment.forEach((v, k) => expect(v).toBe(ramp[(start + k) % ramp.length]));
      }
    }
    expect(seen).toEqual(new Set(['hum', 'ramp']));
  });

  it('rejects a missing folder or one without recordings, naming it', async () => {
    await expect(loadBackgroundBank(path.join(work.dir, 'absent'))).rejects.toThrow(ConfigError);
    await expect(loadBackgroundBank(path.join(work.dir, 'absent'))).rejects.toThrow(/absent.*cannot be read/);
    const empty = path.join(work.dir, 'empty');
    await mkdir(empty);
    await expect(loadBackgroundBank(empty)).rejects.toThrow(/empty holds no .wav/);
  });

  it('rejects an undecodable recording, naming the file', async () => {
    const broken = path.join(work.dir, 'broken');
    await mkdir(broken);
    await writeFile(path.join(broken, 'bad.wav'), 'RIFF nonsense');
    await expect(loadBackgroundBank(broken)).rejects.toThrow(/bad\.wav cannot be used/);
  });
});
