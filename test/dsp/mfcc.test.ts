import { describe, expect, it } from 'vitest';
import { N_MELS, N_MFCC } from '../../src/dsp/constants.js';
import { DctOrtho, mfccFromMelDb } from '../../src/dsp/mfcc.js';
import { absDiff, readGoldenF32, readGoldenF64 } from '../helpers/golden.js';

/** The transform's matrix, row-major (nOutputs, nInputs), recovered column by column. */
function basisOf(dct: DctOrtho): Float64Array {
  const basis = new Float64Array(dct.nOutputs * dct.nInputs);
  const unit = new Float64Array(dct.nInputs);
  const column = new Float64Array(dct.nOutputs);
  for (let n = 0; n < dct.nInputs; n++) {
    unit.fill(0);
    unit[n] = 1;
    dct.apply(unit, 0, column, 0);
    for (let k = 0; k < dct.nOutputs; k++) basis[k * dct.nInputs + n] = column[k] as number;
  }
  return basis;
}

/** Frame t (column t) of a golden (rows, frames) mel-major array, as float64. */
function goldenColumn(name: string, rows: number, t: number): Float64Array {
  const block = readGoldenF32(name);
  const frames = block.length / rows;
  return Float64Array.from({ length: rows }, (_, r) => block[r * frames + t] as number);
}

/** The defining sum, term by term. */
function definingSum(nOutputs: number, input: Float64Array): Float64Array {
  const size = input.length;
  return Float64Array.from({ length: nOutputs }, (_, k) => {
    let sum = 0;
    for (let n = 0; n < size; n++) sum += (input[n] as number) * Math.cos((Math.PI * k * (2 * n + 1)) / (2 * size));
    return Math.sqrt((k === 0 ? 1 : 2) / size) * sum;
  });
}

describe('DctOrtho', () => {
  it('is the basis of scipy.fft.dct(type=2, norm="ortho") that librosa.feature.mfcc uses', () => {
    const basis = basisOf(new DctOrtho(N_MFCC, N_MELS));
    expect(absDiff(basis, readGoldenF64('dct2_ortho_40x128')).max).toBeLessThanOrEqual(1e-15);
  });

  it('is orthonormal when square, the mirrored upper half included', () => {
    const size = 16;
    const basis = basisOf(new DctOrtho(size, size));
    for (let a = 0; a < size; a++) {
      for (let b = 0; b < size; b++) {
        let dot = 0;
        for (let n = 0; n < size; n++) dot += (basis[a * size + n] as number) * (basis[b * size + n] as number);
        expect(dot).toBeCloseTo(a === b ? 1 : 0, 14);
      }
    }
  });

  it('matches the defining sum on speech mel dB, at the given offsets', () => {
    const dct = new DctOrtho(N_MFCC, N_MELS);
    const frame = goldenColumn('long_5s_16k.mel_db_ref1', N_MELS, 60);
    const input = new Float64Array(N_MELS + 3);
    input.set(frame, 3);
    const out = new Float64Array(N_MFCC + 1).fill(Number.NaN);
    dct.apply(input, 3, out, 1);
    expect(out[0]).toBeNaN();
    const largest = frame.reduce((max, v) => Math.max(max, Math.abs(v)), 0);
    expect(absDiff(out.subarray(1), definingSum(N_MFCC, frame)).max).toBeLessThanOrEqual(1e-14 * largest * N_MELS);
  });

  it('rejects input lengths that are not powers of two and more outputs than inputs', () => {
    expect(() => new DctOrtho(40, 100)).toThrow(/100 inputs; use a power of two/);
    expect(() => new DctOrtho(65, 64)).toThrow(/65 outputs from 64 inputs/);
  });
});

describe('mfccFromMelDb', () => {
  it('transforms each time-major frame', () => {
    const dct = new DctOrtho(N_MFCC, N_MELS);
    const frameA = goldenColumn('long_5s_16k.mel_db_ref1', N_MELS, 10);
    const frameB = goldenColumn('long_5s_16k.mel_db_ref1', N_MELS, 90);
    const melDb = new Float64Array(2 * N_MELS);
    melDb.set(frameA, 0);
    melDb.set(frameB, N_MELS);
    const mfcc = mfccFromMelDb(melDb, dct);
    expect(mfcc.length).toBe(2 * N_MFCC);
    const largest = frameB.reduce((max, v) => Math.max(max, Math.abs(v)), 0);
    expect(absDiff(mfcc.subarray(N_MFCC), definingSum(N_MFCC, frameB)).max).toBeLessThanOrEqual(
      1e-14 * largest * N_MELS,
    );
  });

  it('rejects input that is not whole frames', () => {
    expect(() => mfccFromMelDb(new Float64Array(N_MELS + 1), new DctOrtho(N_MFCC, N_MELS))).toThrow(
      /129 values are not whole frames of 128 mel bands/,
    );
  });
});
