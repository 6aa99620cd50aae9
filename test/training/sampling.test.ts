import { describe, expect, it } from 'vitest';
import { type LabelledFile } from '../../src/training/datasets.js';
import { createRandom } from '../../src/training/random.js';
import { balancedSamplingWeights, drawWeighted } from '../../src/training/sampling.js';

function file(corpus: LabelledFile['corpus'], label: LabelledFile['label'], index: number): LabelledFile {
  return { path: `${corpus}/${label}/${index}`, corpus, label, speaker: `${corpus}:1` };
}

describe('balancedSamplingWeights', () => {
  it('gives every corpus the same share and every class of a corpus the same share of it', () => {
    const files = [
      ...Array.from({ length: 30 }, (_, i) => file('nemo', 'anger', i)),
      ...Array.from({ length: 10 }, (_, i) => file('nemo', 'fear', i)),
      ...Array.from({ length: 5 }, (_, i) => file('ravdess', 'disgust', i)),
      ...Array.from({ length: 5 }, (_, i) => file('ravdess', 'anger', i)),
      ...Array.from({ length: 50 }, (_, i) => file('ravdess', 'neutral', i)),
    ];
    const weights = balancedSamplingWeights(files);
    const mass = (predicate: (f: LabelledFile) => boolean) => files.reduce((sum, f, i) => sum + (predicate(f) ? (weights[i] as number) : 0), 0);
    expect(mass(() => true)).toBeCloseTo(1, 12);
    expect(mass((f) => f.corpus === 'nemo')).toBeCloseTo(0.5, 12);
    expect(mass((f) => f.corpus === 'nemo' && f.label === 'fear')).toBeCloseTo(0.25, 12);
    expect(mass((f) => f.corpus === 'ravdess' && f.label === 'disgust')).toBeCloseTo(1 / 6, 12);
    expect(mass((f) => f.corpus === 'ravdess' && f.label === 'neutral')).toBeCloseTo(1 / 6, 12);
  });
});

describe('drawWeighted', () => {
  it('draws indices in proportion to their weights, reproducibly', () => {
    const weights = Float64Array.from([1, 0, 3, 6]);
    const drawn = drawWeighted(weights, 20_000, createRandom(3));
    const counts = [0, 0, 0, 0];
    for (const index of drawn) counts[index] = (counts[index] as number) + 1;
    expect(counts[1]).toBe(0);
    expect((counts[0] as number) / 20_000).toBeCloseTo(0.1, 1);
    expect((counts[2] as number) / 20_000).toBeCloseTo(0.3, 1);
    expect((counts[3] as number) / 20_000).toBeCloseTo(0.6, 1);
    expect(drawWeighted(weights, 50, createRandom(3))).toEqual(drawn.subarray(0, 50));
  });
});
