import { EXIT, type Command } from './command.js';
import { forEachFileFeatures } from './each-file.js';
import { openClassifier } from './open-classifier.js';
import { formatTable } from './table.js';

export const classifyCommand: Command = {
  usage: 'ser-agent classify [--model DIR] [--backend auto|onnxruntime|tfjs-node|wasm|cpu] [--json] FILE...',
  options: { json: { type: 'boolean' } },
  async run(values, files, context) {
    const classifier = await openClassifier(context);
    const rows: string[][] = [];
    let failures: number;
    try {
      failures = await forEachFileFeatures('classify', files, context, (file, features) => {
        const prediction = classifier.classify(features);
        if (values['json'] === true) context.out(JSON.stringify({ file, ...prediction }));
        else rows.push([file, prediction.emotion, prediction.confidence.toFixed(2)]);
      });
    } finally {
      classifier.dispose();
    }
    if (rows.length > 0) {
      for (const line of formatTable(['file', 'emotion', 'confidence'], rows)) context.out(line);
    }
    return failures > 0 ? EXIT.failure : EXIT.ok;
  },
};
