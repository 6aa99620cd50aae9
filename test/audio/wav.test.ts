import { readFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeAudio, readAudioFile } from '../../src/audio/decode.js';
import { absDiff, goldenWavPath, readGoldenF32 } from '../helpers/golden.js';
import {
  chunk,
  encodeSamples,
  encodeWav,
  fmtChunk,
  riffWave,
  type SampleEncoding,
} from './helpers/wav-writer.js';

/** Half of one quantisation step: the most rounding to `bits` can move a sample. */
function halfStep(encoding: SampleEncoding): number {
  return encoding.kind === 'pcm' ? 2 ** -encoding.bits : 0;
}

describe('WAV decoding', () => {
  let speech: Float32Array;

  beforeAll(async () => {
    speech = (await readAudioFile(goldenWavPath('speech_e_22k'))).samples;
  });

  it('reads 16-bit PCM exactly as soundfile hands it to librosa', async () => {
    const decoded = await readAudioFile(goldenWavPath('speech_e_22k'));
    expect(decoded.sampleRate).toBe(22_050);
    expect(decoded.channelCount).toBe(1);
    // At the native rate librosa.load returns soundfile's float32 samples untouched.
    expect(absDiff(decoded.samples, readGoldenF32('speech_e_22k.audio_loaded')).max).toBe(0);
  });

  const encodings: SampleEncoding[] = [
    { kind: 'pcm', bits: 8 },
    { kind: 'pcm', bits: 16 },
    { kind: 'pcm', bits: 24 },
    { kind: 'pcm', bits: 32 },
    { kind: 'float', bits: 32 },
    { kind: 'float', bits: 64 },
  ];
  for (const encoding of encodings) {
    for (const extensible of [false, true]) {
      const label = `${encoding.kind} ${encoding.bits}-bit${extensible ? ' extensible' : ''}`;
      it(`decodes ${label} within the format's quantisation`, async () => {
        const wav = encodeWav([speech], 22_050, encoding, { extensible });
        const decoded = await decodeAudio(wav, `${label}.wav`);
        expect(decoded).toMatchObject({ sampleRate: 22_050, channelCount: 1 });
        expect(decoded.samples.length).toBe(speech.length);
        const { max } = absDiff(decoded.samples, speech);
        expect(max).toBeLessThanOrEqual(halfStep(encoding));
        if (encoding.bits === 8) expect(max).toBeGreaterThan(0);
      });
    }
  }

  it('scales full-scale integers as libsndfile does (n-bit value / 2^(n-1))', async () => {
    const cases: Array<{ bits: 8 | 16 | 24 | 32; bytes: number[]; expected: number[] }> = [
      { bits: 8, bytes: [0x00, 0x80, 0xff], expected: [-1, 0, 127 / 128] },
      { bits: 16, bytes: [0x00, 0x80, 0xff, 0x7f], expected: [-1, 32_767 / 32_768] },
      { bits: 24, bytes: [0x00, 0x00, 0x80, 0xff, 0xff, 0x7f], expected: [-1, 8_388_607 / 8_388_608] },
      // float32 cannot hold 2147483647/2^31; libsndfile rounds it, to exactly 1.
      { bits: 32, bytes: [0, 0, 0, 0x80, 0xff, 0xff, 0xff, 0x7f], expected: [-1, 1] },
    ];
    for (const { bits, bytes, expected } of cases) {
      const wav = riffWave([
        fmtChunk({ formatTag: 1, channelCount: 1, sampleRate: 8000, blockAlign: bits / 8, bitsPerSample: bits }),
        chunk('data', Uint8Array.from(bytes)),
      ]);
      const decoded = await decodeAudio(wav, `full-scale-${bits}.wav`);
      expect(Array.from(decoded.samples)).toEqual(expected);
    }
  });

  it('averages stereo into mono exactly as numpy float32 mean does', async () => {
    const right = speech.slice().reverse();
    const wav = encodeWav([speech, right], 22_050, { kind: 'pcm', bits: 16 });
    const decoded = await decodeAudio(wav, 'stereo.wav');
    expect(decoded.channelCount).toBe(2);
    const expected = speech.map((left, i) => (left + (right[i] as number)) / 2);
    expect(absDiff(decoded.samples, expected).max).toBe(0);
  });

  it('averages six float channels: the exact mean, rounded once to float32', async () => {
    const channels = [0.9, -0.4, 0.25, 0.1, -0.75, 0.6].map((gain) => speech.map((x) => x * gain));
    const decoded = await decodeAudio(encodeWav(channels, 22_050, { kind: 'float', bits: 32 }), '5.1.wav');
    expect(decoded.channelCount).toBe(6);
    const expected = speech.map((_, i) => channels.reduce((sum, c) => sum + (c[i] as number), 0) / 6);
    expect(absDiff(decoded.samples, expected).max).toBe(0);
  });

  it('skips unknown chunks, odd-sized ones by their pad byte, before and after fmt', async () => {
    const plain = encodeWav([speech], 22_050, { kind: 'pcm', bits: 16 });
    const withExtras = riffWave([
      chunk('LIST', Uint8Array.from([1, 2, 3])),
      fmtChunk({ formatTag: 1, channelCount: 1, sampleRate: 22_050, blockAlign: 2, bitsPerSample: 16 }),
      chunk('fact', Uint8Array.from([0, 0, 0, 0])),
      chunk('data', encodeSamples([speech], { kind: 'pcm', bits: 16 })),
      chunk('id3 ', Uint8Array.from([9])),
    ]);
    const expected = (await decodeAudio(plain, 'plain.wav')).samples;
    expect(absDiff((await decodeAudio(withExtras, 'extras.wav')).samples, expected).max).toBe(0);
  });

  it('ignores a wrong RIFF size and a trailing partial frame, as libsndfile does', async () => {
    const wav = encodeWav([speech.subarray(0, 100)], 22_050, { kind: 'pcm', bits: 16 });
    new DataView(wav.buffer).setUint32(4, 0xffffffff, true);
    const withPartialFrame = riffWave([
      fmtChunk({ formatTag: 1, channelCount: 2, sampleRate: 22_050, blockAlign: 4, bitsPerSample: 16 }),
      chunk('data', new Uint8Array(4 * 10 + 2)),
    ]);
    expect((await decodeAudio(wav, 'riff-size.wav')).samples.length).toBe(100);
    expect((await decodeAudio(withPartialFrame, 'partial.wav')).samples.length).toBe(10);
  });

  it('accepts the top supported rate, 768 kHz', async () => {
    const wav = encodeWav([speech.subarray(0, 10)], 768_000, { kind: 'pcm', bits: 16 });
    expect((await decodeAudio(wav, 'hi-rate.wav')).sampleRate).toBe(768_000);
  });

  it('decodes a WAV whatever its file name says', async () => {
    const bytes = await readFile(goldenWavPath('speech_e_22k'));
    const decoded = await decodeAudio(bytes, 'misnamed.mp3');
    expect(decoded.samples.length).toBe(speech.length);
  });
});
