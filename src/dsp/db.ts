import { AMIN, TOP_DB } from './constants.js';

/** 10 log10(x) = DECIBELS_PER_LN * ln(x); V8's Math.log is markedly faster than Math.log10. */
const DECIBELS_PER_LN = 10 / Math.LN10;

export interface PowerToDbOptions {
  /** The power that maps to 0 dB, or 'max' for the largest input value (librosa's ref=np.max). */
  ref: number | 'max';
  /** Floor on power and ref before the logarithm; default AMIN (1e-10). */
  amin?: number;
  /** Clip everything below the maximum minus topDb decibels; default TOP_DB (80), null for none. */
  topDb?: number | null;
}

/**
 * `librosa.power_to_db(power, ref, amin, top_db)`:
 * `10 log10(max(amin, power)) - 10 log10(max(amin, ref))`, then `max(x, max(x) - topDb)`.
 * `out` may be `power` itself.
 */
export function powerToDb(
  power: ArrayLike<number>,
  options: PowerToDbOptions,
  out: Float64Array = new Float64Array(power.length),
): Float64Array {
  const amin = options.amin ?? AMIN;
  const topDb = options.topDb === undefined ? TOP_DB : options.topDb;
  if (!(amin > 0)) throw new RangeError(`powerToDb: amin is ${amin}; it must be positive`);
  if (topDb !== null && !(topDb >= 0)) {
    throw new RangeError(`powerToDb: topDb is ${topDb}; use a non-negative number or null`);
  }
  if (out.length !== power.length) {
    throw new RangeError(`powerToDb: out holds ${out.length} values; expected ${power.length}`);
  }
  let ref = options.ref;
  if (ref === 'max') {
    ref = -Infinity;
    for (let i = 0; i < power.length; i++) ref = Math.max(ref, power[i] as number);
  } else if (!(ref > 0)) {
    throw new RangeError(`powerToDb: ref is ${ref}; use a positive power or 'max'`);
  }
  const refDb = DECIBELS_PER_LN * Math.log(Math.max(amin, ref));

  let maxDb = -Infinity;
  for (let i = 0; i < power.length; i++) {
    const db = DECIBELS_PER_LN * Math.log(Math.max(amin, power[i] as number)) - refDb;
    out[i] = db;
    if (db > maxDb) maxDb = db;
  }
  if (topDb !== null) {
    const floor = maxDb - topDb;
    for (let i = 0; i < out.length; i++) {
      if ((out[i] as number) < floor) out[i] = floor;
    }
  }
  return out;
}
