import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { decodeAudio, readAudioFile } from '../../src/audio/decode.js';
import { loadAudio, loadAudioBytes } from '../../src/audio/load-clip.js';
import { resample } from '../../src/audio/resample.js';
import { AudioError, type SerErrorCode } from '../../src/errors.js';
import { goldenWavPath } from '../helpers/golden.js';
import { audioFixture, id3v2Tag } from './helpers/fixtures.js';
import { chunk, encodeSamples, fmtChunk, riffWave, type FormatFields } from './helpers/wav-writer.js';

// The libFLAC and mpg123 wrappers print decoding problems with console.error; keep them out
// of the test output (the errors themselves are asserted below).
beforeAll(() => {
  vi.spyOn(console, 'error').mockImplementation(() => undefined);
});

type AudioErrorCode = Extract<SerErrorCode, `AUDIO_${string}`>;

/** Runs `attempt`, expecting an AudioError with `code`, one line, naming `file` first. */
async function expectAudioError(
  attempt: Promise<unknown>,
  code: AudioErrorCode,
  file: string,
  mentions?: RegExp,
): Promise<AudioError> {
  const error: unknown = await attempt.then(
    () => undefined,
    (rejection: unknown) => rejection,
  );
  if (!(error instanceof AudioError)) throw new Error(`expected an AudioError, got ${String(error)}`);
  const audioError = error;
  expect(audioError.code).toBe(code);
  expect(audioError.file).toBe(file);
  expect(audioError.message.startsWith(`${file}: `)).toBe(true);
  expect(audioError.message).not.toContain('\n');
  if (mentions !== undefined) expect(audioError.message).toMatch(mentions);
  return audioError;
}

/** decodeAudio(bytes, name), expecting an AudioError with `code` that names `name`. */
async function expectDecodeError(
  bytes: Uint8Array,
  name: string,
  code: AudioErrorCode,
  mentions: RegExp,
): Promise<AudioError> {
  return expectAudioError(decodeAudio(bytes, name), code, name, mentions);
}

const PCM16_MONO: FormatFields = {
  formatTag: 1,
  channelCount: 1,
  sampleRate: 16_000,
  blockAlign: 2,
  bitsPerSample: 16,
};
const SOME_SAMPLES = encodeSamples([new Float32Array([0.1, -0.2, 0.3, -0.4])], { kind: 'pcm', bits: 16 });

function wavWith(format: Partial<FormatFields>, data = SOME_SAMPLES): Uint8Array {
  return riffWave([fmtChunk({ ...PCM16_MONO, ...format }), chunk('data', data)]);
}

describe('files that cannot be read', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'ser-audio-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('a missing file is AUDIO_NOT_FOUND', async () => {
    const missing = path.join(dir, 'missing.wav');
    await expectAudioError(readAudioFile(missing), 'AUDIO_NOT_FOUND', missing, /no such file/);
    await expectAudioError(loadAudio(missing), 'AUDIO_NOT_FOUND', missing);
  });

  it('a directory is AUDIO_DECODE', async () => {
    await expectAudioError(readAudioFile(dir), 'AUDIO_DECODE', dir, /directory/);
  });

  it('a zero-length file is AUDIO_DECODE', async () => {
    const empty = path.join(dir, 'empty.wav');
    await writeFile(empty, new Uint8Array(0));
    await expectAudioError(readAudioFile(empty), 'AUDIO_DECODE', empty, /empty \(0 bytes\)/);
  });
});

describe('damaged WAV files are AUDIO_DECODE', () => {
  it('a RIFF header cut short', async () => {
    await expectDecodeError(Uint8Array.from([0x52, 0x49, 0x46, 0x46, 0, 0]), 'cut.wav', 'AUDIO_DECODE', /truncated/);
  });

  it('a fmt chunk cut short', async () => {
    const wav = wavWith({});
    const cut = wav.subarray(0, 12 + 8 + 10);
    await expectDecodeError(cut, 'cut-fmt.wav', 'AUDIO_DECODE', /'fmt ' declares 16 bytes but only 10/);
  });

  it('a data chunk cut short', async () => {
    const wav = wavWith({});
    const cut = wav.subarray(0, wav.length - 3);
    await expectDecodeError(cut, 'cut-data.wav', 'AUDIO_DECODE', /declares 8 bytes but only 5 follow/);
  });

  it('no data chunk', async () => {
    const wav = riffWave([fmtChunk(PCM16_MONO)]);
    await expectDecodeError(wav, 'no-data.wav', 'AUDIO_DECODE', /no data chunk/);
  });

  it('data before fmt', async () => {
    const wav = riffWave([chunk('data', SOME_SAMPLES), fmtChunk(PCM16_MONO)]);
    await expectDecodeError(wav, 'order.wav', 'AUDIO_DECODE', /before any fmt chunk/);
  });

  it('a fmt chunk too short to describe the format', async () => {
    const wav = riffWave([chunk('fmt ', new Uint8Array(14)), chunk('data', SOME_SAMPLES)]);
    await expectDecodeError(wav, 'short-fmt.wav', 'AUDIO_DECODE', /fmt chunk is 14 bytes/);
  });

  it('a block align that contradicts channels and bits', async () => {
    await expectDecodeError(wavWith({ blockAlign: 3 }), 'align.wav', 'AUDIO_DECODE', /block align is 3/);
  });

  it('float data holding NaN', async () => {
    const nan = encodeSamples([new Float32Array([0.5, Number.NaN])], { kind: 'float', bits: 32 });
    const wav = wavWith({ formatTag: 3, blockAlign: 4, bitsPerSample: 32 }, nan);
    await expectDecodeError(wav, 'nan.wav', 'AUDIO_DECODE', /non-finite sample \(NaN\) in frame 1/);
  });
});

describe('unsupported WAV formats are AUDIO_UNSUPPORTED', () => {
  it('ADPCM, naming the codec and the conversion', async () => {
    const error = await expectAudioError(
      decodeAudio(wavWith({ formatTag: 2, bitsPerSample: 4 }), 'call.wav'),
      'AUDIO_UNSUPPORTED',
      'call.wav',
    );
    expect(error.message).toBe(
      'call.wav: WAV format tag 2 (Microsoft ADPCM) is not supported; convert to PCM, e.g. sox call.wav -e signed -b 16 out.wav',
    );
  });

  it('mu-law, and an extensible file whose sub-format is A-law', async () => {
    await expectDecodeError(wavWith({ formatTag: 7, blockAlign: 1, bitsPerSample: 8 }), 'ulaw.wav', 'AUDIO_UNSUPPORTED', /mu-law/);
    const alaw = wavWith({ formatTag: 0xfffe, blockAlign: 1, bitsPerSample: 8, extensibleSubFormat: 6 });
    await expectDecodeError(alaw, 'alaw.wav', 'AUDIO_UNSUPPORTED', /A-law/);
  });

  it('sample rates of 0 and above 768 kHz', async () => {
    await expectDecodeError(wavWith({ sampleRate: 0 }), 'zero-rate.wav', 'AUDIO_UNSUPPORTED', /sample rate 0 Hz/);
    await expectDecodeError(wavWith({ sampleRate: 768_001 }), 'fast.wav', 'AUDIO_UNSUPPORTED', /768001 Hz/);
  });

  it('bit depths the reader does not support', async () => {
    await expectDecodeError(wavWith({ bitsPerSample: 12 }), 'pcm12.wav', 'AUDIO_UNSUPPORTED', /12 bits per sample/);
    await expectDecodeError(wavWith({ formatTag: 3, bitsPerSample: 16 }), 'half.wav', 'AUDIO_UNSUPPORTED', /IEEE float with 16 bits/);
  });

  it('zero channels', async () => {
    await expectDecodeError(wavWith({ channelCount: 0, blockAlign: 0 }), 'none.wav', 'AUDIO_UNSUPPORTED', /0 channels/);
  });
});

describe('damaged FLAC and MP3 are AUDIO_DECODE', () => {
  let flac: Uint8Array;
  beforeAll(async () => {
    flac = await readFile(audioFixture('speech_a_16k.flac'));
  });

  it('a FLAC file cut in the middle of its frames', async () => {
    await expectDecodeError(flac.subarray(0, 20_000), 'cut.flac', 'AUDIO_DECODE', /CRC-16/);
  });

  it('a FLAC file cut in its metadata', async () => {
    await expectDecodeError(flac.subarray(0, 30), 'header.flac', 'AUDIO_DECODE', /metadata block of type 0 declares 34 bytes/);
  });

  it('a FLAC file with damaged audio bytes', async () => {
    // A copy: Buffer#slice would share (and damage) the bytes the other tests read.
    const damaged = Uint8Array.from(flac);
    for (let i = 15_000; i < 15_040; i++) damaged[i] = (damaged[i] as number) ^ 0x5a;
    await expectDecodeError(damaged, 'damaged.flac', 'AUDIO_DECODE', /CRC-16/);
  });

  it('a FLAC file that lost whole frames at the end', async () => {
    // Drop the last two frames (a silent 11-byte and a 13-byte one) at a frame boundary:
    // every remaining frame is intact, but STREAMINFO still counts the lost samples.
    const shortened = flac.subarray(0, flac.length - 24);
    await expectDecodeError(shortened, 'short.flac', 'AUDIO_DECODE', /declares 29325 samples but the frames hold 24576/);
  });

  it('an MP3 that is only an ID3 tag', async () => {
    await expectDecodeError(id3v2Tag(64), 'tag-only.mp3', 'AUDIO_DECODE', /not an audio file/);
  });

  it('an MP3 whose frames are garbage after a valid first header', async () => {
    const mp3 = await readFile(audioFixture('speech_c_16k.mp3'));
    const garbage = Uint8Array.from(mp3.subarray(0, 2_000));
    for (let i = 4; i < garbage.length; i++) garbage[i] = (i * 7919) & 0xff;
    await expectDecodeError(garbage, 'garbage.mp3', 'AUDIO_DECODE', /not an audio file/);
  });
});

describe('content that is not audio, or not a supported container', () => {
  it('text is AUDIO_DECODE, showing its first bytes', async () => {
    const text = new TextEncoder().encode('<!DOCTYPE html><html>');
    await expectDecodeError(text, 'page.wav', 'AUDIO_DECODE', /not an audio file.*3c 21 44 4f/);
  });

  it.each([
    ['Ogg', [0x4f, 0x67, 0x67, 0x53, 0, 2], /Ogg/],
    ['AIFF', [0x46, 0x4f, 0x52, 0x4d, 0, 0, 0, 4, 0x41, 0x49, 0x46, 0x46], /AIFF/],
    ['AVI', [0x52, 0x49, 0x46, 0x46, 4, 0, 0, 0, 0x41, 0x56, 0x49, 0x20], /RIFF 'AVI '/],
    ['MP4', [0, 0, 0, 0x20, 0x66, 0x74, 0x79, 0x70, 0x4d, 0x34, 0x41], /MP4/],
    ['AAC', [0xff, 0xf1, 0x50, 0x80, 0x02, 0x1f, 0xfc], /AAC/],
  ] as const)('%s is AUDIO_UNSUPPORTED', async (_name, bytes, mentions) => {
    await expectDecodeError(Uint8Array.from(bytes), 'clip.audio', 'AUDIO_UNSUPPORTED', mentions);
  });

  it('a FLAC STREAMINFO with sample rate 0 is AUDIO_UNSUPPORTED', async () => {
    const flac = await readFile(audioFixture('speech_a_16k.flac'));
    // The 20-bit rate starts at STREAMINFO byte 10 (file byte 18).
    flac[18] = 0;
    flac[19] = 0;
    flac[20] = (flac[20] as number) & 0x0f;
    await expectDecodeError(flac, 'zero.flac', 'AUDIO_UNSUPPORTED', /STREAMINFO sample rate 0 Hz/);
  });
});

describe('requests that cannot be met', () => {
  it('loadAudio rejects a bad target rate or duration, naming the file', async () => {
    const file = goldenWavPath('speech_a_16k');
    await expectAudioError(loadAudio(file, { sampleRate: 0 }), 'AUDIO_UNSUPPORTED', file, /requested sample rate 0 Hz/);
    await expectAudioError(loadAudio(file, { durationSeconds: -1 }), 'AUDIO_UNSUPPORTED', file, /duration -1 s/);
    const bytes = await readFile(file);
    const noDuration = loadAudioBytes(bytes, 'mem.wav', { durationSeconds: Number.NaN });
    await expectAudioError(noDuration, 'AUDIO_UNSUPPORTED', 'mem.wav', /duration NaN s/);
  });

  it('resample rejects rates that are not whole positive numbers', async () => {
    const samples = new Float32Array(10);
    await expect(resample(samples, 0, 22_050)).rejects.toMatchObject({ code: 'AUDIO_UNSUPPORTED' });
    await expect(resample(samples, 16_000, 22_050.5)).rejects.toThrow(/22050.5 Hz is not supported/);
  });
});
