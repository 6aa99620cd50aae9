import { describeError, UsageError } from '../errors.js';
import { FeatureExtractor } from '../dsp/features.js';
import { featuresForFile } from '../features/file-features.js';
import { type CommandContext } from './command.js';

/**
 * Computes the features of each named audio file in turn and hands them to `use`. A file
 * that cannot be read is reported on its own line and skipped, so one bad file never stops
 * the others. Resolves to the number of files that failed.
 */
export async function forEachFileFeatures(
  command: string,
  files: readonly string[],
  context: CommandContext,
  use: (file: string, features: Float32Array) => void,
): Promise<number> {
  if (files.length === 0) throw new UsageError(`${command} needs at least one audio file`);
  const extractor = new FeatureExtractor();
  let failures = 0;
  for (const file of files) {
    let features: Float32Array;
    try {
      features = await featuresForFile(file, extractor);
    } catch (error) {
      failures++;
      context.err(`ser-agent: ${describeError(error)}`);
      continue;
    }
    use(file, features);
  }
  return failures;
}
