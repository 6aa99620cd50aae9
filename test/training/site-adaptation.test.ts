import { describe, expect, it } from 'vitest';
import { DatasetError } from '../../src/errors.js';
import { EMOTIONS } from '../../src/labels.js';
import { applyCalibration } from '../../src/model/runtime/calibration.js';
import { type LabelledFile } from '../../src/training/datasets.js';
import { createRandom } from '../../src/training/random.js';
import { fitSiteAdaptation, scoreSite, splitSiteClips, uncalibrate } from '../../src/training/site-adaptation.js';

/**
 * A model's outputs at a site whose room pushes every clip towards one class: the true class
 * gets a logit of `signal`, noise on every logit, and `siteShift` added to the shifted class.
 */
function siteOutputs(clips: number, seed: number, shifted: number, siteShift: number): { rows: Float64Array[]; labels: Int32Array } {
  const random = createRandom(seed);
  const labels = Int32Array.from({ length: clips }, (_, i) => i % EMOTIONS.length);
  const rows = Array.from(labels, (label) => {
    const logits = EMOTIONS.map((_, k) => (k === label ? 2 : 0) + 2.5 * (random.uniform() - 0.5) + (k === shifted ? siteShift : 0));
    const max = Math.max(...logits);
    const exps = logits.map((z) => Math.exp(z - max));
    const total = exps.reduce((a, b) => a + b, 0);
    return Float64Array.from(exps, (e) => e / total);
  });
  return { rows, labels };
}

describe('fitSiteAdaptation', () => {
  it('learns to take back a site shift towards one class, and the held-out clips score better', () => {
    const sadness = EMOTIONS.indexOf('sadness');
    const fitOn = siteOutputs(70, 1, sadness, 2.5);
    const check = siteOutputs(140, 2, sadness, 2.5);
    const fit = fitSiteAdaptation(fitOn.rows, fitOn.labels);
    const others = fit.classBias.filter((_, k) => k !== sadness);
    expect(fit.classBias[sadness]).toBeLessThan(Math.min(...others) - 1);
    expect(fit.nllAfter).toBeLessThan(fit.nllBefore);
    const before = scoreSite(check.rows, check.labels);
    const after = scoreSite(check.rows.map((row) => applyCalibration(row, fit.temperature, fit.classBias)), check.labels);
    expect(after.uar).toBeGreaterThan(before.uar + 0.1);
  });

  it('leaves an unshifted site nearly alone', () => {
    const fitOn = siteOutputs(140, 3, 0, 0);
    const fit = fitSiteAdaptation(fitOn.rows, fitOn.labels);
    for (const bias of fit.classBias) expect(Math.abs(bias)).toBeLessThan(0.5);
  });

  it('refuses to fit on nothing', () => {
    expect(() => fitSiteAdaptation([], new Int32Array(0))).toThrow(DatasetError);
  });
});

describe('uncalibrate', () => {
  it("recovers the network's probabilities from a calibrated, biased output", () => {
    const raw = Float64Array.from([0.05, 0.1, 0.4, 0.2, 0.1, 0.1, 0.05]);
    const bias = [0.3, -1, 0, 2, 0.5, -0.2, 0];
    const calibrated = applyCalibration(raw, 1.7, bias);
    const back = uncalibrate(calibrated, 1.7, bias);
    raw.forEach((p, k) => expect(back[k]).toBeCloseTo(p, 10));
    expect(uncalibrate(raw, 1, undefined)).toEqual(raw);
  });
});

describe('splitSiteClips', () => {
  const clips = (label: LabelledFile['label'], count: number): LabelledFile[] =>
    Array.from({ length: count }, (_, i) => ({ path: `${label}/${i}.wav`, label, speaker: `folder:${label}/${i}`, corpus: 'folder' }));

  it('holds out a share of every class, at least one clip each, reproducibly', () => {
    const files = [...clips('anger', 10), ...clips('neutral', 3)];
    const { fit, heldOut } = splitSiteClips(files, 0.3, 5);
    expect(heldOut.filter((f) => f.label === 'anger')).toHaveLength(3);
    expect(heldOut.filter((f) => f.label === 'neutral')).toHaveLength(1);
    expect(fit).toHaveLength(9);
    expect(splitSiteClips(files, 0.3, 5)).toEqual({ fit, heldOut });
  });

  it('names the classes with too few clips to both fit and check', () => {
    expect(() => splitSiteClips([...clips('anger', 4), ...clips('fear', 1)], 0.3, 1)).toThrow(/too few for fear \(1\)/);
  });
});
