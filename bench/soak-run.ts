import { readdirSync, readFileSync } from 'node:fs';
import { constants } from 'node:fs';
import { mkdtemp, open, rm, type FileHandle } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { loadAudio } from '../src/audio/load-clip.js';
import { CLIP_SAMPLES, SAMPLE_RATE } from '../src/dsp/constants.js';
import type { HealthReport } from '../src/mqtt/payloads.js';
import { levelDbfs } from '../src/pipeline/level.js';
import { DEFAULT_SILENCE_DBFS } from '../src/pipeline/silence.js';
import { startAgentProcess, writeAgentConfig, type AgentProcess } from '../test/helpers/agent-process.js';
import { createAlsaFifoCapture, encodeS16le, FED_AHEAD_PERIOD_SECONDS, writeAtomicPeriods } from '../test/helpers/alsa.js';
import { startTestBroker, type TestBroker } from '../test/helpers/broker.js';
import { summarize } from './stats.js';

/** 24 hours of 3 s windows: the full soak. */
export const FULL_SOAK_WINDOWS = 28_800;

/** The limits a soak must stay within; README "Long runs". */
export const SOAK_LIMITS = {
  /**
   * How much RSS may keep growing after warm-up. The run after warm-up is cut in quarters and
   * each is summed up by its median (V8's heap rises and falls by tens of MB between
   * collections, which moves a peak but not a median). A leak lifts every quarter above the
   * one before; a one-off step does not (the heap or an allocator taking a bigger block: one
   * CI run on onnxruntime went 179 → 205 MB once and stayed there). So the growth counted is
   * the smallest rise from one quarter to the next, times the three rises: a steady leak is
   * counted in full, a single step not at all.
   */
  rssGrowthPercent: 10,
} as const;

export interface SoakOptions {
  /** Speech recordings looped as the microphone's sound; every 3 s of the loop must be speech. */
  speechFiles: readonly string[];
  /** 3 s windows to push through the daemon. */
  windows: number;
  /** `model.backend` for the daemon; without it, the daemon's default (auto). */
  backend?: string;
  /** Windows at the start left out of the RSS and fd baselines (model load, JIT, heap growth). */
  warmupWindows: number;
  /** Called after every sample (about 100 per run), for progress output. */
  onSample?: (sample: SoakSample) => void;
}

/** One look at the daemon process. */
export interface SoakSample {
  /** Windows whose events the subscriber had received. */
  windows: number;
  elapsedSeconds: number;
  rssBytes: number;
  openFds: number;
  /** From the latest health report; null before the first one. */
  tensors: number | null;
}

export interface SoakResult {
  windows: number;
  /** The inference backend the daemon said it uses, from its log. */
  backend: string | null;
  /** Distinct event ids the subscriber received. */
  eventsReceived: number;
  seconds: number;
  /** Audio seconds pushed per wall-clock second. */
  realtimeFactor: number;
  /** `quarterMediansMb`: the median RSS of each quarter after warm-up; `growthPercent` as SOAK_LIMITS says. */
  rss: { quarterMediansMb: number[]; peakMb: number; endMb: number; growthPercent: number };
  /** `earlyPeak` and `lateFloor`: the most open descriptors in the first quarter after warm-up and the fewest in the last. */
  fds: { warmup: number; peak: number; end: number; earlyPeak: number; lateFloor: number };
  /**
   * Distinct TensorFlow.js tensor counts across every health report: one value when nothing
   * leaks. Always 0 when onnxruntime runs the model: RSS is then the leak check.
   */
  tensorCounts: number[];
  /** The daemon's last health report, published after the last event. */
  health: HealthReport;
  /** Log lines at warn level or above (at most 20 kept). */
  problems: string[];
  daemonExitCode: number | null;
  samples: SoakSample[];
  /** Every broken invariant, in words; empty when the soak passed. */
  violations: string[];
}

const DEVICE_ID = 'soak';
const WINDOW_BYTES = CLIP_SAMPLES * 2;
/** The soak writes windows ahead of their events, so the agent captures in atomic periods (see FED_AHEAD_PERIOD_SECONDS). */
const PERIOD_BYTES = Math.round(FED_AHEAD_PERIOD_SECONDS * SAMPLE_RATE) * 2;
/**
 * Windows written ahead of the events received: a window is written only once at most three
 * earlier ones lack their event, so at most four ever wait for inference, which is what
 * window.queueLimit (4 by default) holds without dropping one; inference still overlaps with
 * delivery.
 */
const MAX_WINDOWS_AHEAD = 3;
/** No event for this long while windows are waiting: the daemon has stopped processing. */
const PROGRESS_TIMEOUT_MS = 60_000;
/** Silence-gate margin: the loop must be clearly speech, not just above the threshold. */
const SPEECH_MARGIN_DB = 10;

/**
 * Runs the real daemon (`ser-agent run`) on a real Aedes broker with the real arecord
 * capturing, through an ALSA file plugin whose infile is a FIFO, speech fed as fast as the
 * daemon classifies it; a subscriber counts the events. Samples the daemon's RSS and open
 * file descriptors from /proc and its live tensors from its health reports.
 */
export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  if (!(Number.isSafeInteger(options.windows) && options.windows > options.warmupWindows && options.warmupWindows >= 1)) {
    throw new RangeError(
      `soak: ${options.windows} windows with ${options.warmupWindows} of warm-up; give more windows than warm-up windows, and at least 1 of warm-up`,
    );
  }
  const loop = await speechLoop(options.speechFiles);
  const work = await mkdtemp(path.join(os.tmpdir(), 'ser-soak-'));
  let broker: TestBroker | undefined;
  let subscriber: MqttClient | undefined;
  let daemon: AgentProcess | undefined;
  let fifo: FileHandle | undefined;
  let opening: Promise<FileHandle> | undefined;
  try {
    const microphone = await createAlsaFifoCapture(work);
    broker = await startTestBroker();
    const events = new Set<string>();
    const healthReports: HealthReport[] = [];
    let progressed = (): void => undefined;
    /** Resolves once `condition` holds after a message; rejects when messages stop coming. */
    const waitUntil = (condition: () => boolean, what: string): Promise<void> =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          progressed = () => undefined;
          reject(new Error(`no progress for ${PROGRESS_TIMEOUT_MS / 1000} s waiting for ${what} (${events.size} events so far)`));
        }, PROGRESS_TIMEOUT_MS);
        progressed = () => {
          if (!condition()) return;
          clearTimeout(timer);
          progressed = () => undefined;
          resolve();
        };
        progressed();
      });
    subscriber = await mqtt.connectAsync(broker.url, { clientId: 'soak-subscriber' });
    subscriber.on('message', (topic, payload) => {
      if (topic.endsWith('/event')) events.add((JSON.parse(payload.toString()) as { id: string }).id);
      else healthReports.push(JSON.parse(payload.toString()) as HealthReport);
      progressed();
    });
    await subscriber.subscribeAsync([`ser/${DEVICE_ID}/event`, `ser/${DEVICE_ID}/health`], { qos: 1 });

    const config = await writeAgentConfig(work, {
      deviceId: DEVICE_ID,
      mqtt: { url: broker.url, healthSeconds: 1 },
      audio: { device: microphone.device, periodSeconds: FED_AHEAD_PERIOD_SECONDS },
      gpio: { driver: 'simulated' },
      // Every window must give an event: the flow control above counts events, not windows.
      // The speech gate turns away a few windows of the TESS loop (speech ratios 0.15-0.29
      // where one word ends and the next file starts late), which would stall it.
      window: { minSpeechRatio: 0 },
      log: { level: 'info' },
      ...(options.backend === undefined ? {} : { model: { backend: options.backend } }),
    });
    // Its own state directory: an event queue left by another run must not be replayed into this one.
    const agent = startAgentProcess(['run', '--config', config], {
      ...microphone.env,
      SER_CACHE_DIR: path.join(work, 'cache'),
      SER_STATE_DIRECTORY: path.join(work, 'state'),
    });
    daemon = agent;
    const stderr = (): string => agent.stderr.join('\n').slice(-2000);
    const pid = agent.process.pid ?? -1;

    // Opening a FIFO for writing waits for its reader: arecord, once the daemon has loaded the model.
    opening = open(microphone.fifo, 'w');
    fifo = await Promise.race([
      opening,
      agent.exit.then(({ code }) => Promise.reject(new Error(`the daemon exited with code ${String(code)} before capturing: ${stderr()}`))),
    ]);

    const started = performance.now();
    const samples: SoakSample[] = [];
    const sampleEvery = Math.max(1, Math.floor(options.windows / 100));
    const waitForEvents = (count: number): Promise<void> => waitUntil(() => events.size >= count, `event ${count}`);
    const sample = (): void => {
      const taken: SoakSample = {
        windows: events.size,
        elapsedSeconds: Math.round((performance.now() - started) / 100) / 10,
        rssBytes: residentBytes(pid),
        openFds: openFds(pid),
        tensors: healthReports.at(-1)?.process.tensors ?? null,
      };
      samples.push(taken);
      options.onSample?.(taken);
    };

    try {
      for (let window = 0; window < options.windows; window++) {
        await waitForEvents(window - MAX_WINDOWS_AHEAD);
        await writeWindow(fifo, loop, window);
        if (window % sampleEvery === 0) sample();
      }
      await waitForEvents(options.windows);
    } catch (error) {
      // EPIPE: the recorder closed the FIFO. Say what the daemon said about it.
      throw new Error(`soak stopped after ${events.size} events: ${String(error)}; daemon problems: ${problems(agent).join(' | ')}; stderr: ${stderr()}`, {
        cause: error,
      });
    }
    const seconds = (performance.now() - started) / 1000;
    sample();
    // The final counters: a report made once the daemon has its last PUBACKs too (the
    // subscriber can have an event before the daemon counts it acknowledged).
    await waitUntil(() => {
      const last = healthReports.at(-1);
      return last !== undefined && last.events.queued === 0 && last.events.published >= options.windows;
    }, 'a health report with every event acknowledged');
    const health = healthReports.at(-1) as HealthReport;
    const eventsReceived = events.size;

    // End of input first: arecord blocked reading the FIFO would not see the daemon's SIGINT.
    await fifo.close();
    fifo = undefined;
    opening = undefined;
    const daemonExitCode = (await agent.stop()).code;
    daemon = undefined;

    const result: Omit<SoakResult, 'violations'> = {
      windows: options.windows,
      backend: backendOf(agent),
      eventsReceived,
      seconds: Math.round(seconds * 10) / 10,
      realtimeFactor: Math.round(((options.windows * CLIP_SAMPLES) / SAMPLE_RATE / seconds) * 10) / 10,
      ...resourceTrends(samples, options.warmupWindows),
      tensorCounts: [...new Set(healthReports.map((report) => report.process.tensors))],
      health,
      problems: problems(agent),
      daemonExitCode,
      samples,
    };
    return { ...result, violations: soakViolations(result) };
  } finally {
    daemon?.process.kill('SIGKILL');
    if (fifo === undefined && opening !== undefined) {
      // The daemon never opened the FIFO: a reader of our own lets the pending open finish.
      const reader = await open(path.join(work, 'microphone.fifo'), constants.O_RDONLY | constants.O_NONBLOCK);
      fifo = await opening.catch(() => undefined);
      await reader.close();
    }
    await fifo?.close();
    await subscriber?.endAsync();
    await broker?.close();
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * RSS and open descriptors after warm-up, quarter by quarter (RSS as SOAK_LIMITS says; for
 * descriptors the first quarter's most against the last quarter's fewest). The samples are
 * in the order taken; the first to count `warmupWindows` events starts the baseline (the last
 * sample counts every window, so a run longer than its warm-up always has one).
 */
export function resourceTrends(samples: readonly SoakSample[], warmupWindows: number): Pick<SoakResult, 'rss' | 'fds'> {
  const end = samples.at(-1);
  if (end === undefined) throw new RangeError('resourceTrends needs at least one sample');
  const base = samples.find((entry) => entry.windows >= warmupWindows) ?? end;
  const afterWarmup = samples.filter((entry) => entry.windows >= base.windows);
  const quarter = Math.max(1, Math.floor(afterWarmup.length / 4));
  const quarters = [0, 1, 2]
    .map((index) => afterWarmup.slice(index * quarter, (index + 1) * quarter))
    .concat([afterWarmup.slice(-quarter)])
    .filter((entries) => entries.length > 0);
  const medians = quarters.map((entries) => summarize(entries.map((entry) => entry.rssBytes)).median);
  const rises = medians.slice(1).map((median, index) => median - (medians[index] as number));
  const sustainedGrowth = rises.length * Math.min(...rises);
  const early = quarters[0] as SoakSample[];
  const late = quarters.at(-1) as SoakSample[];
  return {
    rss: {
      quarterMediansMb: medians.map(megabytes),
      peakMb: megabytes(Math.max(...afterWarmup.map((entry) => entry.rssBytes))),
      endMb: megabytes(end.rssBytes),
      growthPercent: Math.round((sustainedGrowth / (medians[0] as number)) * 1000) / 10,
    },
    fds: {
      warmup: base.openFds,
      peak: Math.max(...afterWarmup.map((entry) => entry.openFds)),
      end: end.openFds,
      earlyPeak: Math.max(...early.map((entry) => entry.openFds)),
      lateFloor: Math.min(...late.map((entry) => entry.openFds)),
    },
  };
}

/** Every invariant the soak checks, broken ones described with the numbers. */
export function soakViolations(result: Omit<SoakResult, 'violations'>): string[] {
  const violations: string[] = [];
  const { windows, health } = result;
  if (result.eventsReceived !== windows) {
    violations.push(`${result.eventsReceived} distinct events received for ${windows} windows of speech`);
  }
  if (health.windows.processed !== windows || health.windows.dropped !== 0 || health.windows.skippedSilence !== 0) {
    violations.push(`health counts windows ${JSON.stringify(health.windows)}; expected ${windows} processed, none dropped or skipped`);
  }
  if (health.events.published !== windows || health.events.dropped !== 0 || health.events.queued !== 0) {
    violations.push(`health counts events ${JSON.stringify(health.events)}; expected ${windows} published, none queued or dropped`);
  }
  if (result.rss.growthPercent > SOAK_LIMITS.rssGrowthPercent) {
    violations.push(
      `RSS kept growing after warm-up: ${result.rss.growthPercent}% (quarter medians ${result.rss.quarterMediansMb.join(' → ')} MB); limit ${SOAK_LIMITS.rssGrowthPercent}%`,
    );
  }
  if (result.tensorCounts.length !== 1) {
    violations.push(`live tensors changed over the run: ${result.tensorCounts.join(', ')}`);
  }
  // As for RSS, quarters rather than single samples: a descriptor can be open for a moment at
  // any sample (24 against 23 failed a CI run), while a leak lifts the last quarter's lowest
  // count above the first quarter's highest.
  if (result.fds.lateFloor > result.fds.earlyPeak) {
    violations.push(
      `open file descriptors grew from at most ${result.fds.earlyPeak} early after warm-up to at least ${result.fds.lateFloor} throughout the last quarter`,
    );
  }
  if (result.problems.length > 0) violations.push(`the daemon logged problems: ${result.problems.join(' | ')}`);
  if (result.daemonExitCode !== 0) violations.push(`the daemon exited with code ${String(result.daemonExitCode)} on SIGTERM`);
  return violations;
}

/**
 * The speech as S16_LE bytes, cut to whole windows. Every window must be speech, or the
 * silence gate would skip it and the event count could not account for every window.
 */
async function speechLoop(files: readonly string[]): Promise<Buffer> {
  const parts = await Promise.all(files.map((file) => loadAudio(file, { durationSeconds: Infinity })));
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  const windows = Math.floor(total / CLIP_SAMPLES);
  if (windows === 0) throw new RangeError(`soak: the speech files hold ${total} samples; need at least one 3 s window`);
  const samples = new Float32Array(windows * CLIP_SAMPLES);
  let offset = 0;
  for (const part of parts) {
    samples.set(part.subarray(0, samples.length - offset), offset);
    offset += Math.min(part.length, samples.length - offset);
  }
  for (let window = 0; window < windows; window++) {
    const level = levelDbfs(samples.subarray(window * CLIP_SAMPLES, (window + 1) * CLIP_SAMPLES));
    if (level < DEFAULT_SILENCE_DBFS + SPEECH_MARGIN_DB) {
      throw new RangeError(
        `soak: window ${window} of the speech loop is at ${level.toFixed(1)} dBFS, too close to the silence threshold; pick louder speech files`,
      );
    }
  }
  return encodeS16le(samples);
}

/** Window `index` of the loop, written in whole, atomic periods. */
async function writeWindow(fifo: FileHandle, loop: Buffer, index: number): Promise<void> {
  const start = (index * WINDOW_BYTES) % loop.length;
  await writeAtomicPeriods(fifo, loop.subarray(start, start + WINDOW_BYTES), PERIOD_BYTES);
}

/** The daemon's log lines at warn level or above (pino: 40 warn, 50 error), at most 20. */
function problems(agent: AgentProcess): string[] {
  return agent.written.filter((_line, index) => Number(agent.lines[index]?.['level'] ?? 0) >= 40).slice(0, 20);
}

/** The inference backend the daemon said it uses. */
function backendOf(agent: AgentProcess): string | null {
  const line = agent.lines.find((entry) => entry['module'] === 'backend' && String(entry['msg']).startsWith('using '));
  return typeof line?.['backend'] === 'string' ? line['backend'] : null;
}

function residentBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match?.[1] ?? Number.NaN) * 1024;
}

function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

function megabytes(bytes: number): number {
  return Math.round((bytes / 1024 / 1024) * 10) / 10;
}

/**
 * TESS: both speakers, all seven emotions, six words each (84 clips, about 2.5 minutes, looped):
 * every stretch of 3 s holds speech, so every window is classified and yields one event.
 */
export function soakSpeech(tessDir: string): string[] {
  return readdirSync(tessDir)
    .sort()
    .flatMap((folder) =>
      readdirSync(path.join(tessDir, folder))
        .sort()
        .slice(0, 6)
        .map((file) => path.join(tessDir, folder, file)),
    );
}
