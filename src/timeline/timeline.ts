import { SAMPLE_RATE } from '../dsp/constants.js';
import { EMOTIONS, type Emotion } from '../labels.js';
import { type Prediction } from '../model/runtime/classifier.js';
import { type RecordingWindow } from '../pipeline/recording-classifier.js';

/** What became of a window: the daemon's words (health, metrics) for the same outcomes. */
export type WindowOutcome = 'classified' | 'silent' | 'non_speech';

/** One window of a recording's timeline, in seconds from its start. */
export interface TimelineWindow {
  start: number;
  end: number;
  outcome: WindowOutcome;
  /** The model's answer; only for a classified window. */
  prediction: Prediction | null;
  /** Share of the window that is speech; null when the level gate turned it away or the speech gate is off. */
  speechRatio: number | null;
  /** RMS level in dBFS; −Infinity for digital silence. */
  levelDbfs: number;
}

export interface WindowCounts {
  total: number;
  classified: number;
  silent: number;
  nonSpeech: number;
}

/** A whole recording in one answer, from its classified windows. */
export interface TimelineSummary {
  /** The recording's length. */
  seconds: number;
  windows: WindowCounts;
  /** Each emotion's share of the classified windows (they sum to 1); null when none was classified. */
  shares: Record<Emotion, number> | null;
  /**
   * The dominant emotion: the one most windows gave; between emotions as many windows gave,
   * the one with the higher mean probability. Null when no window was classified.
   */
  emotion: Emotion | null;
  /** Each emotion's probability averaged over the classified windows; null when none was classified. */
  probabilities: Record<Emotion, number> | null;
  /** The dominant emotion's mean probability. */
  confidence: number | null;
  /**
   * The windows' speech ratios averaged over all of them, silent windows counting 0 (the level
   * gate found no speech in them): about how much of the recording is speech. Null when the
   * speech gate is off.
   */
  speechRatio: number | null;
}

/** A RecordingWindow as a timeline row, in seconds. */
export function toTimelineWindow(window: RecordingWindow): TimelineWindow {
  const times = { start: window.startSample / SAMPLE_RATE, end: window.endSample / SAMPLE_RATE, levelDbfs: window.levelDbfs };
  const { result } = window;
  switch (result.outcome) {
    case 'classified':
      return { ...times, outcome: 'classified', prediction: result.prediction, speechRatio: result.speechRatio };
    case 'non_speech':
      return { ...times, outcome: 'non_speech', prediction: null, speechRatio: result.speechRatio };
    case 'silent':
      return { ...times, outcome: 'silent', prediction: null, speechRatio: null };
  }
}

const zeros = (): Record<Emotion, number> => Object.fromEntries(EMOTIONS.map((emotion) => [emotion, 0])) as Record<Emotion, number>;

/**
 * The recording's answer from its windows. `gated`: whether the speech gate ran (the speech
 * ratio is then a number); `seconds`: the recording's length.
 */
export function summarizeTimeline(windows: readonly TimelineWindow[], seconds: number, gated: boolean): TimelineSummary {
  const counts: WindowCounts = { total: windows.length, classified: 0, silent: 0, nonSpeech: 0 };
  const votes = zeros();
  const sums = zeros();
  let speech = 0;
  for (const window of windows) {
    if (window.outcome === 'silent') counts.silent++;
    else if (window.outcome === 'non_speech') counts.nonSpeech++;
    speech += window.speechRatio ?? 0;
    const prediction = window.prediction;
    if (prediction === null) continue;
    counts.classified++;
    votes[prediction.emotion]++;
    for (const emotion of EMOTIONS) sums[emotion] += prediction.probabilities[emotion];
  }
  const speechRatio = gated && windows.length > 0 ? speech / windows.length : null;
  const n = counts.classified;
  if (n === 0) return { seconds, windows: counts, shares: null, emotion: null, probabilities: null, confidence: null, speechRatio };
  const shares = zeros();
  const probabilities = zeros();
  for (const emotion of EMOTIONS) {
    shares[emotion] = votes[emotion] / n;
    probabilities[emotion] = sums[emotion] / n;
  }
  let dominant: Emotion = EMOTIONS[0];
  for (const emotion of EMOTIONS) {
    const more = votes[emotion] > votes[dominant];
    const tieWon = votes[emotion] === votes[dominant] && probabilities[emotion] > probabilities[dominant];
    if (more || tieWon) dominant = emotion;
  }
  return { seconds, windows: counts, shares, emotion: dominant, probabilities, confidence: probabilities[dominant], speechRatio };
}
