import { type SpeechGate } from '../pipeline/window-classifier.js';
import { SpeechDetector } from '../speech/speech-detector.js';
import { type CommandContext } from './command.js';

/**
 * The speech gate as configured (window.minSpeechRatio, window.speechModel), for the daemon
 * and `classify` alike; undefined when the ratio is 0, and the detector is then never loaded.
 * The caller disposes `meter` when done.
 */
export async function openSpeechGate(
  context: CommandContext,
): Promise<(SpeechGate & { meter: SpeechDetector }) | undefined> {
  const { minSpeechRatio, speechModel } = context.config.window;
  if (minSpeechRatio === 0) {
    context.logger.info({}, 'speech gate off (window.minSpeechRatio is 0): every window above the silence threshold is classified');
    return undefined;
  }
  const meter = await SpeechDetector.load(speechModel);
  context.logger.info({ speechModel, minSpeechRatio }, 'speech gate loaded');
  return { meter, minSpeechRatio };
}
