import { pino, type Logger as PinoLogger, type LevelWithSilent } from 'pino';

export type Logger = PinoLogger;
export type LogLevel = LevelWithSilent;
export type LogFormat = 'auto' | 'json' | 'pretty';

export const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
export const LOG_FORMATS: readonly LogFormat[] = ['auto', 'json', 'pretty'];

/** How one command's logs are written, decided once from the configuration, the flags and where they go. */
export interface LogSetup {
  level: LogLevel;
  format: Exclude<LogFormat, 'auto'>;
}

export interface LogSetupInputs {
  /** `log.level` from the configuration (flags included). */
  level: LogLevel;
  /** `log.format` from the configuration (flags included). */
  format: LogFormat;
  /** The logs go to a terminal, so a person reads them as they come. */
  terminal: boolean;
  /** `--log-level` was on the command line: an explicit request for that level now. */
  levelFromFlag: boolean;
  /** The command is the daemon (`run`), not a one-shot command. */
  daemon: boolean;
}

/**
 * `auto` writes pretty lines to a terminal and JSON lines anywhere else (journald, pipes,
 * files), where a program reads them. At a terminal a one-shot command's output is its table;
 * its info lines (backend chosen, model loaded) only push that table down, so they are left out
 * unless `--log-level` asks for them, while warnings and errors still show. The daemon keeps
 * info at a terminal: those lines are how it shows it is working.
 */
export function chooseLogSetup(inputs: LogSetupInputs): LogSetup {
  const format = inputs.format === 'auto' ? (inputs.terminal ? 'pretty' : 'json') : inputs.format;
  const quiet = inputs.terminal && !inputs.daemon && !inputs.levelFromFlag && inputs.level === 'info';
  return { level: quiet ? 'warn' : inputs.level, format };
}

/**
 * The root logger: JSON lines on stderr, written synchronously so nothing is lost on a power
 * cut and journald receives lines in order; stdout stays free for command output (tables, JSON).
 * Modules take `logger.child({ module: '...' })`.
 */
export function createLogger(level: LogLevel, destination: number = 2): Logger {
  return pino(
    { level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ dest: destination, sync: true }),
  );
}

/**
 * The root logger for `setup`: JSON lines as createLogger writes them, or the same records
 * through pino-pretty, one line each (time, level, module, message, then the other fields),
 * also written synchronously. pino-pretty is loaded only here, so the daemon under systemd,
 * which writes JSON, never loads it.
 */
export async function openLogger(setup: LogSetup, destination: number, colorize: boolean): Promise<Logger> {
  if (setup.format === 'json') return createLogger(setup.level, destination);
  const { default: pretty } = await import('pino-pretty');
  return pino(
    { level: setup.level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime },
    pretty({
      destination,
      sync: true,
      colorize,
      singleLine: true,
      translateTime: 'SYS:HH:MM:ss.l',
      messageFormat: '{if module}[{module}] {end}{msg}',
      ignore: 'module',
    }),
  );
}
