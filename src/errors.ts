/**
 * Every failure the agent reports on purpose is a SerError with a stable code, so callers
 * (the CLI, the daemon, tests) branch on `code`, never on message text. Messages name the
 * thing, the bad value and the fix.
 */
export type SerErrorCode =
  | 'USAGE'
  | 'CONFIG'
  | 'AUDIO_NOT_FOUND'
  | 'AUDIO_DECODE'
  | 'AUDIO_UNSUPPORTED'
  | 'MODEL_INVALID'
  | 'DATASET'
  | 'BACKEND'
  | 'SPEECH_DETECTION'
  | 'GPIO'
  | 'INTERRUPTED';

export class SerError extends Error {
  readonly code: SerErrorCode;

  constructor(code: SerErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Wrong command-line use: unknown flag, missing argument. */
export class UsageError extends SerError {
  constructor(message: string, options?: ErrorOptions) {
    super('USAGE', message, options);
  }
}

/** Configuration that failed validation; lists every problem at once. */
export class ConfigError extends SerError {
  constructor(message: string, options?: ErrorOptions) {
    super('CONFIG', message, options);
  }
}

/** An audio file that cannot be read, decoded or is not supported. `file` names it. */
export class AudioError extends SerError {
  readonly file: string;

  constructor(
    code: 'AUDIO_NOT_FOUND' | 'AUDIO_DECODE' | 'AUDIO_UNSUPPORTED',
    file: string,
    reason: string,
    options?: ErrorOptions,
  ) {
    super(code, `${file}: ${reason}`, options);
    this.file = file;
  }
}

/** A model directory that is missing, truncated, tampered with or built for other features. */
export class ModelError extends SerError {
  constructor(message: string, options?: ErrorOptions) {
    super('MODEL_INVALID', message, options);
  }
}

/** A dataset folder that cannot be used for training or evaluation. */
export class DatasetError extends SerError {
  constructor(message: string, options?: ErrorOptions) {
    super('DATASET', message, options);
  }
}

/** A requested compute backend that cannot be initialised. */
export class BackendError extends SerError {
  constructor(message: string, options?: ErrorOptions) {
    super('BACKEND', message, options);
  }
}

/** The speech detector failed on one window, which is then not classified; the next one is tried. */
export class SpeechDetectionError extends SerError {
  constructor(cause: unknown) {
    super('SPEECH_DETECTION', `speech detection failed, so the window was not classified: ${describeError(cause)}`, { cause });
  }
}

/** A long command stopped by SIGINT/SIGTERM before it had anything worth keeping. */
export class InterruptedError extends SerError {
  constructor(message: string, options?: ErrorOptions) {
    super('INTERRUPTED', message, options);
  }
}

/** The message of anything thrown, for log lines and one-line CLI errors. */
export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
