/**
 * A small WAV writer for tests: builds RIFF files chunk by chunk, so tests can make every
 * valid variant from real samples and also the malformed headers the reader must reject.
 */

export type SampleEncoding =
  | { kind: 'pcm'; bits: 8 | 16 | 24 | 32 }
  | { kind: 'float'; bits: 32 | 64 };

export interface FormatFields {
  formatTag: number;
  channelCount: number;
  sampleRate: number;
  blockAlign: number;
  bitsPerSample: number;
  /** When set, a WAVE_FORMAT_EXTENSIBLE extension is appended with this sub-format tag. */
  extensibleSubFormat?: number;
}

const FORMAT_PCM = 1;
const FORMAT_IEEE_FLOAT = 3;
const FORMAT_EXTENSIBLE = 0xfffe;
const GUID_TAIL = [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71];

function ascii(text: string): Uint8Array {
  return Uint8Array.from(text, (char) => char.charCodeAt(0));
}

/** One RIFF chunk: id, little-endian size (or `declaredSize`), body, pad byte if odd. */
export function chunk(id: string, body: Uint8Array, declaredSize = body.length): Uint8Array {
  const out = new Uint8Array(8 + body.length + (body.length % 2));
  out.set(ascii(id), 0);
  new DataView(out.buffer).setUint32(4, declaredSize, true);
  out.set(body, 8);
  return out;
}

/** 'RIFF' size 'WAVE' followed by the chunks, in order. */
export function riffWave(chunks: readonly Uint8Array[]): Uint8Array {
  const bodyLength = chunks.reduce((sum, c) => sum + c.length, 0);
  const out = new Uint8Array(12 + bodyLength);
  out.set(ascii('RIFF'), 0);
  new DataView(out.buffer).setUint32(4, 4 + bodyLength, true);
  out.set(ascii('WAVE'), 8);
  let offset = 12;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}

export function fmtChunk(fields: FormatFields): Uint8Array {
  const extensible = fields.extensibleSubFormat !== undefined;
  const body = new Uint8Array(extensible ? 40 : 16);
  const view = new DataView(body.buffer);
  view.setUint16(0, fields.formatTag, true);
  view.setUint16(2, fields.channelCount, true);
  view.setUint32(4, fields.sampleRate, true);
  view.setUint32(8, fields.sampleRate * fields.blockAlign, true);
  view.setUint16(12, fields.blockAlign, true);
  view.setUint16(14, fields.bitsPerSample, true);
  if (fields.extensibleSubFormat !== undefined) {
    view.setUint16(16, 22, true);
    view.setUint16(18, fields.bitsPerSample, true);
    view.setUint32(20, fields.channelCount === 2 ? 0b11 : 0, true);
    view.setUint16(24, fields.extensibleSubFormat, true);
    body.set(GUID_TAIL, 26);
  }
  return chunk('fmt ', body);
}

/** The stored integer for a sample in [-1, 1], rounded and clipped as an encoder would. */
function quantise(sample: number, bits: number): number {
  const scale = 2 ** (bits - 1);
  return Math.max(-scale, Math.min(scale - 1, Math.round(sample * scale)));
}

/** Interleaved sample bytes for planar channels of equal length. */
export function encodeSamples(channels: readonly Float32Array[], encoding: SampleEncoding): Uint8Array {
  const frameCount = channels[0]?.length ?? 0;
  const bytesPerSample = encoding.bits / 8;
  const out = new Uint8Array(frameCount * channels.length * bytesPerSample);
  const view = new DataView(out.buffer);
  let offset = 0;
  for (let frame = 0; frame < frameCount; frame++) {
    for (const channel of channels) {
      const sample = channel[frame] ?? 0;
      if (encoding.kind === 'float') {
        if (encoding.bits === 32) view.setFloat32(offset, sample, true);
        else view.setFloat64(offset, sample, true);
      } else if (encoding.bits === 8) {
        view.setUint8(offset, quantise(sample, 8) + 128);
      } else if (encoding.bits === 16) {
        view.setInt16(offset, quantise(sample, 16), true);
      } else if (encoding.bits === 24) {
        const value = quantise(sample, 24);
        view.setUint16(offset, value & 0xffff, true);
        view.setInt8(offset + 2, value >> 16);
      } else {
        view.setInt32(offset, quantise(sample, 32), true);
      }
      offset += bytesPerSample;
    }
  }
  return out;
}

/** A complete, valid WAV file holding `channels` in `encoding`. */
export function encodeWav(
  channels: readonly Float32Array[],
  sampleRate: number,
  encoding: SampleEncoding,
  options: { extensible?: boolean } = {},
): Uint8Array {
  const codec = encoding.kind === 'pcm' ? FORMAT_PCM : FORMAT_IEEE_FLOAT;
  const fields: FormatFields = {
    formatTag: options.extensible === true ? FORMAT_EXTENSIBLE : codec,
    channelCount: channels.length,
    sampleRate,
    blockAlign: channels.length * (encoding.bits / 8),
    bitsPerSample: encoding.bits,
    ...(options.extensible === true ? { extensibleSubFormat: codec } : {}),
  };
  return riffWave([fmtChunk(fields), chunk('data', encodeSamples(channels, encoding))]);
}
