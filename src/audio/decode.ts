import { readFile } from 'node:fs/promises';
import { AudioError } from '../errors.js';
import type { DecodedAudio } from './decoded-audio.js';
import { detectFormat } from './detect-format.js';
import { decodeWav } from './wav.js';

export type { DecodedAudio } from './decoded-audio.js';

/**
 * Decodes WAV, FLAC or MP3 held in memory to mono float samples at the native rate. The
 * format is read from the content; `source` only names the input in error messages.
 */
export async function decodeAudio(bytes: Uint8Array, source: string): Promise<DecodedAudio> {
  const format = detectFormat(bytes, source);
  switch (format.container) {
    case 'wav':
      return decodeWav(bytes, source);
    // The FLAC and MP3 decoders (WebAssembly builds) load with the first file that needs them:
    // a daemon capturing from a microphone never does.
    case 'flac':
      return (await import('./flac.js')).decodeFlac(bytes.subarray(format.streamOffset), source);
    case 'mpeg':
      return (await import('./mpeg.js')).decodeMpeg(bytes.subarray(format.streamOffset), source, format.firstFrame);
  }
}

function errnoCode(error: unknown): string | undefined {
  return error instanceof Error && 'code' in error && typeof error.code === 'string'
    ? error.code
    : undefined;
}

function readFailure(path: string, error: unknown): AudioError {
  const code = errnoCode(error);
  switch (code) {
    case 'ENOENT':
    case 'ENOTDIR':
      return new AudioError('AUDIO_NOT_FOUND', path, 'no such file; check the path', { cause: error });
    case 'EISDIR':
      return new AudioError('AUDIO_DECODE', path, 'is a directory, not an audio file', { cause: error });
    default:
      return new AudioError(
        'AUDIO_DECODE',
        path,
        `cannot be read (${code ?? String(error)}); check that the file is readable`,
        { cause: error },
      );
  }
}

/** Reads and decodes an audio file; errors name `path`. */
export async function readAudioFile(path: string): Promise<DecodedAudio> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw readFailure(path, error);
  }
  return decodeAudio(bytes, path);
}
