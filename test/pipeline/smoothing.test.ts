import { describe, expect, it } from 'vitest';
import { EMOTIONS, type Emotion } from '../../src/labels.js';
import type { Prediction } from '../../src/model/runtime/classifier.js';
import { PredictionSmoother, type SmoothingOptions } from '../../src/pipeline/smoothing.js';

/** A prediction with `confidence` on `emotion` and the rest shared evenly by the others. */
function prediction(emotion: Emotion, confidence: number): Prediction {
  const rest = (1 - confidence) / (EMOTIONS.length - 1);
  const probabilities = Object.fromEntries(EMOTIONS.map((e) => [e, e === emotion ? confidence : rest])) as Record<
    Emotion,
    number
  >;
  return { emotion, confidence, probabilities };
}

function smoother(options: Partial<SmoothingOptions>): PredictionSmoother {
  return new PredictionSmoother({ mode: 'none', windows: 3, minConfidence: 0, ...options });
}

describe('PredictionSmoother', () => {
  it('none: publishes each prediction as it is', () => {
    const smooth = smoother({ mode: 'none' });
    const inputs = [prediction('anger', 0.6), prediction('fear', 0.7), prediction('anger', 0.8)];
    expect(inputs.map((input) => smooth.push(input))).toEqual(inputs);
  });

  it('majority: the most frequent emotion of the last N, as its most recent prediction', () => {
    const smooth = smoother({ mode: 'majority', windows: 3 });
    const happy1 = prediction('happiness', 0.6);
    const sad = prediction('sadness', 0.9);
    const happy2 = prediction('happiness', 0.7);
    const sad2 = prediction('sadness', 0.5);
    expect(smooth.push(happy1)).toBe(happy1);
    // One each: the tie goes to the most recent.
    expect(smooth.push(sad)).toBe(sad);
    expect(smooth.push(happy2)).toBe(happy2);
    // The last three are sad, happy, sad: sadness wins, and the newest sad prediction speaks.
    expect(smooth.push(sad2)).toBe(sad2);
    // The first sad has left the window: happy2, sad2, fear is a three-way tie, the newest wins.
    const fear = prediction('fear', 0.8);
    expect(smooth.push(fear)).toBe(fear);
  });

  it('majority: a tie between emotions goes to the one seen most recently, not the newest window', () => {
    const smooth = smoother({ mode: 'majority', windows: 5 });
    const sequence: Emotion[] = ['anger', 'neutral', 'anger', 'neutral', 'surprise'];
    const outputs = sequence.map((emotion, i) => smooth.push(prediction(emotion, 0.5 + i / 100)));
    // anger 2, neutral 2, surprise 1: neutral was seen last among the tied.
    expect(outputs.at(-1)).toEqual(prediction('neutral', 0.53));
  });

  it('mean: the argmax of the mean probability vector over the last N', () => {
    const smooth = smoother({ mode: 'mean', windows: 2 });
    smooth.push(prediction('anger', 0.9));
    const result = smooth.push(prediction('disgust', 0.5));
    const rest = (a: number, b: number): number => ((1 - a) / 6 + (1 - b) / 6) / 2;
    expect(result?.emotion).toBe('anger');
    expect(result?.confidence).toBeCloseTo((0.9 + 0.5 / 6) / 2, 12);
    expect(result?.probabilities.disgust).toBeCloseTo((0.1 / 6 + 0.5) / 2, 12);
    expect(result?.probabilities.fear).toBeCloseTo(rest(0.9, 0.5), 12);
    // Two more disgust windows push anger out of the window of two.
    smooth.push(prediction('disgust', 0.5));
    expect(smooth.push(prediction('disgust', 0.6))).toMatchObject({ emotion: 'disgust', confidence: 0.55 });
  });

  it('holds back predictions below the minimum confidence, after smoothing', () => {
    const plain = smoother({ mode: 'none', minConfidence: 0.6 });
    expect(plain.push(prediction('fear', 0.59))).toBeUndefined();
    expect(plain.push(prediction('fear', 0.6))).toEqual(prediction('fear', 0.6));

    const averaged = smoother({ mode: 'mean', windows: 2, minConfidence: 0.6 });
    expect(averaged.push(prediction('anger', 0.9))).toMatchObject({ emotion: 'anger' });
    // Each alone would pass, but anger and fear averaged are unsure.
    expect(averaged.push(prediction('fear', 0.9))).toBeUndefined();
  });

  it('reset() forgets the past predictions', () => {
    const smooth = smoother({ mode: 'majority', windows: 3 });
    smooth.push(prediction('anger', 0.9));
    smooth.push(prediction('anger', 0.9));
    smooth.reset();
    const calm = prediction('neutral', 0.7);
    expect(smooth.push(calm)).toBe(calm);
  });

  it('configure(): a new minConfidence keeps the history, a new mode or window count starts it afresh', () => {
    const smooth = smoother({ mode: 'majority', windows: 3 });
    const angry = prediction('anger', 0.9);
    smooth.push(angry);
    smooth.push(angry);
    smooth.configure({ mode: 'majority', windows: 3, minConfidence: 0.95 });
    // Still the anger majority, now held back by the new minimum.
    expect(smooth.push(prediction('neutral', 0.97))).toBeUndefined();
    smooth.configure({ mode: 'majority', windows: 3, minConfidence: 0 });
    expect(smooth.push(prediction('neutral', 0.6))).toEqual(prediction('neutral', 0.6));
    smooth.configure({ mode: 'majority', windows: 5, minConfidence: 0 });
    const calm = prediction('sadness', 0.5);
    expect(smooth.push(calm)).toBe(calm);
    expect(() => smooth.configure({ mode: 'mean', windows: 0, minConfidence: 0 })).toThrow(/windows is 0/);
  });

  it('rejects a window count below one and a minimum confidence outside 0..1', () => {
    expect(() => smoother({ windows: 0 })).toThrow(/windows is 0/);
    expect(() => smoother({ minConfidence: 1.5 })).toThrow(/minConfidence is 1.5/);
    expect(() => smoother({ minConfidence: Number.NaN })).toThrow(/minConfidence is NaN/);
  });
});
