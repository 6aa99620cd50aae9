import { describe, expect, it } from 'vitest';
import { FEATURE_PARAMETERS } from '../../../src/dsp/constants.js';
import { EMOTIONS } from '../../../src/labels.js';
import type { ModelMetadata } from '../../../src/model/artifact/metadata.js';
import type { ModelMetrics } from '../../../src/model/artifact/metrics.js';
import { renderModelCard } from '../../../src/model/artifact/card.js';

const SHA_A = 'a'.repeat(64);
const SHA_B = 'b'.repeat(64);

function metadata(overrides: Partial<ModelMetadata> = {}): ModelMetadata {
  return {
    format: 1,
    name: 'ser-seed',
    version: '1.0.0',
    architecture: 'seed-cnn-lstm',
    labels: [...EMOTIONS],
    featureParameters: { ...FEATURE_PARAMETERS },
    modelJson: { path: 'model.json', bytes: 9000, sha256: SHA_B },
    weights: {
      dtype: 'float32',
      files: [{ path: 'group1-shard1of1.bin', bytes: 1_837_340, sha256: SHA_A }],
      bytes: 1_837_340,
      sha256: SHA_A,
    },
    training: {
      command: 'ser-agent train --data ../shared/datasets --seed 42',
      seed: 42,
      dataSources: [
        { name: 'RAVDESS', licence: 'CC BY-NC-SA 4.0', files: 1200 },
        { name: 'TESS', licence: 'CC BY-NC-ND 4.0' },
      ],
      split: { strategy: 'speaker', testSpeakers: ['17', '18'] },
      date: '2025-01-02T03:04:05.000Z',
      epochs: 40,
    },
    metrics: {},
    ...overrides,
  };
}

describe('renderModelCard', () => {
  it('names the model, its weights identity, data licences and the command that trained it', () => {
    const card = renderModelCard(metadata());
    expect(card.startsWith('# ser-seed 1.0.0\n')).toBe(true);
    expect(card).toContain('one of 7 emotions: anger, disgust, fear, happiness, neutral, sadness, surprise');
    expect(card).toContain(`| Weights | float32, 1,837,340 bytes |`);
    expect(card).toContain(`| Weights sha256 | \`${SHA_A}\` |`);
    expect(card).toContain('| RAVDESS | 1200 | CC BY-NC-SA 4.0 |\n| TESS |  | CC BY-NC-ND 4.0 |');
    expect(card).toContain('licensed for non-commercial use only');
    expect(card).toContain('```sh\nser-agent train --data ../shared/datasets --seed 42\n```');
    expect(card).toContain('| seed | 42 |');
    expect(card).toContain('| split testSpeakers | 17, 18 |');
    expect(card).toContain('| epochs | 40 |');
    expect(card).toContain('| hopLength | 512 |');
    expect(card).toContain(`| group1-shard1of1.bin | 1837340 | \`${SHA_A}\` |`);
    expect(card).toContain('No evaluation was recorded.');
  });

  it('leaves out the non-commercial note when no corpus needs it', () => {
    const base = metadata();
    const card = renderModelCard(
      metadata({ training: { ...base.training, dataSources: [{ name: 'own recordings', licence: 'CC BY 4.0' }] } }),
    );
    expect(card).not.toContain('non-commercial');
  });

  it('renders scalar, keyed and per-class metrics as tables', () => {
    const card = renderModelCard(
      metadata({
        metrics: {
          accuracy: 0.8125,
          uar: 0.75,
          byCorpus: { ravdess: 0.7, tess: 0.99 },
          perClass: { anger: { precision: 0.9, recall: 0.8 }, fear: { recall: 0.5 } },
          history: [{ epoch: 1 }],
          // Sections of any shape: a directory written by another build may hold ones this build does not type.
        } as unknown as ModelMetrics,
      }),
    );
    expect(card).toContain('## Evaluation\n\n| Metric | Value |\n| --- | --- |\n| accuracy | 0.8125 |\n| uar | 0.7500 |\n');
    expect(card).toContain('### byCorpus\n\n| Metric | Value |\n| --- | --- |\n| ravdess | 0.7000 |\n| tess | 0.9900 |\n');
    expect(card).toContain(
      '### perClass\n\n|  | precision | recall |\n| --- | --- | --- |\n| anger | 0.9000 | 0.8000 |\n| fear |  | 0.5000 |\n',
    );
    expect(card).toContain('### history\n\n```json\n[\n  {\n    "epoch": 1\n  }\n]\n```');
  });

  it('renders nested evaluation reports with their confusion matrices headed by the labels', () => {
    const report = {
      accuracy: 0.5,
      labels: ['anger', 'fear'],
      confusion: [
        [3, 1],
        [2, 2],
      ],
    };
    const card = renderModelCard(metadata({ metrics: { test: report, testByCorpus: { tess: report } } as unknown as ModelMetrics }));
    expect(card).toContain('### test\n\n| Metric | Value |\n| --- | --- |\n| accuracy | 0.5000 |\n| labels | anger, fear |\n');
    expect(card).toContain('#### confusion\n\n|  | anger | fear |\n| --- | --- | --- |\n| anger | 3 | 1 |\n| fear | 2 | 2 |\n');
    expect(card).toContain('### testByCorpus\n\n#### tess\n\n| Metric | Value |');
    expect(card).toContain('##### confusion\n\n|  | anger | fear |');
  });

  it('points a quantized model without its own evaluation at its source', () => {
    const base = metadata();
    const card = renderModelCard(
      metadata({ weights: { ...base.weights, dtype: 'uint8', quantizedFrom: { weightsSha256: SHA_B } } }),
    );
    expect(card).toContain(`| Quantized from | float32 model with weights sha256 \`${SHA_B}\` |`);
    expect(card).toContain('This quantized model has not been evaluated');
  });

  it('escapes table separators in values', () => {
    const base = metadata();
    const card = renderModelCard(metadata({ training: { ...base.training, note: 'a|b' } }));
    expect(card).toContain('| note | a\\|b |');
  });
});
