import { EmotionClassifier } from '../model/classifier.js';
import { selectBackend } from '../model/backend.js';
import { type CommandContext } from './command.js';

/**
 * Selects the configured compute backend (logging which one runs and why others were
 * skipped), then loads and verifies the model directory.
 */
export async function openClassifier(
  context: CommandContext,
  modelDir: string = context.config.model.path,
): Promise<EmotionClassifier> {
  await selectBackend(context.config.model.backend, context.logger.child({ module: 'backend' }));
  const classifier = await EmotionClassifier.load(modelDir);
  context.logger.info({ model: modelDir, name: classifier.metadata.name }, 'model loaded');
  return classifier;
}
