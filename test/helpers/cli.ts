import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stripVTControlCharacters } from 'node:util';

export const REPO_ROOT = path.resolve(fileURLToPath(new URL('../..', import.meta.url)));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the real `ser-agent` executable (the compiled dist/, built by the global test setup)
 * as a user would, in the repository root, with its own feature cache directory.
 */
export function runSerAgent(args: readonly string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.join(REPO_ROOT, 'bin', 'ser-agent.js'), ...args],
      { cwd: REPO_ROOT, env: { ...process.env, ...env }, maxBuffer: 256 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** The lines of a text that are not JSON log lines (user-facing messages on stderr). */
export function messageLines(text: string): string[] {
  return text.split('\n').filter((line) => line.length > 0 && !line.startsWith('{'));
}

export interface TerminalResult {
  code: number;
  /** Everything the terminal showed (stdout and stderr share it), colours removed, `\n` line ends. */
  output: string;
}

/**
 * Runs the real `ser-agent` in a pseudo-terminal through util-linux `script`, as a person at a
 * terminal would: stdout and stderr are the terminal (isatty is true), so both arrive in one
 * stream. Colour codes are removed, and the terminal's CRLF line ends become `\n`.
 */
export function runSerAgentInTerminal(args: readonly string[], env: Record<string, string> = {}): Promise<TerminalResult> {
  const command = [process.execPath, path.join(REPO_ROOT, 'bin', 'ser-agent.js'), ...args].map(shellQuote).join(' ');
  return new Promise((resolve) => {
    execFile(
      'script',
      ['--quiet', '--return', '--command', command, '/dev/null'],
      { cwd: REPO_ROOT, env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, output: stripVTControlCharacters(stdout).replace(/\r\n/g, '\n') });
      },
    );
  });
}

/** One word for `sh -c`, whatever characters it holds. */
function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}
