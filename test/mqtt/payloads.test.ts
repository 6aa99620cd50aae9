import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { EMOTIONS } from '../../src/labels.js';
import type { Prediction } from '../../src/model/runtime/classifier.js';
import { createEventIdGenerator } from '../../src/mqtt/event-id.js';
import {
  createEmotionEvent,
  modelIdentity,
  type ClassifiedWindow,
  type EmotionEvent,
  type HealthReport,
  type ReloadReport,
} from '../../src/mqtt/payloads.js';

function loadSchema(name: string): object {
  return JSON.parse(readFileSync(new URL(`../../schemas/${name}`, import.meta.url), 'utf8')) as object;
}
const validate = new Ajv2020({ allErrors: true, strict: true }).compile(loadSchema('event.schema.json'));
const validateHealth = new Ajv2020({ allErrors: true, strict: true }).compile(loadSchema('health.schema.json'));

const SHA = 'ab'.repeat(32);

/** Probabilities as float32 tensors deliver them: not round numbers. */
function prediction(): Prediction {
  const raw = [0.01, 0.02, 0.03, 0.89, 0.03, 0.01, 0.01].map((value) => Math.fround(value));
  const probabilities = Object.fromEntries(EMOTIONS.map((emotion, i) => [emotion, raw[i] as number]));
  return { emotion: 'happiness', confidence: probabilities['happiness'] as number, probabilities } as Prediction;
}

function window(endMs: number): ClassifiedWindow {
  return {
    deviceId: 'kiosk-01',
    windowStart: new Date(endMs - 3000),
    windowEnd: new Date(endMs),
    prediction: prediction(),
    speechRatio: 0.6170212765957447,
    model: { name: 'ser-cnn-lstm', version: '1.0.0', sha256: SHA },
  };
}

function event(): EmotionEvent {
  return createEmotionEvent(window(Date.UTC(2026, 10, 24, 5, 0, 3, 250)), createEventIdGenerator());
}

describe('event payload', () => {
  it('has the documented fields, with ts the window end', () => {
    const built = event();
    expect(built).toEqual({
      schema: 1,
      id: expect.stringMatching(/^[0-9A-HJKMNP-TV-Z]{26}$/) as unknown,
      deviceId: 'kiosk-01',
      ts: '2026-11-24T05:00:03.250Z',
      windowStart: '2026-11-24T05:00:00.250Z',
      windowEnd: '2026-11-24T05:00:03.250Z',
      emotion: 'happiness',
      confidence: 0.89,
      probabilities: {
        anger: 0.01,
        disgust: 0.02,
        fear: 0.03,
        happiness: 0.89,
        neutral: 0.03,
        sadness: 0.01,
        surprise: 0.01,
      },
      speechRatio: 0.617,
      model: { name: 'ser-cnn-lstm', version: '1.0.0', sha256: SHA },
    });
    expect(Object.keys(built)).toEqual([
      'schema', 'id', 'deviceId', 'ts', 'windowStart', 'windowEnd', 'emotion', 'confidence', 'probabilities', 'speechRatio', 'model',
    ]);
  });

  it('gives ids that sort like the windows', () => {
    const next = createEventIdGenerator();
    const ends = [1_000, 2_000, 2_500, 60_000].map((offset) => 1_700_000_000_000 + offset);
    const events = ends.map((end) => createEmotionEvent(window(end), next));
    expect(events.map((e) => e.id).sort()).toEqual(events.map((e) => e.id));
  });

  it('takes the model identity from the metadata, with the weights digest', () => {
    const weights = { sha256: SHA, dtype: 'float32' as const, files: [], bytes: 0 };
    expect(modelIdentity({ name: 'ser-cnn-lstm', version: '2', weights })).toEqual({
      name: 'ser-cnn-lstm',
      version: '2',
      sha256: SHA,
    });
  });
});

describe('event JSON schema', () => {
  it('accepts real payloads, as they travel (JSON text)', () => {
    const payload = JSON.parse(JSON.stringify(event())) as unknown;
    expect(validate(payload), JSON.stringify(validate.errors)).toBe(true);
  });

  const broken: [string, (payload: Record<string, unknown>) => void][] = [
    ['a missing field', (p) => delete p['model']],
    ['an extra field', (p) => (p['audio'] = [0, 1, 2])],
    ['another schema version', (p) => (p['schema'] = 2)],
    ['an unknown emotion', (p) => (p['emotion'] = 'boredom')],
    ['a confidence above 1', (p) => (p['confidence'] = 1.5)],
    ['a probability missing', (p) => delete (p['probabilities'] as Record<string, unknown>)['fear']],
    ['a time without zone', (p) => (p['ts'] = '2026-11-24T05:00:03')],
    ['an id that is not a ULID', (p) => (p['id'] = 'not-an-id')],
    ['a device id with a wildcard', (p) => (p['deviceId'] = 'kiosk+1')],
    ['a short digest', (p) => ((p['model'] as Record<string, unknown>)['sha256'] = 'abc')],
  ];
  it.each(broken)('rejects %s', (_, damage) => {
    const payload = JSON.parse(JSON.stringify(event())) as Record<string, unknown>;
    damage(payload);
    expect(validate(payload)).toBe(false);
  });
});

const reloaded: ReloadReport = {
  ts: '2026-11-24T05:00:01.000Z',
  outcome: 'ok',
  reason: null,
  modelChanged: true,
  applied: ['model.path', 'window.minConfidence'],
  needsRestart: ['mqtt.url'],
};
const refused: ReloadReport = {
  ts: '2026-11-24T05:00:02.000Z',
  outcome: 'refused',
  reason: 'model: /opt/models/x/model.int8.onnx has sha256 00…, ab… was recorded: modified or corrupted; restore the model directory from its original copy',
  modelChanged: false,
  applied: [],
  needsRestart: [],
};

describe('health JSON schema', () => {
  const report: HealthReport = {
    schema: 1,
    deviceId: 'kiosk-01',
    ts: '2026-11-24T05:00:00.000Z',
    uptimeSeconds: 3600.5,
    windows: { processed: 1200, skippedSilence: 300, skippedNonSpeech: 40, failed: 1, dropped: 2 },
    events: { published: 890, queued: 0, queuedBytes: 0, dropped: 0 },
    inferenceMs: { p50: null, p95: null },
    process: { rssBytes: 104_857_600, cpuPercent: 2.4, tensors: 42 },
    capture: { state: 'degraded', detail: 'arecord exited with code 1: device busy' },
    broker: { state: 'connected', url: 'mqtt://127.0.0.1:1883' },
    model: { name: 'ser-cnn-lstm', version: '1.0.0', sha256: SHA },
    reload: null,
  };

  it('accepts a report as the interface types it', () => {
    expect(validateHealth(JSON.parse(JSON.stringify(report))), JSON.stringify(validateHealth.errors)).toBe(true);
  });

  it.each([
    ['a negative count', { windows: { processed: -1, skippedSilence: 0, skippedNonSpeech: 0, failed: 0, dropped: 0 } }],
    ['windows without the non-speech count', { windows: { processed: 1, skippedSilence: 0, failed: 0, dropped: 0 } }],
    ['an unknown broker state', { broker: { state: 'up', url: 'mqtt://h' } }],
    ['a missing capture detail', { capture: { state: 'running' } }],
    ['events without the queued bytes', { events: { published: 1, queued: 0, dropped: 0 } }],
    ['no reload field', { reload: undefined }],
    ['a refused reload without its reason', { reload: { ...refused, reason: null } }],
    ['a reload that went through with a reason', { reload: { ...reloaded, reason: 'why' } }],
    ['an unknown reload outcome', { reload: { ...reloaded, outcome: 'partial' } }],
  ])('rejects %s', (_, change) => {
    expect(validateHealth(JSON.parse(JSON.stringify({ ...report, ...change })))).toBe(false);
  });

  it.each([
    ['went through', reloaded],
    ['was refused', refused],
  ])('accepts the outcome of a reload that %s', (_, reload) => {
    const withReload: HealthReport = { ...report, reload };
    expect(validateHealth(JSON.parse(JSON.stringify(withReload))), JSON.stringify(validateHealth.errors)).toBe(true);
  });
});
