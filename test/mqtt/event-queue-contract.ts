import { describe, expect, it } from 'vitest';
import type { EventQueue, QueueLimits, QueuedEvent } from '../../src/mqtt/outbound-queue.js';

/**
 * What every EventQueue promises the publisher, run against the in-memory and the durable
 * queue alike. `sizeOf` is how the implementation counts an event against the byte limit.
 */
export function eventQueueContract(
  name: string,
  build: (limits: QueueLimits) => EventQueue,
  sizeOf: (event: QueuedEvent) => number,
): void {
  const event = (n: number): QueuedEvent => ({ id: `id-${n}`, payload: JSON.stringify({ id: `id-${n}`, n }) });
  const ids = (queue: EventQueue): string[] => {
    const out: string[] = [];
    for (let entry = queue.firstUnsent(); entry !== undefined; entry = queue.firstUnsent()) {
      entry.sent = true;
      out.push(entry.item.id);
    }
    return out;
  };

  describe(`${name}: the EventQueue contract`, () => {
    it('keeps the newest events up to the count limit, dropping and counting the oldest', () => {
      const queue = build({ count: 3, bytes: 1e9 });
      const dropped = [1, 2, 3, 4, 5].map((n) => queue.push(event(n)).dropped.map((entry) => entry.item.id));
      expect(dropped).toEqual([[], [], [], ['id-1'], ['id-2']]);
      expect(queue.size).toBe(3);
      expect(queue.dropped).toBe(2);
      expect(ids(queue)).toEqual(['id-3', 'id-4', 'id-5']);
    });

    it('keeps the newest events up to the byte limit, always at least the newest', () => {
      const size = sizeOf(event(1));
      const queue = build({ count: 100, bytes: size * 2 + 1 });
      for (const n of [1, 2, 3]) queue.push(event(n));
      expect(queue.size).toBe(2);
      expect(queue.bytes).toBe(size * 2);
      expect(queue.dropped).toBe(1);
      const tiny = build({ count: 100, bytes: 1 });
      tiny.push(event(1));
      expect(tiny.push(event(2)).dropped.map((entry) => entry.item.id)).toEqual(['id-1']);
      expect(tiny.size).toBe(1);
    });

    it('hands out each event once per connection and keeps it until acknowledged', () => {
      const queue = build({ count: 10, bytes: 1e9 });
      queue.push(event(1));
      queue.push(event(2));
      const a = queue.firstUnsent();
      a!.sent = true;
      const b = queue.firstUnsent();
      b!.sent = true;
      queue.push(event(3));
      expect(ids(queue)).toEqual(['id-3']);
      queue.acknowledge(a!);
      expect(queue.size).toBe(2);
      // The connection dies with 2 and 3 in flight: both go out again, in order.
      queue.markAllUnsent();
      expect(ids(queue)).toEqual(['id-2', 'id-3']);
      queue.acknowledge(b!);
      queue.acknowledge(b!);
      expect(queue.size).toBe(1);
      expect(queue.bytes).toBe(sizeOf(event(3)));
    });

    it('ignores the acknowledgement of an event it already dropped', () => {
      const queue = build({ count: 1, bytes: 1e9 });
      const { entry: first } = queue.push(event(1));
      first.sent = true;
      queue.push(event(2));
      queue.acknowledge(first);
      expect(queue.size).toBe(1);
      expect(ids(queue)).toEqual(['id-2']);
    });
  });
}
