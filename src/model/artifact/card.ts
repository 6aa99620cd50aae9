import type { ModelMetadata } from './metadata.js';

/**
 * The README.md of a model directory, rendered from its metadata so the card can never
 * disagree with what the loader checks.
 */
export function renderModelCard(metadata: ModelMetadata): string {
  const { training, weights } = metadata;
  const lines: string[] = [
    `# ${metadata.name} ${metadata.version}`,
    '',
    `Speech emotion recognition model (${metadata.architecture}) for ser-agent. It classifies a ` +
      `${metadata.featureParameters.clipSamples / metadata.featureParameters.sampleRate} s clip into one of ` +
      `${metadata.labels.length} emotions: ${metadata.labels.join(', ')}.`,
    '',
    '| | |',
    '|---|---|',
    `| Front-end | ${describeFrontEnd(metadata.frontEnd)} |`,
    `| Clip window | ${describeClipWindow(metadata.clipWindow)} |`,
    `| Weights | ${weights.dtype}, ${weights.bytes.toLocaleString('en-US')} bytes |`,
    `| Weights sha256 | \`${weights.sha256}\` |`,
    ...(weights.quantizedFrom
      ? [`| Quantized from | float32 model with weights sha256 \`${weights.quantizedFrom.weightsSha256}\` |`]
      : []),
    '',
    '## Training data',
    '',
    ...dataSection(metadata),
    '',
    '## Training run',
    '',
    '```sh',
    training.command,
    '```',
    '',
    table(['Field', 'Value'], [
      ['seed', String(training.seed)],
      ['date', training.date],
      ...Object.entries(training.split).map(([key, value]): string[] => [`split ${key}`, formatValue(value)]),
      ...Object.entries(training)
        .filter(([key]) => !['command', 'seed', 'date', 'split', 'dataSources'].includes(key))
        .map(([key, value]): string[] => [key, formatValue(value)]),
    ]),
    '',
    '## Evaluation',
    '',
    ...metricsSection(metadata),
    '',
    ...onnxSection(metadata),
    '## Features',
    '',
    'The model is only valid for features computed with exactly these parameters; ser-agent refuses ' +
      'to load it otherwise.',
    '',
    table(['Parameter', 'Value'], Object.entries(metadata.featureParameters).map(([key, value]) => [key, formatValue(value)])),
    '',
    '## Files',
    '',
    table(['File', 'Bytes', 'sha256'], [metadata.modelJson, ...weights.files, ...(metadata.onnx ?? [])].map((file) => [
      file.path,
      String(file.bytes),
      `\`${file.sha256}\``,
    ])),
    '',
  ];
  return lines.join('\n');
}

function describeFrontEnd(frontEnd: ModelMetadata['frontEnd']): string {
  switch (frontEnd) {
    case 'band':
      return 'band: the seed features, then every coefficient and mel band z-scored over the window';
    case 'speaker':
      return (
        "speaker: the seed features, then every coefficient and mel band z-scored with the voice's statistics " +
        "(each speaker's in training and evaluation; on a device, running statistics starting from the training set's)"
      );
    default:
      return 'seed: the MFCC and mel blocks each z-scored over the window (../shared/golden)';
  }
}

function describeClipWindow(clipWindow: ModelMetadata['clipWindow']): string {
  return clipWindow === 'loudest'
    ? 'loudest: trained and evaluated on the loudest 3 s of each recording'
    : 'start: trained and evaluated on the first 3 s of each recording (../shared/golden)';
}

/** The ONNX copies the onnxruntime backend runs, and what int8 costs where it was measured. */
function onnxSection(metadata: ModelMetadata): string[] {
  const files = metadata.onnx ?? [];
  if (files.length === 0) return [];
  const lines = [
    '## ONNX',
    '',
    'The onnxruntime backend runs these files, exported by ser-agent from the weights above ' +
      '(`ser-agent export-onnx`, `ser-agent quantize --format onnx --dtype int8`). Both are checked at load ' +
      'against these weights and labels.',
    '',
    table(['File', 'Computation', 'Opset', 'Bytes'], files.map((file) => [
      file.path,
      file.dtype === 'int8' ? 'int8 weights, int8 integer kernels (activations quantized per call)' : 'float32',
      String(file.opset),
      String(file.bytes),
    ])),
    '',
  ];
  for (const file of files) {
    if (file.quantization === undefined) continue;
    lines.push(`### ${file.path} against float32`, '', table(['Measure', 'Value'], Object.entries(file.quantization).map(([key, value]) => [key, formatValue(value)])), '');
  }
  return lines;
}

function dataSection(metadata: ModelMetadata): string[] {
  const sources = metadata.training.dataSources;
  if (sources.length === 0) return ['No data sources were recorded.'];
  const lines = [
    table(['Corpus', 'Files', 'Licence'], sources.map((source) => [
      source.name,
      source.files === undefined ? '' : String(source.files),
      source.licence,
    ])),
  ];
  // CC BY-NC-* corpora (RAVDESS, TESS) restrict commercial use; say so where a user will look.
  if (sources.some((source) => /\bNC\b/.test(source.licence))) {
    lines.push(
      '',
      'Some training data is licensed for non-commercial use only. Check those licences before ' +
        'using this model commercially.',
    );
  }
  return lines;
}

function metricsSection(metadata: ModelMetadata): string[] {
  if (Object.keys(metadata.metrics).length === 0) {
    return [
      metadata.weights.quantizedFrom
        ? 'This quantized model has not been evaluated; see the card of the model it was quantized from.'
        : 'No evaluation was recorded.',
    ];
  }
  return metricsTables(metadata.metrics, 3);
}

/**
 * Metrics of any shape as tables: the values that fit a cell (numbers, strings, lists of
 * them) in one table; an object of such rows (per-class precision and recall) as a table
 * with a row per key; a matrix (a confusion matrix) as a grid, headed by a sibling `labels`
 * list when there is one; any other object as its own subsection.
 */
function metricsTables(metrics: object, depth: number): string[] {
  const entries = Object.entries(metrics);
  const blocks: string[][] = [];
  const cells = entries.filter(([, value]) => fitsCell(value));
  if (cells.length > 0) blocks.push([table(['Metric', 'Value'], cells.map(([key, value]) => [key, formatValue(value)]))]);
  const labels = 'labels' in metrics && Array.isArray(metrics.labels) ? metrics.labels.map(String) : undefined;
  for (const [key, value] of entries.filter(([, v]) => !fitsCell(v))) {
    const heading = `${'#'.repeat(Math.min(depth, 6))} ${key}`;
    if (isMatrix(value)) {
      const names = labels?.length === value.length ? labels : value.map((_, index) => String(index));
      blocks.push([heading, '', table(['', ...names], value.map((row, index) => [names[index] ?? '', ...row.map(formatValue)]))]);
    } else if (isPlainObject(value) && Object.values(value).every(isRowOfCells)) {
      const rows = value as Record<string, Record<string, unknown>>;
      const columns = [...new Set(Object.values(rows).flatMap((row) => Object.keys(row)))];
      blocks.push([
        heading,
        '',
        table(['', ...columns], Object.entries(rows).map(([rowKey, row]) => [
          rowKey,
          ...columns.map((column) => (column in row ? formatValue(row[column]) : '')),
        ])),
      ]);
    } else if (isPlainObject(value)) {
      blocks.push([heading, '', ...metricsTables(value, depth + 1)]);
    } else {
      blocks.push([heading, '', '```json', JSON.stringify(value, null, 2), '```']);
    }
  }
  return blocks.flatMap((block, index) => (index === 0 ? block : ['', ...block]));
}

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]): string => `| ${cells.map(escapeCell).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

function escapeCell(cell: string): string {
  return cell.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function formatValue(value: unknown): string {
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : value.toFixed(4);
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map(formatValue).join(', ');
  return JSON.stringify(value);
}

function isScalar(value: unknown): boolean {
  return value === null || ['number', 'string', 'boolean'].includes(typeof value);
}

function fitsCell(value: unknown): boolean {
  return isScalar(value) || (Array.isArray(value) && value.every(isScalar));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isRowOfCells(value: unknown): boolean {
  return isPlainObject(value) && Object.values(value).every(fitsCell);
}

function isMatrix(value: unknown): value is number[][] {
  return (
    Array.isArray(value) &&
    value.length > 0 &&
    value.every((row) => Array.isArray(row) && row.every((cell) => typeof cell === 'number'))
  );
}
