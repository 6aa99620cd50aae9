/**
 * The model's classes: SAVEE's seven emotions in alphabetical order, as scikit-learn's
 * LabelEncoder orders them, so class indices match a model trained by the original Keras
 * pipeline (../shared/datasets/README.md, "The label set").
 */
export const EMOTIONS = [
  'anger',
  'disgust',
  'fear',
  'happiness',
  'neutral',
  'sadness',
  'surprise',
] as const;

export type Emotion = (typeof EMOTIONS)[number];

export function isEmotion(value: string): value is Emotion {
  return (EMOTIONS as readonly string[]).includes(value);
}
