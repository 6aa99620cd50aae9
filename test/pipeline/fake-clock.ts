import type { WallClock } from '../../src/pipeline/wall-clock.js';

/** A wall clock that reads whatever the test last set. */
export class FakeClock implements WallClock {
  constructor(public ms: number) {}

  now(): number {
    return this.ms;
  }
}
