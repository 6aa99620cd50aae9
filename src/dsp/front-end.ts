import { BandStatistics } from './band-statistics.js';
import { N_FEATURES, N_FRAMES } from './constants.js';

/**
 * How the seed's features are normalised before the network sees them, as a model directory
 * names it (`frontEnd` in metadata.json; absent = `seed`):
 *
 * - `seed`: the contract of ../shared/golden: the MFCC block and the mel block each z-scored
 *   with one mean and one standard deviation over the whole window.
 * - `band`: then every coefficient and every mel band z-scored on its own over the window's
 *   130 frames (per-utterance cepstral mean and variance normalisation). A microphone's or a
 *   room's colouring and much of a voice's timbre are near-constant offsets per band over a
 *   window; this removes them, where the seed's one mean per block keeps them.
 * - `speaker`: then every band z-scored with the statistics of the voice the window belongs
 *   to (src/dsp/band-statistics.ts): in training and evaluation, each speaker's over all of
 *   their clips; on a device, running statistics over the windows it has heard, starting from
 *   the training set's (`bandStatistics` in metadata.json). Like `band` it removes the voice,
 *   the microphone and the room, but keeps how one window differs from the voice's usual,
 *   which is where emotion is.
 *
 * Since both only re-normalise the seed features, one feature cache serves all three.
 */
export const FRONT_ENDS = ['seed', 'band', 'speaker'] as const;
export type FrontEnd = (typeof FRONT_ENDS)[number];

/**
 * Applies `frontEnd` to one or more (N_FRAMES, N_FEATURES) blocks laid back to back, in place.
 * `speaker` needs the voice's `statistics`.
 */
export function applyFrontEnd(frontEnd: FrontEnd, blocks: Float32Array, statistics?: BandStatistics): void {
  switch (frontEnd) {
    case 'seed':
      return;
    case 'band': {
      const clipValues = N_FRAMES * N_FEATURES;
      for (let offset = 0; offset < blocks.length; offset += clipValues) {
        const block = blocks.subarray(offset, offset + clipValues);
        BandStatistics.of(block).normalise(block);
      }
      return;
    }
    case 'speaker':
      if (statistics === undefined) throw new Error("applyFrontEnd: the 'speaker' front-end needs the voice's band statistics");
      statistics.normalise(blocks);
  }
}
