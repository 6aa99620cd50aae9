import { EmotionClassifier } from '../model/classifier.js';
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
  const { backend, threads, onnxFormat } = context.config.model;
  const classifier = await EmotionClassifier.load(modelDir, {
    backend: { preference: backend, logger: context.logger.child({ module: 'backend' }), threads, onnxFormat },
  });
  context.logger.info({ model: modelDir, name: classifier.metadata.name, ...classifier.runtime }, 'model loaded');
  return classifier;
}
