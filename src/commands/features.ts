import { N_FEATURES, N_FRAMES } from '../dsp/constants.js';
import { EXIT, type Command } from './command.js';
import { forEachFileFeatures } from './each-file.js';

export const featuresCommand: Command = {
  usage: 'ser-agent features [--json] FILE...',
  options: { json: { type: 'boolean' } },
  async run(values, files, context) {
    const failures = await forEachFileFeatures('features', files, context, (file, features) => {
      if (values['json'] === true) {
        const rows = Array.from({ length: N_FRAMES }, (_, t) =>
          Array.from(features.subarray(t * N_FEATURES, (t + 1) * N_FEATURES)),
        );
        context.out(JSON.stringify({ file, shape: [N_FRAMES, N_FEATURES], features: rows }));
      } else {
        const { min, max } = range(features);
        context.out(`${file}: shape ${N_FRAMES}x${N_FEATURES}, min ${min.toFixed(3)}, max ${max.toFixed(3)}`);
      }
    });
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
