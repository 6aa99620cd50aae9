import { describe, expect, it } from 'vitest';
import { reconnectDelay, validateBackoff } from '../../src/system/backoff.js';
import { OutboundQueue } from '../../src/mqtt/outbound-queue.js';

describe('OutboundQueue', () => {
  it('keeps the newest messages up to its limit, dropping the oldest', () => {
    const queue = new OutboundQueue<number>(3);
    const dropped = [1, 2, 3, 4, 5].map((n) => queue.push(n));
    expect(dropped).toEqual([undefined, undefined, undefined, 1, 2]);
    expect(queue.size).toBe(3);
    expect(queue.dropped).toBe(2);
    expect(queue.takeUnsent().map((entry) => entry.item)).toEqual([3, 4, 5]);
  });

  it('sends each message once per connection and keeps it until acknowledged', () => {
    const queue = new OutboundQueue<string>(10);
    queue.push('a');
    queue.push('b');
    const [a, b] = queue.takeUnsent();
    queue.push('c');
    expect(queue.takeUnsent().map((entry) => entry.item)).toEqual(['c']);
    queue.acknowledge(a!);
    expect(queue.size).toBe(2);

    // The connection dies with b and c in flight: both go out again, in order.
    queue.markAllUnsent();
    expect(queue.takeUnsent().map((entry) => entry.item)).toEqual(['b', 'c']);
    queue.acknowledge(b!);
    queue.acknowledge(b!);
    expect(queue.size).toBe(1);
  });

  it('ignores the acknowledgement of a message it already dropped', () => {
    const queue = new OutboundQueue<number>(1);
    queue.push(1);
    const [first] = queue.takeUnsent();
    queue.push(2);
    queue.acknowledge(first!);
    expect(queue.takeUnsent().map((entry) => entry.item)).toEqual([2]);
  });

  it.each([0, -1, 1.5, Number.NaN])('refuses the limit %s', (limit) => {
    expect(() => new OutboundQueue(limit)).toThrow(/queue limit .* is not a whole number of messages >= 1/);
  });
});

describe('reconnect backoff', () => {
  it('doubles from the minimum and stays at the maximum', () => {
    const backoff = { minMs: 500, maxMs: 5000 };
    expect([0, 1, 2, 3, 4, 5, 2000].map((failures) => reconnectDelay(failures, backoff))).toEqual([
      500, 1000, 2000, 4000, 5000, 5000, 5000,
    ]);
  });

  it.each([
    { minMs: 0, maxMs: 10 },
    { minMs: 10, maxMs: 5 },
    { minMs: Number.NaN, maxMs: 10 },
  ])('refuses %j', (backoff) => {
    expect(() => validateBackoff(backoff)).toThrow(/expected 0 < minMs <= maxMs/);
  });
});
