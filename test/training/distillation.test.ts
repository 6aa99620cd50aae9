import { access, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FeatureExtractor } from '../../src/dsp/features.js';
import { FeatureCache } from '../../src/features/feature-cache.js';
import { createLogger } from '../../src/logging/logger.js';
import { crossValidate } from '../../src/training/cross-validation.js';
import { parseSpeakerList } from '../../src/training/splits.js';
import { trainAndSave, type TrainingPlan } from '../../src/training/train-run.js';
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
  it("records each teacher by its weights' sha256 and command, and refuses one that heard the run's held-out speakers", async () => {
    const teacherDir = path.join(work.dir, 'teacher');
    await trainAndSave({ ...plan('ravdess:17-20', 'ravdess:15-16'), command: 'ser-agent train (the teacher)' }, teacherDir, deps());
    const teacher = await metadataOf(teacherDir);

    const studentDir = path.join(work.dir, 'student');
    const report = await trainAndSave(
      { ...plan('ravdess:17-20', 'ravdess:15-16'), distillation: { teachers: [teacherDir], weight: 0.4 } },
      studentDir,
      deps(),
    );
    expect(report.training.history).toHaveLength(1);
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

    // Actors 1-4 trained the teacher: as this run's test speakers, they would not be held out.
    const leaky = path.join(work.dir, 'leaky');
    await expect(
      trainAndSave({ ...plan('ravdess:01-04', 'ravdess:15-16'), distillation: { teachers: [teacherDir], weight: 0.5 } }, leaky, deps()),
    ).rejects.toThrow(
      new RegExp(
        `teacher ${teacherDir} trained on \\d+ clip\\(s\\) of this run's validation and test files or speakers \\(speakers ravdess:01, ravdess:02, ravdess:03, ravdess:04\\)`,
      ),
    );
    expect(await exists(leaky)).toBe(false);
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

    // Folds dealt from another seed hold out other speakers, whom some fold's teacher heard.
    await expect(
      crossValidate(
        { ...foldPlan, seed: 4, command: 'ser-agent train --folds 2 (other seed)', distillation: { teachers: [teacherDir], weight: 0.5 } },
        2,
        path.join(work.dir, 'student-other-seed'),
        deps(),
      ),
    ).rejects.toThrow(/teacher .*fold-\d trained on \d+ clip\(s\) of this run's validation and test files or speakers/);
  });
});
