import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { EmbeddedBroker } from '../src/mqtt/embedded-broker.js';
import { summarize, type Summary } from './stats.js';

export interface DaemonMeasurement {
  /** CPU time of the daemon process over the measured stretch, as % of one core. */
  cpu_percent: number;
  /** Resident memory at the end of the run. */
  rss_mb: number;
  /** From a window's end (its `ts`) to the subscriber receiving its event. */
  publish_latency_ms: Summary;
  events: number;
}

const CLOCK_TICKS_PER_SECOND = 100;
const PAGE_BYTES = 4096;

/** utime + stime (clock ticks) and RSS (pages) of a process, from /proc/<pid>/stat. */
function processStat(pid: number): { cpuSeconds: number; rssBytes: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields after "(comm)": state is index 0, so utime (14th overall) is 11, stime 12, rss 21.
  const ticks = Number(fields[11]) + Number(fields[12]);
  return { cpuSeconds: ticks / CLOCK_TICKS_PER_SECOND, rssBytes: Number(fields[21]) * PAGE_BYTES };
}

/**
 * Runs the real daemon on recordings replayed in real time at hop 1 s, with a broker in this
 * process, and measures what an operator pays for it: CPU, memory, and how late events are.
 * The first `warmupSeconds` (model load, JIT) are left out of the CPU figure.
 */
export async function measureDaemon(
  root: string,
  files: readonly string[],
  options: { warmupSeconds: number; seconds: number },
): Promise<DaemonMeasurement> {
  const work = await mkdtemp(path.join(os.tmpdir(), 'ser-bench-'));
  const broker = new EmbeddedBroker({ logger: pino({ level: 'silent' }), port: 0 });
  const url = await broker.start();
  const subscriber = await mqtt.connectAsync(url, { clientId: 'bench-subscriber' });
  const latencies: number[] = [];
  subscriber.on('message', (_topic, payload) => {
    const event = JSON.parse(payload.toString()) as { ts: string };
    latencies.push(Date.now() - Date.parse(event.ts));
  });
  await subscriber.subscribeAsync('ser/bench/event');
  const config = path.join(work, 'config.json');
  await writeFile(
    config,
    JSON.stringify({
      deviceId: 'bench',
      mqtt: { url, discovery: { enabled: false } },
      window: { hopSeconds: 1 },
      gpio: { driver: 'simulated' },
      log: { level: 'warn' },
    }),
  );
  const daemon = spawn(process.execPath, [path.join(root, 'bin', 'ser-agent.js'), 'run', '--config', config, '--input', ...files], {
    cwd: root,
    stdio: 'ignore',
  });
  try {
    await sleep(options.warmupSeconds * 1000);
    const pid = daemon.pid ?? -1;
    const before = processStat(pid);
    const started = performance.now();
    await sleep(options.seconds * 1000);
    const after = processStat(pid);
    const wallSeconds = (performance.now() - started) / 1000;
    return {
      cpu_percent: Math.round(((after.cpuSeconds - before.cpuSeconds) / wallSeconds) * 10_000) / 100,
      rss_mb: Math.round(after.rssBytes / 1024 / 1024),
      publish_latency_ms: summarize(latencies),
      events: latencies.length,
    };
  } finally {
    daemon.kill('SIGTERM');
    await new Promise((resolve) => daemon.once('exit', resolve));
    await subscriber.endAsync();
    await broker.stop();
    await rm(work, { recursive: true, force: true });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
