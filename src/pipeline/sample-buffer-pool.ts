/**
 * Reusable sample buffers of one length, so the daemon does not allocate (and the garbage
 * collector does not reclaim) a 264 KB window every hop. A buffer is lent by acquire() and
 * comes back through release(); it is never lent again before it has come back, so two
 * windows never share samples.
 *
 * A buffer that is never returned is simply collected like any other array: lent buffers
 * are only remembered weakly, so a consumer that drops windows without releasing them costs
 * allocations, not a leak.
 */
export class SampleBufferPool {
  readonly #length: number;
  readonly #maxIdle: number;
  readonly #idle: Float32Array[] = [];
  readonly #lent = new WeakSet<Float32Array>();

  /**
   * `maxIdle` bounds the returned buffers kept for reuse: as many as can be in use at once
   * (waiting windows plus the one being cut) keeps every hop allocation-free; 0 keeps none.
   */
  constructor(length: number, maxIdle: number) {
    if (!Number.isSafeInteger(length) || length < 1) {
      throw new RangeError(`SampleBufferPool: length is ${length}; expected a whole number of at least 1`);
    }
    if (!Number.isSafeInteger(maxIdle) || maxIdle < 0) {
      throw new RangeError(`SampleBufferPool: maxIdle is ${maxIdle}; expected a whole number of at least 0`);
    }
    this.#length = length;
    this.#maxIdle = maxIdle;
  }

  /** Samples in every buffer lent. */
  get length(): number {
    return this.#length;
  }

  /** Buffers returned and waiting to be lent again. */
  get idle(): number {
    return this.#idle.length;
  }

  /** A buffer of `length` samples that nobody else holds; its contents are stale. */
  acquire(): Float32Array {
    const buffer = this.#idle.pop() ?? new Float32Array(this.#length);
    this.#lent.add(buffer);
    return buffer;
  }

  /** Gives back a buffer from acquire(); the caller must not touch it afterwards. */
  release(buffer: Float32Array): void {
    // A second release would put one buffer in the idle list twice, and two windows would then
    // be cut into the same samples: fail loudly instead.
    if (!this.#lent.delete(buffer)) {
      throw new Error('SampleBufferPool: release() of a buffer this pool did not lend, or already released');
    }
    if (this.#idle.length < this.#maxIdle) this.#idle.push(buffer);
  }
}
