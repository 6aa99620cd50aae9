import { FeatureExtractor } from '../dsp/features.js';
import { WindowClassifier } from '../pipeline/window-classifier.js';
import { EXIT, type Command } from './command.js';
import { forEachFileClip } from './each-file.js';
import { openClassifier } from './open-classifier.js';
import { openSpeechGate } from './open-speech-gate.js';
import { formatTable } from './table.js';

export const classifyCommand: Command = {
  usage: 'ser-agent classify [--model DIR] [--backend auto|onnxruntime|tfjs-node|wasm|cpu] [--json] FILE...',
  options: { json: { type: 'boolean' } },
  async run(values, files, context) {
    const classifier = await openClassifier(context);
    const rows: string[][] = [];
    let failures: number;
    try {
      const speechGate = await openSpeechGate(context);
      try {
        // The daemon's own gate and inference, on the file's first 3 s instead of a window.
        const windowClassifier = new WindowClassifier(new FeatureExtractor(), classifier, speechGate === undefined ? {} : { speechGate });
        failures = await forEachFileClip('classify', files, context, (file, samples) => {
          const result = windowClassifier.classify(samples);
          const speechRatio = result.speechRatio;
          if (values['json'] === true) {
            context.out(
              JSON.stringify(
                result.outcome === 'classified'
                  ? { file, ...result.prediction, speechRatio }
                  : { file, emotion: null, speechRatio },
              ),
            );
          } else {
            const speech = speechRatio === null ? '-' : speechRatio.toFixed(2);
            rows.push(
              result.outcome === 'classified'
                ? [file, result.prediction.emotion, result.prediction.confidence.toFixed(2), speech]
                : [file, 'no speech', '-', speech],
            );
          }
        });
      } finally {
        speechGate?.detector.dispose();
      }
    } finally {
      classifier.dispose();
    }
    if (rows.length > 0) {
      for (const line of formatTable(['file', 'emotion', 'confidence', 'speech'], rows)) context.out(line);
    }
    return failures > 0 ? EXIT.failure : EXIT.ok;
  },
};
