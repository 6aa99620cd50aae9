import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type BackendName } from '../src/model/runtime/backend.js';
import { startAgentProcess, writeAgentConfig } from '../test/helpers/agent-process.js';
import { REPO_ROOT } from '../test/helpers/cli.js';
import { summarize } from './stats.js';

export interface DaemonMemory {
  /** VmHWM: the most resident memory the daemon ever had, start-up and model load included. */
  peak_vmhwm_mb: number;
  /** Median VmRSS over the second half of the replay, once the model runs window after window. */
  steady_rss_mb: number;
}

const SAMPLE_MS = 100;

/**
 * The daemon's memory as a box pays for it: `ser-agent run --input FILES` on `backend`,
 * started with the node options of the shipped systemd unit, publishing to its embedded
 * broker (empty `mqtt.url`), sampled from /proc/<pid>/status until the replay ends. VmHWM
 * is what the kernel saw at the worst moment; compare numbers from one run of the bench.
 */
export async function measureDaemonMemory(files: readonly string[], backend: BackendName): Promise<DaemonMemory> {
  const work = await mkdtemp(path.join(os.tmpdir(), 'ser-bench-memory-'));
  try {
    const config = await writeAgentConfig(work, {
      deviceId: 'bench-memory',
      mqtt: { url: '' },
      model: { backend },
      gpio: { driver: 'simulated' },
      // An explicit backend, not auto: one that cannot start fails the run instead of being replaced.
      log: { level: 'warn' },
      state: { directory: path.join(work, 'state') },
    });
    const daemon = startAgentProcess(['run', '--config', config, '--input', ...files], {}, { nodeOptions: unitNodeOptions() });
    const samples: Array<{ hwmKb: number; rssKb: number }> = [];
    const pid = daemon.process.pid ?? -1;
    const sampler = setInterval(() => {
      const sample = memoryOf(pid);
      if (sample !== undefined) samples.push(sample);
    }, SAMPLE_MS);
    const { code } = await daemon.exit;
    clearInterval(sampler);
    if (code !== 0 || samples.length === 0) {
      const log = [...daemon.written, ...daemon.stderr].join('\n');
      throw new Error(`the daemon on ${backend} exited with code ${String(code)} after ${samples.length} samples; its log:\n${log}`);
    }
    const steady = samples.slice(Math.floor(samples.length / 2)).map((sample) => sample.rssKb / 1024);
    return {
      peak_vmhwm_mb: Math.round(Math.max(...samples.map((sample) => sample.hwmKb)) / 1024),
      steady_rss_mb: Math.round(summarize(steady).median),
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** VmHWM and VmRSS of a live process, in kB; undefined once it has gone. */
function memoryOf(pid: number): { hwmKb: number; rssKb: number } | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const hwm = /^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1];
  const rss = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
  // A process between exit and reaping has no memory lines.
  return hwm === undefined || rss === undefined ? undefined : { hwmKb: Number(hwm), rssKb: Number(rss) };
}

/**
 * The node options the systemd unit starts the daemon with (between `node` and the script in
 * its ExecStart), read from the unit so that the bench measures what ships.
 */
export function unitNodeOptions(): string[] {
  const unit = readFileSync(path.join(REPO_ROOT, 'systemd', 'ser-agent.service'), 'utf8');
  const execStart = /^ExecStart=(.*)$/m.exec(unit)?.[1];
  if (execStart === undefined) throw new Error('systemd/ser-agent.service has no ExecStart= line');
  const words = execStart.trim().split(/\s+/);
  const script = words.findIndex((word) => word.endsWith('/bin/ser-agent.js'));
  if (script < 1) throw new Error(`ExecStart=${execStart} does not run node on bin/ser-agent.js`);
  return words.slice(1, script);
}
