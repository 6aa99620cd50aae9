import path from 'node:path';
import { UsageError } from '../errors.js';
import { readTrainingHistory } from '../model/artifact/store.js';
import { calibrationError } from '../model/runtime/calibration.js';
import { scanDatasets } from '../training/datasets.js';
import { type FeatureSet } from '../training/feature-set.js';
import { evaluateByCorpus, subsetMetrics, VOICE_STATISTICS, type VoiceHearing } from '../training/evaluate.js';
import { heldOutFeatures } from '../training/held-out.js';
import { modelFeatures } from '../training/model-features.js';
import { warnAbsentCorpora } from '../training/recorded-split.js';
import { writeEvaluationReport, type ReportRow } from '../training/report/html-report.js';
import { describeModelSettings } from '../training/report/model-settings.js';
import { heldOutSpeakers } from '../training/splits.js';
import { EXIT, featureSource, type Command } from './command.js';
import { openClassifier } from './open-classifier.js';
import { choiceOption, dataDirectories, integerOption, refusePositionals, stringOption } from './options.js';
import { describeMetrics, percent } from './report.js';

export const evaluateCommand: Command = {
  usage:
    'ser-agent evaluate [--model DIR] --data DIR... [--split all|test] [--voices speaker|running|training [--seed N]] [--json] [--report DIR]',
  options: {
    data: { type: 'string', multiple: true },
    split: { type: 'string' },
    json: { type: 'boolean' },
    report: { type: 'string' },
    voices: { type: 'string' },
    seed: { type: 'string' },
  },
  async run(values, positionals, context) {
    refusePositionals('evaluate', positionals, 'use --data DIR');
    const dataDirs = dataDirectories(values);
    const which = choiceOption(values, 'split', ['all', 'test'] as const, 'all');
    const reportDir = stringOption(values, 'report');
    const modelDir = context.config.model.path;
    const hearing: VoiceHearing = {
      statistics: choiceOption(values, 'voices', VOICE_STATISTICS, 'speaker'),
      seed: integerOption(values, 'seed', 1, 0, 2 ** 31 - 1),
    };

    const classifier = await openClassifier(context);
    try {
      const { metadata } = classifier;
      if (values['voices'] !== undefined && metadata.frontEnd !== 'speaker') {
        throw new UsageError(
          `--voices ${hearing.statistics} chooses the voice statistics of a model with the speaker front-end; ` +
            `${modelDir} has the ${metadata.frontEnd ?? 'seed'} front-end: drop --voices`,
        );
      }
      const scan = await scanDatasets(dataDirs);
      let set: FeatureSet;
      let speakers: string[] = [];
      if (which === 'test') {
        // Only the files this model never saw in training: its own recorded split, rebuilt.
        const heldOut = heldOutFeatures(metadata, modelDir, scan.files, featureSource(context));
        warnAbsentCorpora(heldOut.absentCorpora, context.err);
        const files = heldOut.split.test;
        speakers = heldOutSpeakers(heldOut.provenance.split).filter((speaker) => files.some((file) => file.speaker === speaker));
        set = await heldOut.test();
      } else {
        set = await modelFeatures(featureSource(context), metadata)(scan.files);
      }
      const report = evaluateByCorpus(classifier, set, hearing);
      const metrics = report.all;
      const calibration = calibrationError(report.probabilities, set.labels);
      const temperature = metadata.temperature ?? 1;
      const speakerIndependent =
        speakers.length > 0 ? subsetMetrics(set, report.predicted, (file) => speakers.includes(file.speaker)) : undefined;
      const unlabelled = { count: scan.unlabelled.length, files: scan.unlabelled };

      if (values['json'] === true) {
        context.out(
          JSON.stringify({
            model: metadata.name,
            data: dataDirs,
            split: which,
            ...(metadata.frontEnd === 'speaker' ? { voices: hearing } : {}),
            ...metrics,
            ece: calibration.ece,
            temperature,
            ...(speakerIndependent ? { speakerIndependent: { speakers, ...speakerIndependent } } : {}),
            byCorpus: report.byCorpus,
            unlabelled,
            failed: { count: set.failed.length, files: set.failed },
          }),
        );
      } else {
        if (speakerIndependent) {
          context.out(
            `speaker-independent (held-out speakers ${speakers.join(',')}): ${speakerIndependent.count} files, ` +
              `accuracy ${percent(speakerIndependent.accuracy)}, UAR ${percent(speakerIndependent.uar)}`,
          );
        }
        if (metadata.frontEnd === 'speaker') context.out(`voices heard with: ${describeHearing(hearing)}`);
        for (const line of describeMetrics(`${metadata.name} on ${which} files`, metrics)) context.out(line);
        context.out(`ECE ${percent(calibration.ece)} (${calibration.bins.length} bins, temperature ${temperature.toFixed(3)})`);
        context.out(`unlabelled files (not evaluated): ${unlabelled.count}`);
        context.out(`files that failed to decode: ${set.failed.length}`);
      }
      if (which === 'all' && scan.files.some((file) => metadata.training.dataSources.some((s) => s['corpus'] === file.corpus))) {
        context.err(
          'ser-agent: these files include corpora the model was trained on, so its training files are counted too; ' +
            'use --split test for the files it never saw',
        );
      }
      if (scan.unlabelled.length > 0) {
        context.err(
          `ser-agent: ${scan.unlabelled.length} file(s) have no derivable label, e.g. ` +
            `${scan.unlabelled[0]?.path}: ${scan.unlabelled[0]?.reason}`,
        );
      }

      if (reportDir !== undefined) {
        const rows: ReportRow[] = [
          ...(speakerIndependent
            ? [{ name: `held-out speakers ${speakers.join(', ')} (speaker-independent)`, metrics: speakerIndependent }]
            : []),
          // A corpus whose speakers were held out is the speaker-independent row above.
          ...Object.entries(report.byCorpus)
            .filter(([corpus]) => !speakers.some((speaker) => speaker.startsWith(`${corpus}:`)))
            .map(([corpus, m]) => ({
              name: `${corpus}${which === 'test' ? ': held-out files of speakers also heard in training' : ''}`,
              metrics: m,
            })),
          { name: `all ${which === 'test' ? 'test ' : ''}files`, metrics },
        ];
        const history = await readTrainingHistory(modelDir);
        const file = await writeEvaluationReport(reportDir, {
          title: `${metadata.name} ${metadata.version}`,
          subject:
            which === 'test'
              ? `Held-out test split recorded at training (${dataDirs.join(', ')})`
              : `All labelled files in ${dataDirs.join(', ')}`,
          metrics,
          rows,
          calibration: { ece: calibration.ece, temperature, bins: calibration.bins },
          ...(history ? { history } : {}),
          settings: [
            ['evaluation command', context.commandLine],
            ['evaluated files', `${metrics.count} (${which} split)`],
            ...(metadata.frontEnd === 'speaker' ? [['voices heard with', describeHearing(hearing)] as [string, string]] : []),
            ...describeModelSettings(metadata, path.resolve(modelDir)),
          ],
          generated: new Date(),
        });
        context.err(`report written to ${file}`);
      }
      return set.failed.length > 0 ? EXIT.failure : EXIT.ok;
    } finally {
      classifier.dispose();
    }
  },
};

/** How a `speaker` model heard each voice, as the output and the report say it. */
function describeHearing({ statistics, seed }: VoiceHearing): string {
  switch (statistics) {
    case 'speaker':
      return "each speaker's statistics over all of their clips (as trained)";
    case 'running':
      return `statistics learnt clip by clip, as a device learns a voice (each speaker's clips in the order of seed ${seed ?? 1})`;
    case 'training':
      return "the training set's statistics for every clip (no adaptation)";
  }
}
