import { type Random } from '../random.js';

/** Mean of the squared samples: the power an SNR is measured against. */
export function meanPower(samples: Float32Array): number {
  let sum = 0;
  for (const sample of samples) sum += sample * sample;
  return samples.length === 0 ? 0 : sum / samples.length;
}

/** Zero-mean, unit-variance Gaussian noise (Box–Muller on the seeded generator). */
export function whiteNoise(length: number, random: Random): Float32Array {
  const noise = new Float32Array(length);
  for (let i = 0; i < length; i += 2) {
    // 1 - u keeps the logarithm's argument in (0, 1].
    const radius = Math.sqrt(-2 * Math.log(1 - random.uniform()));
    const angle = 2 * Math.PI * random.uniform();
    noise[i] = radius * Math.cos(angle);
    if (i + 1 < length) noise[i + 1] = radius * Math.sin(angle);
  }
  return noise;
}

/**
 * Noise whose power density falls as 1/f (-3 dB per octave), closer to room and fan noise
 * than white noise: white noise through Paul Kellet's three-pole "economy" filter, which is
 * within about ±0.5 dB of 1/f above 10 Hz at audio rates. The level is arbitrary; callers
 * scale it to an SNR.
 */
export function pinkNoise(length: number, random: Random): Float32Array {
  const white = whiteNoise(length, random);
  const pink = new Float32Array(length);
  let b0 = 0;
  let b1 = 0;
  let b2 = 0;
  for (let i = 0; i < length; i += 1) {
    const w = white[i] as number;
    b0 = 0.99765 * b0 + w * 0.099046;
    b1 = 0.963 * b1 + w * 0.2965164;
    b2 = 0.57 * b2 + w * 1.0526913;
    pink[i] = b0 + b1 + b2 + w * 0.1848;
  }
  return pink;
}

/**
 * signal + noise scaled so that 10·log10(P_signal / P_noise) = snrDb, with both powers taken
 * over the whole clip (silences included, as the model sees them). `noise` must be at least as
 * long as the signal. A silent signal has no SNR to match and is returned unchanged; a silent
 * noise adds nothing. The sum is not clipped: the feature pipeline peak-normalises every clip.
 */
export function mixAtSnr(signal: Float32Array, noise: Float32Array, snrDb: number): Float32Array {
  if (noise.length < signal.length) {
    throw new RangeError(`mixAtSnr: the noise has ${noise.length} samples, fewer than the signal's ${signal.length}`);
  }
  if (!Number.isFinite(snrDb)) throw new RangeError(`mixAtSnr: the SNR must be a finite number of dB, got ${snrDb}`);
  const signalPower = meanPower(signal);
  const noisePower = meanPower(noise.subarray(0, signal.length));
  const mixed = Float32Array.from(signal);
  if (signalPower === 0 || noisePower === 0) return mixed;
  const scale = Math.sqrt(signalPower / (noisePower * 10 ** (snrDb / 10)));
  for (let i = 0; i < mixed.length; i += 1) mixed[i] = (mixed[i] as number) + scale * (noise[i] as number);
  return mixed;
}
