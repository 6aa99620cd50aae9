import { pino, type Level, type Logger } from 'pino';

export interface CapturedLogs {
  logger: Logger;
  /** Every line logged so far, parsed, oldest first. */
  lines: Record<string, unknown>[];
  /** The lines as written, for checks that a secret never reached the log in any form. */
  raw(): string;
}

/** A pino logger whose JSON lines are kept for assertions on log fields; debug level by default. */
export function captureLogs(level: Level = 'debug'): CapturedLogs {
  const lines: Record<string, unknown>[] = [];
  const written: string[] = [];
  const logger = pino(
    { level, base: undefined },
    {
      write: (line: string) => {
        written.push(line);
        lines.push(JSON.parse(line) as Record<string, unknown>);
      },
    },
  );
  return { logger, lines, raw: () => written.join('') };
}
