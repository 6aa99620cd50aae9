import { recordModelMetrics } from '../model/artifact/store.js';
import { calibrate, type CalibrationReport } from '../training/calibrate.js';
import { predictSet } from '../training/evaluate.js';
import { scanDatasets } from '../training/datasets.js';
import { heldOutFeatures } from '../training/held-out.js';
import { warnAbsentCorpora } from '../training/recorded-split.js';
import { heldOutSpeakers, validationSpeakers } from '../training/splits.js';
import { EXIT, featureSource, type Command } from './command.js';
import { openClassifier } from './open-classifier.js';
import { dataDirectories, refusePositionals } from './options.js';
import { percent } from './report.js';

export const calibrateCommand: Command = {
  usage: 'ser-agent calibrate [--model DIR] --data DIR...',
  options: {
    data: { type: 'string', multiple: true },
  },
  async run(values, positionals, context) {
    refusePositionals('calibrate', positionals, 'use --data DIR');
    const dataDirs = dataDirectories(values);
    const modelDir = context.config.model.path;
    const classifier = await openClassifier(context);
    let report: CalibrationReport;
    try {
      // The model's own recorded split: fit on its validation files (its held-out validation
      // speakers' where it has them), measure on its test files.
      const heldOut = heldOutFeatures(classifier.metadata, modelDir, (await scanDatasets(dataDirs)).files, featureSource(context));
      warnAbsentCorpora(heldOut.absentCorpora, context.err);
      const validation = await heldOut.validation();
      const test = await heldOut.test();
      report = calibrate(
        { ...validation, probabilities: predictSet(classifier, validation).probabilities },
        { ...test, probabilities: predictSet(classifier, test).probabilities },
        heldOutSpeakers(heldOut.provenance.split),
        classifier.metadata.temperature ?? 1,
        validationSpeakers(heldOut.provenance.split),
      ).report;
    } finally {
      classifier.dispose();
    }
    // The command goes with the numbers: the card then says how to reproduce this calibration.
    await recordModelMetrics(
      modelDir,
      { calibration: { command: context.commandLine, ...report } },
      { temperature: report.temperature },
    );
    for (const line of describeCalibration(report)) context.out(line);
    context.out(`temperature ${report.temperature.toFixed(4)} saved in ${modelDir}/metadata.json`);
    return EXIT.ok;
  },
};

/** The calibration as a person reads it: the temperature, then ECE before → after. */
export function describeCalibration(report: CalibrationReport): string[] {
  const change = (name: string, files: number, before: number, after: number) =>
    `ECE on ${name} (${files} files): ${percent(before)} → ${percent(after)}`;
  return [
    `calibration: temperature ${report.previousTemperature.toFixed(3)} → ${report.temperature.toFixed(3)}, ` +
      `fitted on ${report.validation.files} validation files${report.validation.speakers ? ` of speakers ${report.validation.speakers.join(',')}` : ''} (NLL ${report.validation.nllBefore.toFixed(3)} → ` +
      `${report.validation.nllAfter.toFixed(3)})`,
    ...(report.heldOutSpeakers
      ? [
          change(
            `held-out speakers ${report.heldOutSpeakers.speakers.join(',')}`,
            report.heldOutSpeakers.files,
            report.heldOutSpeakers.eceBefore,
            report.heldOutSpeakers.eceAfter,
          ),
        ]
      : []),
    change('all test files', report.test.files, report.test.eceBefore, report.test.eceAfter),
  ];
}
