import { createHash } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { loadAudio } from '../../audio/load-clip.js';
import { ConfigError, describeError } from '../../errors.js';
import { type Random } from '../random.js';

const AUDIO_EXTENSIONS = new Set(['.wav', '.flac', '.mp3']);
/** Seconds read from each background file: plenty of variety, bounded memory. */
const MAX_SECONDS_PER_FILE = 60;

/** Background recordings held in memory at the feature rate, ready to be mixed into clips. */
export interface BackgroundBank {
  /** The files, sorted, relative to the folder. */
  files: string[];
  clips: Float32Array[];
  /** sha256 over the names, sizes and modification times: part of augmented features' cache key. */
  digest: string;
}

/**
 * Loads every .wav/.flac/.mp3 directly in `dir` (the first minute of each, at the feature
 * rate). A folder without usable recordings, or a file that fails to decode, is an error that
 * names it: a background set silently missing files would change every augmented clip.
 */
export async function loadBackgroundBank(dir: string): Promise<BackgroundBank> {
  const entries = await readdir(dir, { withFileTypes: true }).catch((error: unknown) => {
    throw new ConfigError(`--background-dir ${dir} cannot be read (${describeError(error)}); pass a folder of audio files`);
  });
  const files = entries
    .filter((entry) => entry.isFile() && AUDIO_EXTENSIONS.has(path.extname(entry.name).toLowerCase()))
    .map((entry) => entry.name)
    .sort();
  const clips: Float32Array[] = [];
  const hash = createHash('sha256');
  for (const name of files) {
    const file = path.join(dir, name);
    const clip = await loadAudio(file, { durationSeconds: MAX_SECONDS_PER_FILE }).catch((error: unknown) => {
      throw new ConfigError(`background file ${file} cannot be used: ${describeError(error)}; remove it or convert it`);
    });
    if (clip.length === 0) throw new ConfigError(`background file ${file} holds no samples; remove it`);
    const info = await stat(file);
    hash.update(JSON.stringify([name, info.size, info.mtimeMs]));
    clips.push(clip);
  }
  if (clips.length === 0) {
    throw new ConfigError(`--background-dir ${dir} holds no .wav, .flac or .mp3 files; add some recordings of background noise`);
  }
  return { files, clips, digest: hash.digest('hex') };
}

/** `length` samples of one background recording, chosen at random, from a random start, looped if short. */
export function backgroundSegment(bank: BackgroundBank, length: number, random: Random): Float32Array {
  const clip = bank.clips[random.integer(bank.clips.length)] as Float32Array;
  const start = random.integer(clip.length);
  const out = new Float32Array(length);
  for (let i = 0; i < length; i += 1) out[i] = clip[(start + i) % clip.length] as number;
  return out;
}
