import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { FEATURE_PARAMETERS, N_FEATURES, N_FRAMES } from '../dsp/constants.js';

const FEATURE_BYTES = N_FRAMES * N_FEATURES * Float32Array.BYTES_PER_ELEMENT;

/**
 * Bump when the decoding, resampling or feature code changes what it computes, so features
 * cached by an older build are not reused.
 */
const PIPELINE_REVISION = 1;

/**
 * A disk cache of per-file features, so training epochs and repeated evaluations never
 * recompute them. An entry is keyed by the file's absolute path, size and modification time
 * and by the feature contract, so an edited recording or a changed pipeline misses the cache.
 * Entries are written to a temporary name and renamed, so a crash never leaves half a file
 * that a later run would trust.
 */
export class FeatureCache {
  readonly #dir: string;

  constructor(dir: string) {
    this.#dir = dir;
  }

  /**
   * The features of `file`, from the cache or from `compute`. `variant` names a derived
   * version of the file's features (an augmented copy: its settings, seed and copy number),
   * cached separately from the plain features and from every other variant.
   */
  async getOrCompute(file: string, compute: () => Promise<Float32Array>, variant?: string): Promise<Float32Array> {
    const key = await this.#key(file, variant).catch(() => undefined);
    // A file that cannot even be stat'ed is not cacheable; computing reports the real error.
    if (key === undefined) return compute();
    const entry = path.join(this.#dir, `${key}.f32`);
    const cached = await readFile(entry).catch(() => undefined);
    if (cached && cached.byteLength === FEATURE_BYTES) {
      return new Float32Array(cached.buffer.slice(cached.byteOffset, cached.byteOffset + cached.byteLength));
    }
    const features = await compute();
    await mkdir(this.#dir, { recursive: true });
    const temporary = `${entry}.${process.pid}.tmp`;
    await writeFile(temporary, new Uint8Array(features.buffer, features.byteOffset, features.byteLength));
    await rename(temporary, entry);
    return features;
  }

  async #key(file: string, variant: string | undefined): Promise<string> {
    const absolute = path.resolve(file);
    const info = await stat(absolute);
    const identity: unknown[] = [absolute, info.size, info.mtimeMs, FEATURE_PARAMETERS, PIPELINE_REVISION];
    // Plain features keep the key they always had, so existing caches stay valid.
    if (variant !== undefined) identity.push(variant);
    return createHash('sha256').update(JSON.stringify(identity)).digest('hex');
  }
}
