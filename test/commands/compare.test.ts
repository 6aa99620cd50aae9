import { cp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATASETS_DIR } from '../helpers/golden.js';
import { runSerAgent } from '../helpers/cli.js';
import { scratchDir } from '../model/seed-model-fixture.js';

/** `compare` on two small speaker-split runs, through the real executable. */
let work: { dir: string; cleanup: () => Promise<void> };
let env: Record<string, string>;
const data = ['--data', path.join(DATASETS_DIR, 'ravdess'), '--data', path.join(DATASETS_DIR, 'tess')];

beforeAll(async () => {
  work = await scratchDir();
  env = { SER_CACHE_DIR: path.join(work.dir, 'cache') };
  const runs = [
    ['seed', ['--split', 'speaker']],
    ['attention', ['--split', 'speaker', '--architecture', 'attention', '--label-smoothing', '0.1']],
    ['random', ['--split', 'random']],
    ['without-tess', ['--split', 'speaker', '--test-corpus', 'tess']],
    ['folds', ['--split', 'speaker', '--folds', '3']],
  ] as const;
  for (const [name, extra] of runs) {
    const result = await runSerAgent(
      ['train', ...data, '--limit-per-class', '6', '--epochs', '1', '--seed', '5', ...extra, '--out', path.join(work.dir, name)],
      env,
    );
    expect(result.code, result.stderr).toBe(0);
  }
});

afterAll(async () => {
  await work.cleanup();
});

interface Row {
  architecture: string;
  options: string;
  validationSpeakersUar: number;
  testSpeakersUar: number;
  testSpeakersAccuracy: number;
}

describe('ser-agent compare', () => {
  it('measures each run on its own held-out speakers, picks by validation speakers and records the table in the card', async () => {
    const runs = ['seed', 'attention'].map((name) => path.join(work.dir, name));
    const random = path.join(work.dir, 'random');
    const result = await runSerAgent(['compare', ...data, '--record', runs[0] as string, '--random-split', random, ...runs], env);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^seed( \(chosen\))? +seed-cnn-lstm +none /m);
    expect(result.stdout).toMatch(/^attention( \(chosen\))? +attention-cnn-lstm +label smoothing 0\.1 /m);

    // The random-split run is reported beside the others, never chosen.
    expect(result.stdout).toMatch(/^seed-style random split \(every speaker also in training; never chosen\):$/m);
    expect(result.stdout).toMatch(/^random +seed-cnn-lstm +none /m);

    const metadata = JSON.parse(await readFile(path.join(work.dir, 'seed', 'metadata.json'), 'utf8')) as {
      metrics: {
        comparison: {
          best: string;
          runs: Record<string, Row>;
          seedStyleRandomSplit: Record<string, { allTestAccuracy: number }>;
          choiceIntervals: Record<string, { versus: string; difference: number; low: number; high: number; speakers: Record<string, number> }>;
        };
      };
    };
    const { best, runs: rows, seedStyleRandomSplit, choiceIntervals } = metadata.metrics.comparison;
    expect(Object.keys(rows).sort()).toEqual(['attention', 'seed']);
    const randomEvaluation = await runSerAgent(['evaluate', '--json', '--model', random, '--split', 'test', ...data], env);
    expect(seedStyleRandomSplit['random']?.allTestAccuracy).toBeCloseTo((JSON.parse(randomEvaluation.stdout) as { accuracy: number }).accuracy, 12);
    expect(result.stdout).toMatch(new RegExp(`^${best} \\(chosen\\) `, 'm'));

    // How sure the choice is: the other run against the chosen one, paired over the same
    // validation voices (RAVDESS actors 15-16), its difference the table's own.
    const other = best === 'seed' ? 'attention' : 'seed';
    const interval = choiceIntervals[other];
    // The recorded model is the seed run: it stays chosen unless attention leads it clear of zero.
    if (best === 'seed') expect(interval?.low).toBeLessThanOrEqual(0);
    else expect(interval?.high).toBeLessThan(0);
    expect(Object.keys(choiceIntervals)).toEqual([other]);
    expect(interval).toMatchObject({ versus: best, speakers: { ravdess: 2 } });
    expect(interval?.difference).toBeCloseTo((rows[other] as Row).validationSpeakersUar - (rows[best] as Row).validationSpeakersUar, 12);
    expect(interval?.low).toBeLessThanOrEqual(interval?.high as number);
    expect(result.stdout).toMatch(new RegExp(`^how sure the choice is: each run's validation UAR minus ${best}'s`, 'm'));
    expect(result.stdout).toMatch(new RegExp(`^  ${other}: [-+]\\d+\\.\\d points \\([-+]\\d+\\.\\d to [-+]\\d+\\.\\d; .*voices: ravdess 2\\)$`, 'm'));

    // The held-out speakers' numbers are the ones evaluate reports for the same split.
    const evaluation = await runSerAgent(['evaluate', '--json', '--model', runs[1] as string, '--split', 'test', ...data], env);
    expect(evaluation.code, evaluation.stderr).toBe(0);
    const speakerIndependent = (JSON.parse(evaluation.stdout) as { speakerIndependent: { uar: number; accuracy: number } })
      .speakerIndependent;
    const attention = rows['attention'] as Row;
    expect(attention.testSpeakersUar).toBeCloseTo(speakerIndependent.uar, 12);
    expect(attention.testSpeakersAccuracy).toBeCloseTo(speakerIndependent.accuracy, 12);

    const card = await readFile(path.join(work.dir, 'seed', 'README.md'), 'utf8');
    expect(card).toContain('### comparison');
    expect(card).toMatch(/\| attention \| attention-cnn-lstm \| label smoothing 0\.1 \|/);
  });

  it('reports a run with a corpus left out on that whole corpus, beside the others and never chosen', async () => {
    const runs = ['seed', 'attention'].map((name) => path.join(work.dir, name));
    const leftOut = path.join(work.dir, 'without-tess');
    const result = await runSerAgent(['compare', ...data, '--left-out', leftOut, ...runs], env);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^leave one corpus out \(the whole corpus never heard in training or validation; never chosen\):$/m);
    const row = new RegExp('^without-tess +tess +none +(\\d+) +(\\d+\\.\\d)% +(\\d+\\.\\d)% ', 'm').exec(result.stdout);
    expect(row, result.stdout).not.toBeNull();
    // Every TESS file the run was given is its test set: none trained or validated it.
    const evaluation = await runSerAgent(['evaluate', '--json', '--model', leftOut, '--split', 'test', ...data], env);
    const byCorpus = (JSON.parse(evaluation.stdout) as { byCorpus: Record<string, { count: number; uar: number }> }).byCorpus;
    expect(Number(row?.[1])).toBe(byCorpus['tess']?.count);
    expect(Number(row?.[3])).toBeCloseTo(100 * (byCorpus['tess']?.uar ?? NaN), 1);
    expect(result.stdout).not.toMatch(/^without-tess \(best\)/m);

    const asPlainRun = await runSerAgent(['compare', ...data, '--left-out', runs[0] as string, ...runs], env);
    expect(asPlainRun.code).toBe(2);
    expect(asPlainRun.stderr).toMatch(/was not trained with a corpus left out \(train --test-corpus CORPUS\)/);
  });

  it('reports a train --folds run per corpus over its folds, records it, and refuses what is not a finished one', async () => {
    const runs = ['seed', 'attention'].map((name) => path.join(work.dir, name));
    const folds = path.join(work.dir, 'folds');
    const target = path.join(work.dir, 'cv-target');
    await cp(path.join(work.dir, 'attention'), target, { recursive: true });
    const result = await runSerAgent(['compare', ...data, '--record', target, '--cross-validation', folds, ...runs], env);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^cross-validation by speaker \(train --folds K: .*never chosen\):$/m);
    const report = JSON.parse(await readFile(path.join(folds, 'cross-validation.json'), 'utf8')) as {
      results: Array<{ byCorpus: Record<string, { uar: number }> }>;
      spread: { byCorpus: Record<string, { uar: { mean: number; std: number } }>; speakerIndependentUar: { mean: number } };
    };
    const cell = '(\\d+\\.\\d)% ± (\\d+\\.\\d)% \\((\\d+\\.\\d)%-(\\d+\\.\\d)%\\)';
    const row = new RegExp(`^folds +3 +5 +none +${cell} +${cell}$`, 'm').exec(result.stdout);
    expect(row, result.stdout).not.toBeNull();
    expect(Number(row?.[1])).toBeCloseTo(100 * (report.spread.byCorpus['ravdess']?.uar.mean ?? NaN), 1);
    expect(Number(row?.[2])).toBeCloseTo(100 * (report.spread.byCorpus['ravdess']?.uar.std ?? NaN), 1);
    expect(Number(row?.[5])).toBeCloseTo(100 * report.spread.speakerIndependentUar.mean, 1);

    const metadata = JSON.parse(await readFile(path.join(target, 'metadata.json'), 'utf8')) as {
      metrics: {
        comparison: {
          crossValidation: Record<string, { folds: number; uarByCorpus: Record<string, unknown>; uarByFold: Record<string, number[]>; trainedWith: string }>;
        };
      };
    };
    const recorded = metadata.metrics.comparison.crossValidation['folds'];
    expect(recorded?.folds).toBe(3);
    expect(recorded?.uarByFold['ravdess']).toEqual(report.results.map((fold) => fold.byCorpus['ravdess']?.uar));
    expect(Object.keys(recorded?.uarByCorpus ?? {})).toEqual(['ravdess']);
    expect(recorded?.trainedWith).toMatch(/ train .*--folds 3/);
    expect(await readFile(path.join(target, 'README.md'), 'utf8')).toMatch(/^#+ crossValidation$/m);

    // A corpus whose files, not speakers, were held out in every fold (TESS's two voices, when K
    // is more than two) says nothing of new voices: it gets no column.
    const withTess = path.join(work.dir, 'folds-with-tess');
    await cp(folds, withTess, { recursive: true });
    const tessRow = { files: 4, accuracy: 1, uar: 1, macroF1: 1 };
    const tessSpread = { mean: 1, std: 0, min: 1, max: 1 };
    const edited = JSON.parse(await readFile(path.join(withTess, 'cross-validation.json'), 'utf8')) as {
      results: Array<{ byCorpus: Record<string, unknown> }>;
      spread: { byCorpus: Record<string, unknown> };
    };
    for (const fold of edited.results) fold.byCorpus['tess'] = tessRow;
    edited.spread.byCorpus['tess'] = { accuracy: tessSpread, uar: tessSpread };
    await writeFile(path.join(withTess, 'cross-validation.json'), JSON.stringify(edited));
    const tessOmitted = await runSerAgent(['compare', ...data, '--cross-validation', withTess, ...runs], env);
    expect(tessOmitted.code, tessOmitted.stderr).toBe(0);
    expect(tessOmitted.stdout).toMatch(/^run +folds +seed +options +ravdess +all held-out speakers$/m);
    expect(new RegExp(`^folds-with-tess +3 +5 +none +${cell} +${cell}$`, 'm').test(tessOmitted.stdout)).toBe(true);

    const plainRun = await runSerAgent(['compare', ...data, '--cross-validation', runs[0] as string, ...runs], env);
    expect(plainRun.code).toBe(2);
    expect(plainRun.stderr).toMatch(/cross-validation\.json cannot be read .*give a directory made by "ser-agent train --folds K --out DIR"/);
    const stopped = path.join(work.dir, 'folds-stopped');
    await cp(folds, stopped, { recursive: true });
    const stoppedReport = JSON.parse(await readFile(path.join(stopped, 'cross-validation.json'), 'utf8')) as { results: unknown[] };
    stoppedReport.results = stoppedReport.results.slice(0, 1);
    await writeFile(path.join(stopped, 'cross-validation.json'), JSON.stringify(stoppedReport));
    const early = await runSerAgent(['compare', ...data, '--cross-validation', stopped, ...runs], env);
    expect(early.code).toBe(2);
    expect(early.stderr).toMatch(/holds 1 of its 3 folds: the run stopped early; run its command again, which trains only the folds missing/);
  });

  it('adds to a recorded comparison: earlier rows stay, a run measured again replaces its row', async () => {
    const target = path.join(work.dir, 'target');
    await cp(path.join(work.dir, 'attention'), target, { recursive: true });
    const [seed, attention, random] = ['seed', 'attention', 'random'].map((name) => path.join(work.dir, name)) as [string, string, string];
    const first = await runSerAgent(['compare', ...data, '--record', target, seed, attention], env);
    expect(first.code, first.stderr).toBe(0);
    const before = await recordedComparison(target);
    // As compare recorded it before the table could grow: one `command`, not a list.
    await editMetrics(target, (metrics) => {
      const { commands, ...rest } = metrics['comparison'] as Record<string, unknown>;
      metrics['comparison'] = { ...rest, command: (commands as string[])[0] };
    });

    // The seed run is not given again: its row is kept as measured, and it still counts as
    // the second run to compare with.
    const second = await runSerAgent(['compare', ...data, '--record', target, '--random-split', random, attention], env);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain(`(seed: as recorded earlier in ${target})`);
    const after = await recordedComparison(target);
    expect(Object.keys(after.runs).sort()).toEqual(['attention', 'seed']);
    expect(after.runs['seed']).toEqual(before.runs['seed']);
    expect(after.runs['attention']?.testSpeakersUar).toBeCloseTo(before.runs['attention']?.testSpeakersUar as number, 12);
    expect(Object.keys(after.seedStyleRandomSplit ?? {})).toEqual(['random']);
    expect(after.commands).toHaveLength(2);
    expect(after.commands[0]).toBe(before.commands[0]);
    expect(after.commands[1]).toContain('--random-split');

    // A model that replaces the target starts with no comparison; --earlier carries the
    // target's rows into it.
    const replacement = path.join(work.dir, 'replacement');
    await cp(path.join(work.dir, 'seed'), replacement, { recursive: true });
    await editMetrics(replacement, (metrics) => delete metrics['comparison']);
    const carried = await runSerAgent(['compare', ...data, '--record', replacement, '--earlier', target, seed], env);
    expect(carried.code, carried.stderr).toBe(0);
    expect(carried.stdout).toContain(`(attention: as recorded earlier in ${target})`);
    const replaced = await recordedComparison(replacement);
    expect(Object.keys(replaced.runs).sort()).toEqual(['attention', 'seed']);
    expect(replaced.runs['attention']).toEqual(after.runs['attention']);
    expect(replaced.seedStyleRandomSplit).toEqual(after.seedStyleRandomSplit);
    expect(replaced.commands.slice(0, 2)).toEqual(after.commands);
    expect(replaced.commands[2]).toContain('--earlier');
    expect(replaced).not.toHaveProperty('sources');

    // A model with no comparison to carry is a mistake, named with the fix.
    const nothing = await runSerAgent(['compare', ...data, '--record', replacement, '--earlier', random, seed, attention], env);
    expect(nothing.code).toBe(2);
    expect(nothing.stderr).toMatch(/--earlier .*random: its metadata\.json records no comparison; give the model directory whose card has the rows to keep/);
  });

  it('refuses a single run directory, and a random-split run to choose from, naming what it needs', async () => {
    const one = await runSerAgent(['compare', ...data, path.join(work.dir, 'seed')], env);
    expect(one.code).toBe(2);
    expect(one.stderr).toMatch(/compare needs at least two speaker-split runs: .*got 1/);
    const random = await runSerAgent(['compare', ...data, path.join(work.dir, 'seed'), path.join(work.dir, 'random')], env);
    expect(random.code).toBe(2);
    expect(random.stderr).toMatch(/random was trained with --split random; .*give a random-split run with --random-split/);

    // A recorded comparison it cannot choose from is named, not silently replaced.
    const damaged = path.join(work.dir, 'damaged');
    await cp(path.join(work.dir, 'seed'), damaged, { recursive: true });
    await editMetrics(damaged, (metrics) => {
      metrics['comparison'] = { runs: { earlier: { testSpeakersUar: 0.5 } } };
    });
    const refused = await runSerAgent(['compare', ...data, '--record', damaged, path.join(work.dir, 'seed'), path.join(work.dir, 'attention')], env);
    expect(refused.code).toBe(78);
    expect(refused.stderr).toMatch(/damaged\/metadata\.json: metrics\.comparison run "earlier" has no numeric validationSpeakersUar; measure those runs again, or delete/);
  });
});

interface Recorded {
  commands: string[];
  runs: Record<string, Row>;
  seedStyleRandomSplit?: Record<string, unknown>;
}

async function recordedComparison(modelDir: string): Promise<Recorded> {
  const metadata = JSON.parse(await readFile(path.join(modelDir, 'metadata.json'), 'utf8')) as { metrics: { comparison: Recorded } };
  return metadata.metrics.comparison;
}

/** Changes a model directory's recorded metrics in place, as a hand edit or an older ser-agent would have left them. */
async function editMetrics(modelDir: string, edit: (metrics: Record<string, unknown>) => void): Promise<void> {
  const file = path.join(modelDir, 'metadata.json');
  const metadata = JSON.parse(await readFile(file, 'utf8')) as { metrics: Record<string, unknown> };
  edit(metadata.metrics);
  await writeFile(file, JSON.stringify(metadata));
}
