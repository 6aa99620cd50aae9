import { describeError, UsageError } from '../errors.js';
import { N_FEATURES, N_FRAMES } from '../dsp/constants.js';
import { FeatureExtractor } from '../dsp/features.js';
import { featuresForFile } from '../features/file-features.js';
import { EXIT, type Command } from './command.js';

export const featuresCommand: Command = {
  name: 'features',
  summary: 'Print the model input features (130 frames × 40 MFCC + 128 mel) of audio files',
  usage: 'ser-agent features [--json] FILE...',
  options: { json: { type: 'boolean' } },
  async run(values, files, context) {
    if (files.length === 0) throw new UsageError('features needs at least one audio file');
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
      if (values['json'] === true) {
        const rows = Array.from({ length: N_FRAMES }, (_, t) =>
          Array.from(features.subarray(t * N_FEATURES, (t + 1) * N_FEATURES)),
        );
        context.out(JSON.stringify({ file, shape: [N_FRAMES, N_FEATURES], features: rows }));
      } else {
        const { min, max } = range(features);
        context.out(`${file}: shape ${N_FRAMES}x${N_FEATURES}, min ${min.toFixed(3)}, max ${max.toFixed(3)}`);
      }
    }
    return failures > 0 ? EXIT.failure : EXIT.ok;
  },
};

function range(values: Float32Array): { min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (const value of values) {
    if (value < min) min = value;
    if (value > max) max = value;
  }
  return { min, max };
}
