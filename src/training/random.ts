/**
 * A small seeded pseudo-random generator, so a training run (initial weights, shuffling,
 * dropout masks) is reproducible from one integer seed. Math.random cannot be seeded, and
 * tfjs's own seeded ops only cover tensors.
 */
export interface Random {
  /** A uniform number in [0, 1). */
  uniform(): number;
  /** A uniform integer in [0, bound). */
  integer(bound: number): number;
}

const TWO_POW_32 = 2 ** 32;

/**
 * Mulberry32: a 32-bit state generator with a full 2^32 period, fast and statistically good
 * enough for shuffling and initialisation (not for cryptography).
 */
export function createRandom(seed: number): Random {
  let state = seed >>> 0;
  const nextUint32 = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  return {
    uniform: () => nextUint32() / TWO_POW_32,
    integer: (bound) => Math.floor((nextUint32() / TWO_POW_32) * bound),
  };
}

/** 0..count-1 in a random order (Fisher–Yates). */
export function shuffledIndices(count: number, random: Random): Int32Array {
  const indices = new Int32Array(count);
  for (let i = 0; i < count; i += 1) indices[i] = i;
  for (let i = count - 1; i > 0; i -= 1) {
    const j = random.integer(i + 1);
    const held = indices[i] as number;
    indices[i] = indices[j] as number;
    indices[j] = held;
  }
  return indices;
}
