import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import mqtt from 'mqtt';
import { loadAudio } from '../src/audio/load-clip.js';
import { DEFAULT_CAPTURE_PERIOD_SECONDS } from '../src/capture/recorder-command.js';
import { SAMPLE_RATE } from '../src/dsp/constants.js';
import { startAgentProcess, writeAgentConfig } from '../test/helpers/agent-process.js';
import { childProcesses, startRealTimeMicrophone } from '../test/helpers/alsa.js';
import { startTestBroker } from '../test/helpers/broker.js';
import { unitEnvironment, unitNodeOptions } from './daemon-memory.js';
import { summarize, type Summary } from './stats.js';

export interface DaemonMeasurement {
  /** CPU time of the daemon process over the measured stretch, as % of one core. */
  cpu_percent: number;
  /** The same, split into user and kernel time. */
  cpu_user_percent: number;
  cpu_system_percent: number;
  /** How often the daemon's main thread went to sleep and was woken, per second. */
  wakeups_per_second: number;
  /** CPU of the arecord the daemon runs, as % of one core: the operator pays for it too. */
  recorder_cpu_percent: number;
  /** Resident memory at the end of the run. */
  rss_mb: number;
  /** From a window's end (its `ts`) to the subscriber receiving its event; null when no event came. */
  publish_latency_ms: Summary | null;
  events: number;
}

const CLOCK_TICKS_PER_SECOND = 100;
const PAGE_BYTES = 4096;

interface ProcessSample {
  userSeconds: number;
  systemSeconds: number;
  rssBytes: number;
}

/** utime, stime (clock ticks) and RSS (pages) of a process or thread, from its stat file. */
function processStat(statFile: string): ProcessSample {
  const stat = readFileSync(statFile, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields after "(comm)": state is index 0, so utime (14th overall) is 11, stime 12, rss 21.
  return {
    userSeconds: Number(fields[11]) / CLOCK_TICKS_PER_SECOND,
    systemSeconds: Number(fields[12]) / CLOCK_TICKS_PER_SECOND,
    rssBytes: Number(fields[21]) * PAGE_BYTES,
  };
}

/** Times the main thread of `pid` blocked and was woken again (each wake-up costs CPU). */
function voluntarySwitches(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^voluntary_ctxt_switches:\s+(\d+)$/m.exec(status)?.[1] ?? Number.NaN);
}

/**
 * Runs the real daemon as it runs on a box, at hop 1 s: the real arecord capturing from an
 * ALSA file plugin whose infile is a FIFO, into which `files` (speech, looped) are written one
 * capture period at a time in real time, as a sound card would deliver them; a broker in this
 * process; and measures what an operator pays for it: CPU, wake-ups, memory, and how late
 * events are. The first `warmupSeconds` (model load, JIT) are left out of the figures.
 *
 * Live capture rather than `run --input`: a replay decodes and resamples each file inside the
 * daemon, work (and garbage) a microphone never causes, which made up a third of the CPU.
 */
export async function measureDaemon(
  files: readonly string[],
  options: {
    warmupSeconds: number;
    seconds: number;
    /** window.* settings over the defaults, e.g. minSpeechRatio 0 for no speech gate. */
    window?: Record<string, number>;
    /** Node options and environment; the systemd unit's by default, as a box runs the daemon. */
    nodeOptions?: readonly string[];
    env?: Record<string, string>;
  },
): Promise<DaemonMeasurement> {
  const work = await mkdtemp(path.join(os.tmpdir(), 'ser-bench-'));
  const microphone = await startRealTimeMicrophone(await speech(files), work, {
    periodSeconds: DEFAULT_CAPTURE_PERIOD_SECONDS,
    afterwards: 'repeat',
  });
  const broker = await startTestBroker();
  const subscriber = await mqtt.connectAsync(broker.url, { clientId: 'bench-subscriber' });
  const latencies: number[] = [];
  let measuring = false;
  subscriber.on('message', (_topic, payload) => {
    const event = JSON.parse(payload.toString()) as { ts: string };
    if (measuring) latencies.push(Date.now() - Date.parse(event.ts));
  });
  await subscriber.subscribeAsync('ser/bench/event');
  const config = await writeAgentConfig(work, {
    deviceId: 'bench',
    mqtt: { url: broker.url, discovery: { enabled: false } },
    window: { hopSeconds: 1, ...options.window },
    gpio: { driver: 'simulated' },
    log: { level: 'warn' },
    // The default, named so that the feeder below and the agent read the same period.
    audio: { recorder: 'arecord', device: microphone.device, periodSeconds: DEFAULT_CAPTURE_PERIOD_SECONDS },
    state: { directory: path.join(work, 'state') },
  });
  const daemon = startAgentProcess(['run', '--config', config], { ...microphone.env, ...(options.env ?? unitEnvironment()) }, {
    nodeOptions: options.nodeOptions ?? unitNodeOptions(),
  });
  try {
    // arecord opens the microphone once the daemon has loaded the model.
    await microphone.opened;
    await sleep(options.warmupSeconds * 1000);
    const pid = daemon.process.pid ?? -1;
    const recorder = childProcesses(pid, 'arecord')[0] ?? -1;
    const before = processStat(`/proc/${pid}/stat`);
    const recorderBefore = processStat(`/proc/${recorder}/stat`);
    const switchesBefore = voluntarySwitches(pid);
    const started = performance.now();
    measuring = true;
    await sleep(options.seconds * 1000);
    measuring = false;
    const after = processStat(`/proc/${pid}/stat`);
    const recorderAfter = processStat(`/proc/${recorder}/stat`);
    const switchesAfter = voluntarySwitches(pid);
    const wallSeconds = (performance.now() - started) / 1000;
    const percent = (seconds: number): number => Math.round((seconds / wallSeconds) * 10_000) / 100;
    const user = after.userSeconds - before.userSeconds;
    const system = after.systemSeconds - before.systemSeconds;
    return {
      cpu_percent: percent(user + system),
      cpu_user_percent: percent(user),
      cpu_system_percent: percent(system),
      wakeups_per_second: Math.round((switchesAfter - switchesBefore) / wallSeconds),
      recorder_cpu_percent: percent(
        recorderAfter.userSeconds + recorderAfter.systemSeconds - recorderBefore.userSeconds - recorderBefore.systemSeconds,
      ),
      rss_mb: Math.round(after.rssBytes / 1024 / 1024),
      publish_latency_ms: latencies.length === 0 ? null : summarize(latencies),
      events: latencies.length,
    };
  } finally {
    const stopped = daemon.stop();
    // End of input too: an arecord blocked reading the FIFO would not see the daemon's SIGINT.
    await microphone.stop();
    await stopped;
    await subscriber.endAsync();
    await broker.close();
    await rm(work, { recursive: true, force: true });
  }
}

/** The speech, one recording after another, at the agent's rate: what the sound card would deliver. */
async function speech(files: readonly string[]): Promise<Float32Array> {
  const parts = await Promise.all(files.map((file) => loadAudio(file, { sampleRate: SAMPLE_RATE, durationSeconds: Infinity })));
  const all = new Float32Array(parts.reduce((total, part) => total + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    all.set(part, offset);
    offset += part.length;
  }
  return all;
}
