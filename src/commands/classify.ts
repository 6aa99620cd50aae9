import { describeError, UsageError } from '../errors.js';
import { FeatureExtractor } from '../dsp/features.js';
import { featuresForFile } from '../features/file-features.js';
import { type Prediction } from '../model/classifier.js';
import { EXIT, type Command } from './command.js';
import { openClassifier } from './open-classifier.js';
import { formatTable } from './table.js';

export const classifyCommand: Command = {
  name: 'classify',
  summary: 'Detect the emotion in audio files (WAV, FLAC, MP3)',
  usage: 'ser-agent classify [--model DIR] [--backend auto|tfjs-node|wasm|cpu] [--json] FILE...',
  options: { json: { type: 'boolean' } },
  async run(values, files, context) {
    if (files.length === 0) throw new UsageError('classify needs at least one audio file');
    const classifier = await openClassifier(context);
    const extractor = new FeatureExtractor();
    const rows: string[][] = [];
    let failures = 0;
    try {
      for (const file of files) {
        let prediction: Prediction;
        try {
          prediction = classifier.classify(await featuresForFile(file, extractor));
        } catch (error) {
          // One bad file is reported and skipped; the others are still classified.
          failures++;
          context.err(`ser-agent: ${describeError(error)}`);
          continue;
        }
        if (values['json'] === true) {
          context.out(JSON.stringify({ file, ...prediction }));
        } else {
          rows.push([file, prediction.emotion, prediction.confidence.toFixed(2)]);
        }
      }
    } finally {
      classifier.dispose();
    }
    if (rows.length > 0) {
      for (const line of formatTable(['file', 'emotion', 'confidence'], rows)) context.out(line);
    }
    return failures > 0 ? EXIT.failure : EXIT.ok;
  },
};
