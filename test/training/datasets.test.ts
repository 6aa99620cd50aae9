import { mkdtemp, mkdir, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DatasetError } from '../../src/errors.js';
import { labelFile, scanDataset, scanDatasets, tallyByCorpus } from '../../src/training/datasets.js';
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
    ['nemo/samples/EB0_anger_1.wav', 'anger', 'nemo:EB0', 'nemo'],
    ['nemo/samples/MP0_surprised_12.wav', 'surprise', 'nemo:MP0', 'nemo'],
    ['nemo/samples/WR0_happiness_301.wav', 'happiness', 'nemo:WR0', 'nemo'],
    ['ased/01Neutral/n1-01-01-01-01.wav', 'neutral', 'ased:01', 'ased'],
    ['ased/02Fearful/f2-03-02-02-65.wav', 'fear', 'ased:65', 'ased'],
    ['ased/04Sad/S4-04-02-01-29.wav', 'sadness', 'ased:29', 'ased'], // the one upper-case name
    ['ased/05Angry/a5-10-01-01-07.wav', 'anger', 'ased:07', 'ased'],
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
    ['ased/02Fearful/f3-01-01-01-01.wav', /ASED emotion code f3/],
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

describe('scanDatasets: links, repeats and the per-corpus tally', () => {
  async function corpusTree(): Promise<string> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ser-links-'));
    await mkdir(path.join(dir, 'store', 'nemo', 'samples'), { recursive: true });
    await mkdir(path.join(dir, 'store', 'ased', '03Happy'), { recursive: true });
    await writeFile(path.join(dir, 'store', 'nemo', 'samples', 'EB0_anger_1.wav'), '');
    await writeFile(path.join(dir, 'store', 'nemo', 'samples', 'KD0_fear_2.wav'), '');
    await writeFile(path.join(dir, 'store', 'nemo', 'samples', 'notes.wav'), '');
    await writeFile(path.join(dir, 'store', 'ased', '03Happy', 'h3-01-01-01-05.wav'), '');
    return dir;
  }

  it('follows links to folders and files, as an assembled training set lays them out', async () => {
    const dir = await corpusTree();
    await mkdir(path.join(dir, 'train'));
    await symlink(path.join(dir, 'store', 'nemo'), path.join(dir, 'train', 'nemo'));
    await mkdir(path.join(dir, 'train', 'picked'));
    await symlink(path.join(dir, 'store', 'ased', '03Happy', 'h3-01-01-01-05.wav'), path.join(dir, 'train', 'picked', 'h3-01-01-01-05.wav'));
    const scan = await scanDataset(path.join(dir, 'train'));
    expect(scan.files.map((f) => [f.speaker, f.label]).sort()).toEqual([
      ['ased:05', 'happiness'],
      ['nemo:EB0', 'anger'],
      ['nemo:KD0', 'fear'],
    ]);
    expect(scan.unlabelled.map((f) => path.basename(f.path))).toEqual(['notes.wav']);
  });

  it('stops at a link loop, skips broken links, and uses a recording reached twice once', async () => {
    const dir = await corpusTree();
    const nemo = path.join(dir, 'store', 'nemo');
    await symlink(nemo, path.join(nemo, 'samples', 'loop'));
    await symlink(path.join(dir, 'gone.wav'), path.join(nemo, 'samples', 'broken.wav'));
    await symlink(path.join(nemo, 'samples', 'EB0_anger_1.wav'), path.join(nemo, 'EB0_anger_1.wav'));
    const scan = await scanDatasets([nemo, path.join(nemo, 'samples')]);
    expect(scan.files.map((f) => path.basename(f.path)).sort()).toEqual(['EB0_anger_1.wav', 'KD0_fear_2.wav']);
    const reasons = scan.skipped.map((entry) => [path.relative(dir, entry.path), entry.reason.replace(/ at .*/, '')]);
    expect(reasons).toEqual(
      expect.arrayContaining([
        ['store/nemo/samples/broken.wav', 'broken symbolic link'],
        ['store/nemo/samples/loop', 'folder already scanned (a link loop or a second link)'],
        ['store/nemo/samples', 'folder already scanned (a link loop or a second link)'],
      ]),
    );
    // One of the two paths to EB0_anger_1.wav is used, the other reported.
    expect(scan.skipped.filter((entry) => entry.reason.startsWith('same recording already found'))).toHaveLength(1);
  });

  it('tallies each corpus: found, used, and skipped with the reason', async () => {
    const dir = await corpusTree();
    await mkdir(path.join(dir, 'store', 'ravdess'));
    await writeFile(path.join(dir, 'store', 'ravdess', '03-02-05-01-01-01-01.wav'), '');
    await symlink(path.join(dir, 'nowhere'), path.join(dir, 'store', 'dangling.wav'));
    const tallies = tallyByCorpus(await scanDataset(path.join(dir, 'store')));
    expect(tallies).toEqual(
      expect.arrayContaining([
        { corpus: 'nemo', found: 2, used: 2, skipped: {} },
        { corpus: 'ased', found: 1, used: 1, skipped: {} },
        { corpus: 'ravdess', found: 1, used: 0, skipped: { 'RAVDESS vocal channel 02 is song, not speech': 1 } },
        {
          corpus: 'unrecognised',
          found: 1,
          used: 0,
          skipped: {
            'broken symbolic link': 1,
            'name matches no known corpus (RAVDESS, TESS, nEMO, ASED, SAVEE, CREMA-D, EMO-DB) and its folder "samples" is not an emotion name; put it in a folder named after its emotion': 1,
          },
        },
      ]),
    );
  });
});
