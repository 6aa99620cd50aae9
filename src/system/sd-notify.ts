import { spawn, type ChildProcess } from 'node:child_process';
import { type Logger } from '../logging/logger.js';

/** What the daemon tells its supervisor (systemd) about its life. */
export interface Notifier {
  /** Start-up is complete (audio flows). */
  ready(): void;
  /** The pipeline is alive; only called while windows keep arriving (silent ones included). */
  watchdog(): void;
  /** A graceful stop has begun. */
  stopping(): void;
  /** How often the watchdog wants a ping, in ms (half of WatchdogSec), or undefined if off. */
  readonly watchdogIntervalMs: number | undefined;
}

type Spawn = (command: string, args: readonly string[], env: NodeJS.ProcessEnv) => ChildProcess;

/**
 * sd_notify(3) without a native addon: Node has no unix datagram sockets, so each message is
 * sent by systemd's own `systemd-notify` helper, with `--pid` naming this process so systemd
 * attributes it to the main process (the unit sets NotifyAccess=all because the helper is a
 * child). Does nothing without NOTIFY_SOCKET (not under systemd); failures are logged once and
 * never stop the agent.
 */
export function createNotifier(
  env: Readonly<Record<string, string | undefined>>,
  logger: Logger,
  pid: number,
  spawnProcess: Spawn = (command, args, childEnv) => spawn(command, args, { stdio: 'ignore', env: childEnv }),
): Notifier {
  const socket = env['NOTIFY_SOCKET'];
  const watchdogUsec = Number(env['WATCHDOG_USEC']);
  const watchdogPid = env['WATCHDOG_PID'];
  const watchdogIntervalMs =
    socket && Number.isFinite(watchdogUsec) && watchdogUsec > 0 && (!watchdogPid || Number(watchdogPid) === pid)
      ? watchdogUsec / 1000 / 2
      : undefined;
  let warned = false;
  const send = (...assignments: string[]): void => {
    if (!socket) return;
    // The helper finds the socket (and PATH) in the environment the agent was given.
    // --no-block: do not wait for systemd to acknowledge (a BARRIER round trip) on every ping.
    const child = spawnProcess('systemd-notify', ['--no-block', `--pid=${pid}`, ...assignments], { ...env });
    child.on('error', (error) => {
      if (warned) return;
      warned = true;
      logger.warn({ err: error, socket }, 'cannot notify systemd (is systemd-notify installed?); continuing without it');
    });
  };
  return {
    ready: () => send('--ready', 'STATUS=listening'),
    watchdog: () => send('WATCHDOG=1'),
    stopping: () => send('STOPPING=1', 'STATUS=stopping'),
    watchdogIntervalMs,
  };
}
