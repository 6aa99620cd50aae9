import { describe, expect, it } from 'vitest';
import { DatasetError } from '../../src/errors.js';
import { EMOTIONS } from '../../src/labels.js';
import { type Corpus, type LabelledFile } from '../../src/training/datasets.js';
import { rebuildRecordedSplit } from '../../src/training/recorded-split.js';
import { applySplitPlan, protocolSplit, resolveSplitRequest } from '../../src/training/splits.js';

/** Four corpora shaped like the real ones: speaker ids as they name them, and the classes they have. */
function corpora(): LabelledFile[] {
  const files: LabelledFile[] = [];
  const add = (corpus: Corpus, speakers: string[], labels: readonly string[]) => {
    for (const speaker of speakers) {
      for (const label of labels) {
        for (let take = 0; take < 3; take++) {
          files.push({ path: `${corpus}/${speaker}/${label}/${take}`, label: label as LabelledFile['label'], speaker: `${corpus}:${speaker}`, corpus });
        }
      }
    }
  };
  add('ravdess', Array.from({ length: 20 }, (_, i) => String(i + 1).padStart(2, '0')), EMOTIONS);
  add('tess', ['OAF', 'YAF'], EMOTIONS);
  add('nemo', ['EB0', 'IC0', 'KD0', 'KS0', 'MK0', 'MP0', 'SM0', 'TP0', 'WR0'], EMOTIONS.filter((e) => e !== 'disgust'));
  add('ased', Array.from({ length: 65 }, (_, i) => String(i + 1).padStart(2, '0')), ['anger', 'fear', 'happiness', 'neutral', 'sadness']);
  return files;
}

const ofCorpus = (speakers: readonly string[], corpus: string) => speakers.filter((s) => s.startsWith(`${corpus}:`));

describe('protocolSplit', () => {
  it('holds out speakers in every corpus that can spare them, disjoint and fixed whatever the training seed', () => {
    const files = corpora();
    const plan = protocolSplit(files, { seed: 42 });
    expect(plan.protocol).toBe('protocol');
    expect(ofCorpus(plan.testSpeakers, 'ravdess')).toEqual(['ravdess:17', 'ravdess:18', 'ravdess:19', 'ravdess:20']);
    expect(ofCorpus(plan.validationSpeakers, 'ravdess')).toEqual(['ravdess:15', 'ravdess:16']);
    expect(ofCorpus(plan.testSpeakers, 'nemo')).toHaveLength(2);
    expect(ofCorpus(plan.validationSpeakers, 'nemo')).toHaveLength(2);
    expect(ofCorpus(plan.testSpeakers, 'ased')).toHaveLength(10);
    expect(ofCorpus(plan.validationSpeakers, 'ased')).toHaveLength(10);
    expect(ofCorpus([...plan.testSpeakers, ...plan.validationSpeakers], 'tess')).toEqual([]);
    expect(new Set([...plan.testSpeakers, ...plan.validationSpeakers]).size).toBe(plan.testSpeakers.length + plan.validationSpeakers.length);

    const other = protocolSplit(files, { seed: 7 });
    expect(other.testSpeakers).toEqual(plan.testSpeakers);
    expect(other.validationSpeakers).toEqual(plan.validationSpeakers);

    const split = applySplitPlan(files, plan);
    const trainSpeakers = new Set(split.train.map((f) => f.speaker));
    for (const speaker of [...plan.testSpeakers, ...plan.validationSpeakers]) expect(trainSpeakers.has(speaker)).toBe(false);
    // TESS, with no speaker to spare, is split by file and appears in all three sets.
    for (const set of [split.train, split.validation, split.test]) expect(set.some((f) => f.corpus === 'tess')).toBe(true);
  });

  it('leaves one corpus out: all of it is the test set, the others keep only their validation speakers', () => {
    const files = corpora();
    const plan = protocolSplit(files, { seed: 42, testCorpus: 'nemo' });
    expect(plan.protocol).toBe('leave-one-corpus-out:nemo');
    expect(plan.testSpeakers.sort()).toEqual([...new Set(files.filter((f) => f.corpus === 'nemo').map((f) => f.speaker))].sort());
    expect(ofCorpus(plan.validationSpeakers, 'nemo')).toEqual([]);
    expect(ofCorpus(plan.validationSpeakers, 'ravdess')).toEqual(['ravdess:15', 'ravdess:16']);
    const split = applySplitPlan(files, plan);
    expect(split.train.some((f) => f.corpus === 'nemo')).toBe(false);
    expect(split.validation.some((f) => f.corpus === 'nemo')).toBe(false);
    // RAVDESS actors 17-20 train: only the left-out corpus is tested on speakers.
    expect(split.train.some((f) => f.speaker === 'ravdess:17')).toBe(true);
  });

  it('uses only the corpora present, as the old default did for RAVDESS and TESS', () => {
    const files = corpora().filter((f) => f.corpus === 'ravdess' || f.corpus === 'tess');
    const plan = resolveSplitRequest(files, { strategy: 'protocol', seed: 42 });
    expect(plan).toEqual({
      strategy: 'speaker',
      seed: 42,
      testSpeakers: ['ravdess:17', 'ravdess:18', 'ravdess:19', 'ravdess:20'],
      validationSpeakers: ['ravdess:15', 'ravdess:16'],
      protocol: 'protocol',
    });
  });

  it('names the corpus and the fix when the left-out corpus is absent or nothing can be held out', () => {
    const files = corpora().filter((f) => f.corpus !== 'ased');
    expect(() => protocolSplit(files, { seed: 1, testCorpus: 'ased' })).toThrow(DatasetError);
    expect(() => protocolSplit(files, { seed: 1, testCorpus: 'ased' })).toThrow(/--test-corpus ased has no files.*add its folder with --data/);
    const tessOnly = corpora().filter((f) => f.corpus === 'tess');
    expect(() => protocolSplit(tessOnly, { seed: 1 })).toThrow(/no speakers to hold out for testing.*--test-speakers/);
  });
});

describe('rebuildRecordedSplit', () => {
  it('rebuilds the split of a four-corpus model from two of its corpora, exactly as trained there', () => {
    const files = corpora();
    const plan = protocolSplit(files, { seed: 42 });
    const trained = applySplitPlan(files, plan);
    const present = files.filter((f) => f.corpus === 'ravdess' || f.corpus === 'tess');
    const { split, absentCorpora } = rebuildRecordedSplit(present, { seed: 42, split: plan });
    expect(absentCorpora.sort()).toEqual(['ased', 'nemo']);
    const paths = (set: readonly LabelledFile[]) => set.map((f) => f.path).sort();
    const inPresent = (set: readonly LabelledFile[]) => set.filter((f) => f.corpus === 'ravdess' || f.corpus === 'tess');
    expect(paths(split.test)).toEqual(paths(inPresent(trained.test)));
    expect(paths(split.validation)).toEqual(paths(inPresent(trained.validation)));
    expect(paths(split.train)).toEqual(paths(inPresent(trained.train)));
  });

  it('still refuses a held-out speaker missing from a corpus that is present', () => {
    const files = corpora().filter((f) => f.speaker !== 'ravdess:17');
    const plan = protocolSplit(corpora(), { seed: 42 });
    expect(() => rebuildRecordedSplit(files, { seed: 42, split: plan })).toThrow(/ravdess:17 have no files/);
  });
});
