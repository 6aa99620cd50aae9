import { SAMPLE_RATE } from '../dsp/constants.js';
import { FeatureExtractor } from '../dsp/features.js';
import { InterruptedError } from '../errors.js';
import { RecordingClassifier } from '../pipeline/recording-classifier.js';
import { WindowClassifier } from '../pipeline/window-classifier.js';
import { clock, describeShares, describeWindows } from '../timeline/describe.js';
import type { TimelineRecording } from '../timeline/report.js';
import { summarizeTimeline, toTimelineWindow, type TimelineSummary, type TimelineWindow } from '../timeline/timeline.js';
import { EXIT, type Command, type CommandContext } from './command.js';
import { forEachFileRecording } from './each-file.js';
import { openClassifier } from './open-classifier.js';
import { openSpeechGate } from './open-speech-gate.js';
import { stringOption } from './options.js';
import { formatTable } from './table.js';

export const classifyCommand: Command = {
  usage:
    'ser-agent classify [--model DIR] [--backend auto|onnxruntime|tfjs-node|wasm|cpu] [--timeline] [--json] [--report DIR] FILE...',
  options: { json: { type: 'boolean' }, timeline: { type: 'boolean' }, report: { type: 'string' } },
  async run(values, files, context) {
    const json = values['json'] === true;
    const timeline = values['timeline'] === true;
    const reportDir = stringOption(values, 'report');
    const { hopSeconds, silenceDbfs, minSpeechRatio } = context.config.window;
    const classifier = await openClassifier(context);
    const answers: Answer[] = [];
    const recordings: TimelineRecording[] = [];
    let failures: number;
    try {
      const speechGate = await openSpeechGate(context);
      try {
        // The daemon's windows, level gate, speech gate and model, over each whole file.
        const windowClassifier = new WindowClassifier(new FeatureExtractor(), classifier, speechGate === undefined ? {} : { speechGate });
        const recordingClassifier = new RecordingClassifier(windowClassifier, { hopSeconds, silenceDbfs });
        failures = await forEachFileRecording('classify', files, context, async (file, samples) => {
          const windows: TimelineWindow[] = [];
          for (const window of recordingClassifier.windows(samples)) {
            const row = toTimelineWindow(window);
            windows.push(row);
            if (timeline && json) context.out(JSON.stringify(windowJson(file, row)));
            await stopIfAborted(context, file, samples.length, row.end);
          }
          const summary = summarizeTimeline(windows, samples.length / SAMPLE_RATE, speechGate !== undefined);
          if (reportDir !== undefined) recordings.push({ file, windows, summary });
          if (timeline) {
            if (json) context.out(JSON.stringify(fileJson(file, summary)));
            else printTimeline(context, file, windows, summary, hopSeconds);
          } else if (json) {
            context.out(JSON.stringify(windows.length === 1 ? oneWindowJson(file, windows[0] as TimelineWindow) : fileJson(file, summary)));
          } else {
            answers.push({ file, windows, summary });
          }
        });
      } finally {
        speechGate?.detector.dispose();
      }
    } finally {
      classifier.dispose();
      // Stopped by Ctrl-C or not, the files already heard get their rows.
      if (answers.length > 0) printAnswers(context, answers);
    }
    if (reportDir !== undefined) {
      if (recordings.length === 0) {
        context.err('ser-agent: no report written: none of the files could be read');
      } else {
        const { name, version } = classifier.metadata;
        // The chart renderer (vega) is loaded only for a report, as evaluate loads it.
        const { writeTimelineReport } = await import('../timeline/report.js');
        const reportFile = await writeTimelineReport(reportDir, {
          model: `${name} ${version}`,
          recordings,
          hopSeconds,
          settings: [
            ['command', context.commandLine],
            ['model', context.config.model.path],
            ['window', `3 s every ${hopSeconds} s (window.hopSeconds)`],
            ['level gate', `silent below ${silenceDbfs} dBFS RMS (window.silenceDbfs)`],
            [
              'speech gate',
              minSpeechRatio === 0 ? 'off (window.minSpeechRatio 0)' : `at least ${minSpeechRatio} of a window is speech (window.minSpeechRatio, Silero VAD)`,
            ],
          ],
          generated: new Date(),
        });
        context.err(`report written to ${reportFile}`);
      }
    }
    return failures > 0 ? EXIT.failure : EXIT.ok;
  },
};

interface Answer {
  file: string;
  windows: readonly TimelineWindow[];
  summary: TimelineSummary;
}

/**
 * Lets a Ctrl-C in between two windows: a long recording is many seconds of inference, and
 * the signal is only seen once the event loop turns.
 */
async function stopIfAborted(context: CommandContext, file: string, samples: number, heard: number): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
  if (!context.signal.aborted) return;
  throw new InterruptedError(`stopped at ${clock(heard)} of ${clock(samples / SAMPLE_RATE)} in ${file}`);
}

/** Seconds to the millisecond: sample positions at 22,050 Hz otherwise print as 2.9999999999. */
const seconds = (value: number) => Math.round(value * 1000) / 1000;

function emotionCell(window: TimelineWindow): string {
  return window.prediction?.emotion ?? (window.outcome === 'silent' ? 'silent' : 'no speech');
}

const ratioCell = (ratio: number | null) => (ratio === null ? '-' : ratio.toFixed(2));

/** One line of `--timeline --json`: a window, classified or why not. */
function windowJson(file: string, window: TimelineWindow): Record<string, unknown> {
  const prediction = window.prediction;
  return {
    file,
    start: seconds(window.start),
    end: seconds(window.end),
    outcome: window.outcome,
    emotion: prediction?.emotion ?? null,
    confidence: prediction?.confidence ?? null,
    probabilities: prediction?.probabilities ?? null,
    speechRatio: window.speechRatio,
    levelDbfs: Number.isFinite(window.levelDbfs) ? Math.round(window.levelDbfs * 10) / 10 : null,
  };
}

/** A file's answer over all its windows: the `--timeline --json` closing line, and `--json` for a file longer than a window. */
function fileJson(file: string, summary: TimelineSummary): Record<string, unknown> {
  return {
    file,
    emotion: summary.emotion,
    confidence: summary.confidence,
    probabilities: summary.probabilities,
    speechRatio: summary.speechRatio,
    seconds: seconds(summary.seconds),
    windows: summary.windows,
    summary: summary.shares,
  };
}

/** `--json` for a file of one window (3 s or shorter): the object classify has always printed. */
function oneWindowJson(file: string, window: TimelineWindow): Record<string, unknown> {
  if (window.prediction !== null) return { file, ...window.prediction, speechRatio: window.speechRatio };
  if (window.outcome === 'silent') return { file, emotion: null, speechRatio: null, silent: true };
  return { file, emotion: null, speechRatio: window.speechRatio };
}

/** The table of files; a `windows` column when one of them is longer than a window. */
function printAnswers(context: CommandContext, answers: readonly Answer[]): void {
  const anyLong = answers.some((answer) => answer.summary.windows.total > 1);
  const rows = answers.map(({ file, windows, summary }) => {
    if (summary.windows.total === 1) {
      const window = windows[0] as TimelineWindow;
      const confidence = window.prediction === null ? '-' : window.prediction.confidence.toFixed(2);
      return [file, emotionCell(window), confidence, ratioCell(window.speechRatio), ...(anyLong ? [describeCounts(summary)] : [])];
    }
    const emotion = summary.emotion ?? (summary.windows.silent === summary.windows.total ? 'silent' : 'no speech');
    const confidence = summary.confidence === null ? '-' : summary.confidence.toFixed(2);
    return [file, emotion, confidence, ratioCell(summary.speechRatio), describeCounts(summary)];
  });
  const header = ['file', 'emotion', 'confidence', 'speech', ...(anyLong ? ['windows'] : [])];
  for (const line of formatTable(header, rows)) context.out(line);
}

/** "2 of 4 classified". */
function describeCounts(summary: TimelineSummary): string {
  return `${summary.windows.classified} of ${summary.windows.total} classified`;
}

/** `--timeline` at a terminal: per file, a heading, a row per window and the file's answer. */
function printTimeline(
  context: CommandContext,
  file: string,
  windows: readonly TimelineWindow[],
  summary: TimelineSummary,
  hopSeconds: number,
): void {
  context.out(`${file}: ${clock(summary.seconds)}, ${windows.length} ${windows.length === 1 ? 'window' : 'windows'} (3 s every ${hopSeconds} s)`);
  const rows = windows.map((window) => [
    clock(window.start),
    clock(window.end),
    emotionCell(window),
    window.prediction === null ? '-' : window.prediction.confidence.toFixed(2),
    ratioCell(window.speechRatio),
  ]);
  for (const line of formatTable(['start', 'end', 'emotion', 'confidence', 'speech'], rows)) context.out(`  ${line}`);
  const answer =
    summary.emotion === null || summary.shares === null
      ? 'no speech'
      : `${summary.emotion} (${describeShares(summary.shares)})`;
  context.out(`${file}: ${answer}; ${describeWindows(summary)}`);
  context.out('');
}
