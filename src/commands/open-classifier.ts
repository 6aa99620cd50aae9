import { type AgentConfig } from '../config/load.js';
import { type Logger } from '../logging/logger.js';
import { EmotionClassifier } from '../model/runtime/classifier.js';
import { verifyModelDir, type VerifiedModelDir } from '../model/artifact/store.js';
import { type CommandContext } from './command.js';

/**
 * Loads and verifies the model directory on the configured compute backend (logging which
 * one runs and why others were skipped). The daemon, classify, evaluate and quantize all
 * open their models here, so they share one backend selection.
 */
export async function openClassifier(
  context: CommandContext,
  modelDir: string = context.config.model.path,
): Promise<EmotionClassifier> {
  return openVerifiedClassifier(await verifyModelDir(modelDir), context.config.model, context.logger);
}

/** openClassifier for a directory already verified, from the bytes that were verified. */
export async function openVerifiedClassifier(
  verified: VerifiedModelDir,
  options: Pick<AgentConfig['model'], 'backend' | 'threads' | 'onnxFormat'>,
  logger: Logger,
): Promise<EmotionClassifier> {
  const { backend, threads, onnxFormat } = options;
  const classifier = await EmotionClassifier.fromVerified(verified, {
    backend: { preference: backend, logger: logger.child({ module: 'backend' }), threads, onnxFormat },
  });
  logger.info({ model: verified.dir, name: classifier.metadata.name, ...classifier.runtime }, 'model loaded');
  return classifier;
}
