import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isatty } from 'node:tty';
import { fileURLToPath } from 'node:url';
import { runCli } from './commands/index.js';
import { systemClock } from './system/clock.js';
import { Hangups } from './system/hangups.js';
import { Shutdown } from './system/shutdown.js';

/**
 * The process entry point: the only module that reads argv and the environment, owns the
 * signals and fatal errors, and ends the process. A first SIGINT/SIGTERM or an error nothing
 * caught asks the running command to stop (the daemon stops its parts within shutdownSeconds;
 * a training run finishes its batch and keeps the best epoch so far; a command computing
 * features stops after the file in hand); a second one exits at once (see Shutdown). SIGHUP
 * asks `run` to reload its configuration and model, and ends any other command as it always
 * did (see Hangups).
 */
const installDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const shutdown = new Shutdown({
  exit: (code) => process.exit(code),
  say: (line) => process.stderr.write(`${line}\n`),
  clock: systemClock,
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => shutdown.signalled(signal));
process.on('uncaughtException', (error) => shutdown.fatal(error, 'uncaught exception'));
process.on('unhandledRejection', (reason) => shutdown.fatal(reason, 'unhandled rejection'));

// From the first line, so that a reload asked for while the daemon starts is held, not fatal.
const onHangup = (): void => hangups.received();
const hangups = new Hangups(() => {
  // Without a listener SIGHUP takes its default action again: the process ends by that signal.
  process.off('SIGHUP', onHangup);
  process.kill(process.pid, 'SIGHUP');
});
process.on('SIGHUP', onHangup);

process.exitCode = shutdown.finish(
  await runCli({
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
    shutdown,
    hangups,
  }),
);
