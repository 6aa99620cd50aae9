import { describe, expect, it } from 'vitest';
import { InferenceQueue } from '../../src/pipeline/inference-queue.js';

/** A promise the test settles by hand: a worker exactly as slow as the test decides. */
function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (error: Error) => void } {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Marked handled, so a test may reject a gate before the worker awaits it; the worker's
  // own await still sees the rejection.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * A queue whose work waits for the test, recording starts and results. A window's gate exists
 * from whichever comes first, the test settling it or the worker starting it, so the test can
 * finish a window before the worker reaches it.
 */
function slowQueue(capacity: number) {
  const started: number[] = [];
  const results: string[] = [];
  const errors: string[] = [];
  const gates = new Map<number, ReturnType<typeof deferred<string>>>();
  const gate = (window: number): ReturnType<typeof deferred<string>> => {
    const existing = gates.get(window) ?? deferred<string>();
    gates.set(window, existing);
    return existing;
  };
  const queue = new InferenceQueue<number, string>({
    capacity,
    work: (window) => {
      started.push(window);
      return gate(window).promise;
    },
    onResult: (result) => results.push(result),
    onError: (error, window) => errors.push(`${window}: ${String(error)}`),
  });
  const finish = (window: number): void => gate(window).resolve(`result ${window}`);
  const fail = (window: number, error: Error): void => gate(window).reject(error);
  return { queue, started, results, errors, finish, fail };
}

describe('InferenceQueue', () => {
  it('never runs work inside offer(), and lets other callbacks run between two windows', async () => {
    const log: string[] = [];
    const queue = new InferenceQueue<string, string>({
      capacity: 4,
      work: (window) => {
        log.push(`work ${window}`);
        return window;
      },
      onResult: () => undefined,
      onError: () => undefined,
    });
    queue.offer('a');
    queue.offer('b');
    queue.offer('c');
    expect(log).toEqual([]);
    setImmediate(() => log.push('capture callback'));
    await queue.drain();
    expect(log).toEqual(['work a', 'capture callback', 'work b', 'work c']);
    expect(queue.counters).toEqual({ queued: 3, processed: 3, failed: 0, dropped: 0, pending: 0 });
  });

  it('behind a slow worker, drops the oldest waiting windows and counts them', async () => {
    const { queue, started, results, finish } = slowQueue(4);
    queue.offer(0);
    await turn();
    expect(started).toEqual([0]);

    for (let window = 1; window <= 9; window++) {
      queue.offer(window);
      expect(queue.counters.pending).toBeLessThanOrEqual(4);
    }
    expect(queue.counters).toEqual({ queued: 10, processed: 0, failed: 0, dropped: 5, pending: 4 });

    for (const window of [0, 6, 7, 8, 9]) finish(window);
    await queue.drain();
    expect(started).toEqual([0, 6, 7, 8, 9]);
    expect(results).toEqual(['result 0', 'result 6', 'result 7', 'result 8', 'result 9']);
    expect(queue.counters).toEqual({ queued: 10, processed: 5, failed: 0, dropped: 5, pending: 0 });
  });

  it('counts a failing window, reports it, and carries on with the next', async () => {
    const { queue, results, errors, finish, fail } = slowQueue(4);
    queue.offer(1);
    queue.offer(2);
    fail(1, new Error('model exploded'));
    finish(2);
    await queue.drain();
    expect(errors).toEqual(['1: Error: model exploded']);
    expect(results).toEqual(['result 2']);
    expect(queue.counters).toMatchObject({ processed: 1, failed: 1 });
  });

  it('hands an error thrown by onResult to onError and keeps working', async () => {
    const errors: unknown[] = [];
    const queue = new InferenceQueue<number, number>({
      capacity: 2,
      work: (window) => window,
      onResult: (result) => {
        if (result === 1) throw new Error('publish failed');
      },
      onError: (error) => errors.push(error),
    });
    queue.offer(1);
    queue.offer(2);
    await queue.drain();
    expect(errors).toEqual([new Error('publish failed')]);
    expect(queue.counters).toMatchObject({ processed: 2, failed: 0 });
  });

  it('on stop(), finishes the window in flight, drops the waiting ones and all later offers', async () => {
    const { queue, results, finish } = slowQueue(4);
    queue.offer(1);
    await turn();
    queue.offer(2);
    queue.offer(3);

    let stopped = false;
    const stopping = queue.stop().then(() => {
      stopped = true;
    });
    queue.offer(4);
    await turn();
    expect(stopped).toBe(false);
    finish(1);
    await stopping;

    expect(results).toEqual(['result 1']);
    expect(queue.counters).toEqual({ queued: 3, processed: 1, failed: 0, dropped: 3, pending: 0 });
    await queue.stop();
    expect(queue.counters.dropped).toBe(3);
  });

  it('retires every offered window exactly once: processed, failed, pushed out or dropped at stop', async () => {
    const retired: number[] = [];
    const errors: string[] = [];
    let finishFirst = (): void => undefined;
    const queue = new InferenceQueue<number, number>({
      capacity: 2,
      work: (window) => {
        if (window === 3) throw new Error('bad window');
        if (window === 1) return new Promise((resolve) => (finishFirst = () => resolve(1)));
        return window;
      },
      onResult: () => undefined,
      onError: (error, window) => errors.push(`${window}: ${String(error)}`),
      onRetired: (window) => retired.push(window),
    });
    queue.offer(1);
    await turn();
    queue.offer(2);
    queue.offer(3);
    queue.offer(4); // the queue holds 2 and 3: 2 is pushed out
    expect(retired).toEqual([2]);
    finishFirst();
    await queue.drain();
    expect(retired).toEqual([2, 1, 3, 4]);
    expect(errors).toEqual(['3: Error: bad window']);

    queue.offer(5);
    queue.offer(6);
    await queue.stop();
    queue.offer(7);
    expect(retired).toEqual([2, 1, 3, 4, 5, 6, 7]);
    expect(queue.counters).toMatchObject({ processed: 2, failed: 1, dropped: 4, pending: 0 });
  });

  it('hands an error thrown by onRetired to onError and keeps working', async () => {
    const errors: string[] = [];
    const results: number[] = [];
    const queue = new InferenceQueue<number, number>({
      capacity: 2,
      work: (window) => window,
      onResult: (result) => results.push(result),
      onError: (error, window) => errors.push(`${window}: ${String(error)}`),
      onRetired: (window) => {
        if (window === 1) throw new Error('release failed');
      },
    });
    queue.offer(1);
    queue.offer(2);
    await queue.drain();
    expect(results).toEqual([1, 2]);
    expect(errors).toEqual(['1: Error: release failed']);
  });

  it('starts again after going idle, and drain() resolves at once when idle', async () => {
    const results: number[] = [];
    const queue = new InferenceQueue<number, number>({
      capacity: 1,
      work: (window) => Promise.resolve(window * 10),
      onResult: (result) => results.push(result),
      onError: () => undefined,
    });
    await queue.drain();
    queue.offer(1);
    await queue.drain();
    queue.offer(2);
    await queue.drain();
    expect(results).toEqual([10, 20]);
  });

  it('rejects a capacity that is not a whole positive number', () => {
    const options = { work: () => 0, onResult: () => undefined, onError: () => undefined };
    expect(() => new InferenceQueue({ ...options, capacity: 0 })).toThrow(/capacity is 0/);
    expect(() => new InferenceQueue({ ...options, capacity: 2.5 })).toThrow(/capacity is 2.5/);
  });
});
