/**
 * Where two sample arrays first differ, or -1 when they are equal, comparing lengths too:
 * vitest's deep equality takes seconds on a 66,150-sample window, and an index says more.
 */
export function firstDifference(actual: Float32Array | undefined, expected: Float32Array): number {
  if (actual === undefined) return 0;
  const length = Math.max(actual.length, expected.length);
  for (let i = 0; i < length; i++) if (!Object.is(actual[i], expected[i])) return i;
  return -1;
}
