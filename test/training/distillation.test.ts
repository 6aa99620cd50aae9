import { access, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FeatureExtractor } from '../../src/dsp/features.js';
import { FeatureCache } from '../../src/features/feature-cache.js';
import { createLogger } from '../../src/logging/logger.js';
import { crossValidate } from '../../src/training/cross-validation.js';
import { scanDatasets } from '../../src/training/datasets.js';
import { checkTeachers } from '../../src/training/distillation.js';
import { parseSpeakerList } from '../../src/training/splits.js';
import { trainAndSave, type TrainingPlan, type TrainingReport } from '../../src/training/train-run.js';
import { DATASETS_DIR } from '../helpers/golden.js';
import { scratchDir, useWasm } from '../model/seed-model-fixture.js';

let work: { dir: string; cleanup: () => Promise<void> };
beforeAll(async () => {
  await useWasm();
  work = await scratchDir();
});
afterAll(async () => {
  await work.cleanup();
});

const deps = () => ({
  extractor: new FeatureExtractor(),
  cache: new FeatureCache(path.join(work.dir, 'cache')),
  logger: createLogger('silent'),
});

/** A small RAVDESS run: three clips a class, one epoch. */
const SMALL_RUN: Omit<TrainingPlan, 'split'> = {
  dataDirs: [path.join(DATASETS_DIR, 'ravdess')],
  limitPerClass: 3,
  seed: 5,
  epochs: 1,
  batchSize: 16,
  command: 'ser-agent train (distillation test)',
  modelName: 'distillation-test',
  modelVersion: '0.0.1',
};

function plan(testSpeakers: string, validationSpeakers: string): TrainingPlan {
  return {
    ...SMALL_RUN,
    split: { strategy: 'speaker', seed: 5, testSpeakers: parseSpeakerList(testSpeakers), validationSpeakers: parseSpeakerList(validationSpeakers) },
  };
}

interface Recorded {
  weights: { sha256: string };
  training: { command: string; distillation?: { weight: number; teachers: Array<Record<string, unknown>> } };
}
const metadataOf = async (dir: string) => JSON.parse(await readFile(path.join(dir, 'metadata.json'), 'utf8')) as Recorded;
const exists = (file: string) =>
  access(file).then(
    () => true,
    () => false,
  );

describe('training with teachers (knowledge distillation)', () => {
  let teacherDir: string;
  let studentDir: string;
  let taught: TrainingReport;
  beforeAll(async () => {
    teacherDir = path.join(work.dir, 'teacher');
    await trainAndSave(
      { ...plan('ravdess:17-20', 'ravdess:15-16'), clipWindow: 'loudest', command: 'ser-agent train (the teacher)' },
      teacherDir,
      deps(),
    );
    studentDir = path.join(work.dir, 'student');
    taught = await trainAndSave(
      { ...plan('ravdess:17-20', 'ravdess:15-16'), distillation: { teachers: [teacherDir], weight: 0.4 } },
      studentDir,
      deps(),
    );
  });

  it("learns from a teacher of another clip window, recording it by its weights' sha256 and command", async () => {
    const teacher = await metadataOf(teacherDir);
    const untaught = await trainAndSave(plan('ravdess:17-20', 'ravdess:15-16'), path.join(work.dir, 'untaught'), deps());
    // The same seed, data and clips: only the targets differ, and so does what was learnt.
    expect(taught.training.history[0]?.loss).not.toBeCloseTo(untaught.training.history[0]?.loss as number, 3);
    expect((await metadataOf(studentDir)).training.distillation).toEqual({
      weight: 0.4,
      teachers: [
        {
          dir: path.resolve(teacherDir),
          name: 'distillation-test',
          version: '0.0.1',
          weightsSha256: teacher.weights.sha256,
          command: 'ser-agent train (the teacher)',
        },
      ],
    });
    expect((await metadataOf(path.join(work.dir, 'untaught'))).training.distillation).toBeUndefined();
  });

  it('refuses, before any feature is computed, a teacher that heard held-out speakers, that was distilled, or whose data differs', async () => {
    // Actors 1-4 trained the teacher: as this run's test speakers, they would not be held out.
    const leaky = path.join(work.dir, 'leaky');
    let featureBuilds = 0;
    await expect(
      trainAndSave({ ...plan('ravdess:01-04', 'ravdess:15-16'), distillation: { teachers: [teacherDir], weight: 0.5 } }, leaky, {
        ...deps(),
        progress: { onFeatures: () => (featureBuilds += 1) },
      }),
    ).rejects.toThrow(
      new RegExp(
        `teacher ${teacherDir} trained on \\d+ of this run's held-out file\\(s\\), of 4 speaker\\(s\\) ` +
          "\\(ravdess:01, ravdess:02, ravdess:03, ravdess:04\\), so the held-out numbers would not be held out; give a teacher " +
          'trained with the same split: the same --data, --seed and held-out speakers',
      ),
    );
    expect(featureBuilds).toBe(0);
    expect(await exists(leaky)).toBe(false);

    const files = (await scanDatasets([path.join(DATASETS_DIR, 'ravdess')])).files;
    const heldOut = { scanned: files, files: [], speakers: [] };
    await expect(checkTeachers({ teachers: [studentDir], weight: 0.5 }, heldOut)).rejects.toThrow(
      /teacher .*student was itself distilled from other models, whose training this run cannot check; give teachers trained on labels alone/,
    );
    // Without the neutral recordings the teacher's split cannot be rebuilt: it was given 9 of them (3 a set).
    const fewer = { ...heldOut, scanned: files.filter((file) => file.label !== 'neutral') };
    await expect(checkTeachers({ teachers: [teacherDir], weight: 0.5 }, fewer)).rejects.toThrow(
      /trained with 63 ravdess files, and this run's data gives it 54, so which of them it heard cannot be rebuilt; give the teacher the same --data folders/,
    );
    await expect(checkTeachers({ teachers: [teacherDir], weight: 0.5 }, heldOut)).resolves.toMatchObject({ verified: [{ dir: path.resolve(teacherDir) }] });
  });

  it("teaches each cross-validation fold with the teacher's model of the same fold", async () => {
    const foldPlan = { ...SMALL_RUN, seed: 3, command: 'ser-agent train --folds 2 (teacher)' };
    const teacherDir = path.join(work.dir, 'teacher-folds');
    await crossValidate(foldPlan, 2, teacherDir, deps());

    const studentDir = path.join(work.dir, 'student-folds');
    const report = await crossValidate(
      { ...foldPlan, command: 'ser-agent train --folds 2 (student)', distillation: { teachers: [teacherDir], weight: 0.5 } },
      2,
      studentDir,
      deps(),
    );
    expect(report.results).toHaveLength(2);
    for (const fold of ['fold-1', 'fold-2']) {
      const taught = (await metadataOf(path.join(studentDir, fold))).training.distillation?.teachers[0];
      expect(taught?.['dir']).toBe(path.resolve(teacherDir, fold));
      expect(taught?.['weightsSha256']).toBe((await metadataOf(path.join(teacherDir, fold))).weights.sha256);
    }

    // Folds dealt from another seed hold out other speakers, whom a fold's teacher heard.
    await expect(
      crossValidate(
        { ...foldPlan, seed: 4, command: 'ser-agent train --folds 2 (other seed)', distillation: { teachers: [teacherDir], weight: 0.5 } },
        2,
        path.join(work.dir, 'student-other-seed'),
        deps(),
      ),
    ).rejects.toThrow(/teacher .*fold-\d trained on \d+ of this run's held-out file\(s\)/);
    // Found before the first fold trained, whichever fold's teacher it was.
    expect(await exists(path.join(work.dir, 'student-other-seed', 'fold-1'))).toBe(false);
  });
});
