import { AudioError } from '../errors.js';
import { checkSampleRate, reencodeHint } from './decoded-audio.js';

/**
 * Splits a native FLAC stream (RFC 9639) into its metadata and audio frames, so libFLAC
 * decodes exactly the frames the file holds. We do this ourselves because the frame parser
 * bundled with @wasm-audio-decoders/flac (codec-parser 2.5) merges the last two frames when
 * both are still buffered at the end of the file, silently losing the final one: a
 * `flac --best` encode of speech_a_16k.wav, which ends in tiny silent frames, decodes to
 * 28,672 of its 29,325 samples that way.
 *
 * FLAC frames carry no length. A frame ends where the next valid frame header begins and
 * the CRC-16 of the bytes before it equals the two bytes just before it (or at the end of
 * the data, with the same CRC test), which is also how libFLAC itself stays in sync.
 */

export interface FlacStream {
  sampleRate: number;
  /** 0 when the encoder did not know the length (the format allows it). */
  totalSamples: number;
  frames: Uint8Array[];
}

const MAGIC_BYTES = 4;
const BLOCK_HEADER_BYTES = 4;
const STREAMINFO_TYPE = 0;
const STREAMINFO_BYTES = 34;
const INVALID_BLOCK_TYPE = 127;
const LAST_BLOCK_FLAG = 0x80;
/** Sync code (14 bits) plus a reserved 0 bit; the last bit is the blocking strategy. */
const SYNC_FIRST_BYTE = 0xff;
const SYNC_SECOND_BYTE_MASK = 0xfe;
const SYNC_SECOND_BYTE = 0xf8;
const CRC16_BYTES = 2;
/** Some taggers append a 128-byte ID3v1 tag, starting 'TAG', even to FLAC files. */
const ID3V1_BYTES = 128;

function buildCrcTable(polynomial: number, width: 8 | 16): Uint16Array {
  const top = 1 << (width - 1);
  const mask = (1 << width) - 1;
  const table = new Uint16Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte << (width - 8);
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & top ? ((crc << 1) ^ polynomial) & mask : (crc << 1) & mask;
    }
    table[byte] = crc;
  }
  return table;
}

/** CRC-8 with polynomial x^8 + x^2 + x + 1 over the frame header (RFC 9639, 9.1.8). */
const CRC8_TABLE = buildCrcTable(0x07, 8);
/** CRC-16 with polynomial x^16 + x^15 + x^2 + 1 over the whole frame (RFC 9639, 9.3). */
const CRC16_TABLE = buildCrcTable(0x8005, 16);

function crc8(bytes: Uint8Array, start: number, end: number): number {
  let crc = 0;
  for (let i = start; i < end; i++) crc = CRC8_TABLE[crc ^ (bytes[i] as number)] as number;
  return crc;
}

function nextCrc16(crc: number, byte: number): number {
  return ((crc << 8) ^ (CRC16_TABLE[(crc >> 8) ^ byte] as number)) & 0xffff;
}

/**
 * The length of a valid frame header at `offset` (RFC 9639, 9.1), or 0 when the bytes there
 * are not one: sync code, no reserved values, a well-formed coded number and a matching CRC-8.
 */
function frameHeaderLength(bytes: Uint8Array, offset: number): number {
  if (offset + 6 > bytes.length) return 0;
  if (bytes[offset] !== SYNC_FIRST_BYTE) return 0;
  if (((bytes[offset + 1] as number) & SYNC_SECOND_BYTE_MASK) !== SYNC_SECOND_BYTE) return 0;
  const sizeAndRate = bytes[offset + 2] as number;
  const channelsAndDepth = bytes[offset + 3] as number;
  const blockSizeCode = sizeAndRate >> 4;
  const sampleRateCode = sizeAndRate & 0x0f;
  if (blockSizeCode === 0 || sampleRateCode === 0x0f) return 0;
  if (channelsAndDepth >> 4 > 0b1010 || (channelsAndDepth & 1) !== 0) return 0;

  const bitDepthCode = (channelsAndDepth >> 1) & 0b111;
  if (bitDepthCode === 0b011) return 0;

  // The frame or sample number, coded like UTF-8 in 1 to 7 bytes: the lead byte's leading
  // ones give the byte count (none: a single byte; one alone marks a continuation byte).
  let length = 4;
  const lead = bytes[offset + length] as number;
  let leadingOnes = 0;
  while (leadingOnes < 8 && (lead & (0x80 >> leadingOnes)) !== 0) leadingOnes++;
  if (leadingOnes === 1 || leadingOnes === 8) return 0;
  const continuationBytes = leadingOnes === 0 ? 0 : leadingOnes - 1;
  length += 1;
  for (let i = 0; i < continuationBytes; i++, length++) {
    if (offset + length >= bytes.length || ((bytes[offset + length] as number) & 0xc0) !== 0x80) return 0;
  }
  // Block sizes and sample rates that do not fit the 4-bit codes follow as extra bytes.
  if (blockSizeCode === 0b0110) length += 1;
  else if (blockSizeCode === 0b0111) length += 2;
  if (sampleRateCode === 0b1100) length += 1;
  else if (sampleRateCode === 0b1101 || sampleRateCode === 0b1110) length += 2;

  if (offset + length >= bytes.length) return 0;
  return crc8(bytes, offset, offset + length) === bytes[offset + length] ? length + 1 : 0;
}

/**
 * The end of the frame that starts at `start`: the first position after it where a valid
 * header begins (or the data ends) and the frame's CRC-16 checks out. -1 when none does.
 */
function frameEnd(bytes: Uint8Array, start: number, headerLength: number): number {
  let crc = 0;
  // Running CRC over bytes [start, candidate - 2): the frame body before its CRC footer.
  for (let i = start; i < start + headerLength; i++) crc = nextCrc16(crc, bytes[i] as number);
  for (let candidate = start + headerLength + CRC16_BYTES; candidate <= bytes.length; candidate++) {
    const atHeader = candidate === bytes.length || frameHeaderLength(bytes, candidate) > 0;
    if (atHeader) {
      const footer = ((bytes[candidate - 2] as number) << 8) | (bytes[candidate - 1] as number);
      if (footer === crc) return candidate;
    }
    crc = nextCrc16(crc, bytes[candidate - CRC16_BYTES] as number);
  }
  return -1;
}

function corrupt(source: string, reason: string): AudioError {
  return new AudioError('AUDIO_DECODE', source, `${reason}; re-encode it from the original`);
}

/** Reads STREAMINFO, skips the other metadata blocks, returns where the frames begin. */
function parseMetadata(
  flac: Uint8Array,
  source: string,
): { sampleRate: number; totalSamples: number; framesStart: number } {
  const view = new DataView(flac.buffer, flac.byteOffset, flac.byteLength);
  let offset = MAGIC_BYTES;
  let streamInfo: { sampleRate: number; totalSamples: number } | undefined;
  for (;;) {
    if (offset + BLOCK_HEADER_BYTES > flac.length) {
      throw corrupt(source, `FLAC metadata ends early, at byte ${offset} (truncated)`);
    }
    // Block header: last-block flag (1 bit), type (7 bits), body length (24 bits).
    const header = view.getUint32(offset);
    const isLast = (header >>> 24) & LAST_BLOCK_FLAG;
    const type = (header >>> 24) & ~LAST_BLOCK_FLAG;
    const length = header & 0xffffff;
    const body = offset + BLOCK_HEADER_BYTES;
    if (body + length > flac.length) {
      throw corrupt(
        source,
        `FLAC metadata block of type ${type} declares ${length} bytes but only ${flac.length - body} follow (truncated)`,
      );
    }
    if (streamInfo === undefined) {
      if (type !== STREAMINFO_TYPE || length < STREAMINFO_BYTES) {
        throw corrupt(source, `FLAC stream starts with a ${length}-byte metadata block of type ${type}, not STREAMINFO`);
      }
      // STREAMINFO bytes 10..17 pack: sample rate (20 bits), channels - 1 (3), bits - 1 (5),
      // total samples (36). libFLAC reports channels and bits itself, per frame.
      const packed = view.getUint32(body + 10);
      streamInfo = {
        sampleRate: packed >>> 12,
        totalSamples: (packed & 0x0f) * 2 ** 32 + view.getUint32(body + 14),
      };
    } else if (type === INVALID_BLOCK_TYPE) {
      throw corrupt(source, `FLAC metadata block type ${INVALID_BLOCK_TYPE} is invalid`);
    }
    offset = body + length;
    if (isLast !== 0) return { ...streamInfo, framesStart: offset };
  }
}

function hasId3v1Trailer(bytes: Uint8Array, framesStart: number): boolean {
  const start = bytes.length - ID3V1_BYTES;
  const tag = bytes.subarray(start, start + 3);
  return start >= framesStart && String.fromCharCode(...tag) === 'TAG';
}

/** Splits a FLAC stream that starts with 'fLaC'. */
export function splitFlacStream(flac: Uint8Array, source: string): FlacStream {
  const { sampleRate, totalSamples, framesStart } = parseMetadata(flac, source);
  checkSampleRate(sampleRate, source, 'FLAC STREAMINFO', reencodeHint(source));
  const audio = hasId3v1Trailer(flac, framesStart)
    ? flac.subarray(0, flac.length - ID3V1_BYTES)
    : flac;

  const frames: Uint8Array[] = [];
  let offset = framesStart;
  while (offset < audio.length) {
    const headerLength = frameHeaderLength(audio, offset);
    if (headerLength === 0) {
      throw corrupt(source, `FLAC frame ${frames.length} at byte ${offset} has no valid frame header`);
    }
    const end = frameEnd(audio, offset, headerLength);
    if (end < 0) {
      throw corrupt(
        source,
        `FLAC frame ${frames.length} at byte ${offset} fails its CRC-16 check (truncated or damaged)`,
      );
    }
    frames.push(audio.subarray(offset, end));
    offset = end;
  }
  return { sampleRate, totalSamples, frames };
}
