import { describe, expect, it } from 'vitest';
import { DatasetError } from '../../src/errors.js';
import { EMOTIONS } from '../../src/labels.js';
import { type LabelledFile } from '../../src/training/datasets.js';
import { createRandom } from '../../src/training/random.js';
import { parseSpeakerList, speakerSplit, stratifiedSplit } from '../../src/training/splits.js';


function corpus(): LabelledFile[] {
  const files: LabelledFile[] = [];
  for (let actor = 1; actor <= 6; actor++) {
    EMOTIONS.forEach((label, k) => {
      for (let take = 0; take < (label === 'neutral' ? 8 : 4); take++) {
        const speaker = `ravdess:${String(actor).padStart(2, '0')}`;
        files.push({ path: `r/${actor}/${k}/${take}`, label, speaker, corpus: 'ravdess' });
      }
    });
  }
  for (const speaker of ['tess:OAF', 'tess:YAF']) {
    EMOTIONS.forEach((label, k) => {
      for (let take = 0; take < 20; take++) {
        files.push({ path: `t/${speaker}/${k}/${take}`, label, speaker, corpus: 'tess' });
      }
    });
  }
  return files;
}

describe('stratifiedSplit', () => {
  it('keeps 70/15/15 within every class, uses each file once, and is reproducible', () => {
    const files = corpus();
    const split = stratifiedSplit(files, createRandom(42));
    const all = [...split.train, ...split.validation, ...split.test];
    expect(new Set(all.map((f) => f.path)).size).toBe(files.length);
    expect(all).toHaveLength(files.length);
    for (const label of EMOTIONS) {
      const total = files.filter((f) => f.label === label).length;
      expect(split.test.filter((f) => f.label === label)).toHaveLength(Math.round(total * 0.15));
      expect(split.validation.filter((f) => f.label === label)).toHaveLength(Math.round(total * 0.15));
    }
    expect(stratifiedSplit(files, createRandom(42))).toEqual(split);
    expect(stratifiedSplit(files, createRandom(7)).test).not.toEqual(split.test);
  });

  it('rejects fractions that leave nothing to train on', () => {
    expect(() => stratifiedSplit(corpus(), createRandom(1), { validation: 0.5, test: 0.5 })).toThrow(DatasetError);
  });
});

describe('speakerSplit', () => {
  it('holds out whole speakers and splits corpora without named speakers randomly', () => {
    const files = corpus();
    const split = speakerSplit(files, createRandom(1), {
      testSpeakers: ['ravdess:05', 'ravdess:06'],
      validationSpeakers: ['ravdess:04'],
    });
    const speakersOf = (set: LabelledFile[], c: string) =>
      new Set(set.filter((f) => f.corpus === c).map((f) => f.speaker));
    expect(speakersOf(split.test, 'ravdess')).toEqual(new Set(['ravdess:05', 'ravdess:06']));
    expect(speakersOf(split.validation, 'ravdess')).toEqual(new Set(['ravdess:04']));
    expect(speakersOf(split.train, 'ravdess')).toEqual(
      new Set(['ravdess:01', 'ravdess:02', 'ravdess:03']),
    );
    const tessTest = split.test.filter((f) => f.corpus === 'tess');
    expect(tessTest).toHaveLength(7 * 6); // 15% of 40 per class, rounded
    const all = [...split.train, ...split.validation, ...split.test];
    expect(new Set(all.map((f) => f.path)).size).toBe(files.length);
  });

  it('names speakers that are missing or held out twice', () => {
    expect(() =>
      speakerSplit(corpus(), createRandom(1), { testSpeakers: ['ravdess:99'], validationSpeakers: [] }),
    ).toThrow(/ravdess:99 have no files/);
    expect(() =>
      speakerSplit(corpus(), createRandom(1), { testSpeakers: ['ravdess:01'], validationSpeakers: ['ravdess:01'] }),
    ).toThrow(/both test and validation/);
  });
});

describe('parseSpeakerList', () => {
  it('expands ranges and keeps ids', () => {
    expect(parseSpeakerList('ravdess:17-20, tess:OAF')).toEqual([
      'ravdess:17',
      'ravdess:18',
      'ravdess:19',
      'ravdess:20',
      'tess:OAF',
    ]);
    expect(() => parseSpeakerList('17')).toThrow(/corpus:id/);
    expect(() => parseSpeakerList('ravdess:20-17')).toThrow(/backwards/);
  });
});
