/**
 * MPEG-1/2/2.5 audio frame headers (ISO/IEC 11172-3, 13818-3): enough to recognise an MP3
 * stream, size its frames and read its rate and channel mode before handing it to mpg123.
 */

export type MpegVersion = '1' | '2' | '2.5';

export type MpegFrameHeader =
  | {
      kind: 'frame';
      version: MpegVersion;
      layer: 1 | 2 | 3;
      sampleRate: number;
      channelCount: 1 | 2;
      /** Length of the whole frame, header included. */
      frameBytes: number;
    }
  /** A valid header whose bitrate index 0 leaves the frame length unknown. */
  | { kind: 'free-format' }
  /** The same sync word with layer bits 00: an AAC ADTS frame, not MPEG audio. */
  | { kind: 'adts' };

const SAMPLE_RATES: Record<MpegVersion, readonly number[]> = {
  '1': [44100, 48000, 32000],
  '2': [22050, 24000, 16000],
  '2.5': [11025, 12000, 8000],
};

/** kbit/s by bitrate index 1..14 (index 0 is free format, 15 is invalid). */
const BITRATES_V1: Record<1 | 2 | 3, readonly number[]> = {
  1: [32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448],
  2: [32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384],
  3: [32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
};
const BITRATES_V2_LAYER1 = [32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256];
const BITRATES_V2_LAYER23 = [8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];

function frameLength(
  version: MpegVersion,
  layer: 1 | 2 | 3,
  bitrateKbps: number,
  sampleRate: number,
  padding: number,
): number {
  const bitsPerSecond = bitrateKbps * 1000;
  if (layer === 1) return (Math.floor((12 * bitsPerSecond) / sampleRate) + padding) * 4;
  // Layer III frames of MPEG-2 and 2.5 carry 576 samples instead of 1152.
  const bytesPerBitrateUnit = layer === 3 && version !== '1' ? 72 : 144;
  return Math.floor((bytesPerBitrateUnit * bitsPerSecond) / sampleRate) + padding;
}

/** A header that describes a decodable frame. */
export type MpegFrame = Extract<MpegFrameHeader, { kind: 'frame' }>;

/** The frame header at `offset`, or undefined when those four bytes are not one. */
export function parseMpegFrameHeader(bytes: Uint8Array, offset: number): MpegFrameHeader | undefined {
  if (offset < 0 || offset + 4 > bytes.length) return undefined;
  const b1 = bytes[offset + 1] as number;
  const b2 = bytes[offset + 2] as number;
  const b3 = bytes[offset + 3] as number;
  if (bytes[offset] !== 0xff || (b1 & 0xe0) !== 0xe0) return undefined;

  const versionBits = (b1 >> 3) & 0b11;
  const layerBits = (b1 >> 1) & 0b11;
  if (layerBits === 0b00) return versionBits === 0b10 || versionBits === 0b11 ? { kind: 'adts' } : undefined;
  if (versionBits === 0b01) return undefined;
  const version: MpegVersion = versionBits === 0b11 ? '1' : versionBits === 0b10 ? '2' : '2.5';
  const layer = (4 - layerBits) as 1 | 2 | 3;

  const bitrateIndex = b2 >> 4;
  const sampleRateIndex = (b2 >> 2) & 0b11;
  if (bitrateIndex === 0b1111 || sampleRateIndex === 0b11) return undefined;
  if (bitrateIndex === 0) return { kind: 'free-format' };

  const sampleRate = SAMPLE_RATES[version][sampleRateIndex] as number;
  const bitrates =
    version === '1' ? BITRATES_V1[layer] : layer === 1 ? BITRATES_V2_LAYER1 : BITRATES_V2_LAYER23;
  const bitrateKbps = bitrates[bitrateIndex - 1] as number;
  const padding = (b2 >> 1) & 1;
  const channelCount = b3 >> 6 === 0b11 ? 1 : 2;
  return {
    kind: 'frame',
    version,
    layer,
    sampleRate,
    channelCount,
    frameBytes: frameLength(version, layer, bitrateKbps, sampleRate, padding),
  };
}
