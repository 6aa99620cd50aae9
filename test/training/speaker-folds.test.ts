import { describe, expect, it } from 'vitest';
import { DatasetError } from '../../src/errors.js';
import { EMOTIONS } from '../../src/labels.js';
import { spread } from '../../src/training/cross-validation.js';
import { type LabelledFile } from '../../src/training/datasets.js';
import { splitFromProvenance } from '../../src/training/recorded-split.js';
import { applySplitPlan, sampleAcrossSpeakers, speakerFolds } from '../../src/training/splits.js';

/** 20 RAVDESS-like actors with 8 files per class, and the two TESS speakers with 20. */
function corpus(): LabelledFile[] {
  const files: LabelledFile[] = [];
  for (let actor = 1; actor <= 20; actor++) {
    const speaker = `ravdess:${String(actor).padStart(2, '0')}`;
    EMOTIONS.forEach((label, k) => {
      for (let take = 0; take < 8; take++) files.push({ path: `r/${actor}/${k}/${take}`, label, speaker, corpus: 'ravdess' });
    });
  }
  for (const speaker of ['tess:OAF', 'tess:YAF']) {
    EMOTIONS.forEach((label, k) => {
      for (let take = 0; take < 20; take++) files.push({ path: `t/${speaker}/${k}/${take}`, label, speaker, corpus: 'tess' });
    });
  }
  return files;
}

describe('speakerFolds', () => {
  it('deals every RAVDESS actor into exactly one test fold and never into its own validation', () => {
    const plans = speakerFolds(corpus(), 5, 42);
    expect(plans).toHaveLength(5);
    const tested = plans.flatMap((plan) => plan.testSpeakers);
    expect(tested.sort()).toEqual(Array.from({ length: 20 }, (_, i) => `ravdess:${String(i + 1).padStart(2, '0')}`));
    for (const plan of plans) {
      expect(plan.testSpeakers).toHaveLength(4);
      expect(plan.validationSpeakers).toHaveLength(2);
      expect(plan.validationSpeakers.filter((speaker) => plan.testSpeakers.includes(speaker))).toEqual([]);
    }
    // TESS has fewer speakers than folds: it is split by files in every fold, never held out whole.
    expect(tested.some((speaker) => speaker.startsWith('tess:'))).toBe(false);
  });

  it('gives folds whose test sets are disjoint and whose speakers never reach training', () => {
    const files = corpus();
    const tests = speakerFolds(files, 4, 7).map((plan) => {
      const split = applySplitPlan(files, plan);
      const trainSpeakers = new Set(split.train.map((file) => file.speaker));
      expect(plan.testSpeakers.filter((speaker) => trainSpeakers.has(speaker))).toEqual([]);
      expect(plan.validationSpeakers.filter((speaker) => trainSpeakers.has(speaker))).toEqual([]);
      return split.test.filter((file) => file.corpus === 'ravdess').map((file) => file.path);
    });
    const all = tests.flat();
    expect(new Set(all).size).toBe(all.length);
    expect(all).toHaveLength(20 * 7 * 8);
  });

  it('is reproducible from the seed and changes with it', () => {
    expect(speakerFolds(corpus(), 5, 1)).toEqual(speakerFolds(corpus(), 5, 1));
    expect(speakerFolds(corpus(), 5, 1)).not.toEqual(speakerFolds(corpus(), 5, 2));
  });

  it('refuses fewer than two folds, or more folds than any corpus has speakers', () => {
    expect(() => speakerFolds(corpus(), 1, 1)).toThrow(/at least 2 folds; got 1/);
    expect(() => speakerFolds(corpus(), 21, 1)).toThrow(DatasetError);
    expect(() => speakerFolds(corpus(), 21, 1)).toThrow(/ravdess 20, tess 2\); use fewer --folds/);
  });
});

describe('small speaker-split subsets', () => {
  it('sampleAcrossSpeakers takes at most N per class and spreads them over the speakers', () => {
    const files = corpus().filter((file) => file.corpus === 'ravdess');
    const sample = sampleAcrossSpeakers(files, 4, 3);
    for (const label of EMOTIONS) expect(sample.filter((file) => file.label === label)).toHaveLength(4);
    // 7 classes × 4 = 28 picks over 20 speakers: every speaker appears.
    expect(new Set(sample.map((file) => file.speaker)).size).toBe(20);
  });

  it('a limited speaker split still holds out every named speaker, with up to N files per class each', () => {
    const split = splitFromProvenance(corpus(), {
      seed: 5,
      limitPerClass: 3,
      split: { strategy: 'speaker', seed: 5, testSpeakers: ['ravdess:17', 'ravdess:18'], validationSpeakers: ['ravdess:15'] },
    });
    expect(new Set(split.test.filter((f) => f.corpus === 'ravdess').map((f) => f.speaker))).toEqual(
      new Set(['ravdess:17', 'ravdess:18']),
    );
    expect(new Set(split.validation.filter((f) => f.corpus === 'ravdess').map((f) => f.speaker))).toEqual(
      new Set(['ravdess:15']),
    );
    for (const label of EMOTIONS) {
      expect(split.test.filter((f) => f.label === label && f.corpus === 'ravdess')).toHaveLength(3);
    }
  });
});

describe('spread', () => {
  it('is the mean, sample standard deviation and range over the folds', () => {
    const s = spread([0.5, 0.6, 0.7]);
    expect(s.mean).toBeCloseTo(0.6, 12);
    expect(s.std).toBeCloseTo(0.1, 12);
    expect([s.min, s.max]).toEqual([0.5, 0.7]);
    expect(spread([0.4])).toEqual({ mean: 0.4, std: 0, min: 0.4, max: 0.4 });
  });
});
