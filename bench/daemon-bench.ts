import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, open, rm, writeFile, type FileHandle } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { loadAudio } from '../src/audio/load-clip.js';
import { CAPTURE_PERIOD_SECONDS } from '../src/capture/recorder-command.js';
import { SAMPLE_RATE } from '../src/dsp/constants.js';
import { EmbeddedBroker } from '../src/mqtt/embedded-broker.js';
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
  /** From a window's end (its `ts`) to the subscriber receiving its event. */
  publish_latency_ms: Summary;
  events: number;
}

const CLOCK_TICKS_PER_SECOND = 100;
const PAGE_BYTES = 4096;
const PCM_NAME = 'ser_bench';

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

/** The pid of the `name` process whose parent is `parentPid`, if there is one. */
function childPid(parentPid: number, name: string): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      if (stat.slice(stat.indexOf('(') + 1, close) === name && Number(stat.slice(close + 2).split(' ')[1]) === parentPid) {
        return Number(entry);
      }
    } catch {
      // exited while we looked
    }
  }
  return undefined;
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
  root: string,
  files: readonly string[],
  options: { warmupSeconds: number; seconds: number; minSpeechRatio?: number },
): Promise<DaemonMeasurement> {
  const speech = await speechPcm(files);
  const work = await mkdtemp(path.join(os.tmpdir(), 'ser-bench-'));
  const fifoPath = path.join(work, 'microphone.fifo');
  await run('mkfifo', [fifoPath]);
  const alsaConfig = path.join(work, 'asoundrc');
  await writeFile(
    alsaConfig,
    [
      `pcm.${PCM_NAME} {`,
      '  type file',
      '  slave.pcm { type null }',
      '  file "/dev/null"',
      `  infile ${JSON.stringify(fifoPath)}`,
      '  format "raw"',
      '}',
      '',
    ].join('\n'),
  );
  const broker = new EmbeddedBroker({ logger: pino({ level: 'silent' }), port: 0 });
  const url = await broker.start();
  const subscriber = await mqtt.connectAsync(url, { clientId: 'bench-subscriber' });
  const latencies: number[] = [];
  let measuring = false;
  subscriber.on('message', (_topic, payload) => {
    const event = JSON.parse(payload.toString()) as { ts: string };
    if (measuring) latencies.push(Date.now() - Date.parse(event.ts));
  });
  await subscriber.subscribeAsync('ser/bench/event');
  const config = path.join(work, 'config.json');
  await writeFile(
    config,
    JSON.stringify({
      deviceId: 'bench',
      mqtt: { url, discovery: { enabled: false } },
      window: { hopSeconds: 1, ...(options.minSpeechRatio === undefined ? {} : { minSpeechRatio: options.minSpeechRatio }) },
      gpio: { driver: 'simulated' },
      log: { level: 'warn' },
      audio: { recorder: 'arecord', device: PCM_NAME },
      state: { directory: path.join(work, 'state') },
    }),
  );
  const daemon = spawn(process.execPath, [path.join(root, 'bin', 'ser-agent.js'), 'run', '--config', config], {
    cwd: root,
    stdio: 'ignore',
    env: { ...process.env, ALSA_CONFIG_PATH: alsaConfig },
  });
  let fifo: FileHandle | undefined;
  let feeding: Promise<void> | undefined;
  let stopFeeding = false;
  try {
    // Opening a FIFO for writing waits for its reader: arecord, once the daemon has loaded the model.
    fifo = await open(fifoPath, 'w');
    feeding = feedInRealTime(fifo, speech, () => stopFeeding);
    await sleep(options.warmupSeconds * 1000);
    const pid = daemon.pid ?? -1;
    const recorder = childPid(pid, 'arecord') ?? -1;
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
      publish_latency_ms: summarize(latencies),
      events: latencies.length,
    };
  } finally {
    stopFeeding = true;
    await feeding;
    daemon.kill('SIGTERM');
    // End of input too: an arecord blocked reading the FIFO would not see the daemon's SIGINT.
    await fifo?.close();
    await new Promise((resolve) => daemon.once('exit', resolve));
    await subscriber.endAsync();
    await broker.stop();
    await rm(work, { recursive: true, force: true });
  }
}

/** The speech as raw S16_LE mono at the agent's rate, what the sound card would deliver. */
async function speechPcm(files: readonly string[]): Promise<Buffer> {
  const parts = await Promise.all(files.map((file) => loadAudio(file, { sampleRate: SAMPLE_RATE, durationSeconds: Infinity })));
  const bytes = Buffer.alloc(parts.reduce((total, part) => total + part.length, 0) * 2);
  let offset = 0;
  for (const part of parts) {
    for (const sample of part) offset = bytes.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(sample * 32768))), offset);
  }
  return bytes;
}

/**
 * Writes one capture period at a time, each when a sound card would have filled it, looping the
 * speech. The file plugin reads whole periods and pads a short read with silence, so every
 * write is one whole period (under PIPE_BUF, so Linux makes it atomic).
 */
async function feedInRealTime(fifo: FileHandle, speech: Buffer, stopped: () => boolean): Promise<void> {
  const periodBytes = Math.round(CAPTURE_PERIOD_SECONDS * SAMPLE_RATE) * 2;
  const periodMs = CAPTURE_PERIOD_SECONDS * 1000;
  const origin = performance.now();
  let offset = 0;
  for (let period = 1; !stopped(); period++) {
    await sleep(origin + period * periodMs - performance.now());
    if (offset + periodBytes > speech.length) offset = 0;
    await fifo.write(speech, offset, periodBytes);
    offset += periodBytes;
  }
}

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} exited with code ${String(code)}`))));
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
