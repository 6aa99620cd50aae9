import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from './cli.js';

/** A real `ser-agent` process left running, its JSON log lines parsed as they come. */
export interface AgentProcess {
  process: ChildProcess;
  /** Every log line so far, oldest first. */
  lines: Array<Record<string, unknown>>;
  /** The lines whose `msg` is `msg`. */
  logged(msg: string): Array<Record<string, unknown>>;
  /** Resolves on 'close', once every log line has been read. */
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then the exit; SIGKILL if it is still running after `deadlineMs`. */
  stop(deadlineMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts the compiled `ser-agent` (built by the global test setup) with `args`, in the
 * repository root, for tests that talk to it while it runs (over MQTT, HTTP, signals).
 */
export function startAgentProcess(args: readonly string[], env: Record<string, string> = {}): AgentProcess {
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin', 'ser-agent.js'), ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: Array<Record<string, unknown>> = [];
  let pending = '';
  child.stdout?.on('data', (data: Buffer) => {
    pending += data.toString();
    const complete = pending.split('\n');
    pending = complete.pop() ?? '';
    for (const line of complete) lines.push(JSON.parse(line) as Record<string, unknown>);
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal })),
  );
  return {
    process: child,
    lines,
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
