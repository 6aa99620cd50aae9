import { type ParseArgsConfig } from 'node:util';
import { type AgentConfig } from '../config/load.js';
import { type Logger } from '../logging/logger.js';
import { type Hangups } from '../system/hangups.js';
import { type CloseControl } from '../system/shutdown.js';
import type { FeatureSource } from '../training/model-features.js';

/** What every command receives from the CLI; commands never touch process globals. */
export interface CommandContext {
  config: Readonly<AgentConfig>;
  logger: Logger;
  /** One line of command output on stdout (tables, JSON lines). */
  out: (line: string) => void;
  /** One line for the user on stderr (per-file errors, summaries). */
  err: (line: string) => void;
  /** The agent's environment, passed to the programs it runs (recorders); never read elsewhere. */
  env: Readonly<Record<string, string | undefined>>;
  /** This process's id (systemd notifications name it). */
  pid: number;
  /** The agent's version, from its package.json. */
  version: string;
  /** The command line as typed, recorded in trained models for reproducibility. */
  commandLine: string;
  /** Aborted when the command is asked to stop (a signal, a fatal error): shutdown.signal. */
  signal: AbortSignal;
  /**
   * The deadline of the command's close, and a close of its own making (see CloseControl);
   * absent when nothing ends the process for it (tests).
   */
  shutdown?: CloseControl;
  /** Reads the configuration again from the same files, environment and flags (a reload). */
  readConfig?: () => Readonly<AgentConfig>;
  /** SIGHUP, for a command with `reloadsOnHangup`; absent when nothing delivers it (tests). */
  hangups?: Pick<Hangups, 'listen'>;
}

/** Features for a command: the configured cache, its stop signal, each file that fails to decode told on stderr. */
export function featureSource(context: CommandContext): FeatureSource {
  return { cacheDir: context.config.cache.dir, signal: context.signal, onFailure: (reason) => context.err(`ser-agent: ${reason}`) };
}

export type OptionValues = Record<string, string | boolean | string[] | undefined>;

/**
 * A command's behaviour, loaded only when it runs (see COMMANDS in index.ts, which owns each
 * command's name and summary so that listing the commands loads none of them).
 */
export interface Command {
  usage: string;
  options: NonNullable<ParseArgsConfig['options']>;
  /** The daemon logs to stdout for journald; one-shot commands keep stdout for their output. */
  logsToStdout?: boolean;
  /** SIGHUP reloads it (context.hangups); for other commands SIGHUP ends the process, as it always did. */
  reloadsOnHangup?: boolean;
  /** Resolves to the process exit code. */
  run(values: OptionValues, positionals: string[], context: CommandContext): Promise<number>;
}

/** Exit codes shared by all commands. */
export const EXIT = {
  ok: 0,
  /** Some inputs failed (each reported) or the work failed. */
  failure: 1,
  /** The command line itself was wrong. */
  usage: 2,
  /**
   * The configuration is invalid (sysexits EX_CONFIG). The systemd unit lists it in
   * RestartPreventExitStatus: restarting cannot fix a bad config, so it must not loop.
   */
  config: 78,
} as const;
