import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type BackendName } from '../src/model/runtime/backend.js';
import { startAgentProcess, writeAgentConfig } from '../test/helpers/agent-process.js';
import { startTestBroker, type TestBroker } from '../test/helpers/broker.js';
import { REPO_ROOT } from '../test/helpers/cli.js';
import { summarize } from './stats.js';

export interface DaemonMemory {
  /** VmHWM: the most resident memory the daemon ever had, start-up and model load included. */
  peak_vmhwm_mb: number;
  /** Median VmRSS over the second half of the replay, once the model runs window after window. */
  steady_rss_mb: number;
  /** Where the resident memory was at the highest VmRSS sampled, from /proc/<pid>/smaps. */
  peak_breakdown_mb: MemoryBreakdown;
}

/** Resident memory by what holds it, in MB. */
export interface MemoryBreakdown {
  /** Pages of the node executable: V8, libuv, OpenSSL, ICU, shared with other Node processes. */
  node_binary: number;
  /** Pages of ONNX Runtime's shared library. */
  onnxruntime_library: number;
  /** Pages of every other mapped file (libc, libstdc++, native addons). */
  other_files: number;
  /** glibc's main heap ([heap]): ONNX Runtime's sessions, V8's parser and compiler zones, Node's own. */
  malloc_heap: number;
  /** Anonymous mappings: V8's heap, WebAssembly memories, thread stacks, glibc's other arenas. */
  anonymous: number;
}

const SAMPLE_MS = 100;

/**
 * Where the daemon publishes: `central`, a broker in another process, as a box deployed
 * against its site's broker runs; `embedded`, the agent's own Aedes broker (empty `mqtt.url`),
 * which a box trying the agent alone runs and which loads Aedes into the daemon.
 */
export type BrokerPlacement = 'central' | 'embedded';

/**
 * The daemon's memory as a box pays for it: `ser-agent run --input FILES` on `backend`,
 * started with the node options and allocator environment of the shipped systemd unit,
 * publishing to a broker placed as `broker` says, sampled from /proc/<pid>/status until the
 * replay ends. VmHWM is what the kernel saw at the worst moment; compare numbers from one run
 * of the bench.
 */
export async function measureDaemonMemory(files: readonly string[], backend: BackendName, broker: BrokerPlacement): Promise<DaemonMemory> {
  const work = await mkdtemp(path.join(os.tmpdir(), 'ser-bench-memory-'));
  let central: TestBroker | undefined;
  try {
    central = broker === 'central' ? await startTestBroker() : undefined;
    const config = await writeAgentConfig(work, {
      deviceId: 'bench-memory',
      mqtt: { url: central?.url ?? '' },
      model: { backend },
      gpio: { driver: 'simulated' },
      // An explicit backend, not auto: one that cannot start fails the run instead of being replaced.
      log: { level: 'warn' },
      state: { directory: path.join(work, 'state') },
    });
    const daemon = startAgentProcess(['run', '--config', config, '--input', ...files], unitEnvironment(), {
      nodeOptions: unitNodeOptions(),
    });
    const samples: Array<{ hwmKb: number; rssKb: number }> = [];
    const pid = daemon.process.pid ?? -1;
    let peakRssKb = 0;
    let breakdown: MemoryBreakdown | undefined;
    const sampler = setInterval(() => {
      const sample = memoryOf(pid);
      if (sample === undefined) return;
      samples.push(sample);
      // smaps is read only at a new high, which comes within the first second or two.
      if (sample.rssKb > peakRssKb) {
        peakRssKb = sample.rssKb;
        breakdown = breakdownOf(pid) ?? breakdown;
      }
    }, SAMPLE_MS);
    const { code } = await daemon.exit;
    clearInterval(sampler);
    if (code !== 0 || samples.length === 0 || breakdown === undefined) {
      const log = [...daemon.written, ...daemon.stderr].join('\n');
      throw new Error(`the daemon on ${backend} exited with code ${String(code)} after ${samples.length} samples; its log:\n${log}`);
    }
    const steady = samples.slice(Math.floor(samples.length / 2)).map((sample) => sample.rssKb / 1024);
    return {
      peak_vmhwm_mb: Math.round(Math.max(...samples.map((sample) => sample.hwmKb)) / 1024),
      steady_rss_mb: Math.round(summarize(steady).median),
      peak_breakdown_mb: breakdown,
    };
  } finally {
    await central?.close();
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

/** Resident memory of a live process by what holds it; undefined once it has gone. */
function breakdownOf(pid: number): MemoryBreakdown | undefined {
  let smaps: string;
  try {
    smaps = readFileSync(`/proc/${pid}/smaps`, 'utf8');
  } catch {
    return undefined;
  }
  const kb = { node_binary: 0, onnxruntime_library: 0, other_files: 0, malloc_heap: 0, anonymous: 0 };
  let part: keyof typeof kb = 'anonymous';
  for (const line of smaps.split('\n')) {
    // A mapping's header: address range, permissions, offset, device, inode, then its path if any.
    const mapping = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (mapping !== null) {
      const name = mapping[1] ?? '';
      part =
        name === process.execPath || name.endsWith('/bin/node')
          ? 'node_binary'
          : name.includes('libonnxruntime.so')
            ? 'onnxruntime_library'
            : name === '[heap]'
              ? 'malloc_heap'
              : name.startsWith('/')
                ? 'other_files'
                : 'anonymous';
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB$/.exec(line)?.[1];
    if (rss !== undefined) kb[part] += Number(rss);
  }
  const mb = (value: number) => Math.round(value / 102.4) / 10;
  return {
    node_binary: mb(kb.node_binary),
    onnxruntime_library: mb(kb.onnxruntime_library),
    other_files: mb(kb.other_files),
    malloc_heap: mb(kb.malloc_heap),
    anonymous: mb(kb.anonymous),
  };
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

/**
 * The environment the systemd unit gives the daemon (its Environment= lines), without the
 * agent's own settings (SER_*): the allocator tunables a box runs with. The bench's daemons
 * have their own configuration.
 */
export function unitEnvironment(): Record<string, string> {
  const unit = readFileSync(path.join(REPO_ROOT, 'systemd', 'ser-agent.service'), 'utf8');
  const environment: Record<string, string> = {};
  for (const [, assignments] of unit.matchAll(/^Environment=(.*)$/gm)) {
    for (const assignment of (assignments ?? '').trim().split(/\s+/)) {
      const equals = assignment.indexOf('=');
      if (equals < 1) throw new Error(`systemd/ser-agent.service: Environment=${assignments ?? ''} is not NAME=value`);
      const name = assignment.slice(0, equals);
      if (!name.startsWith('SER_')) environment[name] = assignment.slice(equals + 1);
    }
  }
  return environment;
}
