import { parseArgs } from 'node:util';
import { loadConfig, type ConfigOverrides } from '../config/load.js';
import { BACKEND_PREFERENCES, type BackendPreference } from '../model/runtime/backend.js';
import { ConfigError, describeError, ModelError, SerError, UsageError } from '../errors.js';
import { chooseLogSetup, LOG_FORMATS, LOG_LEVELS, openLogger } from '../logging/logger.js';
import { type Hangups } from '../system/hangups.js';
import { type CloseControl } from '../system/shutdown.js';
import { EXIT, type Command } from './command.js';

/** A command as the CLI lists it; its module, and everything it imports, loads only when it runs. */
export interface CommandEntry {
  name: string;
  summary: string;
  load(): Promise<Command>;
}

/**
 * Every command, in the order `help` lists them. Each module is imported on demand: the
 * daemon must not pay, in memory on a 512 MB board, for training, reporting and TensorFlow.js
 * code that other commands import.
 */
export const COMMANDS: readonly CommandEntry[] = [
  {
    name: 'run',
    summary: 'Run the agent: microphone → 3 s windows → emotion → MQTT events and LEDs (the daemon)',
    load: async () => (await import('./run.js')).runCommand,
  },
  {
    name: 'classify',
    summary: 'Detect the emotion in audio files (WAV, FLAC, MP3) over their whole length, or say that they hold no speech; --timeline window by window',
    load: async () => (await import('./classify.js')).classifyCommand,
  },
  {
    name: 'features',
    summary: 'Print the model input features (130 frames × 40 MFCC + 128 mel) of audio files',
    load: async () => (await import('./features.js')).featuresCommand,
  },
  {
    name: 'train',
    summary: 'Train the CNN-LSTM on emotional speech folders and save a model directory',
    load: async () => (await import('./train.js')).trainCommand,
  },
  {
    name: 'evaluate',
    summary: 'Measure a model on labelled recordings: accuracy, UAR, macro-F1, ECE, per class, confusion; HTML report',
    load: async () => (await import('./evaluate.js')).evaluateCommand,
  },
  {
    name: 'calibrate',
    summary: "Fit the model's confidence (temperature scaling) on its validation split; report ECE before and after",
    load: async () => (await import('./calibrate.js')).calibrateCommand,
  },
  {
    name: 'adapt',
    summary: "Adapt a copy of a model's confidence and class priors to one site from a few labelled clips recorded there",
    load: async () => (await import('./adapt.js')).adaptCommand,
  },
  {
    name: 'compare',
    summary: 'Compare trained runs speaker-independently; pick the best on held-out validation speakers',
    load: async () => (await import('./compare.js')).compareCommand,
  },
  {
    name: 'quantize',
    summary: 'Write a smaller copy of a model: tfjs with uint8/float16 weights, or an int8 ONNX file',
    load: async () => (await import('./quantize.js')).quantizeCommand,
  },
  {
    name: 'export-onnx',
    summary: 'Add a float32 ONNX copy (model.onnx) of a model for the onnxruntime backend',
    load: async () => (await import('./export-onnx.js')).exportOnnxCommand,
  },
  {
    name: 'devices',
    summary: 'List the capture devices (microphones) to choose audio.device from',
    load: async () => (await import('./devices.js')).devicesCommand,
  },
  {
    name: 'config',
    summary: 'Print the effective configuration (defaults, files, environment, flags), secrets redacted',
    load: async () => (await import('./config.js')).configCommand,
  },
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
  /** Signals and fatal errors, as the command sees them: its abort signal, and the deadline of its close. */
  shutdown: CloseControl;
  /** SIGHUP, caught from the start and held until the command says what it does with it. */
  hangups?: Hangups;
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
  const entry = COMMANDS.find((candidate) => candidate.name === name);
  if (!entry) {
    environment.err(`ser-agent: unknown command "${name}"; run "ser-agent help" for the list`);
    return EXIT.usage;
  }
  let command: Command | undefined;
  try {
    command = await entry.load();
    if (command.reloadsOnHangup !== true) environment.hangups?.endOnHangup();
    const { values, positionals } = parseArgs({
      args: rest,
      options: { ...GLOBAL_OPTIONS, ...command.options },
      allowPositionals: true,
      strict: true,
    });
    if (values.help === true) {
      environment.out(`${command.usage}\n\n${entry.summary}\n\n${globalUsage()}`);
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
    const sources = {
      ...(typeof values.config === 'string' ? { file: values.config } : {}),
      env: environment.env,
      overrides,
      installDir: environment.installDir,
      homeDir: environment.homeDir,
      hostname: environment.hostname,
    };
    const config = loadConfig(sources);
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
      signal: environment.shutdown.signal,
      shutdown: environment.shutdown,
      // The same files, environment and flags as at start: a reload gives what a restart would.
      readConfig: () => loadConfig(sources),
      ...(environment.hangups === undefined || command.reloadsOnHangup !== true ? {} : { hangups: environment.hangups }),
    });
  } catch (error) {
    environment.err(`ser-agent ${name}: ${describeError(error)}`);
    if (command !== undefined && (error instanceof UsageError || isParseArgsError(error))) {
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
  const width = Math.max(...COMMANDS.map((entry) => entry.name.length));
  return [
    'ser-agent: speech emotion recognition for the edge',
    '',
    'usage: ser-agent <command> [options]',
    '',
    'commands:',
    ...COMMANDS.map((entry) => `  ${entry.name.padEnd(width)}  ${entry.summary}`),
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
