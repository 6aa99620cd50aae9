import { createHash } from 'node:crypto';
import { readFile, readdir, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ModelError, describeError } from '../../errors.js';
import { type FileDigest } from './metadata.js';

/**
 * The file-level work of a model directory for its store (./store.ts): hashes, atomic writes,
 * reads that refuse a file unless it matches its recorded digest, and errno handling.
 */

export const METADATA_FILE = 'metadata.json';
export const MODEL_JSON_FILE = 'model.json';

/** The fix for every damaged or edited file: the directory is only trusted as written. */
export const RESTORE = 'restore the model directory from its original copy';

export function digestOf(file: string, bytes: Uint8Array): FileDigest {
  return { path: file, bytes: bytes.byteLength, sha256: sha256Hex([bytes]) };
}

export function sha256Hex(parts: readonly Uint8Array[]): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest('hex');
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const total = parts.reduce((sum, part) => sum + part.byteLength, 0);
  const joined = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    joined.set(part, offset);
    offset += part.byteLength;
  }
  return joined;
}

/** Writes `file` beside its final name and renames it into place, so a reader never sees half of it. */
export async function writeAtomically(dir: string, file: string, bytes: Uint8Array | string): Promise<void> {
  const partial = path.join(dir, `.${file}.partial`);
  await writeFile(partial, bytes);
  await rename(partial, path.join(dir, file));
}

/** Refuses to write over a non-empty directory unless asked to. */
export async function refuseExisting(target: string, overwrite: boolean): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(target);
  } catch (error) {
    if (isErrnoCode(error, 'ENOENT')) return;
    throw new ModelError(`${target}: cannot write a model here (${describeError(error)}); choose another output directory`, {
      cause: error,
    });
  }
  if (entries.length > 0 && !overwrite) {
    throw new ModelError(
      `${target} already exists and is not empty; choose a new output directory or allow overwriting it`,
    );
  }
}

export async function requireDirectory(dir: string): Promise<void> {
  try {
    if ((await stat(dir)).isDirectory()) return;
  } catch (error) {
    if (!isErrnoCode(error, 'ENOENT')) {
      throw new ModelError(`model directory ${dir} cannot be read (${describeError(error)}); check its permissions`, { cause: error });
    }
    throw new ModelError(
      `model directory ${dir} does not exist; pass a directory containing ${MODEL_JSON_FILE} and ${METADATA_FILE}`,
    );
  }
  throw new ModelError(`model directory ${dir} is a file; pass the directory containing ${MODEL_JSON_FILE} and ${METADATA_FILE}`);
}

export async function readRequired(file: string, whenMissing: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    if (isErrnoCode(error, 'ENOENT')) throw new ModelError(`${file} is missing: ${whenMissing}`);
    throw new ModelError(`${file} cannot be read (${describeError(error)}); check its permissions`, { cause: error });
  }
}

/** A file that may be absent: undefined then, an error naming it if it cannot be read. */
export async function readOptional(file: string): Promise<Buffer | undefined> {
  try {
    return await readFile(file);
  } catch (error) {
    if (isErrnoCode(error, 'ENOENT')) return undefined;
    throw new ModelError(`${file} cannot be read (${describeError(error)}); check its permissions`, { cause: error });
  }
}

/** A file of the model directory, refused unless its size and sha256 match the metadata. */
export async function readVerified(dir: string, expected: FileDigest): Promise<Buffer> {
  if (!isBareFileName(expected.path)) {
    throw new ModelError(
      `${path.join(dir, METADATA_FILE)}: file "${expected.path}" is not a plain file name inside the model directory; ${RESTORE}`,
    );
  }
  const file = path.join(dir, expected.path);
  const bytes = await readRequired(file, `expected ${expected.bytes} bytes; ${RESTORE}`);
  if (bytes.byteLength < expected.bytes) {
    throw new ModelError(`${file} is truncated: ${bytes.byteLength} of ${expected.bytes} bytes; ${RESTORE}`);
  }
  if (bytes.byteLength > expected.bytes) {
    throw new ModelError(
      `${file} has ${bytes.byteLength} bytes, ${expected.bytes} were recorded: modified or corrupted; ${RESTORE}`,
    );
  }
  const actual = sha256Hex([bytes]);
  if (actual !== expected.sha256) {
    throw new ModelError(
      `${file} has sha256 ${actual}, ${expected.sha256} was recorded: modified or corrupted; ${RESTORE}`,
    );
  }
  return bytes;
}

export function parseJson(bytes: Buffer, file: string, fix = RESTORE): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new ModelError(`${file} is not valid JSON (${describeError(error)}); ${fix}`, { cause: error });
  }
}

export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof ArrayBuffer);
}

export function isErrnoCode(error: unknown, code: string): boolean {
  return (error as NodeJS.ErrnoException | null)?.code === code;
}

function isBareFileName(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !/[/\\]/.test(name);
}
