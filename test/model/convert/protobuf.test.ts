import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeOnnxModel, readOnnxMetadata, type OnnxModel } from '../../../src/model/convert/onnx/onnx-proto.js';
import { ProtoWriter, readFields } from '../../../src/model/convert/onnx/protobuf.js';

describe('ProtoWriter and readFields', () => {
  it('round-trips varints of any int64, including negatives as ten-byte two’s complement', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), fc.integer({ min: 1, max: 536_870_911 }), (value, field) => {
        const [decoded] = readFields(new ProtoWriter().varint(field, value).finish());
        expect(decoded).toEqual({ field, varint: BigInt.asUintN(64, value) });
      }),
    );
    expect(new ProtoWriter().varint(1, -1).finish()).toHaveLength(11);
  });

  it('writes the bytes protoc does for a known message', () => {
    // protobuf.dev "Encoding": field 1 = 150 is 08 96 01; field 2 = "testing" is 12 07 74 65 73 74 69 6e 67.
    expect(Buffer.from(new ProtoWriter().varint(1, 150).finish()).toString('hex')).toBe('089601');
    expect(Buffer.from(new ProtoWriter().string(2, 'testing').finish()).toString('hex')).toBe('120774657374696e67');
    expect(Buffer.from(new ProtoWriter().packedVarints(4, [3, 270, 86942]).finish()).toString('hex')).toBe('2206038e029ea705');
  });

  it('refuses bytes that run past the end, naming the field', () => {
    expect(() => readFields(Uint8Array.of(0x0a, 0x05, 0x01))).toThrow(/field 1 claims 5 bytes, only 1 remain/);
    expect(() => readFields(Uint8Array.of(0x08, 0x80))).toThrow(/varint runs past the end/);
  });
});

describe('readOnnxMetadata', () => {
  it('reads back the metadata_props an encoded model carries, skipping the graph', () => {
    const model: OnnxModel = {
      producerName: 'ser-agent',
      producerVersion: '1',
      opsets: [{ domain: '', version: 17 }],
      graph: { name: 'g', nodes: [], initializers: [], inputs: [], outputs: [] },
      metadata: { 'ser_agent.labels': '["anger"]', other: 'ünïcode' },
    };
    expect(readOnnxMetadata(encodeOnnxModel(model))).toEqual(model.metadata);
  });
});
