import { type CalibrationReport } from '../training/calibrate.js';
import { warnAbsentCorpora } from '../training/recorded-split.js';
import { recalibrateModelDir } from '../training/recalibration.js';
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
    let calibrated: Awaited<ReturnType<typeof recalibrateModelDir>>;
    try {
      calibrated = await recalibrateModelDir(classifier, modelDir, dataDirs, featureSource(context), context.commandLine);
    } finally {
      classifier.dispose();
    }
    warnAbsentCorpora(calibrated.absentCorpora, context.err);
    for (const line of describeCalibration(calibrated.report)) context.out(line);
    context.out(`temperature ${calibrated.report.temperature.toFixed(4)} saved in ${modelDir}/metadata.json`);
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
