import { spawn, type ChildProcess } from 'node:child_process';
import { describeError } from '../errors.js';
import { type GpioChipLines, parseGpioinfo } from './gpiochip-lines.js';
import { GpioError } from './gpio-error.js';

/** How a tool process ended: its exit code or signal, or the error that kept it from starting. */
export interface ToolExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the tool could not be started (ENOENT: not installed). */
  error?: Error;
}

/**
 * The hardware edge of the gpiod LED driver: one running libgpiod tool. Node's ChildProcess is
 * adapted to it by spawnTool; tests pass a fake that plays the tools against fixture chips.
 */
export interface ToolProcess {
  /** Called with each piece of text the tool writes to standard output. */
  onStdout(listener: (text: string) => void): void;
  /** Called with each piece of text the tool writes to standard error. */
  onStderr(listener: (text: string) => void): void;
  /** Called once, after the tool has ended and its output has been delivered. */
  onExit(listener: (exit: ToolExit) => void): void;
  kill(signal: NodeJS.Signals): void;
}

/** Starts `command` with `args` (no shell); the tools are found on PATH. */
export type SpawnTool = (command: string, args: readonly string[]) => ToolProcess;

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/**
 * Real tools through child_process. The gpioset processes that hold the LED lines are children of
 * the agent: when it exits without closing its driver (process.exit, a fatal error), they are sent
 * SIGTERM from the process 'exit' event so no line stays claimed. Under systemd a SIGKILL of the
 * agent is covered too: the unit's control group is killed as a whole.
 */
export const spawnTool: SpawnTool = (command, args) => {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  live.add(child);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const running of live) running.kill('SIGTERM');
    });
  }
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  let exit: ToolExit | undefined;
  const exitListeners: ((exit: ToolExit) => void)[] = [];
  const finish = (ended: ToolExit): void => {
    if (exit) return;
    exit = ended;
    live.delete(child);
    for (const listener of exitListeners) listener(ended);
  };
  child.on('error', (error) => finish({ code: null, signal: null, error }));
  child.on('close', (code, signal) => finish({ code, signal }));
  // A tool that exits before reading its standard input must not turn into an EPIPE crash here.
  child.stdin.on('error', () => undefined);
  return {
    onStdout: (listener) => void child.stdout.on('data', listener),
    onStderr: (listener) => void child.stderr.on('data', listener),
    onExit: (listener) => {
      if (exit) listener(exit);
      else exitListeners.push(listener);
    },
    kill: (signal) => {
      if (!exit) child.kill(signal);
    },
  };
};

export interface ToolResult {
  exit: ToolExit;
  stdout: string;
  stderr: string;
}

/** Runs a tool to its end and collects its output; rejects only when it cannot be started. */
export function runTool(spawnFn: SpawnTool, command: string, args: readonly string[], timeoutMs = 10_000): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const tool = spawnFn(command, args);
    let stdout = '';
    let stderr = '';
    tool.onStdout((text) => (stdout += text));
    tool.onStderr((text) => (stderr += text));
    const timer = setTimeout(() => tool.kill('SIGKILL'), timeoutMs);
    tool.onExit((exit) => {
      clearTimeout(timer);
      if (exit.error) reject(notStarted(command, exit.error));
      else resolve({ exit, stdout, stderr });
    });
  });
}

function notStarted(command: string, error: Error): GpioError {
  const code = (error as NodeJS.ErrnoException).code;
  const advice =
    code === 'ENOENT'
      ? 'the libgpiod tools are not installed: `sudo apt-get install gpiod`'
      : describeError(error);
  return new GpioError(`cannot run ${command}: ${advice}`, { cause: error });
}

/** The command-line dialect of the installed tools: libgpiod 1.x and 2.x differ in gpioset's arguments. */
export interface GpiodToolsVersion {
  major: number;
  /** As the tool printed it, e.g. `v2.2.1`. */
  text: string;
}

/**
 * Reads gpioset's version from `gpioset --version`: `gpioset (libgpiod) v1.6.3` (1.x, Bookworm),
 * `gpioset (libgpiod) v2.2.1` (2.0-2.2, Trixie), `gpioset v2.3.2 (libgpiod v2.2.1)` (2.3+, whose
 * tools have their own version). The tools' own version is the first one printed.
 */
export function parseToolsVersion(output: string): GpiodToolsVersion {
  const firstLine = output.split('\n', 1)[0] ?? '';
  const match = /\bv(\d+)\.(\d+)(?:\.\d+)?/.exec(firstLine);
  if (!match) throw new GpioError(`cannot read the libgpiod version from \`gpioset --version\`: ${JSON.stringify(firstLine)}`);
  return { major: Number(match[1]), text: match[0] };
}

export async function readToolsVersion(spawnFn: SpawnTool): Promise<GpiodToolsVersion> {
  const result = await runTool(spawnFn, 'gpioset', ['--version']);
  if (result.exit.code !== 0) {
    throw new GpioError(`\`gpioset --version\` failed: ${toolMessage(result)}`);
  }
  const version = parseToolsVersion(result.stdout);
  if (version.major !== 1 && version.major !== 2) {
    throw new GpioError(`libgpiod tools ${version.text} are not supported (1.x and 2.x are)`);
  }
  return version;
}

/**
 * Every GPIO chip and line, from `gpioinfo`. The chips that could be listed are kept even when
 * gpioinfo fails on another one (libgpiod 2.x goes on after a chip it may not open); with none
 * listed, the failure is the error, with the usual fix for a permission problem.
 */
export async function readChipLines(spawnFn: SpawnTool): Promise<GpioChipLines[]> {
  const result = await runTool(spawnFn, 'gpioinfo', []);
  const chips = parseGpioinfo(result.stdout);
  if (result.exit.code !== 0 && chips.length === 0) {
    throw new GpioError(`gpioinfo failed: ${toolMessage(result)}${permissionAdvice(result.stderr)}`);
  }
  return chips;
}

/** What a failed tool said, without its program-name prefix; its exit status when it said nothing. */
export function toolMessage(result: { exit: ToolExit; stderr: string }): string {
  if (result.exit.error) return describeError(result.exit.error);
  const said = result.stderr
    .trim()
    .split('\n')
    .map((line) => line.replace(/^gpio\w+: /, ''))
    .join('; ');
  if (said) return said;
  return result.exit.signal ? `ended by ${result.exit.signal}` : `exit code ${result.exit.code}`;
}

/** The fix for the errors the tools print, or '' when there is nothing better than their own words. */
export function permissionAdvice(stderr: string): string {
  if (/permission denied/i.test(stderr)) {
    return (
      ". The agent's user must be in the gpio group, which owns /dev/gpiochip* " +
      '(`sudo usermod -aG gpio <user>`, then log in again; the systemd unit sets SupplementaryGroups=gpio)'
    );
  }
  return '';
}
