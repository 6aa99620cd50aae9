import { describe, expect, it } from 'vitest';
import { computeMetrics } from '../../src/training/metrics.js';

describe('computeMetrics', () => {
  it('computes accuracy, UAR, macro-F1 and the confusion matrix', () => {
    // anger(0): 3 right, 1 called disgust; disgust(1): 1 right, 1 called anger; fear(2): 2 right.
    const truth = [0, 0, 0, 0, 1, 1, 2, 2];
    const predicted = [0, 0, 0, 1, 1, 0, 2, 2];
    const m = computeMetrics(truth, predicted);
    expect(m.count).toBe(8);
    expect(m.accuracy).toBeCloseTo(6 / 8, 12);
    expect(m.uar).toBeCloseTo((3 / 4 + 1 / 2 + 1) / 3, 12);
    expect(m.perClass.anger).toEqual({ precision: 3 / 4, recall: 3 / 4, f1: 3 / 4, support: 4 });
    expect(m.perClass.disgust.precision).toBeCloseTo(1 / 2, 12);
    expect(m.perClass.surprise.support).toBe(0);
    expect(m.macroF1).toBeCloseTo((3 / 4 + 1 / 2 + 1) / 3, 12);
    expect(m.confusion[0]).toEqual([3, 1, 0, 0, 0, 0, 0]);
    expect(m.confusion[1]).toEqual([1, 1, 0, 0, 0, 0, 0]);
  });

  it('rejects mismatched lengths and out-of-range classes', () => {
    expect(() => computeMetrics([0, 1], [0])).toThrow(/2 labels, 1 predictions/);
    expect(() => computeMetrics([0], [9])).toThrow(/out of range/);
  });
});
