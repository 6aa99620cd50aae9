import { createRandom } from './random.js';

/**
 * How much a difference in validation UAR between two runs can be trusted, when the validation
 * set is a handful of speakers (two RAVDESS actors, two nEMO speakers, ten ASED speakers): a
 * paired bootstrap over speakers. Each round draws, within every corpus, as many speakers as it
 * has, with replacement, and measures both runs on the same draw; the spread of the difference
 * over the rounds is what another handful of voices could have shown. Files are not resampled
 * one by one: the files of one voice rise and fall together, so that would understate the
 * spread several times over.
 */

/** A validation file as the bootstrap needs it: whose voice, which corpus, its true class. */
export interface ScoredFile {
  corpus: string;
  speaker: string;
  label: number;
}

export interface BootstrapOptions {
  /** Rounds to draw (default 2,000). */
  rounds?: number;
  /** Seed of the draws, so a comparison reprints the same interval (default 1). */
  seed?: number;
  /** Central share of the rounds the interval holds (default 0.95). */
  level?: number;
}

/** Run A's mean-over-corpora validation UAR minus run B's, and the bootstrap interval around it. */
export interface UarDifference {
  difference: number;
  low: number;
  high: number;
  rounds: number;
  /** Speakers per corpus the draws were made from. */
  speakers: Record<string, number>;
}

/**
 * The paired speaker bootstrap of (UAR of `predictedA`) − (UAR of `predictedB`) on `files`,
 * each UAR the mean over corpora of that corpus's UAR, as `compare` chooses.
 */
export function bootstrapUarDifference(
  files: readonly ScoredFile[],
  predictedA: ArrayLike<number>,
  predictedB: ArrayLike<number>,
  options: BootstrapOptions = {},
): UarDifference {
  const { rounds = 2000, seed = 1, level = 0.95 } = options;
  if (predictedA.length !== files.length || predictedB.length !== files.length) {
    throw new RangeError(
      `bootstrap needs one prediction per file from each run: ${files.length} files, ${predictedA.length} and ${predictedB.length} predictions`,
    );
  }
  if (!(Number.isInteger(rounds) && rounds > 0)) throw new RangeError(`bootstrap rounds must be a positive whole number, got ${rounds}`);
  if (!(level > 0 && level < 1)) throw new RangeError(`bootstrap level must be between 0 and 1, got ${level}`);
  if (files.length === 0) throw new RangeError('bootstrap needs at least one validation file');

  const corpora = speakersByCorpus(files);
  const everyone = [...corpora.values()].map((speakers) => [...speakers.values()]);
  const observed = meanUarDifference(everyone, files, predictedA, predictedB);

  const random = createRandom(seed);
  const differences = new Float64Array(rounds);
  for (let round = 0; round < rounds; round++) {
    const drawn = everyone.map((speakers) => Array.from({ length: speakers.length }, () => speakers[random.integer(speakers.length)] as number[]));
    differences[round] = meanUarDifference(drawn, files, predictedA, predictedB);
  }
  differences.sort();
  const tail = (1 - level) / 2;
  return {
    difference: observed,
    low: quantile(differences, tail),
    high: quantile(differences, 1 - tail),
    rounds,
    speakers: Object.fromEntries([...corpora].map(([corpus, speakers]) => [corpus, speakers.size])),
  };
}

/** corpus → speaker → the indices of that speaker's files. */
function speakersByCorpus(files: readonly ScoredFile[]): Map<string, Map<string, number[]>> {
  const corpora = new Map<string, Map<string, number[]>>();
  files.forEach((file, index) => {
    let speakers = corpora.get(file.corpus);
    if (speakers === undefined) corpora.set(file.corpus, (speakers = new Map<string, number[]>()));
    let indices = speakers.get(file.speaker);
    if (indices === undefined) speakers.set(file.speaker, (indices = []));
    indices.push(index);
  });
  return corpora;
}

/** Mean over corpora of UAR(A) − UAR(B), each corpus measured on its drawn speakers' files. */
function meanUarDifference(
  drawnByCorpus: ReadonlyArray<ReadonlyArray<readonly number[]>>,
  files: readonly ScoredFile[],
  predictedA: ArrayLike<number>,
  predictedB: ArrayLike<number>,
): number {
  let sum = 0;
  for (const drawn of drawnByCorpus) {
    const indices = drawn.flat();
    sum += uar(indices, files, predictedA) - uar(indices, files, predictedB);
  }
  return sum / drawnByCorpus.length;
}

/** The mean recall of the classes present among `indices` (a file drawn twice counts twice). */
function uar(indices: readonly number[], files: readonly ScoredFile[], predicted: ArrayLike<number>): number {
  const totals = new Map<number, number>();
  const hits = new Map<number, number>();
  for (const index of indices) {
    const label = (files[index] as ScoredFile).label;
    totals.set(label, (totals.get(label) ?? 0) + 1);
    if (predicted[index] === label) hits.set(label, (hits.get(label) ?? 0) + 1);
  }
  let recalls = 0;
  for (const [label, total] of totals) recalls += (hits.get(label) ?? 0) / total;
  return recalls / totals.size;
}

/** The q-quantile of sorted values, interpolated between neighbours. */
function quantile(sorted: Float64Array, q: number): number {
  const position = q * (sorted.length - 1);
  const below = Math.floor(position);
  const above = Math.min(sorted.length - 1, below + 1);
  const fraction = position - below;
  return (sorted[below] as number) * (1 - fraction) + (sorted[above] as number) * fraction;
}
