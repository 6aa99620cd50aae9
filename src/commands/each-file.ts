import { loadAudio } from '../audio/load-clip.js';
import { describeError, InterruptedError, UsageError } from '../errors.js';
import { FeatureExtractor } from '../dsp/features.js';
import { featuresForFile } from '../features/file-features.js';
import { type CommandContext } from './command.js';

/**
 * Reads each named audio file in turn with `read` and hands the result to `use`. A file that
 * cannot be read or used is reported on its own line and skipped, so one bad file never stops
 * the others; an InterruptedError (Ctrl-C) stops them all. Resolves to the number of files
 * that failed.
 */
async function forEachFile<T>(
  command: string,
  files: readonly string[],
  context: CommandContext,
  read: (file: string) => Promise<T>,
  use: (file: string, value: T) => void | Promise<void>,
): Promise<number> {
  if (files.length === 0) throw new UsageError(`${command} needs at least one audio file`);
  let failures = 0;
  for (const file of files) {
    try {
      await use(file, await read(file));
    } catch (error) {
      if (error instanceof InterruptedError) throw error;
      failures++;
      context.err(`ser-agent: ${describeError(error)}`);
    }
  }
  return failures;
}

/** The model features of each file (see featuresForFile); the rest as forEachFile. */
export function forEachFileFeatures(
  command: string,
  files: readonly string[],
  context: CommandContext,
  use: (file: string, features: Float32Array) => void,
): Promise<number> {
  const extractor = new FeatureExtractor();
  return forEachFile(command, files, context, (file) => featuresForFile(file, extractor), use);
}

/**
 * The whole of each file at the model's rate, mono (librosa.load semantics without a
 * duration); `use` may take its time (await) over it. The rest as forEachFile.
 */
export function forEachFileRecording(
  command: string,
  files: readonly string[],
  context: CommandContext,
  use: (file: string, samples: Float32Array) => void | Promise<void>,
): Promise<number> {
  return forEachFile(command, files, context, (file) => loadAudio(file, { durationSeconds: Infinity }), use);
}
