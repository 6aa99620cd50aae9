import { randomBytes } from 'node:crypto';

/**
 * Event ids in the ULID layout (github.com/ulid/spec): 48 bits of milliseconds then 80 random
 * bits, 26 characters of Crockford base32, so sorting ids as strings sorts them by time.
 * Written here rather than taken from the `ulid` package: it is a few dozen lines, uses Node's
 * CSPRNG directly, and keeps one dependency fewer on the device image.
 */
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const TIME_CHARS = 10;
const RANDOM_CHARS = 16;
const RANDOM_BYTES = 10;
const MAX_TIME = 2 ** 48 - 1;

export type EventIdGenerator = (timeMs: number) => string;

/**
 * Returns a generator whose ids strictly increase across calls, even for calls in the same
 * millisecond or with an earlier time (the clock stepping back, as NTP does after boot on a Pi
 * without a real-time clock): the previous id's time is kept and its random part incremented,
 * as the ULID spec's monotonic mode does. `random` is injectable for tests.
 */
export function createEventIdGenerator(random: (bytes: number) => Uint8Array = randomBytes): EventIdGenerator {
  let lastTime = -1;
  let lastRandom = new Uint8Array(RANDOM_BYTES);
  return (timeMs: number): string => {
    if (!Number.isInteger(timeMs) || timeMs < 0 || timeMs > MAX_TIME) {
      throw new RangeError(`event id time ${timeMs} is not a whole number of milliseconds from 0 to ${MAX_TIME}`);
    }
    if (timeMs > lastTime) {
      lastTime = timeMs;
      lastRandom = Uint8Array.from(random(RANDOM_BYTES));
    } else {
      increment(lastRandom, lastTime);
    }
    return encodeTime(lastTime) + encodeBytes(lastRandom);
  };
}

/** Adds one to a big-endian byte string; 2^80 ids in one millisecond cannot happen, but say so if it does. */
function increment(bytes: Uint8Array, timeMs: number): void {
  for (let i = bytes.length - 1; i >= 0; i--) {
    const value = (bytes[i] as number) + 1;
    bytes[i] = value & 0xff;
    if (value <= 0xff) return;
  }
  throw new RangeError(`event id space exhausted for millisecond ${timeMs}`);
}

function encodeTime(timeMs: number): string {
  let text = '';
  let rest = timeMs;
  for (let i = 0; i < TIME_CHARS; i++) {
    text = (ALPHABET[rest % 32] as string) + text;
    rest = Math.floor(rest / 32);
  }
  return text;
}

/** 80 bits as 16 base32 digits, most significant first. */
function encodeBytes(bytes: Uint8Array): string {
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  let text = '';
  for (let i = 0; i < RANDOM_CHARS; i++) {
    text = (ALPHABET[Number(value & 31n)] as string) + text;
    value >>= 5n;
  }
  return text;
}
