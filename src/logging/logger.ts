import { pino, type Logger as PinoLogger, type LevelWithSilent } from 'pino';

export type Logger = PinoLogger;
export type LogLevel = LevelWithSilent;

export const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

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
