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
 *
 * Since `band` only re-normalises the seed features, one feature cache serves both.
 */
export const FRONT_ENDS = ['seed', 'band'] as const;
export type FrontEnd = (typeof FRONT_ENDS)[number];

/**
 * A band whose spread over the window is below this (in the seed's z-score units) is treated
 * as constant and set to 0, instead of blowing up its quantisation noise: the zero padding of a
 * short clip and the -80 dB floor of silent bands are constant.
 */
const BAND_STD_FLOOR = 1e-2;

/** Applies `frontEnd` to one or more (N_FRAMES, N_FEATURES) blocks laid back to back, in place. */
export function applyFrontEnd(frontEnd: FrontEnd, blocks: Float32Array): void {
  if (frontEnd === 'seed') return;
  const clipValues = N_FRAMES * N_FEATURES;
  for (let offset = 0; offset < blocks.length; offset += clipValues) {
    normaliseBands(blocks.subarray(offset, offset + clipValues));
  }
}

function normaliseBands(block: Float32Array): void {
  for (let band = 0; band < N_FEATURES; band++) {
    let sum = 0;
    for (let t = 0; t < N_FRAMES; t++) sum += block[t * N_FEATURES + band] as number;
    const mean = sum / N_FRAMES;
    let squares = 0;
    for (let t = 0; t < N_FRAMES; t++) {
      const deviation = (block[t * N_FEATURES + band] as number) - mean;
      squares += deviation * deviation;
    }
    const std = Math.sqrt(squares / N_FRAMES);
    const scale = std < BAND_STD_FLOOR ? 0 : 1 / std;
    for (let t = 0; t < N_FRAMES; t++) {
      const index = t * N_FEATURES + band;
      block[index] = ((block[index] as number) - mean) * scale;
    }
  }
}
