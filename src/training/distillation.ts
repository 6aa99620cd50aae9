import path from 'node:path';
import { ModelError } from '../errors.js';
import { type ClipWindow } from '../dsp/clip-window.js';
import { type FeatureExtractor } from '../dsp/features.js';
import { type FeatureCache } from '../features/feature-cache.js';
import { EMOTIONS } from '../labels.js';
import { type TrainingProvenance } from '../model/artifact/metadata.js';
import { verifyModelDir, type VerifiedModelDir } from '../model/artifact/store.js';
import { EmotionClassifier } from '../model/runtime/classifier.js';
import { type LabelledFile } from './datasets.js';
import { predictSet } from './evaluate.js';
import { buildFeatureSet, type FeatureSet } from './feature-set.js';
import { readSplitProvenance, rebuildRecordedSplit } from './recorded-split.js';
import { heldOutSpeakers, validationSpeakers, type Split, type SplitPlan } from './splits.js';

/** Half of each target from the labels, half from the teachers. */
export const DEFAULT_TEACHER_WEIGHT = 0.5;

/** Knowledge distillation: what the student learns from besides the labels. */
export interface Distillation {
  /** Model directories trained by `ser-agent train`; their mean probabilities are the soft targets. */
  teachers: string[];
  /** The soft targets' share of each training target: (1 - weight) · labels + weight · teachers. */
  weight: number;
}

/** The teachers' mean probabilities, one row of EMOTIONS.length per training clip, and their share of the target. */
export interface TeacherTargets {
  probabilities: Float32Array;
  weight: number;
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

/** What a run with `split` (resolved as `plan`) holds out, from its scanned files. */
export function heldOutOf(scanned: readonly LabelledFile[], split: Split, plan: SplitPlan): HeldOut {
  return {
    scanned,
    files: [...split.validation, ...split.test],
    speakers: [...heldOutSpeakers(plan), ...validationSpeakers(plan)],
  };
}

/** Teachers verified and found not to have heard what the student holds out; see checkTeachers. */
export interface CheckedTeachers {
  distillation: Distillation;
  verified: VerifiedModelDir[];
}

export interface PreparedDistillation {
  targets: TeacherTargets;
  /** Which teachers, exactly, for the model's training record. */
  provenance: Record<string, unknown>;
}

/**
 * Verifies every teacher's directory and refuses, before any feature is computed, a teacher
 * that trained on any of the student's validation or test files or speakers: its soft targets
 * would carry them into the student, and the student's held-out numbers would no longer be
 * held out. A teacher that was itself distilled is refused too, since its own teachers'
 * training is beyond this check.
 */
export async function checkTeachers(distillation: Distillation, heldOut: HeldOut): Promise<CheckedTeachers> {
  const { teachers, weight } = distillation;
  if (teachers.length === 0) throw new RangeError('checkTeachers: give at least one teacher');
  if (!(weight > 0 && weight <= 1)) throw new RangeError(`checkTeachers: weight must be in (0, 1], got ${weight}`);
  const verified: VerifiedModelDir[] = [];
  for (const dir of teachers) {
    const teacher = await verifyModelDir(dir);
    if (teacher.metadata.training['distillation'] !== undefined) {
      throw new ModelError(
        `teacher ${dir} was itself distilled from other models, whose training this run cannot check; ` +
          'give teachers trained on labels alone',
      );
    }
    refuseLeakingTeacher(dir, teacher.metadata.training, heldOut);
    verified.push(teacher);
  }
  return { distillation, verified };
}

/**
 * The mean of the teachers' probabilities on every training clip, each teacher hearing the
 * clips as it was trained to (its clip window, its front-end with each speaker's statistics,
 * its calibrated temperature).
 */
export async function teacherTargets(
  checked: CheckedTeachers,
  train: FeatureSet,
  deps: { clipWindow: ClipWindow; extractor: FeatureExtractor; cache: FeatureCache; signal?: AbortSignal },
): Promise<PreparedDistillation> {
  const classes = EMOTIONS.length;
  const sum = new Float64Array(train.labels.length * classes);
  const described: Array<Record<string, unknown>> = [];
  for (const verified of checked.verified) {
    const teacher = await EmotionClassifier.fromVerified(verified);
    try {
      const { metadata } = teacher;
      const teacherWindow = metadata.clipWindow ?? 'start';
      const heard = teacherWindow === deps.clipWindow ? train : await sameRows(train, teacherWindow, verified.dir, deps);
      predictSet(teacher, heard).probabilities.forEach((row, clip) => {
        row.forEach((p, k) => (sum[clip * classes + k] = (sum[clip * classes + k] as number) + p));
      });
      described.push({
        dir: path.resolve(verified.dir),
        name: metadata.name,
        version: metadata.version,
        weightsSha256: metadata.weights.sha256,
        command: metadata.training.command,
      });
    } finally {
      teacher.dispose();
    }
  }
  const { weight } = checked.distillation;
  const probabilities = Float32Array.from(sum, (total) => total / checked.verified.length);
  return { targets: { probabilities, weight }, provenance: { distillation: { weight, teachers: described } } };
}

/**
 * Refuses a teacher whose recorded training set, rebuilt from the student's files, holds any
 * of the student's held-out files, or any clip of a speaker it holds out whole.
 *
 * The rebuild is exact only from the files the teacher was trained on: files without speakers
 * (TESS, plain folders) are dealt out together, so another corpus beside them, or a file more
 * or less, moves them. So it starts from the student's files of the corpora the teacher heard,
 * and refuses a teacher whose recorded file count for one of them differs from the rebuild's.
 */
function refuseLeakingTeacher(dir: string, training: TrainingProvenance, heldOut: HeldOut): void {
  const provenance = readSplitProvenance(training, dir);
  const recorded = new Map<string, number | undefined>();
  for (const source of training.dataSources) {
    const corpus = source['corpus'];
    if (typeof corpus !== 'string') {
      throw new ModelError(
        `teacher ${dir} does not record which corpus its data source "${source.name}" is, so what it heard cannot be ` +
          'checked; give a teacher trained by this version of "ser-agent train"',
      );
    }
    recorded.set(corpus, source.files);
  }
  const heardFiles = heldOut.scanned.filter((file) => recorded.has(file.corpus));
  const { split } = rebuildRecordedSplit(heardFiles, provenance);
  const rebuilt = [...split.train, ...split.validation, ...split.test];
  for (const [corpus, files] of recorded) {
    const here = rebuilt.filter((file) => file.corpus === corpus).length;
    if (here !== files) {
      throw new ModelError(
        `teacher ${dir} trained with ${files ?? 'an unrecorded number of'} ${corpus} files, and this run's data gives it ${here}, ` +
          'so which of them it heard cannot be rebuilt; give the teacher the same --data folders as this run',
      );
    }
  }
  const paths = new Set(heldOut.files.map((file) => file.path));
  const speakers = new Set(heldOut.speakers);
  const leaked = split.train.filter((file) => paths.has(file.path) || speakers.has(file.speaker));
  if (leaked.length > 0) {
    const leakedSpeakers = [...new Set(leaked.map((file) => file.speaker))].sort();
    throw new ModelError(
      `teacher ${dir} trained on ${leaked.length} of this run's held-out file(s), of ${leakedSpeakers.length} speaker(s) ` +
        `(${leakedSpeakers.slice(0, 6).join(', ')}${leakedSpeakers.length > 6 ? ', …' : ''}), so the held-out numbers ` +
        'would not be held out; give a teacher trained with the same split: the same --data, --seed and held-out ' +
        'speakers (with --folds, the same fold of a run with the same --folds and --seed)',
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
  const failure = set.failed[0];
  if (failure !== undefined) {
    throw new ModelError(
      `teacher ${dir} hears the ${clipWindow} clip window, and ${set.failed.length} training file(s) failed to decode that way ` +
        `(${failure.path}: ${failure.reason}); give a teacher with this run's clip window`,
    );
  }
  return set;
}
