import { AudioError } from '../errors.js';

/** A decoded recording: mono samples, nominally in [-1, 1], at the file's own rate. */
export interface DecodedAudio {
  /** The native sample rate in Hz. */
  sampleRate: number;
  /** How many channels the file had before downmixing. */
  channelCount: number;
  /** Mono: multi-channel input averaged per frame, as librosa.load(mono=True) does. */
  samples: Float32Array;
}

/**
 * The highest native rate accepted. 768 kHz is the top rate of current audio interfaces;
 * anything above it (or zero) is a corrupt header rather than a real recording.
 */
export const MAX_SAMPLE_RATE = 768_000;

/**
 * Rejects rates no recording has before any buffer is sized from them. `what` says whose
 * rate it is ("WAV header", "FLAC STREAMINFO") and `fix` what the user can do about it.
 */
export function checkSampleRate(sampleRate: number, source: string, what: string, fix: string): void {
  if (!Number.isInteger(sampleRate) || sampleRate <= 0 || sampleRate > MAX_SAMPLE_RATE) {
    throw new AudioError(
      'AUDIO_UNSUPPORTED',
      source,
      `${what} sample rate ${sampleRate} Hz is not supported (must be a whole number from 1 to ${MAX_SAMPLE_RATE} Hz); ${fix}`,
    );
  }
}

/** The usual advice when a file's own header is at fault. */
export function reencodeHint(source: string): string {
  return `re-encode it, e.g. sox ${source} -r 22050 -b 16 out.wav`;
}

/**
 * Averages planar channels into one, frame by frame. Each channel is already float32, as
 * soundfile hands it to librosa; summing in double and rounding once gives numpy's float32
 * mean bit for bit for stereo (the sum of two float32 values and its halving are exact) and
 * within one float32 rounding for more channels.
 */
export function downmixPlanar(channels: readonly Float32Array[], frameCount: number): Float32Array {
  const first = channels[0];
  if (channels.length === 1 && first !== undefined) return first.slice(0, frameCount);
  const sums = new Float64Array(frameCount);
  for (const channel of channels) {
    for (let i = 0; i < frameCount; i++) sums[i] = (sums[i] as number) + (channel[i] as number);
  }
  const mono = new Float32Array(frameCount);
  for (let i = 0; i < frameCount; i++) mono[i] = (sums[i] as number) / channels.length;
  return mono;
}
