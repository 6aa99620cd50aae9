import { FLACDecoder } from '@wasm-audio-decoders/flac';
import { AudioError } from '../errors.js';
import { downmixPlanar, type DecodedAudio } from './decoded-audio.js';
import { splitFlacStream } from './flac-stream.js';

/**
 * FLAC through libFLAC compiled to wasm (@wasm-audio-decoders/flac), fed the frames that
 * flac-stream.ts splits out and has already checked by CRC.
 *
 * Making a decoder instantiates a fresh wasm memory, which costs several times the 2 ms
 * decode of a RAVDESS clip, and training decodes thousands in a row. So a decoder that
 * finished a file cleanly is kept for the next one (libFLAC is then at a frame boundary
 * with no state carried over), one per concurrent caller, and freed after a second idle.
 * A decoder that reported any error is freed at once rather than trusted again.
 */
const IDLE_DECODER_LIFETIME_MS = 1000;

const idleDecoders: FLACDecoder[] = [];
let idleTimer: NodeJS.Timeout | undefined;

function freeIdleDecoders(): void {
  idleTimer = undefined;
  for (const decoder of idleDecoders.splice(0)) decoder.free();
}

function takeDecoder(): FLACDecoder {
  return idleDecoders.pop() ?? new FLACDecoder();
}

function returnDecoder(decoder: FLACDecoder): void {
  idleDecoders.push(decoder);
  clearTimeout(idleTimer);
  // unref: an idle decoder must never keep the process alive.
  idleTimer = setTimeout(freeIdleDecoders, IDLE_DECODER_LIFETIME_MS).unref();
}

/** FLAC allows 4 to 32 bits per sample. */
const MIN_BIT_DEPTH = 4;
const MAX_BIT_DEPTH = 32;

/**
 * The decoder hands out n-bit integers divided by 2^(n-1) - 1; libsndfile (and so librosa)
 * divides by 2^(n-1). Up to 24 bits the integer is recovered exactly by rounding (float32
 * keeps 24 bits, so a value up to 2^23 is off by less than half a unit) and then rescaled;
 * deeper samples come out within float32 rounding of libsndfile's.
 */
function rescaleLikeLibsndfile(channel: Float32Array, bitDepth: number): void {
  const decoderScale = 2 ** (bitDepth - 1) - 1;
  const libsndfileScale = 2 ** (bitDepth - 1);
  for (let i = 0; i < channel.length; i++) {
    channel[i] = Math.round((channel[i] as number) * decoderScale) / libsndfileScale;
  }
}

export async function decodeFlac(flac: Uint8Array, source: string): Promise<DecodedAudio> {
  const stream = splitFlacStream(flac, source);
  const decoder = takeDecoder();
  await decoder.ready;
  let decoded;
  try {
    decoded = await decoder.decodeFrames(stream.frames);
  } catch (error) {
    decoder.free();
    throw error;
  }
  if (decoded.errors.length === 0) returnDecoder(decoder);
  else decoder.free();

  const firstError = decoded.errors[0];
  if (firstError !== undefined) {
    // The error's frame number is left out: the wrapper counts frames across every file a
    // reused decoder has seen.
    throw new AudioError(
      'AUDIO_DECODE',
      source,
      `libFLAC cannot decode a FLAC frame (${firstError.message}); re-encode it from the original`,
    );
  }
  if (decoded.samplesDecoded === 0 || decoded.channelData.length === 0) {
    throw new AudioError(
      'AUDIO_DECODE',
      source,
      'FLAC stream holds no audio frame; the file is truncated or empty',
    );
  }
  if (stream.totalSamples > 0 && decoded.samplesDecoded !== stream.totalSamples) {
    throw new AudioError(
      'AUDIO_DECODE',
      source,
      `FLAC STREAMINFO declares ${stream.totalSamples} samples but the frames hold ${decoded.samplesDecoded}; the file is truncated or damaged, re-encode it from the original`,
    );
  }
  if (!(decoded.bitDepth >= MIN_BIT_DEPTH && decoded.bitDepth <= MAX_BIT_DEPTH)) {
    throw new AudioError(
      'AUDIO_DECODE',
      source,
      `FLAC decoder reported ${decoded.bitDepth} bits per sample, outside FLAC's ${MIN_BIT_DEPTH} to ${MAX_BIT_DEPTH}; the file is corrupt`,
    );
  }
  for (const channel of decoded.channelData) rescaleLikeLibsndfile(channel, decoded.bitDepth);
  return {
    sampleRate: stream.sampleRate,
    channelCount: decoded.channelData.length,
    samples: downmixPlanar(decoded.channelData, decoded.samplesDecoded),
  };
}
