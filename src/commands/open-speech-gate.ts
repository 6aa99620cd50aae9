import { type AgentConfig } from '../config/load.js';
import { type Logger } from '../logging/logger.js';
import { type SpeechGate } from '../pipeline/window-classifier.js';
import { SAMPLE_RATE } from '../dsp/constants.js';
import { SpeechDetector } from '../speech/speech-detector.js';
import { SpeechTrack } from '../speech/speech-track.js';
import { type CommandContext } from './command.js';

/**
 * The speech gate as configured (window.minSpeechRatio, window.speechModel), for the daemon
 * and `classify` alike; undefined when the ratio is 0, and the detector is then never loaded.
 * The caller disposes `detector` when done.
 */
export async function openSpeechGate(
  context: CommandContext,
): Promise<(SpeechGate & { detector: SpeechDetector }) | undefined> {
  return loadSpeechGate(context.config.window, context.logger);
}

/** openSpeechGate from the window settings alone: the daemon builds it again on a reload. */
export async function loadSpeechGate(
  window: Pick<AgentConfig['window'], 'minSpeechRatio' | 'speechModel'>,
  logger: Logger,
): Promise<(SpeechGate & { detector: SpeechDetector }) | undefined> {
  const { minSpeechRatio, speechModel } = window;
  if (minSpeechRatio === 0) {
    logger.info({}, 'speech gate off (window.minSpeechRatio is 0): every window above the silence threshold is classified');
    return undefined;
  }
  const detector = await SpeechDetector.load(speechModel);
  logger.info({ speechModel, minSpeechRatio }, 'speech gate loaded');
  return { meter: new SpeechTrack(detector, SAMPLE_RATE), minSpeechRatio, detector };
}
