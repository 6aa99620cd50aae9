import type { CapturedWindow } from './windower.js';

/** The silence threshold the daemon uses unless configured: quiet room noise sits well below it. */
export const DEFAULT_SILENCE_DBFS = -50;

/**
 * Lets through the windows loud enough to hold speech and counts the others, which get no
 * inference and no event: classifying room noise would only publish confident nonsense.
 */
export class SilenceGate {
  #thresholdDbfs: number;
  #skipped = 0;

  /** Windows strictly below `thresholdDbfs` are silent; −Infinity lets everything through. */
  constructor(thresholdDbfs: number = DEFAULT_SILENCE_DBFS) {
    this.#thresholdDbfs = checkThreshold(thresholdDbfs);
  }

  /** Changes the threshold for the windows that come next (window.silenceDbfs set over MQTT). */
  setThreshold(thresholdDbfs: number): void {
    this.#thresholdDbfs = checkThreshold(thresholdDbfs);
  }

  /** Windows skipped as silence so far. */
  get skipped(): number {
    return this.#skipped;
  }

  /** True when `window` should be classified; false (and counted) when it is silence. */
  admit(window: Pick<CapturedWindow, 'levelDbfs'>): boolean {
    // −Infinity (digital silence) against a −Infinity threshold is not below it, so a gate
    // configured to pass everything really does pass everything.
    if (window.levelDbfs < this.#thresholdDbfs) {
      this.#skipped++;
      return false;
    }
    return true;
  }
}

function checkThreshold(thresholdDbfs: number): number {
  if (Number.isNaN(thresholdDbfs) || thresholdDbfs > 0) {
    throw new RangeError(
      `SilenceGate: threshold ${thresholdDbfs} dBFS is not usable; expected a level of at most 0 dBFS, e.g. -50`,
    );
  }
  return thresholdDbfs;
}
