/**
 * A gain that moves in dB linearly from `startDb` at the first sample to `endDb` at the last,
 * as a talker turning towards or away from the microphone.
 *
 * A *constant* gain is not an augmentation for this model: prepareClip peak-normalises every
 * clip and the features are z-scored per clip, so it cancels exactly (the gain tests show it).
 * Only the change of level within the window reaches the model input.
 */
export function gainRamp(samples: Float32Array, startDb: number, endDb: number): Float32Array {
  if (!Number.isFinite(startDb) || !Number.isFinite(endDb)) {
    throw new RangeError(`gainRamp: gains must be finite numbers of dB, got ${startDb} and ${endDb}`);
  }
  const out = new Float32Array(samples.length);
  const last = Math.max(1, samples.length - 1);
  for (let i = 0; i < samples.length; i += 1) {
    const db = startDb + ((endDb - startDb) * i) / last;
    out[i] = (samples[i] as number) * 10 ** (db / 20);
  }
  return out;
}
