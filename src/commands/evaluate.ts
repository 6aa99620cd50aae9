import { FeatureExtractor } from '../dsp/features.js';
import { FeatureCache } from '../features/feature-cache.js';
import { scanDatasets, type LabelledFile } from '../training/datasets.js';
import { evaluateClassifier } from '../training/evaluate.js';
import { buildFeatureSet } from '../training/feature-set.js';
import { readSplitProvenance, splitFromProvenance } from '../training/recorded-split.js';
import { EXIT, type Command } from './command.js';
import { openClassifier } from './open-classifier.js';
import { choiceOption, dataDirectories, refusePositionals } from './options.js';
import { describeMetrics } from './report.js';

export const evaluateCommand: Command = {
  name: 'evaluate',
  summary: 'Measure a model on labelled recordings: accuracy, UAR, macro-F1, per class, confusion',
  usage: 'ser-agent evaluate [--model DIR] --data DIR... [--split all|test] [--json]',
  options: {
    data: { type: 'string', multiple: true },
    split: { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(values, positionals, context) {
    refusePositionals('evaluate', positionals, 'use --data DIR');
    const dataDirs = dataDirectories(values);
    const which = choiceOption(values, 'split', ['all', 'test'] as const, 'all');

    const classifier = await openClassifier(context);
    try {
      const scan = await scanDatasets(dataDirs);
      let files: LabelledFile[] = scan.files;
      if (which === 'test') {
        // Only the files this model never saw in training: its own recorded split, rebuilt.
        const provenance = readSplitProvenance(classifier.metadata.training, context.config.model.path);
        files = splitFromProvenance(scan.files, provenance).test;
      }
      const set = await buildFeatureSet(files, new FeatureExtractor(), new FeatureCache(context.config.cache.dir));
      for (const failure of set.failed) context.err(`ser-agent: ${failure.reason}`);
      const { metrics } = evaluateClassifier(classifier, set);
      const unlabelled = { count: scan.unlabelled.length, files: scan.unlabelled };
      if (values['json'] === true) {
        context.out(
          JSON.stringify({
            model: classifier.metadata.name,
            data: dataDirs,
            split: which,
            ...metrics,
            unlabelled,
            failed: { count: set.failed.length, files: set.failed },
          }),
        );
      } else {
        for (const line of describeMetrics(`${classifier.metadata.name} on ${which} files`, metrics)) {
          context.out(line);
        }
        context.out(`unlabelled files (not evaluated): ${unlabelled.count}`);
        context.out(`files that failed to decode: ${set.failed.length}`);
      }
      if (scan.unlabelled.length > 0) {
        context.err(
          `ser-agent: ${scan.unlabelled.length} file(s) have no derivable label, e.g. ` +
            `${scan.unlabelled[0]?.path}: ${scan.unlabelled[0]?.reason}`,
        );
      }
      return set.failed.length > 0 ? EXIT.failure : EXIT.ok;
    } finally {
      classifier.dispose();
    }
  },
};
