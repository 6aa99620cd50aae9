import { type TopLevelSpec } from 'vega-lite';
import { EMOTIONS, type Emotion } from '../labels.js';
import { BASE_CONFIG, renderSvg } from '../training/report/charts.js';
import { escapeHtml, pageEnd, pageStart, REPORT_STYLE, writeReportPage } from '../training/report/html-report.js';
import { clock, describeShares, describeWindows } from './describe.js';
import { type TimelineSummary, type TimelineWindow } from './timeline.js';

/** Emotion colours (Okabe-Ito, colour-blind-safe), the same in the lines and the strip. */
const EMOTION_COLOURS: Readonly<Record<Emotion, string>> = {
  anger: '#D55E00',
  disgust: '#009E73',
  fear: '#CC79A7',
  happiness: '#E69F00',
  neutral: '#000000',
  sadness: '#0072B2',
  surprise: '#56B4E9',
};
/** The strip's labels for windows without an emotion, and their greys. */
const NO_SPEECH = 'no speech';
const SILENT = 'silent';
const STRIP_DOMAIN = [...EMOTIONS, NO_SPEECH, SILENT];
const STRIP_RANGE = [...EMOTIONS.map((emotion) => EMOTION_COLOURS[emotion]), '#bdbdbd', '#ececec'];
const SPEECH_SHADE = '#dde8f3';
/** The one legend the strip and the lines share (the same in both, or Vega-Lite warns of a conflict). */
const LEGEND = { title: 'window', orient: 'right' as const, labelLimit: 160 };
const CHART_WIDTH = 980;

export interface TimelineRecording {
  file: string;
  windows: readonly TimelineWindow[];
  summary: TimelineSummary;
}

export interface TimelineReportInput {
  /** e.g. "ser-cnn-lstm 2.1.0". */
  model: string;
  recordings: readonly TimelineRecording[];
  hopSeconds: number;
  /** The settings that shaped the timeline as label/value pairs (command, hop, gates). */
  settings: ReadonlyArray<readonly [string, string]>;
  generated: Date;
}

/** Stretches of the recording the speech gate passed: the union of the classified windows. */
export function speechSegments(windows: readonly TimelineWindow[]): Array<{ start: number; end: number }> {
  const segments: Array<{ start: number; end: number }> = [];
  for (const window of windows) {
    if (window.outcome !== 'classified') continue;
    const last = segments.at(-1);
    if (last !== undefined && window.start <= last.end) last.end = Math.max(last.end, window.end);
    else segments.push({ start: window.start, end: window.end });
  }
  return segments;
}

/**
 * The timeline of one recording: a strip of the windows (each one's emotion, or why it has
 * none) over the probability of every emotion at each classified window's centre, with the
 * stretches the speech gate passed shaded. Overlapping windows each take the middle hop of
 * their span in the strip (the first and last reach the recording's edges), so the strip
 * reads as one band.
 */
export function timelineSpec(recording: TimelineRecording, hopSeconds: number): TopLevelSpec {
  const { windows, summary } = recording;
  const domain = [0, Math.max(summary.seconds, ...windows.map((window) => window.end))];
  const strip = windows.map((window, index) => {
    const middle = (window.start + window.end) / 2;
    const half = Math.min(hopSeconds, window.end - window.start) / 2;
    const label = window.prediction?.emotion ?? (window.outcome === 'silent' ? SILENT : NO_SPEECH);
    // The first and last windows reach the recording's edges.
    const from = index === 0 ? window.start : middle - half;
    const to = index === windows.length - 1 ? window.end : middle + half;
    return { from, to, label };
  });
  // A new run after each window without an emotion, so the lines break where nothing was heard.
  let run = 0;
  let previousClassified = false;
  const points = windows.flatMap((window) => {
    const prediction = window.prediction;
    if (prediction === null) {
      previousClassified = false;
      return [];
    }
    if (!previousClassified) run++;
    previousClassified = true;
    const time = (window.start + window.end) / 2;
    return EMOTIONS.map((emotion) => ({ time, emotion, probability: prediction.probabilities[emotion], run }));
  });
  const x = { type: 'quantitative' as const, scale: { domain, nice: false, zero: true } };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    vconcat: [
      {
        name: 'strip',
        width: CHART_WIDTH,
        height: 22,
        data: { values: strip },
        mark: { type: 'rect', stroke: 'white', strokeWidth: 0.5 },
        encoding: {
          x: { ...x, field: 'from', title: null, axis: { labels: false, ticks: false, grid: false, domain: false } },
          x2: { field: 'to' },
          color: {
            field: 'label',
            type: 'nominal',
            scale: { domain: STRIP_DOMAIN, range: STRIP_RANGE },
            legend: LEGEND,
          },
        },
      },
      {
        width: CHART_WIDTH,
        height: 260,
        layer: [
          {
            name: 'speech',
            data: { values: speechSegments(windows) },
            mark: { type: 'rect', color: SPEECH_SHADE },
            encoding: { x: { ...x, field: 'start', title: 'seconds' }, x2: { field: 'end' } },
          },
          {
            name: 'probabilities',
            data: { values: points },
            mark: { type: 'line', point: { size: 22 }, strokeWidth: 1.75, interpolate: 'monotone' },
            encoding: {
              x: { ...x, field: 'time', title: 'seconds' },
              y: { field: 'probability', type: 'quantitative', scale: { domain: [0, 1] }, axis: { format: '.0%' }, title: 'probability' },
              color: {
                field: 'emotion',
                type: 'nominal',
                scale: { domain: STRIP_DOMAIN, range: STRIP_RANGE },
                legend: LEGEND,
              },
              detail: { field: 'run', type: 'nominal' },
            },
          },
        ],
      },
    ],
    spacing: 6,
    // Plot areas aligned on their edges, whatever their axes take, so a window in the strip
    // sits above its point; one colour scale and legend for the strip and the lines.
    bounds: 'flush',
    resolve: { scale: { x: 'shared', color: 'shared' } },
    config: BASE_CONFIG,
  };
}

async function recordingSection(recording: TimelineRecording, index: number, hopSeconds: number): Promise<string> {
  const { summary, windows } = recording;
  const answer =
    summary.emotion === null || summary.shares === null
      ? `<p class="answer none">No speech: ${escapeHtml(describeWindows(summary))}.</p>`
      : `<p class="answer"><strong>${escapeHtml(summary.emotion)}</strong>: ${escapeHtml(describeShares(summary.shares))} of the classified windows.</p>`;
  const rows = windows.map((window) => {
    const prediction = window.prediction;
    const outcome = prediction?.emotion ?? (window.outcome === 'silent' ? SILENT : NO_SPEECH);
    return (
      `<tr class="${window.outcome}"><td>${clock(window.start)}</td><td>${clock(window.end)}</td><td>${escapeHtml(outcome)}</td>` +
      `<td>${prediction === null ? '-' : prediction.confidence.toFixed(2)}</td>` +
      `<td>${window.speechRatio === null ? '-' : window.speechRatio.toFixed(2)}</td>` +
      `<td>${Number.isFinite(window.levelDbfs) ? window.levelDbfs.toFixed(1) : '-∞'}</td></tr>`
    );
  });
  return `<section class="recording" id="recording-${index + 1}">
<h2>${escapeHtml(recording.file)}</h2>
${answer}
<p class="subject">${escapeHtml(clock(summary.seconds))} long; ${escapeHtml(describeWindows(summary))}${summary.speechRatio === null ? '' : `; speech ratio ${summary.speechRatio.toFixed(2)}`}.</p>
<figure class="chart timeline">${await renderSvg(timelineSpec(recording, hopSeconds))}</figure>
<p class="note">Top: each window's emotion, or why it has none (the level gate found it silent, or the speech gate found too little speech). Below: each emotion's probability at the centre of every classified window; shaded: the stretches the speech gate passed.</p>
<details>
<summary>${windows.length} ${windows.length === 1 ? 'window' : 'windows'}</summary>
<table class="windows">
<thead><tr><th>start</th><th>end</th><th>emotion</th><th>confidence</th><th>speech</th><th>level (dBFS)</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
</table>
</details>
</section>`;
}

/**
 * The timeline report as one self-contained HTML page, like the evaluation report: charts
 * rendered to SVG here and embedded, inline CSS, no scripts and nothing fetched.
 */
export async function renderTimelineReport(input: TimelineReportInput): Promise<string> {
  const sections: string[] = [];
  for (const [index, recording] of input.recordings.entries()) sections.push(await recordingSection(recording, index, input.hopSeconds));
  return `${pageStart(`${input.model}: timeline`, `${REPORT_STYLE}${TIMELINE_STYLE}`)}
<body>
<header>
<h1>Emotion timeline</h1>
<p class="subject">${escapeHtml(input.model)}, ${input.recordings.length} ${input.recordings.length === 1 ? 'recording' : 'recordings'}</p>
</header>
${sections.join('\n')}
${pageEnd(input.settings, 'classify', input.generated)}`;
}

/** Writes the page as DIR/index.html; resolves to the file written. */
export async function writeTimelineReport(dir: string, input: TimelineReportInput): Promise<string> {
  return writeReportPage(dir, await renderTimelineReport(input));
}

const TIMELINE_STYLE = `
.recording { margin-top: 2rem; border-top: 1px solid #ddd; }
.recording h2 { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 1.05rem; word-break: break-all; }
.answer { font-size: 1.15rem; margin: .25rem 0; }
.answer.none { color: #8a4b00; }
.timeline { margin: 1rem 0 .25rem; overflow-x: auto; }
details { margin: .5rem 0 1rem; }
.windows td { font-variant-numeric: tabular-nums; }
.windows tr.silent td, .windows tr.non_speech td { color: #777; }
`;
