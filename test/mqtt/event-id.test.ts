import { describe, expect, it } from 'vitest';
import { createEventIdGenerator } from '../../src/mqtt/event-id.js';

const ULID = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/;

function fixedRandom(fill: number): (bytes: number) => Uint8Array {
  return (bytes) => new Uint8Array(bytes).fill(fill);
}

describe('event ids', () => {
  it('encodes the time as the ULID spec does', () => {
    // The spec's example: 1469918176385 ms is 01ARYZ6S41.
    const id = createEventIdGenerator(fixedRandom(0))(1469918176385);
    expect(id).toBe('01ARYZ6S41' + '0'.repeat(16));
    expect(createEventIdGenerator(fixedRandom(0xff))(2 ** 48 - 1)).toBe('7ZZZZZZZZZ' + 'Z'.repeat(16));
  });

  it('makes unique ids that sort as strings in the order of their times', () => {
    const next = createEventIdGenerator();
    const times = [5, 1_700_000_000_000, 1_700_000_000_001, 1_700_000_003_000, 1_800_000_000_000];
    const ids = times.map((time) => next(time));
    for (const id of ids) expect(id).toMatch(ULID);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('keeps increasing within one millisecond and when the clock steps back', () => {
    const next = createEventIdGenerator(fixedRandom(0));
    const ids = [next(1000), next(1000), next(999), next(1000)];
    expect(ids.map((id) => id.slice(10))).toEqual([
      '0000000000000000',
      '0000000000000001',
      '0000000000000002',
      '0000000000000003',
    ]);
    expect(new Set(ids.map((id) => id.slice(0, 10))).size).toBe(1);
  });

  it('carries the increment across bytes', () => {
    const next = createEventIdGenerator(() => Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff]));
    next(1);
    expect(next(1).slice(10)).toBe('0000000000000080');
  });

  it('rejects times outside 48 bits', () => {
    const next = createEventIdGenerator();
    expect(() => next(-1)).toThrow(RangeError);
    expect(() => next(2 ** 48)).toThrow(/from 0 to 281474976710655/);
    expect(() => next(1.5)).toThrow(RangeError);
  });
});
