import { parseArgs } from 'node:util';
import { loadConfig, type ConfigOverrides } from '../config/load.js';
import { BACKEND_PREFERENCES, type BackendPreference } from '../model/backend.js';
import { ConfigError, describeError, ModelError, SerError, UsageError } from '../errors.js';
import { chooseLogSetup, LOG_FORMATS, LOG_LEVELS, openLogger } from '../logging/logger.js';
import { adaptCommand } from './adapt.js';
import { calibrateCommand } from './calibrate.js';
import { classifyCommand } from './classify.js';
import { compareCommand } from './compare.js';
import { configCommand } from './config.js';
import { devicesCommand } from './devices.js';
import { EXIT, type Command } from './command.js';
import { evaluateCommand } from './evaluate.js';
import { exportOnnxCommand } from './export-onnx.js';
import { featuresCommand } from './features.js';
import { quantizeCommand } from './quantize.js';
import { runCommand } from './run.js';
import { trainCommand } from './train.js';

export const COMMANDS: readonly Command[] = [
  runCommand,
  classifyCommand,
  featuresCommand,
  trainCommand,
  evaluateCommand,
  calibrateCommand,
  adaptCommand,
  compareCommand,
  quantizeCommand,
  exportOnnxCommand,
  devicesCommand,
  configCommand,
];

const GLOBAL_OPTIONS = {
  model: { type: 'string' },
  backend: { type: 'string' },
  config: { type: 'string' },
  'log-level': { type: 'string' },
  'log-format': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export interface CliEnvironment {
  argv: readonly string[];
  env: Readonly<Record<string, string | undefined>>;
  installDir: string;
  homeDir: string;
  hostname: string;
  pid: number;
  version: string;
  out: (line: string) => void;
  err: (line: string) => void;
  /** File descriptor one-shot commands log to (stderr in production); `run` logs to stdout. */
  logFd?: number;
  /** Whether a file descriptor is a terminal (tty.isatty in production): `log.format: auto` asks it. */
  isTerminal: (fd: number) => boolean;
  signal: AbortSignal;
}

/**
 * Parses the command line, loads the configuration and runs one command. Resolves to the
 * exit code; every expected failure becomes a one-line message, never a stack trace.
 */
export async function runCli(environment: CliEnvironment): Promise<number> {
  const [name, ...rest] = environment.argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    environment.out(usage());
    return EXIT.ok;
  }
  const command = COMMANDS.find((candidate) => candidate.name === name);
  if (!command) {
    environment.err(`ser-agent: unknown command "${name}"; run "ser-agent help" for the list`);
    return EXIT.usage;
  }
  try {
    const { values, positionals } = parseArgs({
      args: rest,
      options: { ...GLOBAL_OPTIONS, ...command.options },
      allowPositionals: true,
      strict: true,
    });
    if (values.help === true) {
      environment.out(`${command.usage}\n\n${command.summary}\n\n${globalUsage()}`);
      return EXIT.ok;
    }
    const overrides: ConfigOverrides = {
      model: {
        path: values.model,
        backend: values.backend as BackendPreference | undefined,
      },
      log: {
        level: values['log-level'] as (typeof LOG_LEVELS)[number] | undefined,
        format: values['log-format'] as (typeof LOG_FORMATS)[number] | undefined,
      },
    };
    const config = loadConfig({
      ...(typeof values.config === 'string' ? { file: values.config } : {}),
      env: environment.env,
      overrides,
      installDir: environment.installDir,
      homeDir: environment.homeDir,
      hostname: environment.hostname,
    });
    // Only the daemon logs to stdout (see Command.logsToStdout): one-shot commands keep it for their output.
    const daemon = command.logsToStdout === true;
    const logFd = daemon ? 1 : (environment.logFd ?? 2);
    const terminal = environment.isTerminal(logFd);
    const logger = await openLogger(
      chooseLogSetup({
        level: config.log.level,
        format: config.log.format,
        terminal,
        levelFromFlag: values['log-level'] !== undefined,
        daemon,
      }),
      logFd,
      terminal && wantsColor(environment.env),
    );
    return await command.run(values, positionals, {
      config,
      logger,
      env: environment.env,
      pid: environment.pid,
      version: environment.version,
      out: environment.out,
      err: environment.err,
      commandLine: ['ser-agent', ...environment.argv].join(' '),
      signal: environment.signal,
    });
  } catch (error) {
    environment.err(`ser-agent ${name}: ${describeError(error)}`);
    if (error instanceof UsageError || isParseArgsError(error)) {
      environment.err(`usage: ${command.usage}`);
      return EXIT.usage;
    }
    // A broken or tampered model directory, like a bad config, is not fixed by restarting:
    // exit with the code the systemd unit lists in RestartPreventExitStatus, so it cannot loop.
    if (error instanceof ConfigError || error instanceof ModelError) return EXIT.config;
    if (!(error instanceof SerError)) environment.err(String((error as Error).stack ?? ''));
    return EXIT.failure;
  }
}

/** The NO_COLOR convention (https://no-color.org) and terminals that cannot show colour. */
function wantsColor(env: Readonly<Record<string, string | undefined>>): boolean {
  return !env['NO_COLOR'] && env['TERM'] !== 'dumb';
}

function isParseArgsError(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_');
}

function usage(): string {
  const width = Math.max(...COMMANDS.map((command) => command.name.length));
  return [
    'ser-agent: speech emotion recognition for the edge',
    '',
    'usage: ser-agent <command> [options]',
    '',
    'commands:',
    ...COMMANDS.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`),
    '',
    globalUsage(),
    '',
    'Run "ser-agent <command> --help" for a command\'s options.',
  ].join('\n');
}

function globalUsage(): string {
  return [
    'options for every command:',
    '  --model DIR         model directory (default: the shipped models/ser-cnn-lstm)',
    `  --backend NAME      ${BACKEND_PREFERENCES.join(' | ')} (default auto)`,
    '  --config FILE       JSON configuration file',
    `  --log-level LEVEL   ${LOG_LEVELS.join(' | ')} (default info; at a terminal, one-shot commands show warn and above)`,
    `  --log-format FORMAT ${LOG_FORMATS.join(' | ')} (default auto: pretty at a terminal, else JSON lines; on stderr, on stdout for run)`,
  ].join('\n');
}
