import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelError } from '../../src/errors.js';
import { verifyModelDir } from '../../src/model/artifact/store.js';
import { type ModelMetadata } from '../../src/model/artifact/metadata.js';
import { scanDataset, type LabelledFile } from '../../src/training/datasets.js';
import { heldOutFeatures } from '../../src/training/held-out.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { DATASETS_DIR } from '../helpers/golden.js';
import { scratchDir } from '../model/seed-model-fixture.js';

/** The shipped model's recorded split holds out ravdess:17-20 for test and ravdess:15-16 for validation. */
const SHIPPED = path.join(REPO_ROOT, 'models', 'ser-cnn-lstm');
const SPEAKERS = ['ravdess:01', 'ravdess:15', 'ravdess:16', 'ravdess:17', 'ravdess:18', 'ravdess:19', 'ravdess:20'];

let scratch: Awaited<ReturnType<typeof scratchDir>>;
let metadata: ModelMetadata;
/** Two RAVDESS clips of each speaker above: enough to split, few enough to compute features quickly. */
let files: LabelledFile[];

beforeAll(async () => {
  scratch = await scratchDir();
  metadata = (await verifyModelDir(SHIPPED)).metadata;
  const scan = await scanDataset(path.join(DATASETS_DIR, 'ravdess'));
  files = SPEAKERS.flatMap((speaker) => scan.files.filter((file) => file.speaker === speaker).slice(0, 2));
});

afterAll(async () => {
  await scratch.cleanup();
});

describe('heldOutFeatures', () => {
  it("rebuilds the model's recorded split from the files given and computes features of its validation and test files", async () => {
    const failures: string[] = [];
    const cacheDir = path.join(scratch.dir, 'cache');
    const heldOut = heldOutFeatures(metadata, SHIPPED, files, { cacheDir, onFailure: (reason) => failures.push(reason) });
    expect(heldOut.provenance.split).toEqual(metadata.training.split);
    // nEMO's and ASED's held-out speakers have no files here: named, not measured.
    expect(heldOut.absentCorpora.sort()).toEqual(['ased', 'nemo']);
    expect(heldOut.split.test.map((file) => file.speaker).sort()).toEqual(SPEAKERS.slice(3).flatMap((s) => [s, s]));
    expect(heldOut.split.validation.map((file) => file.speaker).sort()).toEqual(['ravdess:15', 'ravdess:15', 'ravdess:16', 'ravdess:16']);
    expect(heldOut.split.train.map((file) => file.speaker)).toEqual(['ravdess:01', 'ravdess:01']);

    const test = await heldOut.test();
    expect(test.files).toEqual(heldOut.split.test);
    expect(test.labels).toHaveLength(8);
    const validation = await heldOut.validation();
    expect(validation.files).toEqual(heldOut.split.validation);
    expect(failures).toEqual([]);
    // Through the cache the command configured: the clips' features are there for the next command.
    expect((await readdir(cacheDir, { recursive: true })).length).toBeGreaterThan(0);
  });

  it('reports a file that fails to decode through onFailure and leaves it out', async () => {
    const broken = path.join(scratch.dir, '03-01-05-01-01-01-17.wav');
    await writeFile(broken, 'not audio');
    const failures: string[] = [];
    const brokenFile: LabelledFile = { path: broken, label: 'anger', speaker: 'ravdess:17', corpus: 'ravdess' };
    const withBroken = [...files, brokenFile];
    const heldOut = heldOutFeatures(metadata, SHIPPED, withBroken, { cacheDir: path.join(scratch.dir, 'cache'), onFailure: (reason) => failures.push(reason) });
    const test = await heldOut.test();
    expect(test.files).toHaveLength(8);
    expect(test.failed.map((failure) => failure.path)).toEqual([broken]);
    expect(failures).toHaveLength(1);
    expect(failures[0]).toContain(broken);
  });

  it('refuses a model that records no training split, naming its directory and the fix', () => {
    const foreign = { ...metadata, training: { ...metadata.training, split: { strategy: 'unknown' } } };
    const call = () => heldOutFeatures(foreign, '/models/foreign', files, { cacheDir: scratch.dir, onFailure: () => undefined });
    expect(call).toThrow(ModelError);
    expect(call).toThrow(/\/models\/foreign\/metadata\.json records no training split, .*evaluate with --split all/);
  });
});
