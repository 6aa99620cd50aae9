import { describe, expect, it } from 'vitest';
import { SampleBufferPool } from '../../src/pipeline/sample-buffer-pool.js';

describe('SampleBufferPool', () => {
  it('never lends a buffer that is still out, and reuses one once it is back', () => {
    const pool = new SampleBufferPool(8, 4);
    const lent = Array.from({ length: 5 }, () => pool.acquire());
    expect(new Set(lent).size).toBe(5);
    for (const buffer of lent) expect(buffer.length).toBe(8);

    const [first, second] = lent as [Float32Array, Float32Array];
    pool.release(first);
    const again = pool.acquire();
    expect(again).toBe(first);
    expect(lent.slice(1)).not.toContain(again);
    pool.release(second);
    expect(pool.acquire()).toBe(second);
  });

  it('refuses a second release of one buffer, which would lend it twice', () => {
    const pool = new SampleBufferPool(8, 4);
    const buffer = pool.acquire();
    pool.release(buffer);
    expect(() => pool.release(buffer)).toThrow(/did not lend, or already released/);
    expect(pool.idle).toBe(1);
    expect(pool.acquire()).toBe(buffer);
    expect(pool.acquire()).not.toBe(buffer);
  });

  it('refuses a buffer it did not lend', () => {
    const pool = new SampleBufferPool(8, 4);
    expect(() => pool.release(new Float32Array(8))).toThrow(/did not lend/);
    expect(pool.idle).toBe(0);
  });

  it('keeps at most maxIdle returned buffers', () => {
    const pool = new SampleBufferPool(8, 2);
    const lent = Array.from({ length: 4 }, () => pool.acquire());
    for (const buffer of lent) pool.release(buffer);
    expect(pool.idle).toBe(2);

    const keepsNone = new SampleBufferPool(8, 0);
    const buffer = keepsNone.acquire();
    keepsNone.release(buffer);
    expect(keepsNone.idle).toBe(0);
    expect(keepsNone.acquire()).not.toBe(buffer);
  });

  it('names a bad length or maxIdle', () => {
    expect(() => new SampleBufferPool(0, 1)).toThrow(/length is 0/);
    expect(() => new SampleBufferPool(8, -1)).toThrow(/maxIdle is -1/);
    expect(() => new SampleBufferPool(8, 1.5)).toThrow(/maxIdle is 1.5/);
  });
});
