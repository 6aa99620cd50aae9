/**
 * The level of a block of samples in dBFS: the RMS relative to full scale 1.0, so a
 * full-scale sine is 20·log10(1/√2) ≈ −3.01 dBFS and a full-scale square wave 0 dBFS.
 * Digital silence (all zeros, or no samples) is −Infinity, which every finite threshold
 * treats as silent.
 */
export function levelDbfs(samples: Float32Array): number {
  if (samples.length === 0) return -Infinity;
  // Squares summed in double precision: a float32 sum of 66,150 squares would lose the
  // quiet tail of a window against its loud start.
  let sumOfSquares = 0;
  for (let i = 0; i < samples.length; i++) {
    const sample = samples[i] as number;
    sumOfSquares += sample * sample;
  }
  // 10·log10(mean square) is 20·log10(rms) without the square root.
  return 10 * Math.log10(sumOfSquares / samples.length);
}
