import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { S16leDecoder } from '../../src/capture/pcm.js';
import { encodeS16le } from '../helpers/alsa.js';

describe('S16leDecoder', () => {
  it('maps the 16-bit range onto [-1, 1)', () => {
    const bytes = Uint8Array.from([0x00, 0x80, 0xff, 0xff, 0x00, 0x00, 0x01, 0x00, 0xff, 0x7f]);
    expect(Array.from(new S16leDecoder().decode(bytes))).toEqual([-1, -1 / 32768, 0, 1 / 32768, 32767 / 32768]);
  });

  it('gives the same samples however the byte stream is split, odd splits included', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: -32768, max: 32767 }), { maxLength: 64 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        (values, cuts) => {
          const bytes = encodeS16le(Float32Array.from(values, (value) => value / 32768));
          const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
          const decoder = new S16leDecoder();
          const decoded: number[] = [];
          let start = 0;
          for (const end of [...points, bytes.length]) {
            decoded.push(...decoder.decode(bytes.subarray(start, end)));
            start = end;
          }
          expect(decoded).toEqual(values.map((value) => value / 32768));
        },
      ),
    );
  });
});
