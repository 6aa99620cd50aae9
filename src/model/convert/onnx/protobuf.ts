/**
 * The few protobuf wire-format pieces an ONNX file needs: a writer for the messages the
 * exporter builds and a reader that walks one message's top-level fields. Hand-rolled
 * rather than protobufjs because the exporter writes eight message types and reads one
 * field, which is less code than a schema plus a runtime dependency.
 */

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LENGTH_DELIMITED = 2;
const WIRE_FIXED32 = 5;

/** Appends fields to a growing buffer; nested messages are written by their own writer. */
export class ProtoWriter {
  #bytes = new Uint8Array(256);
  #length = 0;

  /** int32, int64 and enum fields; negative values take ten bytes, as protobuf requires. */
  varint(field: number, value: number | bigint): this {
    this.#tag(field, WIRE_VARINT);
    this.#varint(BigInt.asUintN(64, BigInt(value)));
    return this;
  }

  float(field: number, value: number): this {
    this.#tag(field, WIRE_FIXED32);
    const view = new DataView(this.#reserve(4).buffer, this.#length, 4);
    view.setFloat32(0, value, true);
    this.#length += 4;
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  bytes(field: number, value: Uint8Array): this {
    this.#tag(field, WIRE_LENGTH_DELIMITED);
    this.#varint(BigInt(value.byteLength));
    this.#reserve(value.byteLength).set(value, this.#length);
    this.#length += value.byteLength;
    return this;
  }

  message(field: number, nested: ProtoWriter): this {
    return this.bytes(field, nested.finish());
  }

  /** A packed repeated int64 field (proto3 packs repeated scalars by default). */
  packedVarints(field: number, values: readonly number[]): this {
    const packed = new ProtoWriter();
    for (const value of values) packed.#varint(BigInt.asUintN(64, BigInt(value)));
    return this.bytes(field, packed.finish());
  }

  finish(): Uint8Array {
    return this.#bytes.slice(0, this.#length);
  }

  #tag(field: number, wireType: number): void {
    // BigInt: field numbers go up to 2^29 - 1, which a 32-bit shift would overflow.
    this.#varint((BigInt(field) << 3n) | BigInt(wireType));
  }

  #varint(value: bigint): void {
    const bytes = this.#reserve(10);
    let rest = value;
    while (rest >= 0x80n) {
      bytes[this.#length++] = Number(rest & 0x7fn) | 0x80;
      rest >>= 7n;
    }
    bytes[this.#length++] = Number(rest);
  }

  /** Grows the buffer so `extra` more bytes fit; returns the (possibly new) buffer. */
  #reserve(extra: number): Uint8Array {
    if (this.#length + extra > this.#bytes.byteLength) {
      const grown = new Uint8Array(Math.max(this.#bytes.byteLength * 2, this.#length + extra));
      grown.set(this.#bytes.subarray(0, this.#length));
      this.#bytes = grown;
    }
    return this.#bytes;
  }
}

/** One top-level field of a message, as read from the wire. */
export interface ProtoField {
  field: number;
  /** Set for length-delimited fields: strings, bytes and nested messages. */
  bytes?: Uint8Array;
  /** Set for varint fields. */
  varint?: bigint;
}

/**
 * The top-level fields of one message, in wire order; nested messages stay as bytes for
 * the caller to read in turn. Throws a RangeError on bytes that are not protobuf.
 */
export function readFields(message: Uint8Array): ProtoField[] {
  const fields: ProtoField[] = [];
  let offset = 0;
  const readVarint = (): bigint => {
    let value = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (offset >= message.byteLength) throw new RangeError(`varint runs past the end at byte ${offset}`);
      const byte = message[offset++] as number;
      value |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return value;
    }
    throw new RangeError(`varint longer than 10 bytes at byte ${offset}`);
  };
  while (offset < message.byteLength) {
    const key = readVarint();
    const field = Number(key >> 3n);
    const wireType = Number(key & 7n);
    switch (wireType) {
      case WIRE_VARINT:
        fields.push({ field, varint: readVarint() });
        break;
      case WIRE_FIXED64:
        offset += 8;
        break;
      case WIRE_LENGTH_DELIMITED: {
        const length = Number(readVarint());
        if (offset + length > message.byteLength) {
          throw new RangeError(`field ${field} claims ${length} bytes, only ${message.byteLength - offset} remain`);
        }
        fields.push({ field, bytes: message.subarray(offset, offset + length) });
        offset += length;
        break;
      }
      case WIRE_FIXED32:
        offset += 4;
        break;
      default:
        throw new RangeError(`field ${field} has wire type ${wireType}, which protobuf does not define`);
    }
    if (offset > message.byteLength) throw new RangeError(`field ${field} runs past the end of the message`);
  }
  return fields;
}
