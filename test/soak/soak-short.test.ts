import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runSoak, SOAK_LIMITS, soakSpeech } from '../../bench/soak-run.js';
import { DATASETS_DIR } from '../helpers/golden.js';

/**
 * The CI-sized soak: 3 hours of speech (3,600 windows of 3 s) through the real `ser-agent run`
 * with the real arecord and a real broker, faster than real time. The same invariants as
 * `npm run soak` (24 hours, README "Long runs"), on a run short enough for every CI build:
 * once on the backend the daemon picks by default, and once on tfjs (wasm), whose live
 * tensor count is what shows a leak in inference.
 *
 * Why not fewer: on a loaded machine the wasm daemon's RSS can climb for hundreds of windows
 * until a full collection brings it down (one run: 145 → 241 MB over 450 windows, back to
 * 208, then up again): garbage that outlived young-generation collections, most likely
 * tfjs's objects for the LSTM's per-step ops, which onnxruntime does not make. With 900
 * windows a quarter of the run is shorter than one such climb, and a climb across the whole
 * run reads as growth in every quarter. With 3,600 windows each quarter spans whole climbs,
 * and its median is the level they go round.
 */
const WINDOWS = 3600;

describe('soak, short', () => {
  it.each([
    { name: 'the default backend', backend: undefined },
    { name: 'wasm', backend: 'wasm' },
  ])('classifies and delivers every window with flat memory, tensors and file descriptors on $name', async ({ backend }) => {
    const result = await runSoak({
      speechFiles: soakSpeech(path.join(DATASETS_DIR, 'tess')),
      windows: WINDOWS,
      ...(backend === undefined ? {} : { backend }),
      warmupWindows: WINDOWS / 10,
    });
    // The numbers to read when an expectation fails, with the RSS series in whole MB (its shape
    // tells a swell from a leak) instead of every sample.
    const rssMb = result.samples.map((entry) => Math.round(entry.rssBytes / 1024 / 1024));
    const context = JSON.stringify({ ...result, samples: result.samples.length, rssMb });
    if (backend !== undefined) expect(result.backend, context).toBe(backend);
    expect(result.eventsReceived, context).toBe(WINDOWS);
    expect(result.health.windows, context).toEqual({ processed: WINDOWS, skippedSilence: 0, skippedNonSpeech: 0, failed: 0, dropped: 0 });
    expect(result.health.events, context).toMatchObject({ published: WINDOWS, queued: 0, dropped: 0 });
    expect(result.rss.growthPercent, context).toBeLessThanOrEqual(SOAK_LIMITS.rssGrowthPercent);
    expect(result.tensorCounts, context).toHaveLength(1);
    if (backend === 'wasm') expect(result.tensorCounts[0], context).toBeGreaterThan(0);
    // A leak lifts the last quarter's lowest count above the first quarter's highest.
    expect(result.fds.lateFloor, context).toBeLessThanOrEqual(result.fds.earlyPeak);
    expect(result.problems, context).toEqual([]);
    expect(result.daemonExitCode, context).toBe(0);
    expect(result.violations, context).toEqual([]);
  });
});
