import { describe, expect, it } from 'vitest';
import { EMOTIONS, type Emotion } from '../../src/labels.js';
import { type Prediction } from '../../src/model/runtime/classifier.js';
import { clock, describeShares } from '../../src/timeline/describe.js';
import { speechSegments } from '../../src/timeline/report.js';
import { summarizeTimeline, type TimelineWindow } from '../../src/timeline/timeline.js';

function prediction(emotion: Emotion, confidence: number): Prediction {
  const rest = (1 - confidence) / (EMOTIONS.length - 1);
  const probabilities = Object.fromEntries(EMOTIONS.map((e) => [e, e === emotion ? confidence : rest])) as Prediction['probabilities'];
  return { emotion, confidence, probabilities };
}

let at = 0;
function classified(emotion: Emotion, confidence = 0.7, speechRatio: number | null = 0.8): TimelineWindow {
  at += 3;
  return { start: at - 3, end: at, outcome: 'classified', prediction: prediction(emotion, confidence), speechRatio, levelDbfs: -20 };
}
function silent(): TimelineWindow {
  at += 3;
  return { start: at - 3, end: at, outcome: 'silent', prediction: null, speechRatio: null, levelDbfs: -70 };
}
function nonSpeech(ratio = 0.1): TimelineWindow {
  at += 3;
  return { start: at - 3, end: at, outcome: 'non_speech', prediction: null, speechRatio: ratio, levelDbfs: -25 };
}

describe('summarizeTimeline', () => {
  it('shares the classified windows among the emotions, names the dominant one and averages the probabilities', () => {
    const windows = [classified('anger', 0.9), classified('anger', 0.5), nonSpeech(0.2), classified('sadness', 0.6), silent()];
    const summary = summarizeTimeline(windows, 15, true);
    expect(summary.windows).toEqual({ total: 5, classified: 3, silent: 1, nonSpeech: 1 });
    expect(summary.shares?.anger).toBeCloseTo(2 / 3, 12);
    expect(summary.shares?.sadness).toBeCloseTo(1 / 3, 12);
    expect(Object.values(summary.shares ?? {}).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(summary.emotion).toBe('anger');
    expect(summary.probabilities?.anger).toBeCloseTo((0.9 + 0.5 + 0.4 / 6) / 3, 12);
    expect(summary.confidence).toBe(summary.probabilities?.anger);
    // Silent windows count as no speech: (0.8 + 0.8 + 0.2 + 0.8 + 0) / 5.
    expect(summary.speechRatio).toBeCloseTo(2.6 / 5, 12);
    expect(summary.seconds).toBe(15);
  });

  it('breaks a tie between emotions by their mean probability', () => {
    const summary = summarizeTimeline([classified('happiness', 0.55), classified('fear', 0.8)], 6, true);
    expect(summary.shares).toMatchObject({ happiness: 0.5, fear: 0.5 });
    expect(summary.emotion).toBe('fear');
  });

  it('says a recording without a classified window has no speech, and gives no ratio with the gate off', () => {
    const none = summarizeTimeline([silent(), nonSpeech(), silent()], 9, true);
    expect(none).toMatchObject({ shares: null, emotion: null, probabilities: null, confidence: null });
    expect(none.windows).toEqual({ total: 3, classified: 0, silent: 2, nonSpeech: 1 });
    const ungated = summarizeTimeline([classified('neutral', 0.6, null), silent()], 6, false);
    expect(ungated.speechRatio).toBeNull();
    expect(ungated.emotion).toBe('neutral');
  });
});

describe('timeline helpers', () => {
  it('joins overlapping classified windows into speech segments', () => {
    const window = (start: number, outcome: TimelineWindow['outcome']): TimelineWindow => ({
      start,
      end: start + 3,
      outcome,
      prediction: outcome === 'classified' ? prediction('anger', 0.5) : null,
      speechRatio: 0.5,
      levelDbfs: -20,
    });
    const windows = [window(0, 'classified'), window(1, 'classified'), window(2, 'non_speech'), window(3, 'non_speech'), window(5, 'classified'), window(9, 'classified')];
    expect(speechSegments(windows)).toEqual([{ start: 0, end: 4 }, { start: 5, end: 8 }, { start: 9, end: 12 }]);
  });

  it('prints times as a clock and shares largest first', () => {
    expect([0, 2.999999, 3, 61.5, 3725.25].map(clock)).toEqual(['0:00.00', '0:03.00', '0:03.00', '1:01.50', '1:02:05.25']);
    const shares = Object.fromEntries(EMOTIONS.map((e) => [e, 0])) as Record<Emotion, number>;
    shares.sadness = 0.25;
    shares.anger = 0.75;
    expect(describeShares(shares)).toBe('anger 75%, sadness 25%');
  });
});
