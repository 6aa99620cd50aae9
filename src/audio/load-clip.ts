import { CLIP_SECONDS, SAMPLE_RATE } from '../dsp/constants.js';
import { AudioError } from '../errors.js';
import { checkSampleRate, type DecodedAudio } from './decoded-audio.js';
import { decodeAudio, readAudioFile } from './decode.js';
import { resample } from './resample.js';

export interface LoadOptions {
  /** Target rate in Hz; default the feature rate, 22050. */
  sampleRate?: number;
  /** Seconds to read from the start; default 3.0. Infinity reads the whole file. */
  durationSeconds?: number;
}

/**
 * librosa.load(path, sr, duration)[0]: the first int(duration * native_rate) native frames,
 * downmixed to mono, resampled to `sampleRate`. Not padded: a shorter file gives fewer
 * samples, exactly as librosa returns them.
 */
async function clipDecoded(
  audio: DecodedAudio,
  source: string,
  options: LoadOptions,
): Promise<Float32Array> {
  const sampleRate = options.sampleRate ?? SAMPLE_RATE;
  const durationSeconds = options.durationSeconds ?? CLIP_SECONDS;
  checkSampleRate(sampleRate, source, 'requested', 'pass a whole number of Hz such as 22050');
  if (!(durationSeconds > 0)) {
    throw new AudioError(
      'AUDIO_UNSUPPORTED',
      source,
      `requested duration ${durationSeconds} s is not supported; pass a positive number of seconds (or Infinity for the whole file)`,
    );
  }
  // librosa computes int(duration * sr_native) in double precision; Math.trunc is int().
  const nativeFrames = Math.min(audio.samples.length, Math.trunc(durationSeconds * audio.sampleRate));
  return resample(audio.samples.subarray(0, nativeFrames), audio.sampleRate, sampleRate);
}

/** Loads the start of an audio file as librosa.load(path, sr=22050, duration=3.0) does. */
export async function loadAudio(path: string, options: LoadOptions = {}): Promise<Float32Array> {
  return clipDecoded(await readAudioFile(path), path, options);
}

/** loadAudio for bytes already in memory; `source` names them in error messages. */
export async function loadAudioBytes(
  bytes: Uint8Array,
  source: string,
  options: LoadOptions = {},
): Promise<Float32Array> {
  return clipDecoded(await decodeAudio(bytes, source), source, options);
}
