import { describe, expect, it } from 'vitest';
import { choiceIntervals, chooseRun, mergeComparisons, type ChoiceInterval, type SourcedComparison, type ValidationPredictions } from '../../src/training/comparison.js';

/** Four voices of one corpus, two files each of classes 0 and 1; `right` says which files a run gets right. */
function run(right: (index: number) => boolean, order: 'forward' | 'reversed' = 'forward'): ValidationPredictions {
  const files = Array.from({ length: 16 }, (_, index) => ({ path: `/data/${index}.wav`, corpus: 'ravdess', speaker: `ravdess:${index % 4}`, label: index % 2 }));
  const predicted = Int32Array.from(files, (file, index) => (right(index) ? file.label : 1 - file.label));
  if (order === 'forward') return { files, predicted };
  return { files: [...files].reverse(), predicted: Int32Array.from([...predicted].reverse()) };
}

const interval = (versus: string, difference: number): ChoiceInterval => ({ versus, difference, low: difference - 0.1, high: difference + 0.1, rounds: 2000, speakers: { ravdess: 4 } });

describe('choiceIntervals', () => {
  it('pairs each run with the chosen one file by file, whatever order its files came in', () => {
    const intervals = choiceIntervals('best', { best: run(() => true), other: run((index) => index < 8, 'reversed') });
    expect(Object.keys(intervals)).toEqual(['other']);
    expect(intervals['other']).toMatchObject({ versus: 'best', difference: -0.5, speakers: { ravdess: 4 } });
  });

  it('gives none to a run measured on other validation files', () => {
    const other = run(() => true);
    other.files[0] = { ...other.files[0]!, path: '/data/elsewhere.wav' };
    expect(choiceIntervals('best', { best: run(() => true), other })).toEqual({});
  });

  it('keeps an earlier interval against the same chosen run for a run not measured again, and drops one against another', () => {
    const earlier = { kept: interval('best', -0.02), stale: interval('former-best', -0.03), remeasured: interval('best', -0.5) };
    const intervals = choiceIntervals('best', { best: run(() => true), remeasured: run(() => true) }, earlier);
    expect(intervals).toEqual({ kept: earlier.kept, remeasured: expect.objectContaining({ versus: 'best', difference: 0 }) as unknown });
    // Nothing measured now: the earlier intervals against the chosen run are all there is.
    expect(choiceIntervals('best', {}, earlier)).toEqual({ kept: earlier.kept, remeasured: earlier.remeasured });
  });
});

describe('mergeComparisons', () => {
  it('carries the intervals of earlier comparisons, a later one replacing an earlier one for the same run', () => {
    const base = (intervals: Record<string, ChoiceInterval>): SourcedComparison => ({
      commands: [],
      selectedBy: 'validation',
      best: 'best',
      runs: {},
      sources: {},
      choiceIntervals: intervals,
    });
    const merged = mergeComparisons([base({ a: interval('best', -0.1), b: interval('best', -0.2) }), base({ b: interval('best', -0.3) })]);
    expect(merged.choiceIntervals).toEqual({ a: interval('best', -0.1), b: interval('best', -0.3) });
  });
});

describe('chooseRun', () => {
  const uar = (value: number) => ({ validationSpeakersUar: value });

  it('picks the best validation UAR when there is no incumbent', () => {
    expect(chooseRun({ a: uar(0.5), b: uar(0.6) }, {}, undefined)).toBe('b');
  });

  it('keeps the incumbent against a lead its voices could show, and gives way to one clear of zero', () => {
    // 12 of 16 files right against 11: a lead of one file, well within what four voices could show.
    const shipped = run((index) => index < 11);
    const close = run((index) => index < 12);
    expect(chooseRun({ shipped: uar(11 / 16), close: uar(12 / 16) }, { shipped, close }, 'shipped')).toBe('shipped');
    // Every file right against half of each voice's: every voice is better, and so is every resampling of them.
    const half = run((index) => index < 8);
    expect(chooseRun({ shipped: uar(0.5), clear: uar(1) }, { shipped: half, clear: run(() => true) }, 'shipped')).toBe('clear');
    // An incumbent not measured now (its row recorded earlier) cannot be paired, so it cannot be replaced.
    expect(chooseRun({ shipped: uar(0.5), clear: uar(1) }, { clear: run(() => true) }, 'shipped')).toBe('shipped');
  });
});
