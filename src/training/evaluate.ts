import { RunningBandStatistics, statisticsByGroup, type BandStatistics } from '../dsp/band-statistics.js';
import { N_FEATURES, N_FRAMES } from '../dsp/constants.js';
import { EMOTIONS } from '../labels.js';
import { type EmotionClassifier } from '../model/runtime/classifier.js';
import { type Corpus, type LabelledFile } from './datasets.js';
import { type FeatureSet } from './feature-set.js';
import { computeMetrics, type ClassificationMetrics } from './metrics.js';
import { createRandom, shuffledIndices } from './random.js';
import { type LabelledSet } from './trainer.js';

const CLIP_VALUES = N_FRAMES * N_FEATURES;
const EVALUATION_BATCH = 32;

/** What a classifier said about every row of a set: top-1 class and the full distribution. */
export interface Predictions {
  classes: Int32Array;
  /** One row per clip, in EMOTIONS order, with the model's temperature applied. */
  probabilities: Float64Array[];
}

/** A set whose speakers are known, row by row: what a `speaker` front-end model is evaluated on. */
export type SpeakerSet = LabelledSet & { files?: ReadonlyArray<Pick<LabelledFile, 'speaker' | 'corpus'>> };

/**
 * Predictions for every row of `set`, through the same classifier the CLI and daemon use.
 * A model with the `speaker` front-end hears each clip with the statistics `voices` names
 * (see VOICE_STATISTICS); by default its speaker's over all of the set's clips of that
 * speaker, as it was trained.
 */
export function predictSet(classifier: EmotionClassifier, set: SpeakerSet, voices: VoiceHearing = { statistics: 'speaker' }): Predictions {
  const count = set.labels.length;
  const statistics = voicesOf(classifier, set, voices);
  const classes = new Int32Array(count);
  const probabilities: Float64Array[] = [];
  for (let start = 0; start < count; start += EVALUATION_BATCH) {
    const end = Math.min(count, start + EVALUATION_BATCH);
    const batch = Array.from({ length: end - start }, (_, i) =>
      set.features.subarray((start + i) * CLIP_VALUES, (start + i + 1) * CLIP_VALUES),
    );
    classifier.classifyBatch(batch, statistics?.slice(start, end)).forEach((prediction, i) => {
      classes[start + i] = EMOTIONS.indexOf(prediction.emotion);
      probabilities.push(Float64Array.from(EMOTIONS, (emotion) => prediction.probabilities[emotion]));
    });
  }
  return { classes, probabilities };
}

/**
 * Which statistics a `speaker` front-end model hears each clip with:
 * - `speaker`: its speaker's over all of the set's clips of that speaker, as in training: a
 *   device that has heard the voice for a while;
 * - `running`: as a device learns them (RunningBandStatistics, starting from the training
 *   statistics), each speaker's clips heard one after another in an order drawn from `seed`,
 *   each clip with the statistics that include it, as WindowClassifier hears a window;
 * - `training`: the training set's for every clip: a device that never adapts.
 */
export const VOICE_STATISTICS = ['speaker', 'running', 'training'] as const;
export type VoiceStatistics = (typeof VOICE_STATISTICS)[number];
export interface VoiceHearing {
  statistics: VoiceStatistics;
  /** The order `running` hears each speaker's clips in. */
  seed?: number;
}

/** Each row's voice statistics, for a model with the `speaker` front-end; undefined for the others. */
function voicesOf(classifier: EmotionClassifier, set: SpeakerSet, hearing: VoiceHearing): BandStatistics[] | undefined {
  if (classifier.metadata.frontEnd !== 'speaker') return undefined;
  if (set.files === undefined) {
    throw new Error("predictSet: the model's front-end is 'speaker', and the set does not say whose each clip is");
  }
  const voices = set.files.map(voiceOf);
  // Present for every `speaker` model: its metadata is refused without them.
  const training = classifier.trainingStatistics as BandStatistics;
  switch (hearing.statistics) {
    case 'speaker': {
      const byVoice = statisticsByGroup(set.features, voices);
      return voices.map((voice) => byVoice.get(voice) as BandStatistics);
    }
    case 'training':
      return voices.map(() => training);
    case 'running': {
      const heard: BandStatistics[] = new Array<BandStatistics>(voices.length);
      const random = createRandom(hearing.seed ?? 1);
      for (const voice of new Set(voices)) {
        const rows = voices.flatMap((other, row) => (other === voice ? [row] : []));
        const running = new RunningBandStatistics(training);
        for (const index of shuffledIndices(rows.length, random)) {
          const row = rows[index] as number;
          running.add(set.features.subarray(row * CLIP_VALUES, (row + 1) * CLIP_VALUES));
          heard[row] = running.current();
        }
      }
      return heard;
    }
  }
}

/**
 * Whose statistics a file is heard with. Recordings in plain `<emotion>/` folders name no
 * speaker (each is its own "speaker" for splitting), so they are heard as one voice: the site
 * they were recorded at, as a device learns it (adapt's site clips).
 */
export function voiceOf(file: Pick<LabelledFile, 'speaker' | 'corpus'>): string {
  return file.corpus === 'folder' ? 'folder' : file.speaker;
}

export function evaluateClassifier(
  classifier: EmotionClassifier,
  set: SpeakerSet,
): { metrics: ClassificationMetrics; predicted: Int32Array; probabilities: Float64Array[] } {
  const { classes, probabilities } = predictSet(classifier, set);
  return { metrics: computeMetrics(set.labels, classes), predicted: classes, probabilities };
}

export interface TestReport {
  all: ClassificationMetrics;
  /** The same files per corpus (e.g. RAVDESS held-out actors apart from TESS held-out files). */
  byCorpus: Partial<Record<Corpus, ClassificationMetrics>>;
  predicted: Int32Array;
  probabilities: Float64Array[];
}

/** Metrics over the whole set and per corpus, from one pass of predictions. */
export function evaluateByCorpus(classifier: EmotionClassifier, set: FeatureSet, voices?: VoiceHearing): TestReport {
  const { classes: predicted, probabilities } = predictSet(classifier, set, voices);
  const byCorpus: TestReport['byCorpus'] = {};
  for (const corpus of new Set(set.files.map((file) => file.corpus))) {
    byCorpus[corpus] = subsetMetrics(set, predicted, (file) => file.corpus === corpus);
  }
  return { all: computeMetrics(set.labels, predicted), byCorpus, predicted, probabilities };
}

/** Metrics over the rows of `set` whose file satisfies `keep` (e.g. the held-out speakers'). */
export function subsetMetrics(
  set: FeatureSet,
  predicted: Int32Array,
  keep: (file: LabelledFile) => boolean,
): ClassificationMetrics {
  const rows = set.files.flatMap((file, row) => (keep(file) ? [row] : []));
  return computeMetrics(
    rows.map((row) => set.labels[row] as number),
    rows.map((row) => predicted[row] as number),
  );
}

export interface SummaryRow {
  files: number;
  accuracy: number;
  uar: number;
  macroF1: number;
}

/**
 * The headline rows of a model card: one per corpus of the test set, saying whether its
 * speakers were held out whole (speaker-independent) or also spoke in training, then all
 * test files together.
 */
export function summarizeTestReport(
  report: Pick<TestReport, 'all' | 'byCorpus'>,
  heldOutSpeakers: readonly string[],
): Record<string, SummaryRow> {
  const row = (m: ClassificationMetrics): SummaryRow => ({
    files: m.count,
    accuracy: m.accuracy,
    uar: m.uar,
    macroF1: m.macroF1,
  });
  const rows: Record<string, SummaryRow> = {};
  for (const [corpus, metrics] of Object.entries(report.byCorpus)) {
    const speakers = heldOutSpeakers.filter((speaker) => speaker.startsWith(`${corpus}:`));
    const name =
      speakers.length > 0
        ? `${corpus}: held-out speakers ${speakers.map((s) => s.slice(corpus.length + 1)).join(', ')} (speaker-independent)`
        : `${corpus}: held-out files of speakers also heard in training`;
    rows[name] = row(metrics);
  }
  rows['all test files'] = row(report.all);
  return rows;
}

/** The share of rows on which two models pick the same class (e.g. quantized vs float). */
export function topOneAgreement(a: Int32Array, b: Int32Array): number {
  if (a.length !== b.length) {
    throw new RangeError(`agreement needs equal lengths: ${a.length} and ${b.length} predictions`);
  }
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  return a.length > 0 ? same / a.length : 1;
}
