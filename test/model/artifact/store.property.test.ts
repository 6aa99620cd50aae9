import { createHash } from 'node:crypto';
import { closeSync, openSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelError } from '../../../src/errors.js';
import { verifyModelDir } from '../../../src/model/artifact/store.js';
import { loadModelDir } from '../../../src/model/artifact/tfjs-model.js';
import { REPO_ROOT } from '../../helpers/cli.js';
import { useWasm } from '../seed-model-fixture.js';

/**
 * Issue 3, part 4 ("Hostile input"): a tampered copy of the shipped model is refused with a
 * ModelError naming the damaged file, never another error. The shipped directory is copied
 * once; each case writes its damage over the copy and restores the original afterwards.
 */
const VERIFY_RUNS = 10_000;
/**
 * loadModelDir builds the whole tfjs model for every case that passes verification (several
 * ms each on this machine), so the damage only tfjs can see (renamed or reshaped weights, with
 * model.json's size and hash re-recorded to match) gets fewer cases.
 */
const LOAD_RUNS = 500;

const SHARD = 'group1-shard1of1.bin';
const MODEL_JSON = 'model.json';
const METADATA = 'metadata.json';

type Json = Record<string, unknown>;

interface Originals {
  shard: Buffer;
  modelJson: Buffer;
  metadata: Buffer;
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function clone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** The value at a dotted path with [n] indices, and a way to set it. */
function setAt(root: Json, keyPath: string, value: unknown): void {
  const parts = keyPath.split('.');
  let node: Json = root;
  for (const part of parts.slice(0, -1)) node = node[part] as Json;
  const last = parts[parts.length - 1] as string;
  if (value === undefined) delete node[last];
  else node[last] = value;
}

/**
 * Metadata fields verifyModelDir checks exactly; any change to one must be refused. (training
 * and metrics are free-form records, so another object there is legitimately accepted.)
 */
const CHECKED_METADATA_FIELDS = [
  'format',
  'labels',
  'featureParameters',
  'featureParameters.sampleRate',
  'featureParameters.nMfcc',
  'featureParameters.window',
  'modelJson',
  'modelJson.path',
  'modelJson.bytes',
  'modelJson.sha256',
  'weights',
  'weights.dtype',
  'weights.files',
  'weights.bytes',
  'weights.sha256',
] as const;

type Damage =
  | { kind: 'truncate-shard'; keep: number }
  | { kind: 'flip-shard'; flips: Array<{ at: number; mask: number }> }
  | { kind: 'edit-model-json'; keep: number; flips: Array<{ at: number; mask: number }> }
  | { kind: 'edit-metadata'; field: string; value: unknown }
  | { kind: 'bad-metadata-json'; keep: number };

function damage(originals: Originals): fc.Arbitrary<Damage> {
  const flips = (length: number): fc.Arbitrary<Array<{ at: number; mask: number }>> =>
    fc.array(fc.record({ at: fc.nat({ max: length - 1 }), mask: fc.integer({ min: 1, max: 255 }) }), { minLength: 1, maxLength: 8 });
  return fc.oneof(
    fc.record({ kind: fc.constant('truncate-shard' as const), keep: fc.nat({ max: originals.shard.length - 1 }) }),
    fc.record({ kind: fc.constant('flip-shard' as const), flips: flips(originals.shard.length) }),
    fc.record({
      kind: fc.constant('edit-model-json' as const),
      keep: fc.oneof(fc.constant(originals.modelJson.length), fc.nat({ max: originals.modelJson.length - 1 })),
      flips: flips(originals.modelJson.length),
    }),
    fc.record({
      kind: fc.constant('edit-metadata' as const),
      field: fc.constantFrom(...CHECKED_METADATA_FIELDS),
      value: fc.oneof(fc.constant(undefined), fc.jsonValue({ maxDepth: 2 }), fc.constantFrom('float32', 'int32', 'model.json', SHARD, '../model.json', 0, -1, 2)),
    }),
    // The file ends in "}\n": cutting only the newline would leave valid JSON.
    fc.record({ kind: fc.constant('bad-metadata-json' as const), keep: fc.nat({ max: originals.metadata.length - 2 }) }),
  );
}

/**
 * Applies the damage to the copy; returns the file the error must name ('' when only the
 * directory can be expected), or undefined when it changed nothing. Shard damage is written
 * in place (truncate, or a few bytes at their offsets): rewriting 460 kB per case would be
 * most of the run time.
 */
function applyDamage(dir: string, originals: Originals, hurt: Damage): string | undefined {
  switch (hurt.kind) {
    case 'truncate-shard':
      truncateSync(path.join(dir, SHARD), hurt.keep);
      return SHARD;
    case 'flip-shard': {
      const fd = openSync(path.join(dir, SHARD), 'r+');
      try {
        for (const { at, mask } of hurt.flips) writeSync(fd, Uint8Array.of((originals.shard[at] as number) ^ mask), 0, 1, at);
      } finally {
        closeSync(fd);
      }
      return SHARD;
    }
    case 'edit-model-json': {
      const bytes = Buffer.from(originals.modelJson);
      for (const { at, mask } of hurt.flips) bytes[at] = (bytes[at] as number) ^ mask;
      writeFileSync(path.join(dir, MODEL_JSON), bytes.subarray(0, hurt.keep));
      return MODEL_JSON;
    }
    case 'edit-metadata': {
      const metadata = JSON.parse(originals.metadata.toString('utf8')) as Json;
      const before = JSON.stringify(metadata);
      setAt(metadata, hurt.field, hurt.value);
      const after = JSON.stringify(metadata);
      if (after === before) return undefined;
      writeFileSync(path.join(dir, METADATA), after);
      // The message names metadata.json, or the file whose recorded digest was changed, or
      // (labels, feature parameters) the directory itself.
      return '';
    }
    case 'bad-metadata-json':
      writeFileSync(path.join(dir, METADATA), originals.metadata.subarray(0, hurt.keep));
      return METADATA;
  }
}

/** Undoes applyDamage (or a consistent manifest edit): rewrites only what was touched. */
function restore(dir: string, originals: Originals, hurt?: Damage): void {
  if (hurt === undefined || hurt.kind === 'truncate-shard') writeFileSync(path.join(dir, SHARD), originals.shard);
  if (hurt?.kind === 'flip-shard') {
    const fd = openSync(path.join(dir, SHARD), 'r+');
    try {
      for (const { at } of hurt.flips) writeSync(fd, originals.shard, at, 1, at);
    } finally {
      closeSync(fd);
    }
  }
  if (hurt === undefined || hurt.kind === 'edit-model-json') writeFileSync(path.join(dir, MODEL_JSON), originals.modelJson);
  if (hurt === undefined || hurt.kind === 'edit-metadata' || hurt.kind === 'bad-metadata-json') {
    writeFileSync(path.join(dir, METADATA), originals.metadata);
  }
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  return undefined;
}

function expectModelError(error: unknown, dir: string, file: string): void {
  expect(error).toBeInstanceOf(ModelError);
  const modelError = error as ModelError;
  expect(modelError.code).toBe('MODEL_INVALID');
  expect(modelError.message).toContain(dir);
  if (file !== '') expect(modelError.message).toContain(path.join(dir, file));
}

describe('model directories under hostile edits', () => {
  let work: string;
  let dir: string;
  let originals: Originals;

  beforeAll(async () => {
    await useWasm();
    work = await mkdtemp(path.join(os.tmpdir(), 'ser-model-fuzz-'));
    dir = path.join(work, 'ser-cnn-lstm');
    await cp(path.join(REPO_ROOT, 'models', 'ser-cnn-lstm'), dir, { recursive: true });
    originals = {
      shard: await readFile(path.join(dir, SHARD)),
      modelJson: await readFile(path.join(dir, MODEL_JSON)),
      metadata: await readFile(path.join(dir, METADATA)),
    };
    // The undamaged copy is good, so every refusal below is the damage's doing.
    await verifyModelDir(dir);
  });

  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('verifyModelDir refuses truncated or flipped weights, edited model.json and edited metadata', async () => {
    await fc.assert(
      fc
        .asyncProperty(damage(originals), async (hurt) => {
          const file = applyDamage(dir, originals, hurt);
          try {
            fc.pre(file !== undefined);
            expectModelError(await rejection(verifyModelDir(dir)), dir, file);
          } finally {
            restore(dir, originals, hurt);
          }
        }),
      { numRuns: VERIFY_RUNS },
    );
  });

  it('loadModelDir refuses a manifest edited consistently (removed, renamed, reshaped, retyped weights)', async () => {
    const manifestEdit = fc.record({
      edit: fc.constantFrom('remove', 'rename', 'reshape', 'swap-shape', 'dtype', 'quantization-dtype', 'bad-json'),
      weight: fc.nat(),
      text: fc.string({ minLength: 1, maxLength: 12 }),
      dim: fc.integer({ min: 0, max: 1024 }),
    });
    await fc.assert(
      fc
        .asyncProperty(manifestEdit, async ({ edit, weight, text, dim }) => {
          const modelJson = JSON.parse(originals.modelJson.toString('utf8')) as Json;
          const group = (modelJson['weightsManifest'] as Array<{ weights: Json[] }>)[0] as { weights: Json[] };
          const index = weight % group.weights.length;
          const spec = group.weights[index] as Json;
          const shape = spec['shape'] as number[];
          switch (edit) {
            case 'remove':
              group.weights.splice(index, 1);
              break;
            case 'rename':
              spec['name'] = `${String(spec['name'])}${text}`;
              break;
            case 'reshape':
              fc.pre(shape[0] !== dim);
              spec['shape'] = [dim, ...shape.slice(1)];
              break;
            case 'swap-shape':
              // Same byte count, so only tfjs can tell.
              fc.pre(shape.length > 1 && shape[0] !== shape[shape.length - 1]);
              spec['shape'] = clone(shape).reverse();
              break;
            case 'dtype':
              fc.pre(spec['dtype'] !== text);
              spec['dtype'] = text;
              break;
            case 'quantization-dtype':
              spec['quantization'] = { ...(spec['quantization'] as Json), dtype: text };
              break;
            case 'bad-json':
              break;
          }
          const text2 = JSON.stringify(modelJson);
          const bytes = Buffer.from(edit === 'bad-json' ? text2.slice(0, dim % text2.length) : text2);
          // Re-record the edited model.json's size and hash, as a careful tamperer would.
          const metadata = JSON.parse(originals.metadata.toString('utf8')) as Json;
          metadata['modelJson'] = { path: MODEL_JSON, bytes: bytes.length, sha256: sha256(bytes) };
          await writeFile(path.join(dir, MODEL_JSON), bytes);
          await writeFile(path.join(dir, METADATA), JSON.stringify(metadata));
          expectModelError(await rejection(loadModelDir(dir)), dir, MODEL_JSON);
        })
        .afterEach(() => restore(dir, originals)),
      { numRuns: LOAD_RUNS },
    );
  });
});
