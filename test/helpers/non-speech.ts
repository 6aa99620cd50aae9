import { createRandom, type Random } from '../../src/training/random.js';
import { pinkNoise } from '../../src/training/augment/noise.js';

/**
 * Loud sound that is not speech, made in the test rather than recorded: what a living room
 * plays while nobody talks. Deterministic (seeded), at the model's 22,050 Hz.
 */

/** Scales `samples` in place to an RMS of `dbfs` (dBFS). */
export function atLevel(samples: Float32Array, dbfs: number): Float32Array {
  let sum = 0;
  for (const sample of samples) sum += sample * sample;
  const gain = 10 ** (dbfs / 20) / Math.sqrt(sum / samples.length);
  for (let i = 0; i < samples.length; i++) samples[i] = (samples[i] as number) * gain;
  return samples;
}

/** Pink noise (a fan, a coffee machine, a detuned television) at `dbfs`. */
export function loudPinkNoise(seconds: number, sampleRate: number, dbfs: number, seed = 1): Float32Array {
  return atLevel(pinkNoise(Math.round(seconds * sampleRate), createRandom(seed)), dbfs);
}

/** One Karplus-Strong plucked string: a noise burst in a delay line of one period, damped. */
function pluck(frequency: number, samples: number, sampleRate: number, random: Random): Float32Array {
  const period = Math.max(2, Math.round(sampleRate / frequency));
  const line = Float32Array.from({ length: period }, () => random.uniform() * 2 - 1);
  const out = new Float32Array(samples);
  for (let i = 0; i < samples; i++) {
    const index = i % period;
    const next = (index + 1) % period;
    out[i] = line[index] as number;
    line[index] = 0.996 * 0.5 * ((line[index] as number) + (line[next] as number));
  }
  return out;
}

/** Chords of three plucked strings, one every `chordSeconds` (a guitar on the radio), at `dbfs`. */
export function pluckedChords(seconds: number, sampleRate: number, dbfs: number, seed = 2): Float32Array {
  const random = createRandom(seed);
  // C, F, G and A minor triads, an octave around middle C.
  const chords = [
    [261.63, 329.63, 392.0],
    [349.23, 440.0, 523.25],
    [392.0, 493.88, 587.33],
    [220.0, 261.63, 329.63],
  ];
  const chordSeconds = 0.75;
  const total = Math.round(seconds * sampleRate);
  const out = new Float32Array(total);
  const chordSamples = Math.round(chordSeconds * sampleRate);
  for (let start = 0, index = 0; start < total; start += chordSamples, index++) {
    const length = Math.min(total - start, 2 * chordSamples);
    for (const frequency of chords[index % chords.length] as number[]) {
      const note = pluck(frequency, length, sampleRate, random);
      for (let i = 0; i < length; i++) out[start + i] = (out[start + i] as number) + (note[i] as number);
    }
  }
  return atLevel(out, dbfs);
}
