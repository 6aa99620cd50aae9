/**
 * X[k], k = 0..n/2, of a real frame by the defining sum, with twiddles indexed exactly by
 * (k n) mod size: the slow, obviously right reference the FFT code is checked against.
 */
export function naiveSpectrum(frame: Float64Array): { re: Float64Array; im: Float64Array } {
  const size = frame.length;
  const cos = new Float64Array(size);
  const sin = new Float64Array(size);
  for (let j = 0; j < size; j++) {
    cos[j] = Math.cos((2 * Math.PI * j) / size);
    sin[j] = Math.sin((2 * Math.PI * j) / size);
  }
  const re = new Float64Array(size / 2 + 1);
  const im = new Float64Array(size / 2 + 1);
  for (let k = 0; k <= size / 2; k++) {
    let sumRe = 0;
    let sumIm = 0;
    for (let n = 0; n < size; n++) {
      const j = (k * n) % size;
      sumRe += (frame[n] as number) * (cos[j] as number);
      sumIm -= (frame[n] as number) * (sin[j] as number);
    }
    re[k] = sumRe;
    im[k] = sumIm;
  }
  return { re, im };
}
