import { EMOTIONS, type Emotion } from '../labels.js';
import { type TimelineSummary } from './timeline.js';

/* The timeline in words, for the classify table and the report alike. */

/** Seconds as m:ss.ss (h:mm:ss.ss past an hour), as the classify table prints times. */
export function clock(seconds: number): string {
  const hundredths = Math.round(seconds * 100);
  const whole = Math.floor(hundredths / 100);
  const fraction = String(hundredths % 100).padStart(2, '0');
  const s = String(whole % 60).padStart(2, '0');
  const minutes = Math.floor(whole / 60);
  return minutes >= 60
    ? `${Math.floor(minutes / 60)}:${String(minutes % 60).padStart(2, '0')}:${s}.${fraction}`
    : `${minutes}:${s}.${fraction}`;
}

const percent = (value: number) => `${(value * 100).toFixed(0)}%`;

/** The summary in words: "anger 50%, happiness 25%, sadness 25%", largest share first. */
export function describeShares(shares: Readonly<Record<Emotion, number>>): string {
  return EMOTIONS.filter((emotion) => shares[emotion] > 0)
    .sort((a, b) => shares[b] - shares[a])
    .map((emotion) => `${emotion} ${percent(shares[emotion])}`)
    .join(', ');
}

/** How many windows were classified, and why the others were not: "3 of 5 windows classified (1 silent, 1 no speech)". */
export function describeWindows(summary: TimelineSummary): string {
  const { total, classified, silent, nonSpeech } = summary.windows;
  const skipped = [...(silent > 0 ? [`${silent} silent`] : []), ...(nonSpeech > 0 ? [`${nonSpeech} no speech`] : [])];
  return `${classified} of ${total} ${total === 1 ? 'window' : 'windows'} classified${skipped.length > 0 ? ` (${skipped.join(', ')})` : ''}`;
}
