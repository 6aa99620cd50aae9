import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATASETS_DIR } from '../helpers/golden.js';
import { messageLines, runSerAgent } from '../helpers/cli.js';
import { scratchDir } from '../model/seed-model-fixture.js';

/** `train` with the issue-4 options, through the real executable, on a few files for one epoch. */
let work: { dir: string; cleanup: () => Promise<void> };
const ravdess = path.join(DATASETS_DIR, 'ravdess');
const tess = path.join(DATASETS_DIR, 'tess');

beforeAll(async () => {
  work = await scratchDir();
});

/** What training records of its calibration on the test split. */
interface CalibratedMetadata {
  metrics: { calibration: { test: { eceAfter: number } } };
}

/** One feature cache for every run here. */
const cache = () => ({ SER_CACHE_DIR: path.join(work.dir, 'cache') });

afterAll(async () => {
  await work.cleanup();
});

describe('train with architecture, augmentation, class weights and label smoothing', () => {
  it('trains the attention model on augmented data and records every option in metadata and card', async () => {
    const out = path.join(work.dir, 'attention');
    const args = [
      'train', '--data', ravdess, '--data', tess, '--split', 'speaker', '--limit-per-class', '3', '--epochs', '1',
      '--seed', '42', '--architecture', 'attention', '--augment', 'noise,shift', '--augment-copies', '1',
      '--noise-snr', '15:25', '--class-weights', 'balanced', '--label-smoothing', '0.1', '--out', out,
    ];
    const result = await runSerAgent(args, { SER_CACHE_DIR: path.join(work.dir, 'cache') });
    expect(result.code, result.stderr).toBe(0);
    expect(messageLines(result.stderr)).toContainEqual(expect.stringMatching(/^augmented copy 1 of the \d+ training files ready$/));
    expect(messageLines(result.stderr).filter((line) => /^epoch \d+:/.test(line))).toHaveLength(1);

    const metadata = JSON.parse(await readFile(path.join(out, 'metadata.json'), 'utf8')) as {
      architecture: string;
      training: { augmentation: Record<string, unknown>; classWeights: Record<string, number>; labelSmoothing: number };
    };
    expect(metadata.architecture).toBe('attention-cnn-lstm');
    expect(metadata.training.augmentation).toMatchObject({ kinds: ['shift', 'noise'], seed: 42, copies: 1, noise: { snrDb: [15, 25] } });
    expect(Object.keys(metadata.training.classWeights)).toHaveLength(7);
    expect(metadata.training.labelSmoothing).toBe(0.1);
    const card = await readFile(path.join(out, 'README.md'), 'utf8');
    expect(card).toContain('attention-cnn-lstm');
    expect(card).toMatch(/\| augmentation \|.*"kinds":\["shift","noise"\]/);
    expect(card).toMatch(/\| labelSmoothing \| 0\.1000 \|/);
  });

  /** Trains one epoch on two RAVDESS files per class with `options`, and returns its directory and metadata. */
  async function trainSmall<Metadata>(name: string, options: string[]): Promise<{ out: string; metadata: Metadata & CalibratedMetadata }> {
    const out = path.join(work.dir, name);
    const args = ['train', '--data', ravdess, '--limit-per-class', '2', '--epochs', '1', '--seed', '3', ...options, '--out', out];
    const trained = await runSerAgent(args, cache());
    expect(trained.code, trained.stderr).toBe(0);
    return { out, metadata: JSON.parse(await readFile(path.join(out, 'metadata.json'), 'utf8')) as Metadata & CalibratedMetadata };
  }

  /**
   * `evaluate` on the test split gives the calibrated error training recorded: the same
   * held-out files scored on what the model was trained on (clip window, front-end).
   */
  async function expectEvaluateAsTrained(out: string, metadata: CalibratedMetadata): Promise<void> {
    const evaluated = await runSerAgent(['evaluate', '--model', out, '--data', ravdess, '--split', 'test', '--json'], cache());
    expect(evaluated.code, evaluated.stderr).toBe(0);
    const report = JSON.parse(evaluated.stdout) as { ece: number };
    expect(report.ece).toBeCloseTo(metadata.metrics.calibration.test.eceAfter, 12);
  }

  it('trains on the loudest 3 s of each file when asked, and evaluates the model on what it was trained on', async () => {
    const { out, metadata } = await trainSmall<{ clipWindow: string }>('loudest', ['--clip-window', 'loudest']);
    expect(metadata.clipWindow).toBe('loudest');
    expect(await readFile(path.join(out, 'README.md'), 'utf8')).toMatch(/\| Clip window \| loudest: /);
    // Features of the first 3 s would score differently.
    await expectEvaluateAsTrained(out, metadata);
  });

  it('trains with the speaker front-end: each voice normalised by its own statistics, in training and in evaluate', async () => {
    const { out, metadata } = await trainSmall<{ frontEnd: string; bandStatistics: { mean: number[]; std: number[] } }>('speaker', [
      '--front-end',
      'speaker',
    ]);
    expect(metadata.frontEnd).toBe('speaker');
    expect(metadata.bandStatistics.mean).toHaveLength(168);
    expect(metadata.bandStatistics.std.every((std) => std > 0)).toBe(true);
    expect(await readFile(path.join(out, 'README.md'), 'utf8')).toMatch(/\| Front-end \| speaker: /);
    // evaluate hears each held-out actor with that actor's statistics, as train's own test did.
    await expectEvaluateAsTrained(out, metadata);

    // As a device would hear them: learnt clip by clip, or never adapted; each says so.
    for (const voices of ['running', 'training']) {
      const heard = await runSerAgent(['evaluate', '--model', out, '--data', ravdess, '--split', 'test', '--voices', voices, '--json'], cache());
      expect(heard.code, heard.stderr).toBe(0);
      expect(JSON.parse(heard.stdout)).toMatchObject({ voices: { statistics: voices, seed: 1 } });
    }
    const notSpeaker = await runSerAgent(['evaluate', '--model', path.join(work.dir, 'loudest'), '--data', ravdess, '--voices', 'running'], cache());
    expect(notSpeaker.code).toBe(2);
    expect(notSpeaker.stderr).toMatch(/--voices running chooses the voice statistics of a model with the speaker front-end; .* has the seed front-end: drop --voices/);

    const file = path.join(ravdess, 'Actor_01', '03-01-05-01-01-01-01.flac');
    const classified = await runSerAgent(['classify', '--model', out, '--json', file], cache());
    expect(classified.code, classified.stderr).toBe(0);
    expect(JSON.parse(classified.stdout)).toMatchObject({ file, windows: { total: 2, classified: 2 } });
  });

  it('rejects bad option values with a usage error naming the flag', async () => {
    const foldsDir = path.join(work.dir, 'cross-validation');
    await mkdir(foldsDir, { recursive: true });
    await writeFile(path.join(foldsDir, 'cross-validation.json'), '{}');
    const base = ['train', '--data', ravdess, '--out', path.join(work.dir, 'x')];
    const cases: Array<[string[], RegExp]> = [
      [['--architecture', 'transformer'], /--architecture must be one of seed, attention; got "transformer"/],
      [['--augment', 'echo'], /--augment takes a comma-separated list of .*; got "echo"/],
      [['--noise-snr', '5:1', '--augment', 'noise'], /--noise-snr takes LOW:HIGH/],
      [['--label-smoothing', '1'], /--label-smoothing must be a number from 0 up to \(not including\) 1/],
      [['--class-weights', 'inverse'], /--class-weights must be one of none, balanced; got "inverse"/],
      [['--background-dir', work.dir], /--background-dir needs --augment/],
      [['--clip-window', 'middle'], /--clip-window must be one of start, loudest; got "middle"/],
      [['--teacher-weight', '0.5'], /--teacher-weight weighs the teachers' targets; name them with --teacher DIR/],
      [['--teacher', work.dir, '--teacher-weight', '1.5'], /--teacher-weight must be a number above 0 and up to 1, such as 0.5; got "1.5"/],
      [['--teacher', ravdess], new RegExp(`--teacher ${ravdess} holds no model \\(no metadata.json\\)`)],
      [['--teacher', foldsDir], new RegExp(`--teacher ${foldsDir} is a cross-validation directory; use it with --folds, or name one model`)],
    ];
    for (const [flags, message] of cases) {
      const result = await runSerAgent([...base, ...flags]);
      expect(result.code, flags.join(' ')).toBe(2);
      expect(result.stderr).toMatch(message);
    }
  });
});
