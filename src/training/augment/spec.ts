import { createHash } from 'node:crypto';
import { UsageError } from '../../errors.js';
import { SHIFT_MODES, type ShiftMode } from './shift.js';

/** The augmentations, in the order they are applied to a recording. */
export const AUGMENTATION_KINDS = ['stretch', 'pitch', 'shift', 'gain', 'reverb', 'noise', 'background'] as const;
export type AugmentationKind = (typeof AUGMENTATION_KINDS)[number];

export const NOISE_COLOURS = ['white', 'pink'] as const;
export type NoiseColour = (typeof NOISE_COLOURS)[number];

export type Range = readonly [low: number, high: number];

/**
 * What to do to the training files, and how often. Each file gets `copies` augmented variants;
 * variant c of file f draws its parameters from a generator seeded by (seed, f, c), so a
 * variant is reproducible alone and cacheable by that key.
 */
export interface AugmentationSpec {
  kinds: AugmentationKind[];
  copies: number;
  seed: number;
  /** SNR in dB of added white or pink noise (the colour is drawn per variant from `colours`). */
  noise: { snrDb: Range; colours: NoiseColour[] };
  /** Start and end gains of a level ramp across the window, each drawn from `db`. */
  gain: { db: Range };
  pitch: { semitones: Range };
  /** Speed factor: > 1 faster and shorter, < 1 slower and longer. */
  stretch: { rate: Range };
  /** The window moves by up to ±`seconds`. */
  shift: { seconds: number; mode: ShiftMode };
  /** A synthetic room: reverberation time and direct-to-reverberant ratio, each drawn per variant. */
  reverb: { rt60Seconds: Range; drrDb: Range };
  /** Recordings in `dir` mixed in at `snrDb`; required when 'background' is a kind. */
  background: { dir: string; snrDb: Range } | undefined;
}

export const AUGMENTATION_DEFAULTS = {
  copies: 2,
  noiseSnrDb: [10, 30],
  noiseColours: ['white', 'pink'],
  gainDb: [-6, 6],
  pitchSemitones: [-2, 2],
  stretchRate: [0.85, 1.15],
  shiftSeconds: 0.3,
  shiftMode: 'zero',
  backgroundSnrDb: [5, 20],
  // Living rooms and offices run about 0.3-0.6 s, halls and stairwells more; a microphone
  // within a metre or two of the talker keeps the direct sound above the tail.
  reverbRt60Seconds: [0.2, 0.8],
  reverbDrrDb: [0, 12],
} as const;

/** The augmentation flags of `train`, as given on the command line. */
export interface AugmentationFlags {
  augment?: string;
  copies?: string;
  seed: number;
  noiseSnr?: string;
  noiseColour?: string;
  gainDb?: string;
  pitchSemitones?: string;
  stretchRate?: string;
  shiftSeconds?: string;
  shiftMode?: string;
  backgroundDir?: string;
  backgroundSnr?: string;
  reverbRt60?: string;
  reverbDrr?: string;
}

/**
 * The spec the flags describe, or undefined without --augment. Every problem is a UsageError
 * naming the flag, the value and what it takes.
 */
export function parseAugmentationFlags(flags: AugmentationFlags): AugmentationSpec | undefined {
  if (flags.augment === undefined) {
    const stray = Object.entries(flags).find(([key, value]) => key !== 'seed' && value !== undefined);
    if (stray !== undefined) throw new UsageError(`--${flagName(stray[0])} needs --augment to name the augmentations to apply`);
    return undefined;
  }
  const names = flags.augment.split(',').map((name) => name.trim());
  const unknown = names.filter((name) => !(AUGMENTATION_KINDS as readonly string[]).includes(name));
  if (unknown.length > 0 || names.length === 0) {
    throw new UsageError(`--augment takes a comma-separated list of ${AUGMENTATION_KINDS.join(', ')}; got "${flags.augment}"`);
  }
  const kinds = AUGMENTATION_KINDS.filter((kind) => names.includes(kind));
  if (kinds.includes('background') && flags.backgroundDir === undefined) {
    throw new UsageError('--augment background needs --background-dir DIR, a folder of background-noise recordings');
  }
  if (flags.backgroundDir !== undefined && !kinds.includes('background')) {
    throw new UsageError('--background-dir is only used with --augment background; add background to --augment');
  }
  const copies = flags.copies === undefined ? AUGMENTATION_DEFAULTS.copies : Number(flags.copies);
  if (!Number.isInteger(copies) || copies < 1 || copies > 100) {
    throw new UsageError(`--augment-copies must be an integer from 1 to 100; got "${flags.copies}"`);
  }
  const colours = flags.noiseColour === undefined ? [...AUGMENTATION_DEFAULTS.noiseColours] : flags.noiseColour.split(',');
  if (colours.length === 0 || colours.some((colour) => !(NOISE_COLOURS as readonly string[]).includes(colour))) {
    throw new UsageError(`--noise-colour takes white, pink or white,pink; got "${flags.noiseColour}"`);
  }
  const shiftMode = flags.shiftMode ?? AUGMENTATION_DEFAULTS.shiftMode;
  if (!(SHIFT_MODES as readonly string[]).includes(shiftMode)) {
    throw new UsageError(`--shift-mode must be one of ${SHIFT_MODES.join(', ')}; got "${flags.shiftMode}"`);
  }
  const shiftSeconds = flags.shiftSeconds === undefined ? AUGMENTATION_DEFAULTS.shiftSeconds : Number(flags.shiftSeconds);
  if (!Number.isFinite(shiftSeconds) || shiftSeconds < 0 || shiftSeconds > 3) {
    throw new UsageError(`--shift-seconds must be a number of seconds from 0 to 3; got "${flags.shiftSeconds}"`);
  }
  const backgroundSnr = parseRange('background-snr', flags.backgroundSnr, AUGMENTATION_DEFAULTS.backgroundSnrDb, -20, 100);
  return {
    kinds,
    copies,
    seed: flags.seed,
    noise: {
      snrDb: parseRange('noise-snr', flags.noiseSnr, AUGMENTATION_DEFAULTS.noiseSnrDb, -20, 100),
      colours: colours as NoiseColour[],
    },
    gain: { db: parseRange('gain-db', flags.gainDb, AUGMENTATION_DEFAULTS.gainDb, -40, 40) },
    pitch: { semitones: parseRange('pitch-semitones', flags.pitchSemitones, AUGMENTATION_DEFAULTS.pitchSemitones, -12, 12) },
    stretch: { rate: parseRange('stretch-rate', flags.stretchRate, AUGMENTATION_DEFAULTS.stretchRate, 0.25, 4) },
    shift: { seconds: shiftSeconds, mode: shiftMode as ShiftMode },
    reverb: {
      rt60Seconds: parseRange('reverb-rt60', flags.reverbRt60, AUGMENTATION_DEFAULTS.reverbRt60Seconds, 0.05, 3),
      drrDb: parseRange('reverb-drr', flags.reverbDrr, AUGMENTATION_DEFAULTS.reverbDrrDb, -10, 30),
    },
    background: flags.backgroundDir === undefined ? undefined : { dir: flags.backgroundDir, snrDb: backgroundSnr },
  };
}

/** "low:high" (or one number for a fixed value) within [min, max]. */
function parseRange(flag: string, raw: string | undefined, fallback: Range, min: number, max: number): Range {
  if (raw === undefined) return fallback;
  const parts = raw.split(':').map((part) => (part.trim() === '' ? NaN : Number(part)));
  const low = parts[0] ?? NaN;
  const high = parts[1] ?? low;
  if (parts.length > 2 || !Number.isFinite(low) || !Number.isFinite(high) || low > high || low < min || high > max) {
    throw new UsageError(`--${flag} takes LOW:HIGH (or one number) with ${min} <= LOW <= HIGH <= ${max}; got "${raw}"`);
  }
  return [low, high];
}

function flagName(key: string): string {
  const explicit: Record<string, string> = { copies: 'augment-copies', noiseSnr: 'noise-snr', backgroundSnr: 'background-snr' };
  return explicit[key] ?? key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}

/**
 * The settings that determine what the augmented clips are, for the model's training record
 * and the feature cache key: only the enabled kinds' parameters, so a flag that a run does not
 * use never changes its key, and not the copy count (variant c is the same whether 2 or 5
 * variants are made).
 */
export function describeAugmentation(spec: AugmentationSpec): Record<string, unknown> {
  const parameters: Record<string, unknown> = {};
  for (const kind of spec.kinds) parameters[kind] = kind === 'background' ? spec.background : spec[kind];
  return { kinds: spec.kinds, seed: spec.seed, ...parameters };
}

/** The 32-bit seed of variant `copy` of `file`, from the run's augmentation seed. */
export function variantSeed(seed: number, file: string, copy: number): number {
  return createHash('sha256').update(JSON.stringify([seed, file, copy])).digest().readUInt32LE(0);
}
