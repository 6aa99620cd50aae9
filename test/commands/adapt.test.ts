import { mkdir, readFile, symlink } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMOTIONS } from '../../src/labels.js';
import { verifyModelDir } from '../../src/model/artifact/store.js';
import { labelFile, scanDataset } from '../../src/training/datasets.js';
import { runSerAgent, REPO_ROOT } from '../helpers/cli.js';
import { DATASETS_DIR } from '../helpers/golden.js';
import { scratchDir } from '../model/seed-model-fixture.js';

const SHIPPED = path.join(REPO_ROOT, 'models', 'ser-cnn-lstm');

let work: Awaited<ReturnType<typeof scratchDir>>;
let site: string;

/**
 * A site's recordings as an installer would gather them: a few clips per emotion in
 * `<emotion>/` folders, here links to one RAVDESS actor's takes (actor 19 is one of the
 * shipped model's test actors, so none of it was trained on).
 */
beforeAll(async () => {
  work = await scratchDir();
  site = path.join(work.dir, 'site');
  const actor = await scanDataset(path.join(DATASETS_DIR, 'ravdess', 'Actor_19'));
  for (const emotion of EMOTIONS) {
    await mkdir(path.join(site, emotion), { recursive: true });
    const takes = actor.files.filter((file) => file.label === emotion).slice(0, 6);
    for (const take of takes) await symlink(take.path, path.join(site, emotion, `take-${path.basename(take.path)}`));
  }
});

afterAll(async () => {
  await work.cleanup();
});

describe('ser-agent adapt', () => {
  it('fits a copy of the model to the site, reports held-out clips before and after, and keeps the original', async () => {
    // The links' names are not RAVDESS names: they are labelled by their folder, as a site's would be.
    expect(labelFile(path.join(site, 'anger', 'take-x.flac'))).toMatchObject({ label: 'anger', corpus: 'folder' });
    const originalMetadata = await readFile(path.join(SHIPPED, 'metadata.json'), 'utf8');
    const out = path.join(work.dir, 'adapted');
    const result = await runSerAgent(['adapt', '--data', site, '--out', out, '--log-level', 'warn'], {
      SER_CACHE_DIR: path.join(work.dir, 'cache'),
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/fitted on 28 clips, checked on 14 held-out clips/);
    expect(result.stdout).toMatch(/held-out clips: UAR \d+\.\d% → \d+\.\d%, accuracy .* ECE \d+\.\d% → \d+\.\d%/);
    expect(await readFile(path.join(SHIPPED, 'metadata.json'), 'utf8')).toBe(originalMetadata);

    const { metadata } = await verifyModelDir(out);
    expect(metadata.classBias).toHaveLength(EMOTIONS.length);
    const record = metadata.metrics.siteAdaptation;
    expect(record?.heldOutFiles).toBe(14);
    expect(record?.heldOutAfter.uar).toBeGreaterThanOrEqual(0);
    // The copy keeps the shipped model's own sections and its history.
    expect(metadata.metrics.comparison).toEqual((await verifyModelDir(SHIPPED)).metadata.metrics.comparison);
    expect(metadata.history?.path).toBe('training-history.json');

    const clip = (await scanDataset(site)).files[0]?.path as string;
    const [before, after] = await Promise.all(
      [SHIPPED, out].map((model) => runSerAgent(['classify', '--json', '--model', model, '--log-level', 'warn', clip])),
    );
    expect(after?.code, after?.stderr).toBe(0);
    const probabilities = (output: string | undefined) => (JSON.parse(output ?? '') as { probabilities: Record<string, number> }).probabilities;
    expect(probabilities(after?.stdout)).not.toEqual(probabilities(before?.stdout));
  });

  it('refuses to write over the model it adapts, and a bad --holdout, naming the fix', async () => {
    const onItself = await runSerAgent(['adapt', '--data', site, '--out', SHIPPED]);
    expect(onItself.code).toBe(2);
    expect(onItself.stderr).toMatch(/is the model being adapted; write the adapted copy elsewhere/);
    const badHoldout = await runSerAgent(['adapt', '--data', site, '--out', path.join(work.dir, 'x'), '--holdout', '2']);
    expect(badHoldout.stderr).toMatch(/--holdout .* between 0 and 1 .* got "2"/);
  });
});
