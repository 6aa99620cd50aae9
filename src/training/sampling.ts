import { type LabelledFile } from './datasets.js';
import { type Random } from './random.js';

/** How an epoch picks its training clips: each once in a shuffled order, or drawn to balance corpora and classes. */
export type Sampling = 'shuffle' | 'balanced';
export const SAMPLINGS: readonly Sampling[] = ['shuffle', 'balanced'];

/**
 * Draw weights that give every corpus the same share of an epoch and, within a corpus,
 * every class it has the same share: a clip of class k in corpus c weighs
 * 1 / (corpora · classes of c · clips of (c, k)). nEMO (no disgust) and ASED (no disgust, no
 * surprise) then share their mass over the classes they have, rather than the classes they
 * lack being filled from them.
 */
export function balancedSamplingWeights(files: readonly LabelledFile[]): Float64Array {
  const groupSizes = new Map<string, number>();
  const classesOf = new Map<string, Set<string>>();
  for (const file of files) {
    const group = `${file.corpus}\u0000${file.label}`;
    groupSizes.set(group, (groupSizes.get(group) ?? 0) + 1);
    classesOf.set(file.corpus, (classesOf.get(file.corpus) ?? new Set()).add(file.label));
  }
  const corpora = classesOf.size;
  return Float64Array.from(files, (file) => {
    const clips = groupSizes.get(`${file.corpus}\u0000${file.label}`) as number;
    return 1 / (corpora * (classesOf.get(file.corpus) as Set<string>).size * clips);
  });
}

/** `count` indices drawn with replacement, each with probability proportional to its weight. */
export function drawWeighted(weights: Float64Array, count: number, random: Random): Int32Array {
  const cumulative = new Float64Array(weights.length);
  let total = 0;
  weights.forEach((weight, index) => {
    total += weight;
    cumulative[index] = total;
  });
  const drawn = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const target = random.uniform() * total;
    let low = 0;
    let high = weights.length - 1;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((cumulative[middle] as number) > target) high = middle;
      else low = middle + 1;
    }
    drawn[i] = low;
  }
  return drawn;
}
