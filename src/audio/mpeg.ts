import { MPEGDecoder } from 'mpg123-decoder';
import { AudioError } from '../errors.js';
import { checkSampleRate, downmixPlanar, reencodeHint, type DecodedAudio } from './decoded-audio.js';
import type { MpegFrame } from './mpeg-frame.js';

/**
 * MP3 (and MPEG layer I/II) through mpg123 compiled to wasm (mpg123-decoder). Gapless
 * decoding trims the encoder delay and padding that a LAME/Xing tag records, so the clip
 * lines up with the original recording sample for sample. A fresh decoder per file, freed
 * afterwards: no dataset here is MP3, so its set-up cost is not worth pooling.
 */
export async function decodeMpeg(
  stream: Uint8Array,
  source: string,
  firstFrame: MpegFrame,
): Promise<DecodedAudio> {
  const decoder = new MPEGDecoder({ enableGapless: true });
  await decoder.ready;
  let decoded;
  try {
    decoded = decoder.decode(stream);
  } finally {
    decoder.free();
  }

  const firstError = decoded.errors[0];
  if (firstError !== undefined) {
    throw new AudioError(
      'AUDIO_DECODE',
      source,
      `MPEG audio stream is corrupt (mpg123: ${firstError.message}); re-encode it from the original`,
    );
  }
  if (decoded.samplesDecoded === 0) {
    throw new AudioError(
      'AUDIO_DECODE',
      source,
      'MPEG audio stream holds no decodable frame; the file is truncated or corrupt',
    );
  }
  checkSampleRate(decoded.sampleRate, source, 'MPEG audio', reencodeHint(source));
  // mpg123-decoder always returns two channels, a mono stream duplicated into both; the
  // average is then the mono signal itself, and the frame header tells the true count.
  return {
    sampleRate: decoded.sampleRate,
    channelCount: firstFrame.channelCount,
    samples: downmixPlanar(decoded.channelData, decoded.samplesDecoded),
  };
}
