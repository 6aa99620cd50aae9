import { AudioError } from '../errors.js';
import { parseMpegFrameHeader, type MpegFrame } from './mpeg-frame.js';

/**
 * Which decoder a file needs, judged from its first bytes, never from its name: recordings
 * get renamed, and a daemon fed a file called .wav that holds MP3 should still work.
 */
export type DetectedFormat =
  | { container: 'wav' }
  | { container: 'flac'; streamOffset: number }
  | { container: 'mpeg'; streamOffset: number; firstFrame: MpegFrame };

/** Containers we recognise but do not decode, so the error can say what the file is. */
const UNSUPPORTED_SIGNATURES: ReadonlyArray<{ at: number; magic: string; name: string }> = [
  { at: 0, magic: 'OggS', name: 'Ogg (Vorbis, Opus or Ogg FLAC)' },
  { at: 0, magic: 'RIFX', name: 'big-endian WAV (RIFX)' },
  { at: 0, magic: 'RF64', name: 'RF64 (64-bit WAV)' },
  { at: 0, magic: 'BW64', name: 'BW64 (64-bit broadcast WAV)' },
  { at: 0, magic: 'FORM', name: 'AIFF' },
  { at: 0, magic: 'caff', name: 'Core Audio (CAF)' },
  { at: 0, magic: '.snd', name: 'Sun/NeXT AU' },
  { at: 0, magic: 'wvpk', name: 'WavPack' },
  { at: 0, magic: '#!AMR', name: 'AMR' },
  { at: 0, magic: '\u001a\u0045\u00df\u00a3', name: 'Matroska/WebM' },
  { at: 4, magic: 'ftyp', name: 'MP4/M4A' },
];

const ID3V2_HEADER_BYTES = 10;
const ID3V2_FOOTER_FLAG = 0x10;

function hasMagic(bytes: Uint8Array, at: number, magic: string): boolean {
  if (bytes.length < at + magic.length) return false;
  for (let i = 0; i < magic.length; i++) {
    if (bytes[at + i] !== magic.charCodeAt(i)) return false;
  }
  return true;
}

function unsupportedContainer(source: string, name: string): AudioError {
  return new AudioError(
    'AUDIO_UNSUPPORTED',
    source,
    `${name} audio is not supported (only WAV, FLAC and MP3); convert it, e.g. ffmpeg -i ${source} -ac 1 out.wav`,
  );
}

/**
 * The length of a leading ID3v2 tag (as MP3 and sometimes FLAC files carry), or 0. Its size
 * is "synchsafe": four 7-bit bytes, so a byte with the top bit set means no valid tag.
 */
function id3v2TagLength(bytes: Uint8Array): number {
  if (!hasMagic(bytes, 0, 'ID3') || bytes.length < ID3V2_HEADER_BYTES) return 0;
  let size = 0;
  for (let i = 6; i < 10; i++) {
    const byte = bytes[i] as number;
    if (byte >= 0x80) return 0;
    size = size * 128 + byte;
  }
  const footer = ((bytes[5] as number) & ID3V2_FOOTER_FLAG) !== 0 ? ID3V2_HEADER_BYTES : 0;
  return ID3V2_HEADER_BYTES + size + footer;
}

/**
 * A real MPEG audio stream, not bytes that merely start like a frame: mpg123 will happily
 * "decode" random bytes that begin with 0xFFFB, so demand that the next frame header sits
 * where the first one says, with the same stream parameters (the file may also end there).
 */
function detectMpegStream(
  bytes: Uint8Array,
  offset: number,
  source: string,
): MpegFrame | undefined {
  const first = parseMpegFrameHeader(bytes, offset);
  if (first === undefined) return undefined;
  if (first.kind === 'adts') throw unsupportedContainer(source, 'AAC (ADTS)');
  if (first.kind === 'free-format') throw unsupportedContainer(source, 'free-format MPEG');
  const nextOffset = offset + first.frameBytes;
  if (nextOffset >= bytes.length) return nextOffset === bytes.length ? first : undefined;
  const next = parseMpegFrameHeader(bytes, nextOffset);
  const consistent =
    next?.kind === 'frame' &&
    next.version === first.version &&
    next.layer === first.layer &&
    next.sampleRate === first.sampleRate;
  return consistent ? first : undefined;
}

function describeLeadingBytes(bytes: Uint8Array): string {
  return Buffer.from(bytes.subarray(0, 8)).toString('hex').replace(/(..)(?!$)/g, '$1 ');
}

export function detectFormat(bytes: Uint8Array, source: string): DetectedFormat {
  if (bytes.length === 0) {
    throw new AudioError('AUDIO_DECODE', source, 'file is empty (0 bytes); record or copy it again');
  }
  if (hasMagic(bytes, 0, 'RIFF')) {
    if (bytes.length < 12) {
      throw new AudioError(
        'AUDIO_DECODE',
        source,
        `RIFF header is truncated (${bytes.length} of 12 bytes); the file is incomplete`,
      );
    }
    if (hasMagic(bytes, 8, 'WAVE')) return { container: 'wav' };
    const formType = String.fromCharCode(...bytes.subarray(8, 12));
    throw unsupportedContainer(source, `RIFF '${formType.replace(/[^\x20-\x7e]/g, '?')}'`);
  }
  for (const { at, magic, name } of UNSUPPORTED_SIGNATURES) {
    if (hasMagic(bytes, at, magic)) throw unsupportedContainer(source, name);
  }

  let streamOffset = id3v2TagLength(bytes);
  if (hasMagic(bytes, streamOffset, 'fLaC')) return { container: 'flac', streamOffset };
  // Some taggers pad between the ID3 tag and the first frame with zero bytes.
  if (streamOffset > 0) {
    while (streamOffset < bytes.length && bytes[streamOffset] === 0) streamOffset++;
  }
  const firstFrame = detectMpegStream(bytes, streamOffset, source);
  if (firstFrame !== undefined) return { container: 'mpeg', streamOffset, firstFrame };

  throw new AudioError(
    'AUDIO_DECODE',
    source,
    `not an audio file: no WAV, FLAC or MP3 signature at the start (first bytes ${describeLeadingBytes(bytes)})`,
  );
}
