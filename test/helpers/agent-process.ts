import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { REPO_ROOT } from './cli.js';

/** A real `ser-agent` process left running, its JSON log lines parsed as they come. */
export interface AgentProcess {
  process: ChildProcess;
  /** Every log line so far, oldest first. */
  lines: Array<Record<string, unknown>>;
  /** The same lines as the agent wrote them, for checks on the text itself (its length, what it could leak). */
  written: string[];
  /** What the agent wrote to stderr, line by line; it is passed on to this process's stderr as well. */
  stderr: string[];
  /** The lines whose `msg` is `msg`. */
  logged(msg: string): Array<Record<string, unknown>>;
  /** Resolves on 'close', once every log line has been read. */
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then the exit; SIGKILL if it is still running after `deadlineMs`. */
  stop(deadlineMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface AgentProcessOptions {
  /** Node options before the script, e.g. those of the systemd unit's ExecStart. */
  nodeOptions?: readonly string[];
}

/**
 * Starts the compiled `ser-agent` (built by the global test setup, or by `npm run bench`) with
 * `args`, in the repository root, for tests and benchmarks that talk to it while it runs (over
 * MQTT, HTTP, signals, an ALSA capture).
 */
export function startAgentProcess(
  args: readonly string[],
  env: Record<string, string> = {},
  options: AgentProcessOptions = {},
): AgentProcess {
  const child = spawn(process.execPath, [...(options.nodeOptions ?? []), path.join(REPO_ROOT, 'bin', 'ser-agent.js'), ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Array<Record<string, unknown>> = [];
  const written: string[] = [];
  const stderr: string[] = [];
  eachLine(child.stdout, (line) => {
    written.push(line);
    lines.push(JSON.parse(line) as Record<string, unknown>);
  });
  eachLine(child.stderr, (line) => {
    stderr.push(line);
    process.stderr.write(`${line}\n`);
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal })),
  );
  return {
    process: child,
    lines,
    written,
    stderr,
    logged: (msg) => lines.filter((line) => line['msg'] === msg),
    exit,
    async stop(deadlineMs = 20_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), deadlineMs);
      try {
        return await exit;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/**
 * Calls `onLine` with each complete line `stream` delivers. A last line without its newline is
 * left out: an agent killed with SIGKILL can leave half a JSON line.
 */
function eachLine(stream: NodeJS.ReadableStream | null, onLine: (line: string) => void): void {
  let pending = '';
  stream?.on('data', (data: Buffer) => {
    pending += data.toString();
    const complete = pending.split('\n');
    pending = complete.pop() ?? '';
    for (const line of complete) onLine(line);
  });
}

/**
 * Polls `probe` (which may be async, e.g. an HTTP scrape) until it gives something other than
 * undefined; fails naming `what` after `timeoutMs`.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await probe();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Writes `config` as `<dir>/<name>.json`, the file `ser-agent run --config` reads, and returns
 * its path. Only what a test sets: the agent's defaults fill in the rest.
 */
export async function writeAgentConfig(dir: string, config: Record<string, unknown>, name = 'config'): Promise<string> {
  const file = path.join(dir, `${name}.json`);
  await writeFile(file, JSON.stringify(config));
  return file;
}
