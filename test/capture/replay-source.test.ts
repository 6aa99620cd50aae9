import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAudio } from '../../src/audio/load-clip.js';
import { ReplaySource } from '../../src/capture/replay-source.js';
import { CaptureSink } from '../helpers/alsa.js';
import { captureLogs } from '../helpers/logs.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { goldenWavPath } from '../helpers/golden.js';
import { audioSourceContract } from './audio-source-contract.js';

const SPEECH_22K = goldenWavPath('speech_e_22k');
const SPEECH_16K = goldenWavPath('speech_a_16k');
let dir: string;
let notAudio: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ser-replay-'));
  notAudio = path.join(dir, 'notes.wav');
  await writeFile(notAudio, 'this is not audio\n');
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function concat(sink: CaptureSink): number[] {
  return sink.runs.flatMap((run) => Array.from(run.samples.subarray(0, run.length)));
}

function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

audioSourceContract('ReplaySource', async () => ({
  source: new ReplaySource({ logger: captureLogs().logger, files: [SPEECH_22K], realtime: false }),
  expected: await loadAudio(SPEECH_22K, { durationSeconds: Infinity }),
}));

describe('ReplaySource', () => {
  it('replays files at any rate, skipping one that fails, then ends', async () => {
    const [speech22, speech16] = await Promise.all([
      loadAudio(SPEECH_22K, { durationSeconds: Infinity }),
      loadAudio(SPEECH_16K, { durationSeconds: Infinity }),
    ]);
    const { logger, lines } = captureLogs();
    const source = new ReplaySource({ logger, files: [SPEECH_22K, notAudio, SPEECH_16K], realtime: false });
    expect(source.description).toBe(`replay of ${SPEECH_22K}, ${notAudio}, ${SPEECH_16K}`);
    const sink = new CaptureSink(speech22.length + speech16.length);
    await source.start(sink);
    await sink.until(() => sink.ended, 'the end of the replay');

    expect(sink.states.map((entry) => entry.state)).toEqual(['starting', 'running', 'degraded', 'running']);
    expect(sink.degradedReasons()).toHaveLength(1);
    expect(sink.degradedReasons()[0]).toMatch(new RegExp(`^${notAudio}: .+; skipped$`));
    // Samples go out in order, each file resampled to 22,050 Hz.
    expect(concat(sink).slice(0, speech22.length)).toEqual(Array.from(speech22));
    expect(sink.runs[1]?.length).toBe(speech16.length);
    expect(Array.from(sink.runs[1]?.samples.subarray(0, speech16.length) ?? [])).toEqual(Array.from(speech16));
    expect(lines.find((line) => line['msg'] === 'replay file skipped')).toMatchObject({ module: 'replay', file: notAudio });
    await source.stop();
    expect(sink.states.at(-1)?.state).toBe('stopped');
  });

  it('paces chunks in real time from the file start, catching up after a late timer', async () => {
    const speech = await loadAudio(SPEECH_22K, { durationSeconds: Infinity });
    const clock = new ManualClock(1000);
    const source = new ReplaySource({ logger: captureLogs().logger, files: [SPEECH_22K], chunkSeconds: 0.1, clock });
    const sink = new CaptureSink(speech.length);
    await source.start(sink);
    while (clock.requested.length === 0) await settle(); // decoding the file
    const chunks: number[] = [];
    let fired = 0;
    while (clock.active > 0) {
      clock.fireNext(fired === 2 ? 30 : 0);
      fired += 1;
      await settle();
      chunks.push(sink.runs[0]?.length ?? 0);
    }
    // 2,205 samples (100 ms) a chunk; the file has 3 s, so 30 chunks, each due 100 ms after
    // the previous one except the one after the timer that fired 30 ms late.
    expect(chunks).toEqual(Array.from({ length: Math.ceil(speech.length / 2205) }, (_, i) => Math.min(speech.length, (i + 1) * 2205)));
    expect(clock.requested.slice(0, 5).map(Math.round)).toEqual([100, 100, 100, 70, 100]);
    expect(Array.from(sink.runs[0]?.samples ?? [])).toEqual(Array.from(speech));
    expect(sink.ended).toBe(true);
    await source.stop();
  });

  it('stops in the middle of a paced replay without ending it', async () => {
    const source = new ReplaySource({ logger: captureLogs().logger, files: [SPEECH_22K] });
    const sink = new CaptureSink(22_050 * 3);
    await source.start(sink);
    await sink.until(() => (sink.runs[0]?.length ?? 0) > 0, 'the first chunk');
    await Promise.all([source.stop(), source.stop()]);
    const delivered = sink.runs[0]?.length ?? 0;
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(sink.runs[0]?.length).toBe(delivered);
    expect(sink.ended).toBe(false);
    expect(sink.states.map((entry) => entry.state)).toEqual(['starting', 'running', 'stopped']);
  });
});
