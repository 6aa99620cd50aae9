import { describe, expect, it } from 'vitest';
import { memoryEventQueue, OutboundQueue } from '../../src/mqtt/outbound-queue.js';
import { eventQueueContract } from './event-queue-contract.js';

eventQueueContract('memoryEventQueue', memoryEventQueue, (event) => Buffer.byteLength(event.payload));

describe('OutboundQueue', () => {
  it('restores given positions and refuses one that is not after the last', () => {
    const queue = new OutboundQueue<string>({ count: 10, bytes: 1e9 }, (item) => item.length);
    queue.push('a', 5);
    expect(queue.push('b').entry.seq).toBe(6);
    expect(() => queue.push('c', 6)).toThrow(/seq 6 is not after the last one \(6\)/);
    expect([...queue.entries()].map((entry) => [entry.item, entry.seq])).toEqual([
      ['a', 5],
      ['b', 6],
    ]);
  });

  it.each([0, -1, 1.5, Number.NaN])('refuses the limit %s', (limit) => {
    expect(() => memoryEventQueue({ count: limit, bytes: 100 })).toThrow(/queue limit .* is not a whole number of messages >= 1/);
  });

  it.each([0, Number.NaN])('refuses the byte limit %s', (bytes) => {
    expect(() => memoryEventQueue({ count: 10, bytes })).toThrow(/queue byte limit .* is not a number of bytes >= 1/);
  });
});

