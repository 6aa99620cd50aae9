import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeAudio, readAudioFile } from '../../src/audio/decode.js';
import { loadAudio } from '../../src/audio/load-clip.js';
import { absDiff, DATASETS_DIR, goldenWavPath } from '../helpers/golden.js';
import { audioFixture, id3v2Tag } from './helpers/fixtures.js';

/** RAVDESS Actor 01, neutral, statement 1: 72,838 samples at 22.05 kHz (metaflac). */
const RAVDESS_FILE = path.join(DATASETS_DIR, 'ravdess/Actor_01/03-01-01-01-01-01-01.flac');

/** The MD5 signature in a FLAC file's STREAMINFO (bytes 18..33 of its body). */
async function streamInfoMd5(file: string): Promise<string> {
  const bytes = await readFile(file);
  return bytes.subarray(8 + 18, 8 + 34).toString('hex');
}

/**
 * MD5 of mono samples as 16-bit little-endian integers, the form FLAC signs. Throws if a
 * sample is not a whole multiple of 2^-15, i.e. not scaled as libsndfile scales 16 bits.
 */
function md5Of16BitSamples(samples: Float32Array): string {
  const pcm = Buffer.alloc(samples.length * 2);
  samples.forEach((sample, i) => {
    const value = sample * 32_768;
    if (!Number.isInteger(value)) throw new Error(`sample ${i} (${sample}) is not a 16-bit value / 32768`);
    pcm.writeInt16LE(value, i * 2);
  });
  return createHash('md5').update(pcm).digest('hex');
}

describe('FLAC decoding', () => {
  it('decodes 16-bit FLAC to exactly the samples of the WAV it was made from', async () => {
    // speech_a_16k.flac is `flac --best` of the golden speech_a_16k.wav: lossless.
    const flac = await readAudioFile(audioFixture('speech_a_16k.flac'));
    const wav = await readAudioFile(goldenWavPath('speech_a_16k'));
    expect(flac).toMatchObject({ sampleRate: 16_000, channelCount: 1 });
    expect(flac.samples.length).toBe(wav.samples.length);
    expect(absDiff(flac.samples, wav.samples).max).toBe(0);
  });

  it('decodes 24-bit stereo FLAC, scaled by 2^23 and averaged to mono', async () => {
    // Left: the first second of speech_c_16k; right: the same file reversed, both as
    // 24-bit (the 16-bit values shifted up, so exact), merged by sox and encoded by flac.
    const flac = await readAudioFile(audioFixture('speech_c_16k_stereo24_1s.flac'));
    const source = (await readAudioFile(goldenWavPath('speech_c_16k'))).samples;
    const reversed = source.slice().reverse();
    const expected = new Float32Array(16_000).map((_, i) => ((source[i] as number) + (reversed[i] as number)) / 2);
    expect(flac).toMatchObject({ sampleRate: 16_000, channelCount: 2 });
    expect(absDiff(flac.samples, expected).max).toBe(0);
  });

  it('decodes a RAVDESS recording to the samples its STREAMINFO MD5 signs', async () => {
    const decoded = await readAudioFile(RAVDESS_FILE);
    expect(decoded).toMatchObject({ sampleRate: 22_050, channelCount: 1 });
    expect(decoded.samples.length).toBe(72_838);
    // The encoder's MD5 of the original 16-bit samples: an independent check of every one.
    expect(md5Of16BitSamples(decoded.samples)).toBe(await streamInfoMd5(RAVDESS_FILE));
    // Native rate already 22.05 kHz: loadAudio is the first 3 s, untouched.
    const loaded = await loadAudio(RAVDESS_FILE);
    expect(absDiff(loaded, decoded.samples.subarray(0, 66_150)).max).toBe(0);
  });

  it('finds FLAC behind an ID3v2 tag', async () => {
    const flac = await readFile(audioFixture('speech_a_16k.flac'));
    const tagged = new Uint8Array([...id3v2Tag(300), ...flac]);
    const plain = await decodeAudio(flac, 'plain.flac');
    expect(absDiff((await decodeAudio(tagged, 'tagged.flac')).samples, plain.samples).max).toBe(0);
  });
});
