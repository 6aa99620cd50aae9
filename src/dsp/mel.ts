/**
 * The Slaney-style mel filterbank of `librosa.filters.mel(htk=False, norm='slaney')` and its
 * application to power spectra. Every expression follows librosa 0.10 / numpy step for step,
 * so the float32 weights come out as librosa's, not merely close to them.
 */

const LINEAR_HZ_PER_MEL = 200 / 3;
const LOG_REGION_START_HZ = 1000;
const LOG_REGION_START_MEL = LOG_REGION_START_HZ / LINEAR_HZ_PER_MEL;
const LOG_STEP = Math.log(6.4) / 27;

/** librosa.hz_to_mel(hz, htk=False): linear below 1 kHz, logarithmic above. */
export function hzToMel(hz: number): number {
  if (hz >= LOG_REGION_START_HZ) {
    return LOG_REGION_START_MEL + Math.log(hz / LOG_REGION_START_HZ) / LOG_STEP;
  }
  return hz / LINEAR_HZ_PER_MEL;
}

/** librosa.mel_to_hz(mel, htk=False), the inverse of hzToMel. */
export function melToHz(mel: number): number {
  if (mel >= LOG_REGION_START_MEL) {
    return LOG_REGION_START_HZ * Math.exp(LOG_STEP * (mel - LOG_REGION_START_MEL));
  }
  return LINEAR_HZ_PER_MEL * mel;
}

/** The centre frequency of each rfft bin, as numpy.fft.rfftfreq(nFft, 1 / sampleRate). */
export function fftFrequencies(sampleRate: number, nFft: number): Float64Array {
  // rfftfreq scales by 1 / (n * d) with d = 1 / sr, which is not always exactly sr / n.
  const binWidth = 1 / (nFft * (1 / sampleRate));
  const frequencies = new Float64Array(Math.floor(nFft / 2) + 1);
  for (let k = 0; k < frequencies.length; k++) frequencies[k] = k * binWidth;
  return frequencies;
}

/** librosa.mel_frequencies: `count` frequencies evenly spaced in mel (numpy.linspace). */
export function melFrequencies(count: number, fMin: number, fMax: number): Float64Array {
  const melMin = hzToMel(fMin);
  const melMax = hzToMel(fMax);
  const step = (melMax - melMin) / (count - 1);
  const frequencies = new Float64Array(count);
  for (let i = 0; i < count; i++) frequencies[i] = melToHz(i * step + melMin);
  // linspace sets the end point exactly rather than accumulating to it.
  frequencies[count - 1] = melToHz(melMax);
  return frequencies;
}

export interface MelFilterbankOptions {
  sampleRate: number;
  nFft: number;
  nMels: number;
  /** Lowest band edge in Hz; librosa's default 0. */
  fMin?: number;
  /** Highest band edge in Hz; librosa's default sampleRate / 2. */
  fMax?: number;
}

/**
 * `librosa.filters.mel(sr, n_fft, n_mels, fmin, fmax, htk=False, norm='slaney')`: nMels
 * triangular filters over nFft/2 + 1 bins, row-major (nMels, nBins), each scaled by
 * 2 / (upper edge - lower edge) so every band has about the same energy.
 *
 * librosa stores the triangles in a float32 array before scaling them in float64, and returns
 * float32; both roundings are reproduced here.
 */
export function slaneyMelFilterbank(options: MelFilterbankOptions): Float32Array {
  const { sampleRate, nFft, nMels } = options;
  const fMin = options.fMin ?? 0;
  const fMax = options.fMax ?? sampleRate / 2;
  if (!(sampleRate > 0) || !Number.isInteger(nFft) || nFft < 2 || !Number.isInteger(nMels) || nMels < 1) {
    throw new RangeError(
      `slaneyMelFilterbank: sampleRate ${sampleRate}, nFft ${nFft}, nMels ${nMels}; ` +
        'use a positive rate, nFft >= 2 and nMels >= 1',
    );
  }
  if (!(fMin >= 0 && fMin < fMax)) {
    throw new RangeError(`slaneyMelFilterbank: fMin ${fMin} Hz, fMax ${fMax} Hz; use 0 <= fMin < fMax`);
  }
  const binFrequencies = fftFrequencies(sampleRate, nFft);
  const nBins = binFrequencies.length;
  const edges = melFrequencies(nMels + 2, fMin, fMax);
  const weights = new Float32Array(nMels * nBins);
  for (let m = 0; m < nMels; m++) {
    const lowerEdge = edges[m] as number;
    const centre = edges[m + 1] as number;
    const upperEdge = edges[m + 2] as number;
    const risingWidth = centre - lowerEdge;
    const fallingWidth = upperEdge - centre;
    const norm = 2 / (upperEdge - lowerEdge);
    for (let k = 0; k < nBins; k++) {
      const f = binFrequencies[k] as number;
      const rising = -(lowerEdge - f) / risingWidth;
      const falling = (upperEdge - f) / fallingWidth;
      const triangle = Math.fround(Math.max(0, Math.min(rising, falling)));
      weights[m * nBins + k] = triangle * norm;
    }
  }
  return weights;
}

/**
 * A filterbank stored as each filter's nonzero span: filter m weights bins
 * firstBin[m] .. firstBin[m] + (offset[m+1] - offset[m]) with weights[offset[m] ..]. The Slaney
 * triangles cover a few bins each, so this is about 60 times less work than the dense product.
 */
export interface SparseFilterbank {
  readonly nFilters: number;
  readonly nBins: number;
  readonly firstBin: Int32Array;
  /** nFilters + 1 entries; filter m's weights are weights[offset[m] .. offset[m+1]). */
  readonly offset: Int32Array;
  readonly weights: Float64Array;
}

/** The sparse form of a dense row-major (nFilters, nBins) filterbank; all-zero rows span nothing. */
export function sparseFilterbank(dense: Float32Array, nFilters: number): SparseFilterbank {
  const nBins = dense.length / nFilters;
  if (!Number.isInteger(nBins) || nBins < 1) {
    throw new RangeError(
      `sparseFilterbank: ${dense.length} weights do not form ${nFilters} rows of equal length`,
    );
  }
  const firstBin = new Int32Array(nFilters);
  const offset = new Int32Array(nFilters + 1);
  const spans: Float32Array[] = [];
  for (let m = 0; m < nFilters; m++) {
    const row = dense.subarray(m * nBins, (m + 1) * nBins);
    let first = 0;
    while (first < nBins && row[first] === 0) first++;
    let end = nBins;
    while (end > first && row[end - 1] === 0) end--;
    firstBin[m] = first;
    offset[m + 1] = (offset[m] as number) + (end - first);
    spans.push(row.subarray(first, end));
  }
  const weights = new Float64Array(offset[nFilters] as number);
  spans.forEach((span, m) => weights.set(span, offset[m]));
  return { nFilters, nBins, firstBin, offset, weights };
}

/** out[outOffset + m] = sum over bins of filter m times spectrum[spectrumOffset + bin]. */
export function applyFilterbankToFrame(
  filterbank: SparseFilterbank,
  spectrum: Float64Array,
  spectrumOffset: number,
  out: Float64Array,
  outOffset: number,
): void {
  const { nFilters, firstBin, offset, weights } = filterbank;
  for (let m = 0; m < nFilters; m++) {
    const start = offset[m] as number;
    const end = offset[m + 1] as number;
    // Weight w applies to spectrum[w + shift].
    const shift = spectrumOffset + (firstBin[m] as number) - start;
    // Two independent partial sums, so consecutive adds do not wait for each other.
    let sumEven = 0;
    let sumOdd = 0;
    let w = start;
    for (; w + 1 < end; w += 2) {
      sumEven += (weights[w] as number) * (spectrum[w + shift] as number);
      sumOdd += (weights[w + 1] as number) * (spectrum[w + 1 + shift] as number);
    }
    if (w < end) sumEven += (weights[w] as number) * (spectrum[w + shift] as number);
    out[outOffset + m] = sumEven + sumOdd;
  }
}

/**
 * `melspectrogram`'s `mel_basis @ S` for a time-major power spectrogram (nFrames, nBins):
 * returns the time-major mel power (nFrames, nFilters).
 */
export function melSpectrogram(filterbank: SparseFilterbank, power: Float64Array): Float64Array {
  const nFrames = power.length / filterbank.nBins;
  if (!Number.isInteger(nFrames)) {
    throw new RangeError(
      `melSpectrogram: ${power.length} powers are not whole frames of ${filterbank.nBins} bins`,
    );
  }
  const out = new Float64Array(nFrames * filterbank.nFilters);
  for (let t = 0; t < nFrames; t++) {
    applyFilterbankToFrame(filterbank, power, t * filterbank.nBins, out, t * filterbank.nFilters);
  }
  return out;
}
