import path from 'node:path';
import { ModelError } from '../errors.js';
import { type ClipWindow } from '../dsp/clip-window.js';
import { type FeatureExtractor } from '../dsp/features.js';
import { type FeatureCache } from '../features/feature-cache.js';
import { EMOTIONS } from '../labels.js';
import { type TrainingProvenance } from '../model/artifact/metadata.js';
import { EmotionClassifier } from '../model/runtime/classifier.js';
import { type LabelledFile } from './datasets.js';
import { predictSet } from './evaluate.js';
import { buildFeatureSet, type FeatureSet } from './feature-set.js';
import { readSplitProvenance, rebuildRecordedSplit } from './recorded-split.js';

/** Half of each target from the labels, half from the teachers. */
export const DEFAULT_TEACHER_WEIGHT = 0.5;

/** Knowledge distillation: what the student learns from besides the labels. */
export interface Distillation {
  /** Model directories trained by `ser-agent train`; their mean probabilities are the soft targets. */
  teachers: string[];
  /** The soft targets' share of each training target: (1 - weight) · labels + weight · teachers. */
  weight: number;
}

/** The teachers' soft targets, one row of EMOTIONS.length per training clip. */
export interface TeacherTargets {
  probabilities: Float32Array;
  weight: number;
}

export interface PreparedDistillation {
  targets: TeacherTargets;
  /** Which teachers, exactly, for the model's training record. */
  provenance: Record<string, unknown>;
}

/**
 * The mean of the teachers' probabilities on every training clip, each teacher hearing the
 * clips as it was trained to (its clip window, its front-end with each speaker's statistics,
 * its calibrated temperature). A teacher that trained on any of the student's validation or
 * test files or speakers is refused: its soft targets would carry them into the student, and
 * the student's held-out numbers would no longer be held out.
 */
export async function prepareDistillation(
  distillation: Distillation,
  train: FeatureSet,
  heldOut: HeldOut,
  deps: { clipWindow: ClipWindow; extractor: FeatureExtractor; cache: FeatureCache; signal?: AbortSignal },
): Promise<PreparedDistillation> {
  const { teachers, weight } = distillation;
  if (teachers.length === 0) throw new RangeError('prepareDistillation: give at least one teacher');
  if (!(weight > 0 && weight <= 1)) throw new RangeError(`prepareDistillation: weight must be in (0, 1], got ${weight}`);
  const classes = EMOTIONS.length;
  const sum = new Float64Array(train.labels.length * classes);
  const described: Array<Record<string, unknown>> = [];
  for (const dir of teachers) {
    const teacher = await EmotionClassifier.load(dir);
    try {
      const { metadata } = teacher;
      refuseLeakingTeacher(dir, metadata.training, heldOut);
      const teacherWindow = metadata.clipWindow ?? 'start';
      const heard = teacherWindow === deps.clipWindow ? train : await sameRows(train, teacherWindow, dir, deps);
      predictSet(teacher, heard).probabilities.forEach((row, clip) => {
        row.forEach((p, k) => (sum[clip * classes + k] = (sum[clip * classes + k] as number) + p));
      });
      described.push({
        dir: path.resolve(dir),
        name: metadata.name,
        version: metadata.version,
        weightsSha256: metadata.weights.sha256,
        command: metadata.training.command,
      });
    } finally {
      teacher.dispose();
    }
  }
  const probabilities = Float32Array.from(sum, (total) => total / teachers.length);
  return { targets: { probabilities, weight }, provenance: { distillation: { weight, teachers: described } } };
}

/** What the student holds out, for checking its teachers against. */
export interface HeldOut {
  /** Every file the student's data holds, from which a teacher's recorded split is rebuilt. */
  scanned: readonly LabelledFile[];
  /** The student's validation and test files. */
  files: readonly LabelledFile[];
  /** The speakers it holds out whole (validation and test): no clip of theirs may have trained a teacher. */
  speakers: readonly string[];
}

/**
 * Refuses a teacher whose recorded training set, rebuilt from the student's scanned files,
 * holds any of the student's held-out files, or any clip of a speaker it holds out whole.
 * Only the corpora the teacher trained on count: a corpus it never heard is none of its
 * training set, whatever its split would say of it.
 */
function refuseLeakingTeacher(dir: string, training: TrainingProvenance, heldOut: HeldOut): void {
  const provenance = readSplitProvenance(training, dir);
  const heardCorpora = new Set(training.dataSources.map((source) => source['corpus']));
  const paths = new Set(heldOut.files.map((file) => file.path));
  const speakers = new Set(heldOut.speakers);
  const { split } = rebuildRecordedSplit(heldOut.scanned, provenance);
  const leaked = split.train.filter(
    (file) => heardCorpora.has(file.corpus) && (paths.has(file.path) || speakers.has(file.speaker)),
  );
  if (leaked.length > 0) {
    const leakedSpeakers = [...new Set(leaked.map((file) => file.speaker))].sort();
    throw new ModelError(
      `teacher ${dir} trained on ${leaked.length} clip(s) of this run's validation and test files or speakers ` +
        `(speakers ${leakedSpeakers.slice(0, 6).join(', ')}${leakedSpeakers.length > 6 ? ', …' : ''}), so the held-out numbers ` +
        'would not be held out; give a teacher trained with the same split (the same --seed and held-out speakers)',
    );
  }
}

/** The training clips cut with another clip window (a teacher's), in the same rows. */
async function sameRows(
  train: FeatureSet,
  clipWindow: ClipWindow,
  dir: string,
  deps: { extractor: FeatureExtractor; cache: FeatureCache; signal?: AbortSignal },
): Promise<FeatureSet> {
  const set = await buildFeatureSet(train.files, deps.extractor, deps.cache, {
    clipWindow,
    ...(deps.signal ? { signal: deps.signal } : {}),
  });
  if (set.files.length !== train.files.length) {
    throw new ModelError(
      `teacher ${dir} hears the ${clipWindow} clip window, and ${train.files.length - set.files.length} training file(s) ` +
        `failed to decode that way (${set.failed[0]?.reason ?? 'unknown'}); give a teacher with this run's clip window`,
    );
  }
  return set;
}
