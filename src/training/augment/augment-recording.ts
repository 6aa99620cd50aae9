import { CLIP_SAMPLES, SAMPLE_RATE } from '../../dsp/constants.js';
import { createRandom, type Random } from '../random.js';
import { backgroundSegment, type BackgroundBank } from './background.js';
import { gainRamp } from './gain.js';
import { mixAtSnr, pinkNoise, whiteNoise } from './noise.js';
import { pitchShift } from './pitch-shift.js';
import { convolve, roomImpulseResponse } from './reverb.js';
import { timeShift } from './shift.js';
import { type AugmentationSpec, type Range } from './spec.js';
import { timeStretch } from './time-stretch.js';

/** One augmented window and the parameters drawn for it. */
export interface AugmentedClip {
  /** CLIP_SAMPLES samples at SAMPLE_RATE, not normalised: prepareClip comes next. */
  samples: Float32Array;
  applied: Record<string, number | string>;
}

/**
 * The model's 3 s window of `recording` (a whole file at SAMPLE_RATE, as loadAudio returns it
 * with durationSeconds Infinity), augmented as `spec` says with parameters drawn from `seed`.
 *
 * Stretching reads past 3 s when it speeds the recording up, so the window stays full of
 * speech as it would for a faster talker. The room's reverberation acts on the voice alone;
 * noise and background come after it, as sources of their own, added over the whole
 * window, zero padding included, as a microphone hears them, and their SNR is measured over
 * that window. Nothing is clipped: prepareClip peak-normalises the result.
 */
export function augmentRecording(
  recording: Float32Array,
  spec: AugmentationSpec,
  seed: number,
  background?: BackgroundBank,
): AugmentedClip {
  const random = createRandom(seed);
  const applied: AugmentedClip['applied'] = {};
  const enabled = new Set(spec.kinds);
  let clip: Float32Array;
  if (enabled.has('stretch')) {
    const rate = draw(spec.stretch.rate, random);
    applied['stretchRate'] = rate;
    clip = timeStretch(recording, rate, Math.min(CLIP_SAMPLES, Math.round(recording.length / rate)));
  } else {
    clip = recording.subarray(0, CLIP_SAMPLES);
  }
  if (enabled.has('pitch')) {
    const shifted = pitchShift(clip, draw(spec.pitch.semitones, random));
    applied['pitchSemitones'] = shifted.semitones;
    clip = shifted.samples;
  }
  const window = new Float32Array(CLIP_SAMPLES);
  window.set(clip);
  clip = window;
  if (enabled.has('shift')) {
    const limit = Math.round(spec.shift.seconds * SAMPLE_RATE);
    const offset = random.integer(2 * limit + 1) - limit;
    applied['shiftSamples'] = offset;
    clip = timeShift(clip, offset, spec.shift.mode);
  }
  if (enabled.has('gain')) {
    const startDb = draw(spec.gain.db, random);
    const endDb = draw(spec.gain.db, random);
    Object.assign(applied, { gainStartDb: startDb, gainEndDb: endDb });
    clip = gainRamp(clip, startDb, endDb);
  }
  if (enabled.has('reverb')) {
    const rt60Seconds = draw(spec.reverb.rt60Seconds, random);
    const drrDb = draw(spec.reverb.drrDb, random);
    Object.assign(applied, { reverbRt60Seconds: rt60Seconds, reverbDrrDb: drrDb });
    clip = convolve(clip, roomImpulseResponse(rt60Seconds, drrDb, random));
  }
  if (enabled.has('noise')) {
    const colour = spec.noise.colours[random.integer(spec.noise.colours.length)] ?? 'white';
    const snrDb = draw(spec.noise.snrDb, random);
    Object.assign(applied, { noiseColour: colour, noiseSnrDb: snrDb });
    const noise = colour === 'pink' ? pinkNoise(CLIP_SAMPLES, random) : whiteNoise(CLIP_SAMPLES, random);
    clip = mixAtSnr(clip, noise, snrDb);
  }
  if (enabled.has('background')) {
    if (background === undefined || spec.background === undefined) {
      throw new RangeError('augmentRecording: the background augmentation needs a background bank and its settings');
    }
    const snrDb = draw(spec.background.snrDb, random);
    applied['backgroundSnrDb'] = snrDb;
    clip = mixAtSnr(clip, backgroundSegment(background, CLIP_SAMPLES, random), snrDb);
  }
  return { samples: clip, applied };
}

function draw([low, high]: Range, random: Random): number {
  return low + (high - low) * random.uniform();
}
