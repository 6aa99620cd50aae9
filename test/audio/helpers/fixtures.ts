import path from 'node:path';

/** test/fixtures/audio: small committed recordings made from the golden WAVs. */
export const AUDIO_FIXTURES_DIR = path.resolve(import.meta.dirname, '../../fixtures/audio');

export function audioFixture(name: string): string {
  return path.join(AUDIO_FIXTURES_DIR, name);
}

/** A minimal ID3v2.4 tag with `bodyLength` zero bytes of body, as taggers put before audio. */
export function id3v2Tag(bodyLength: number): Uint8Array {
  const tag = new Uint8Array(10 + bodyLength);
  tag.set([0x49, 0x44, 0x33, 4, 0, 0], 0);
  // The size is "synchsafe": four bytes of 7 bits each, most significant first.
  for (let i = 0; i < 4; i++) tag[9 - i] = (bodyLength >> (7 * i)) & 0x7f;
  return tag;
}
