import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describeError, ModelError } from '../../errors.js';
import { type ModelMetadata } from '../../model/artifact/metadata.js';
import { type EpochLog } from '../trainer.js';
import { TRAINING_HISTORY_FILE } from '../train-run.js';

/**
 * The training history saved beside a model, or undefined when the model has none (models
 * trained elsewhere). A history that exists but is damaged is an error naming the file.
 */
export async function readTrainingHistory(modelDir: string): Promise<EpochLog[] | undefined> {
  const file = path.join(modelDir, TRAINING_HISTORY_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ModelError(`${file} cannot be read (${describeError(error)}); check its permissions`, { cause: error });
  }
  let history: unknown;
  try {
    history = JSON.parse(text);
  } catch (error) {
    throw new ModelError(`${file} is not valid JSON (${describeError(error)}); restore it or delete it`, { cause: error });
  }
  const fields = ['epoch', 'loss', 'accuracy', 'valLoss', 'valAccuracy', 'learningRate'] as const;
  if (
    !Array.isArray(history) ||
    !history.every(
      (entry) =>
        typeof entry === 'object' &&
        entry !== null &&
        fields.every((field) => Number.isFinite((entry as Record<string, unknown>)[field])),
    )
  ) {
    throw new ModelError(
      `${file} should be a list of epochs with ${fields.join(', ')} numbers; restore it or delete it`,
    );
  }
  return history as EpochLog[];
}

/** A model's identity and training run as label/value rows for the report's settings table. */
export function describeModelSettings(metadata: ModelMetadata, modelDir: string): Array<[string, string]> {
  const { training, weights } = metadata;
  const rows: Array<[string, string]> = [
    ['model', `${metadata.name} ${metadata.version} (${metadata.architecture})`],
    ['model directory', modelDir],
    ['weights', `${weights.dtype}, ${weights.bytes.toLocaleString('en-US')} bytes, sha256 ${weights.sha256}`],
    ['softmax temperature', metadata.temperature === undefined ? '1 (not calibrated)' : metadata.temperature.toFixed(4)],
    ['training command', training.command],
    ['seed', String(training.seed)],
    ...Object.entries(training.split).map(([key, value]): [string, string] => [`split ${key}`, format(value)]),
    ['training data', training.dataSources.map((source) => `${source.name} (${source.licence})`).join('; ')],
  ];
  const shown = new Set(['command', 'seed', 'split', 'dataSources']);
  for (const [key, value] of Object.entries(training)) if (!shown.has(key)) rows.push([key, format(value)]);
  return rows;
}

function format(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map(format).join(', ');
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  return JSON.stringify(value);
}
