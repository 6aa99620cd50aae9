import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAudio } from '../../src/audio/load-clip.js';
import { CLIP_SAMPLES, SAMPLE_RATE } from '../../src/dsp/constants.js';
import { EMOTIONS } from '../../src/labels.js';
import { encodeWav } from '../audio/helpers/wav-writer.js';
import { countDrawn, openInChromium, textLines } from '../helpers/chromium.js';
import { REPO_ROOT, runSerAgent } from '../helpers/cli.js';
import { DATASETS_DIR } from '../helpers/golden.js';
import { loudPinkNoise, pluckedChords } from '../helpers/non-speech.js';
import { scratchDir } from '../model/seed-model-fixture.js';

/**
 * `classify` over whole recordings with the shipped model (the default `--model`) and the
 * shipped speech gate: a call made in the test of real acted clips, three angry words, then
 * loud pink noise, a sad word, a quiet room and a happy word, each in its own 3 s stretch so
 * that the default windows (3 s every 3 s) fall on them.
 */
const tess = (folder: string, word: string) => path.join(DATASETS_DIR, 'tess', folder, `OAF_${word}_${folder.slice(4).toLowerCase()}.flac`);
const SEGMENTS = [
  { kind: 'speech', file: tess('OAF_angry', 'bar'), emotion: 'anger' },
  { kind: 'speech', file: tess('OAF_angry', 'base'), emotion: 'anger' },
  { kind: 'speech', file: tess('OAF_angry', 'bath'), emotion: 'anger' },
  { kind: 'noise' }, // a fan or a television between two sentences: loud, not speech
  { kind: 'speech', file: tess('OAF_sad', 'bar'), emotion: 'sadness' },
  { kind: 'quiet' }, // the room between two sentences: below window.silenceDbfs
  { kind: 'speech', file: tess('OAF_happy', 'bar'), emotion: 'happiness' },
] as const;
const OUTCOMES = SEGMENTS.map((segment) => (segment.kind === 'speech' ? 'classified' : segment.kind === 'noise' ? 'non_speech' : 'silent'));

interface WindowLine {
  file: string;
  start: number;
  end: number;
  outcome: string;
  emotion: string | null;
  confidence: number | null;
  probabilities: Record<string, number> | null;
  speechRatio: number | null;
  levelDbfs: number | null;
}
interface FileLine {
  file: string;
  emotion: string | null;
  confidence: number | null;
  probabilities: Record<string, number> | null;
  speechRatio: number | null;
  seconds: number;
  windows: { total: number; classified: number; silent: number; nonSpeech: number };
  summary: Record<string, number> | null;
}

/** A file shorter than a window: one window, as before. */
const SHORT = tess('OAF_angry', 'beg');

let work: { dir: string; cleanup: () => Promise<void> };
let call: string;
let radio: string;
let quiet: string;
const env = (dir: string) => ({ SER_CACHE_DIR: path.join(dir, 'cache') });

function jsonLines<T>(stdout: string): T[] {
  return stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as T);
}

/** The emotion most windows gave, from the window lines alone. */
function majority(windows: readonly WindowLine[]): string | undefined {
  const votes = new Map<string, number>();
  for (const window of windows) if (window.emotion !== null) votes.set(window.emotion, (votes.get(window.emotion) ?? 0) + 1);
  const sorted = [...votes].sort((a, b) => b[1] - a[1]);
  // The test recording has a clear majority; a tie would be broken by mean probability.
  expect(sorted[0]?.[1]).toBeGreaterThan(sorted[1]?.[1] ?? 0);
  return sorted[0]?.[0];
}

beforeAll(async () => {
  work = await scratchDir();
  const samples = new Float32Array(SEGMENTS.length * CLIP_SAMPLES);
  for (const [index, segment] of SEGMENTS.entries()) {
    const stretch =
      segment.kind === 'speech'
        ? await loadAudio(segment.file) // a TESS word, 1.5-2 s, then digital silence to 3 s
        : loudPinkNoise(3, SAMPLE_RATE, segment.kind === 'noise' ? -26 : -65, index);
    samples.set(stretch.subarray(0, CLIP_SAMPLES), index * CLIP_SAMPLES);
  }
  call = path.join(work.dir, 'call.wav');
  await writeFile(call, encodeWav([samples], SAMPLE_RATE, { kind: 'pcm', bits: 16 }));
  // Seven seconds of a television between programmes and a radio playing chords: no speech at all.
  const noise = loudPinkNoise(7, SAMPLE_RATE, -24, 11);
  const chords = pluckedChords(7, SAMPLE_RATE, -20, 12);
  quiet = path.join(work.dir, 'quiet.wav');
  await writeFile(quiet, encodeWav([loudPinkNoise(2, SAMPLE_RATE, -70, 13)], SAMPLE_RATE, { kind: 'pcm', bits: 16 }));
  radio = path.join(work.dir, 'radio.wav');
  await writeFile(radio, encodeWav([noise.map((value, i) => (i < 3 * SAMPLE_RATE ? value : (chords[i] as number)))], SAMPLE_RATE, { kind: 'pcm', bits: 16 }));
});

afterAll(async () => {
  await work.cleanup();
});

describe('classify over a whole recording', () => {
  it('--timeline --json: a line per window, gated as the daemon gates, then the file\'s summary', async () => {
    const result = await runSerAgent(['classify', '--timeline', '--json', call], env(work.dir));
    expect(result.code, result.stderr).toBe(0);
    const lines = jsonLines<WindowLine & FileLine>(result.stdout);
    const windows = lines.slice(0, -1) as WindowLine[];
    const file = lines.at(-1) as FileLine;

    expect(windows.map((window) => [window.start, window.end])).toEqual(SEGMENTS.map((_, index) => [3 * index, 3 * index + 3]));
    expect(windows.map((window) => window.outcome)).toEqual(OUTCOMES);
    for (const [index, window] of windows.entries()) {
      const segment = SEGMENTS[index];
      expect(window.file).toBe(call);
      if (segment?.kind === 'speech') {
        // The timeline follows the recording: each word's window says that word's emotion.
        expect(window.emotion, `${window.start}-${window.end} s`).toBe(segment.emotion);
        expect(window.confidence).toBe(Math.max(...Object.values(window.probabilities ?? {})));
        expect(Object.keys(window.probabilities ?? {})).toEqual([...EMOTIONS]);
        expect(window.speechRatio).toBeGreaterThanOrEqual(0.3);
      } else {
        expect(window).toMatchObject({ emotion: null, confidence: null, probabilities: null });
      }
    }
    // The noise was loud enough for the level gate and was turned away by the speech gate; the
    // quiet room never reached it.
    const [noise, quiet] = [windows[3], windows[5]];
    expect(noise?.levelDbfs).toBeGreaterThan(-50);
    expect(noise?.speechRatio).toBeLessThan(0.3);
    expect(quiet?.levelDbfs).toBeLessThan(-50);
    expect(quiet?.speechRatio).toBeNull();

    expect(file.file).toBe(call);
    expect(file.seconds).toBe(21);
    expect(file.windows).toEqual({ total: 7, classified: 5, silent: 1, nonSpeech: 1 });
    const shares = file.summary ?? {};
    expect(Object.keys(shares)).toEqual([...EMOTIONS]);
    expect(Object.values(shares).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(shares).toMatchObject({ anger: 3 / 5, sadness: 1 / 5, happiness: 1 / 5 });
    expect(file.emotion).toBe(majority(windows));
    expect(file.emotion).toBe('anger');
    const classified = windows.filter((window) => window.probabilities !== null);
    for (const emotion of EMOTIONS) {
      const mean = classified.reduce((sum, window) => sum + (window.probabilities?.[emotion] ?? 0), 0) / classified.length;
      expect(file.probabilities?.[emotion]).toBeCloseTo(mean, 12);
    }
  });

  it('follows window.hopSeconds, overlapping windows and hearing the end of the recording', async () => {
    const result = await runSerAgent(['classify', '--timeline', '--json', call], { ...env(work.dir), SER_WINDOW_HOP_SECONDS: '2.5' });
    expect(result.code, result.stderr).toBe(0);
    const lines = jsonLines<WindowLine & FileLine>(result.stdout);
    const windows = lines.slice(0, -1);
    // 3 s every 2.5 s up to 17.5-20.5, then one more ending where the recording does.
    expect(windows.map((window) => [window.start, window.end])).toEqual([
      ...Array.from({ length: 8 }, (_, k) => [2.5 * k, 2.5 * k + 3]),
      [18, 21],
    ]);
    expect(windows.at(-1)).toMatchObject({ outcome: 'classified', emotion: 'happiness' });
    expect(lines.at(-1)?.windows.total).toBe(9);
  });

  it('without --timeline answers over the whole file and says how many windows it covers', async () => {
    const json = await runSerAgent(['classify', '--json', call, radio, SHORT, quiet], env(work.dir));
    expect(json.code, json.stderr).toBe(0);
    const [answer, noSpeech, short, silent] = jsonLines<FileLine>(json.stdout);
    // A file of one window is answered as classify always answered it, from its one window.
    expect(Object.keys(short ?? {})).toEqual(['file', 'emotion', 'confidence', 'probabilities', 'speechRatio']);
    expect(short).toMatchObject({ file: SHORT, emotion: 'anger' });
    expect(silent).toEqual({ file: quiet, emotion: null, speechRatio: null, silent: true });
    expect(answer).toMatchObject({ file: call, emotion: 'anger', windows: { total: 7, classified: 5, silent: 1, nonSpeech: 1 } });
    expect(answer?.confidence).toBe(answer?.probabilities?.['anger']);
    expect(answer?.summary).toMatchObject({ anger: 3 / 5 });
    expect(noSpeech).toMatchObject({ file: radio, emotion: null, summary: null, probabilities: null, windows: { total: 3, classified: 0 } });

    const table = await runSerAgent(['classify', call, radio], env(work.dir));
    expect(table.code, table.stderr).toBe(0);
    const [header, callRow, radioRow] = table.stdout.trim().split('\n');
    expect(header).toMatch(/^file\s+emotion\s+confidence\s+speech\s+windows$/);
    expect(callRow).toMatch(/call\.wav\s+anger\s+0\.\d\d\s+0\.\d\d\s+5 of 7 classified$/);
    expect(radioRow).toMatch(/radio\.wav\s+no speech\s+-\s+0\.\d\d\s+0 of 3 classified$/);
  });

  it('--timeline at a terminal: a row per window and the file\'s answer, or that it has no speech', async () => {
    const result = await runSerAgent(['classify', '--timeline', call, radio], env(work.dir));
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.split('\n');
    expect(lines[0]).toBe(`${call}: 0:21.00, 7 windows (3 s every 3 s)`);
    expect(lines[1]).toMatch(/^ {2}start\s+end\s+emotion\s+confidence\s+speech$/);
    expect(lines[2]).toMatch(/^ {2}0:00\.00\s+0:03\.00\s+anger\s+0\.\d\d\s+0\.\d\d$/);
    expect(lines[5]).toMatch(/^ {2}0:09\.00\s+0:12\.00\s+no speech\s+-\s+0\.\d\d$/);
    expect(lines[7]).toMatch(/^ {2}0:15\.00\s+0:18\.00\s+silent\s+-\s+-$/);
    expect(lines[9]).toBe(`${call}: anger (anger 60%, happiness 20%, sadness 20%); 5 of 7 windows classified (1 silent, 1 no speech)`);
    expect(result.stdout).toContain(`${radio}: no speech; 0 of 3 windows classified (3 no speech)\n`);
  });

  it('--report draws the timeline on a self-contained page that renders in Chromium', async () => {
    const reportDir = path.join(work.dir, 'report');
    const result = await runSerAgent(['classify', '--timeline', '--report', reportDir, call, radio], env(work.dir));
    expect(result.code, result.stderr).toBe(0);
    const page = path.join(reportDir, 'index.html');
    expect(result.stderr).toContain(`report written to ${page}`);

    const opened = await openInChromium(page);
    try {
      const drawn = (selector: string) => countDrawn(opened.page, selector);
      // The call: a strip cell per window, the three stretches the speech gate passed shaded
      // (0-9, 12-15, 18-21 s).
      expect(await drawn('#recording-1 g.strip_marks > path')).toBe(7);
      expect(await drawn('#recording-1 g.speech_marks > path')).toBe(3);
      // A line per emotion and run of classified windows, and a point per emotion and window.
      expect(await drawn('#recording-1 g.probabilities_marks > path')).toBe(3 * EMOTIONS.length);
      expect(await drawn('#recording-1 g.mark-symbol.role-mark > path')).toBe(5 * EMOTIONS.length);
      expect(await textLines(opened.page, '#recording-1 .answer')).toEqual(['anger: anger 60%, happiness 20%, sadness 20% of the classified windows.']);
      // The radio: its windows in the strip, no speech shaded, no lines, and it says so.
      expect(await drawn('#recording-2 g.strip_marks > path')).toBe(3);
      expect(await drawn('#recording-2 g.speech_marks > path')).toBe(0);
      expect(await textLines(opened.page, '#recording-2 .answer')).toEqual(['No speech: 0 of 3 windows classified (3 no speech).']);
      expect(await opened.page.locator('#recording-1 table.windows tbody tr').count()).toBe(7);
      expect(opened.errors).toEqual([]);
      expect(opened.requests).toHaveLength(1);
    } finally {
      await opened.close();
    }
  });

  it('stops between two windows on SIGINT, saying where, and skips the files after it', async () => {
    // Ten minutes of a fan, heard every half second: long enough to be stopped in the middle.
    const long = path.join(work.dir, 'fan.wav');
    await writeFile(long, encodeWav([loudPinkNoise(600, SAMPLE_RATE, -30, 14)], SAMPLE_RATE, { kind: 'pcm', bits: 16 }));
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin', 'ser-agent.js'), 'classify', '--timeline', '--json', long, call], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env(work.dir), SER_WINDOW_HOP_SECONDS: '0.5' },
    });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.split('\n').length > 20 && child.exitCode === null && !child.killed) child.kill('SIGINT');
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code, stderr).toBe(1);
    expect(stderr).toMatch(new RegExp(`stopped at \\d+:\\d\\d\\.\\d\\d of 10:00\\.00 in ${long.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    const lines = jsonLines<WindowLine>(stdout);
    expect(lines.length).toBeLessThan(1000);
    expect(lines.every((line) => line.file === long && line.outcome === 'non_speech')).toBe(true);
  });
});
