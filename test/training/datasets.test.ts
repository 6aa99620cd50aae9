import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DatasetError } from '../../src/errors.js';
import { labelFile, scanDataset, scanDatasets } from '../../src/training/datasets.js';
import { DATASETS_DIR } from '../helpers/golden.js';

describe('labelFile', () => {
  it.each([
    ['ravdess/Actor_07/03-01-05-02-01-01-07.flac', 'anger', 'ravdess:07', 'ravdess'],
    ['ravdess/Actor_01/03-01-02-01-01-01-01.flac', 'neutral', 'ravdess:01', 'ravdess'], // calm
    ['ravdess/Actor_02/03-01-08-01-01-01-02.wav', 'surprise', 'ravdess:02', 'ravdess'],
    ['tess/OAF_neutral/OA_bite_neutral.flac', 'neutral', 'tess:OAF', 'tess'],
    ['tess/YAF_pleasant_surprise/YAF_back_ps.flac', 'surprise', 'tess:YAF', 'tess'],
    ['savee/DC_sa03.wav', 'sadness', 'savee:DC', 'savee'],
    ['savee/JK/su12.wav', 'surprise', 'savee:JK', 'savee'],
    ['savee/KL_a01.wav', 'anger', 'savee:KL', 'savee'],
    ['crema/1001_DFA_ANG_XX.wav', 'anger', 'crema-d:1001', 'crema-d'],
    ['emodb/03a01Fa.wav', 'happiness', 'emo-db:03', 'emo-db'],
    ['mine/happy/take1.mp3', 'happiness', 'folder:mine/happy/take1.mp3', 'folder'],
    ['mine/Anger/x.wav', 'anger', 'folder:mine/Anger/x.wav', 'folder'],
  ])('%s → %s', (file, label, speaker, corpus) => {
    expect(labelFile(file)).toEqual({ label, speaker, corpus });
  });

  it.each([
    ['emodb/03a01La.wav', /boredom/],
    ['ravdess/Actor_01/03-02-05-01-01-01-01.flac', /song/],
    ['ravdess/Actor_01/01-01-05-01-01-01-01.flac', /video/],
    ['crema/1001_DFA_XXX_XX.wav', /XXX/],
    ['misc/recording.wav', /folder "misc" is not an emotion name/],
  ])('%s has no label', (file, reason) => {
    const result = labelFile(file);
    expect(result).toHaveProperty('reason');
    expect((result as { reason: string }).reason).toMatch(reason);
  });
});

describe('scanDataset', () => {
  it('finds and labels every file of the shared corpora', async () => {
    const ravdess = await scanDataset(path.join(DATASETS_DIR, 'ravdess'));
    expect(ravdess.files).toHaveLength(1200);
    expect(ravdess.unlabelled).toEqual([]);
    expect(ravdess.files.filter((f) => f.label === 'neutral')).toHaveLength(240);
    expect(new Set(ravdess.files.map((f) => f.speaker)).size).toBe(20);

    const both = await scanDatasets([path.join(DATASETS_DIR, 'ravdess'), path.join(DATASETS_DIR, 'tess')]);
    expect(both.files).toHaveLength(1200 + 2798);
    const tess = both.files.filter((f) => f.corpus === 'tess');
    expect(new Set(tess.map((f) => f.speaker))).toEqual(new Set(['tess:OAF', 'tess:YAF']));
    expect(tess.find((f) => f.path.endsWith('OA_bite_neutral.flac'))?.label).toBe('neutral');
  });

  it('reports unlabelled files instead of dropping them, and skips non-audio', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ser-dataset-'));
    await mkdir(path.join(dir, 'sad'));
    await mkdir(path.join(dir, 'misc'));
    await writeFile(path.join(dir, 'sad', 'a.wav'), '');
    await writeFile(path.join(dir, 'misc', 'b.wav'), '');
    await writeFile(path.join(dir, 'notes.txt'), 'not audio');
    const scan = await scanDataset(dir);
    expect(scan.files.map((f) => [path.basename(f.path), f.label])).toEqual([['a.wav', 'sadness']]);
    expect(scan.unlabelled.map((f) => path.basename(f.path))).toEqual(['b.wav']);
  });

  it('rejects a missing folder and a plain file with a DatasetError naming it', async () => {
    await expect(scanDataset('/nonexistent/data')).rejects.toThrow(DatasetError);
    await expect(scanDataset('/nonexistent/data')).rejects.toThrow(/\/nonexistent\/data.*ENOENT/);
    await expect(scanDataset(path.join(DATASETS_DIR, 'README.md'))).rejects.toThrow(/not a directory/);
  });
});
