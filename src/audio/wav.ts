import { AudioError } from '../errors.js';
import { checkSampleRate, reencodeHint, type DecodedAudio } from './decoded-audio.js';

/**
 * A small, strict RIFF/WAVE reader for the codecs librosa's soundfile reads losslessly:
 * integer PCM (8-bit unsigned, 16, 24, 32-bit signed) and IEEE float (32, 64-bit), plain or
 * WAVE_FORMAT_EXTENSIBLE, any channel count. Samples are scaled exactly as libsndfile scales
 * them when asked for float: an n-bit integer divided by 2^(n-1).
 */

const FORMAT_PCM = 0x0001;
const FORMAT_IEEE_FLOAT = 0x0003;
const FORMAT_EXTENSIBLE = 0xfffe;

/** Names for the format tags people actually meet, so the error says what the file is. */
const KNOWN_FORMAT_TAGS: ReadonlyMap<number, string> = new Map([
  [0x0002, 'Microsoft ADPCM'],
  [0x0006, 'A-law'],
  [0x0007, 'mu-law'],
  [0x0011, 'IMA ADPCM'],
  [0x0031, 'GSM 6.10'],
  [0x0050, 'MPEG'],
  [0x0055, 'MPEG Layer 3'],
  [0x00ff, 'AAC'],
]);

/** KSDATAFORMAT_SUBTYPE_* GUIDs are the format tag followed by these 14 fixed bytes. */
const SUBFORMAT_GUID_TAIL = [
  0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71,
] as const;

const RIFF_HEADER_BYTES = 12;
const CHUNK_HEADER_BYTES = 8;
const FMT_MIN_BYTES = 16;
const FMT_EXTENSIBLE_BYTES = 40;

interface WavFormat {
  /** FORMAT_PCM or FORMAT_IEEE_FLOAT, after resolving WAVE_FORMAT_EXTENSIBLE. */
  codec: number;
  channelCount: number;
  sampleRate: number;
  blockAlign: number;
  bitsPerSample: number;
}

type SampleReader = (view: DataView, offset: number) => number;

function fourCc(bytes: Uint8Array, offset: number): string {
  return String.fromCharCode(...bytes.subarray(offset, offset + 4));
}

/** The chunk id for messages: printable ASCII as is, anything else as hex. */
function describeChunkId(bytes: Uint8Array, offset: number): string {
  const id = bytes.subarray(offset, offset + 4);
  return id.every((byte) => byte >= 0x20 && byte < 0x7f)
    ? `'${String.fromCharCode(...id)}'`
    : `0x${Buffer.from(id).toString('hex')}`;
}

function describeFormatTag(tag: number): string {
  const name = KNOWN_FORMAT_TAGS.get(tag);
  return name === undefined ? `WAV format tag ${tag}` : `WAV format tag ${tag} (${name})`;
}

function unsupportedCodec(source: string, what: string): AudioError {
  return new AudioError(
    'AUDIO_UNSUPPORTED',
    source,
    `${what} is not supported; convert to PCM, e.g. sox ${source} -e signed -b 16 out.wav`,
  );
}

function parseFormatChunk(
  bytes: Uint8Array,
  view: DataView,
  offset: number,
  size: number,
  source: string,
): WavFormat {
  if (size < FMT_MIN_BYTES) {
    throw new AudioError(
      'AUDIO_DECODE',
      source,
      `WAV fmt chunk is ${size} bytes, shorter than the 16 every WAV needs; the header is corrupt`,
    );
  }
  const formatTag = view.getUint16(offset, true);
  const channelCount = view.getUint16(offset + 2, true);
  const sampleRate = view.getUint32(offset + 4, true);
  const blockAlign = view.getUint16(offset + 12, true);
  const bitsPerSample = view.getUint16(offset + 14, true);

  let codec = formatTag;
  if (formatTag === FORMAT_EXTENSIBLE) {
    if (size < FMT_EXTENSIBLE_BYTES) {
      throw new AudioError(
        'AUDIO_DECODE',
        source,
        `WAV fmt chunk is ${size} bytes, but WAVE_FORMAT_EXTENSIBLE needs ${FMT_EXTENSIBLE_BYTES}; the header is corrupt`,
      );
    }
    // The sub-format GUID (bytes 24..39) carries the real codec in its first two bytes.
    codec = view.getUint16(offset + 24, true);
    const tailMatches = SUBFORMAT_GUID_TAIL.every(
      (byte, index) => bytes[offset + 26 + index] === byte,
    );
    if (!tailMatches) {
      throw unsupportedCodec(source, 'WAVE_FORMAT_EXTENSIBLE with a non-standard sub-format GUID');
    }
  }

  if (channelCount === 0) {
    throw new AudioError(
      'AUDIO_UNSUPPORTED',
      source,
      'WAV header declares 0 channels; the file holds no audio channel to read',
    );
  }
  checkSampleRate(sampleRate, source, 'WAV header', reencodeHint(source));
  if (codec !== FORMAT_PCM && codec !== FORMAT_IEEE_FLOAT) {
    throw unsupportedCodec(source, describeFormatTag(codec));
  }
  return { codec, channelCount, sampleRate, blockAlign, bitsPerSample };
}

/** How to turn one stored sample into float32, as libsndfile's float read does. */
function sampleReaderFor(format: WavFormat, source: string): SampleReader {
  const { codec, bitsPerSample } = format;
  if (codec === FORMAT_PCM) {
    switch (bitsPerSample) {
      case 8:
        // 8-bit WAV is the one unsigned PCM width: silence is 128.
        return (view, offset) => (view.getUint8(offset) - 128) / 128;
      case 16:
        return (view, offset) => view.getInt16(offset, true) / 32768;
      case 24:
        return (view, offset) => {
          const low = view.getUint16(offset, true);
          const high = view.getInt8(offset + 2);
          return (high * 65536 + low) / 8388608;
        };
      case 32:
        // An int32 needs rounding to float32, which libsndfile does before scaling.
        return (view, offset) => Math.fround(view.getInt32(offset, true) / 2147483648);
    }
  } else {
    switch (bitsPerSample) {
      case 32:
        return (view, offset) => view.getFloat32(offset, true);
      case 64:
        // soundfile reads float64 WAV into float32 for librosa, so round each sample the same way.
        return (view, offset) => Math.fround(view.getFloat64(offset, true));
    }
  }
  const kind = codec === FORMAT_PCM ? 'integer PCM' : 'IEEE float';
  const supported = codec === FORMAT_PCM ? '8, 16, 24 or 32' : '32 or 64';
  throw new AudioError(
    'AUDIO_UNSUPPORTED',
    source,
    `WAV ${kind} with ${bitsPerSample} bits per sample is not supported (only ${supported}); convert it, e.g. sox ${source} -e signed -b 16 out.wav`,
  );
}

/** Decodes a whole WAV file held in memory; the caller has checked the RIFF/WAVE signature. */
export function decodeWav(bytes: Uint8Array, source: string): DecodedAudio {
  if (bytes.length < RIFF_HEADER_BYTES || fourCc(bytes, 0) !== 'RIFF' || fourCc(bytes, 8) !== 'WAVE') {
    throw new AudioError(
      'AUDIO_DECODE',
      source,
      `not a complete RIFF/WAVE header in the first ${RIFF_HEADER_BYTES} bytes (file has ${bytes.length}); the file is truncated or not WAV`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);

  let format: WavFormat | undefined;
  let offset = RIFF_HEADER_BYTES;
  // The RIFF size field is often wrong in the wild (streamed writers leave it at 0 or
  // 0xFFFFFFFF), so, like libsndfile, walk the chunks within the bytes actually present.
  while (offset + CHUNK_HEADER_BYTES <= bytes.length) {
    const id = fourCc(bytes, offset);
    const size = view.getUint32(offset + 4, true);
    const body = offset + CHUNK_HEADER_BYTES;
    const available = bytes.length - body;

    if (id === 'data') {
      if (format === undefined) {
        throw new AudioError(
          'AUDIO_DECODE',
          source,
          'WAV data chunk comes before any fmt chunk, so its samples cannot be interpreted; the header is corrupt',
        );
      }
      if (size > available) {
        throw new AudioError(
          'AUDIO_DECODE',
          source,
          `WAV data chunk declares ${size} bytes but only ${available} follow; the file is truncated (re-export or re-record it)`,
        );
      }
      return decodeSamples(view, body, size, format, source);
    }

    if (size > available) {
      throw new AudioError(
        'AUDIO_DECODE',
        source,
        `WAV chunk ${describeChunkId(bytes, offset)} declares ${size} bytes but only ${available} follow; the file is truncated`,
      );
    }
    if (id === 'fmt ') format = parseFormatChunk(bytes, view, body, size, source);
    // Chunks are padded to an even length (RIFF specification).
    offset = body + size + (size % 2);
  }

  throw new AudioError(
    'AUDIO_DECODE',
    source,
    format === undefined
      ? 'WAV file has no fmt chunk and no data chunk; the file is truncated or corrupt'
      : 'WAV file has no data chunk; the file is truncated or corrupt',
  );
}

function decodeSamples(
  view: DataView,
  dataOffset: number,
  dataBytes: number,
  format: WavFormat,
  source: string,
): DecodedAudio {
  const readSample = sampleReaderFor(format, source);
  const { channelCount, blockAlign, bitsPerSample, sampleRate } = format;
  const bytesPerSample = bitsPerSample / 8;
  if (blockAlign !== channelCount * bytesPerSample) {
    throw new AudioError(
      'AUDIO_DECODE',
      source,
      `WAV block align is ${blockAlign} bytes, but ${channelCount} channel(s) of ${bitsPerSample}-bit samples take ${channelCount * bytesPerSample}; the header is corrupt`,
    );
  }
  // A trailing partial frame is dropped, as libsndfile does.
  const frameCount = Math.floor(dataBytes / blockAlign);
  const samples = new Float32Array(frameCount);
  let offset = dataOffset;
  for (let frame = 0; frame < frameCount; frame++) {
    // Sum in double and round once: numpy's float32 mean of the channels (see downmixPlanar).
    let sum = 0;
    for (let channel = 0; channel < channelCount; channel++) {
      sum += readSample(view, offset);
      offset += bytesPerSample;
    }
    // Only IEEE float data can hold these; they would poison every feature downstream.
    if (!Number.isFinite(sum)) {
      throw new AudioError(
        'AUDIO_DECODE',
        source,
        `WAV float data holds a non-finite sample (${sum}) in frame ${frame}; the file is corrupt`,
      );
    }
    samples[frame] = sum / channelCount;
  }
  return { sampleRate, channelCount, samples };
}
