import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isatty } from 'node:tty';
import { fileURLToPath } from 'node:url';
import { runCli } from './commands/index.js';
import { Hangups } from './system/hangups.js';

/**
 * The process entry point: the only module that reads argv and the environment, owns the
 * signals and sets the exit code. A first SIGINT/SIGTERM asks the running command to stop
 * (a training run finishes its batch and keeps the best epoch so far; a command computing
 * features stops after the file in hand); a second one exits at once. SIGHUP asks `run` to
 * reload its configuration and model, and ends any other command as it always did (see Hangups).
 */
const installDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const abort = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (abort.signal.aborted) process.exit(1);
    process.stderr.write(`ser-agent: ${signal} received, stopping (send it again to exit now)\n`);
    abort.abort();
  });
}

// From the first line, so that a reload asked for while the daemon starts is held, not fatal.
const onHangup = (): void => hangups.received();
const hangups = new Hangups(() => {
  // Without a listener SIGHUP takes its default action again: the process ends by that signal.
  process.off('SIGHUP', onHangup);
  process.kill(process.pid, 'SIGHUP');
});
process.on('SIGHUP', onHangup);

process.exitCode = await runCli({
  argv: process.argv.slice(2),
  env: process.env,
  installDir,
  homeDir: os.homedir(),
  hostname: os.hostname(),
  pid: process.pid,
  version: (JSON.parse(readFileSync(path.join(installDir, 'package.json'), 'utf8')) as { version: string }).version,
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  isTerminal: isatty,
  signal: abort.signal,
  hangups,
});
