import { type ModelMetadata } from '../../model/artifact/metadata.js';

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
