import { readFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeAudio, readAudioFile } from '../../src/audio/decode.js';
import { absDiff, goldenWavPath } from '../helpers/golden.js';
import { audioFixture, id3v2Tag } from './helpers/fixtures.js';

/** Pearson correlation of `a` with `b` shifted by `lag` samples, over their overlap. */
function correlationAtLag(a: Float32Array, b: Float32Array, lag: number): number {
  let sumAB = 0;
  let sumAA = 0;
  let sumBB = 0;
  for (let i = Math.max(0, -lag); i < a.length && i + lag < b.length; i++) {
    const x = a[i] as number;
    const y = b[i + lag] as number;
    sumAB += x * y;
    sumAA += x * x;
    sumBB += y * y;
  }
  return sumAB / Math.sqrt(sumAA * sumBB);
}

describe('MP3 decoding', () => {
  // speech_c_16k.mp3 is `lame -b 64 -m m` of the golden speech_c_16k.wav (34,830 samples);
  // 64 kbit/s leaves room in the first frame for the LAME tag that makes it gapless.
  let source: Float32Array;
  beforeAll(async () => {
    source = (await readAudioFile(goldenWavPath('speech_c_16k'))).samples;
  });

  it('decodes to the source length, aligned and close to the source', async () => {
    const mp3 = await readAudioFile(audioFixture('speech_c_16k.mp3'));
    expect(mp3).toMatchObject({ sampleRate: 16_000, channelCount: 1 });
    // Gapless decoding trims the encoder delay and padding the LAME tag records.
    expect(mp3.samples.length).toBe(source.length);
    const lags = [-2, -1, 0, 1, 2];
    const correlations = lags.map((lag) => correlationAtLag(source, mp3.samples, lag));
    const best = Math.max(...correlations);
    expect(correlations[lags.indexOf(0)]).toBe(best);
    expect(best).toBeGreaterThan(0.98);
  });

  it('finds the stream behind an ID3v2 tag and zero padding', async () => {
    const mp3 = await readFile(audioFixture('speech_c_16k.mp3'));
    const tagged = new Uint8Array([...id3v2Tag(200), 0, 0, 0, 0, ...mp3]);
    const plain = await decodeAudio(mp3, 'plain.mp3');
    const fromTagged = await decodeAudio(tagged, 'tagged.mp3');
    expect(absDiff(fromTagged.samples, plain.samples).max).toBe(0);
  });
});
