/**
 * Turns a stream of raw signed 16-bit little-endian mono bytes into float samples in [-1, 1).
 * Pipe reads split the stream anywhere, so a chunk may end in the middle of a sample: the odd
 * byte is kept and completed by the next chunk.
 */
export class S16leDecoder {
  private pendingLowByte: number | undefined;

  decode(bytes: Uint8Array): Float32Array {
    const carried = this.pendingLowByte === undefined ? 0 : 1;
    const total = bytes.length + carried;
    const samples = new Float32Array(Math.floor(total / 2));
    let read = 0;
    for (let index = 0; index < samples.length; index += 1) {
      let low: number;
      if (index === 0 && this.pendingLowByte !== undefined) {
        low = this.pendingLowByte;
      } else {
        low = bytes[read] ?? 0;
        read += 1;
      }
      const high = bytes[read] ?? 0;
      read += 1;
      // Sign-extend the 16-bit value through the top of a 32-bit integer.
      samples[index] = (((high << 8) | low) << 16 >> 16) / 32768;
    }
    this.pendingLowByte = total % 2 === 1 ? bytes[bytes.length - 1] : undefined;
    return samples;
  }
}
