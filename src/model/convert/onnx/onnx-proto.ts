import { ProtoWriter, readFields } from './protobuf.js';

/**
 * The subset of onnx.proto (https://github.com/onnx/onnx/blob/main/onnx/onnx.proto) the
 * exporter writes, with the field numbers of that file. Field numbers are the file format:
 * they never change between ONNX releases, so they are spelled out here once.
 */

/** TensorProto.DataType values. */
export const ONNX_DTYPE = { float32: 1, uint8: 2, int8: 3, int32: 6, int64: 7 } as const;
export type OnnxDtype = keyof typeof ONNX_DTYPE;

/** IR version 8 is the one that goes with opset 17 (onnx/docs/Versioning.md). */
export const IR_VERSION = 8;

export interface OnnxTensor {
  name: string;
  dtype: OnnxDtype;
  dims: readonly number[];
  /** Little-endian values, as TensorProto.raw_data stores them. */
  data: Uint8Array;
}

export type OnnxAttribute =
  | { name: string; int: number }
  | { name: string; float: number }
  | { name: string; string: string }
  | { name: string; ints: readonly number[] }
  | { name: string; strings: readonly string[] };

export interface OnnxNode {
  opType: string;
  /** Empty for the default ONNX domain. */
  domain?: string;
  name: string;
  /** '' marks an omitted optional input. */
  inputs: readonly string[];
  outputs: readonly string[];
  attributes?: readonly OnnxAttribute[];
}

/** A graph input or output: a float tensor whose dimensions are numbers or symbolic names. */
export interface OnnxValueInfo {
  name: string;
  dtype: OnnxDtype;
  dims: ReadonlyArray<number | string>;
}

export interface OnnxModel {
  producerName: string;
  producerVersion: string;
  opsets: ReadonlyArray<{ domain: string; version: number }>;
  graph: {
    name: string;
    nodes: readonly OnnxNode[];
    initializers: readonly OnnxTensor[];
    inputs: readonly OnnxValueInfo[];
    outputs: readonly OnnxValueInfo[];
  };
  /** ModelProto.metadata_props: key/value strings any ONNX tool shows. */
  metadata: Readonly<Record<string, string>>;
}

// ModelProto
const MODEL_IR_VERSION = 1;
const MODEL_PRODUCER_NAME = 2;
const MODEL_PRODUCER_VERSION = 3;
const MODEL_GRAPH = 7;
const MODEL_OPSET_IMPORT = 8;
const MODEL_METADATA_PROPS = 14;
// OperatorSetIdProto
const OPSET_DOMAIN = 1;
const OPSET_VERSION = 2;
// StringStringEntryProto
const ENTRY_KEY = 1;
const ENTRY_VALUE = 2;
// GraphProto
const GRAPH_NODE = 1;
const GRAPH_NAME = 2;
const GRAPH_INITIALIZER = 5;
const GRAPH_INPUT = 11;
const GRAPH_OUTPUT = 12;
// NodeProto
const NODE_INPUT = 1;
const NODE_OUTPUT = 2;
const NODE_NAME = 3;
const NODE_OP_TYPE = 4;
const NODE_ATTRIBUTE = 5;
const NODE_DOMAIN = 7;
// AttributeProto and its AttributeType enum
const ATTRIBUTE_NAME = 1;
const ATTRIBUTE_F = 2;
const ATTRIBUTE_I = 3;
const ATTRIBUTE_S = 4;
const ATTRIBUTE_INTS = 8;
const ATTRIBUTE_STRINGS = 9;
const ATTRIBUTE_TYPE = 20;
const ATTRIBUTE_TYPE_FLOAT = 1;
const ATTRIBUTE_TYPE_INT = 2;
const ATTRIBUTE_TYPE_STRING = 3;
const ATTRIBUTE_TYPE_INTS = 7;
const ATTRIBUTE_TYPE_STRINGS = 8;
// TensorProto
const TENSOR_DIMS = 1;
const TENSOR_DATA_TYPE = 2;
const TENSOR_NAME = 8;
const TENSOR_RAW_DATA = 9;
// ValueInfoProto, TypeProto, TypeProto.Tensor, TensorShapeProto and its Dimension
const VALUE_INFO_NAME = 1;
const VALUE_INFO_TYPE = 2;
const TYPE_TENSOR_TYPE = 1;
const TENSOR_TYPE_ELEM_TYPE = 1;
const TENSOR_TYPE_SHAPE = 2;
const SHAPE_DIM = 1;
const DIMENSION_VALUE = 1;
const DIMENSION_PARAM = 2;

/** Serialises a model to the bytes of a .onnx file. */
export function encodeOnnxModel(model: OnnxModel): Uint8Array {
  const root = new ProtoWriter()
    .varint(MODEL_IR_VERSION, IR_VERSION)
    .string(MODEL_PRODUCER_NAME, model.producerName)
    .string(MODEL_PRODUCER_VERSION, model.producerVersion)
    .message(MODEL_GRAPH, encodeGraph(model.graph));
  for (const opset of model.opsets) {
    root.message(MODEL_OPSET_IMPORT, new ProtoWriter().string(OPSET_DOMAIN, opset.domain).varint(OPSET_VERSION, opset.version));
  }
  for (const [key, value] of Object.entries(model.metadata)) {
    root.message(MODEL_METADATA_PROPS, new ProtoWriter().string(ENTRY_KEY, key).string(ENTRY_VALUE, value));
  }
  return root.finish();
}

/**
 * ModelProto.metadata_props of a .onnx file, without decoding its graph. Throws a
 * RangeError if the bytes are not a protobuf message.
 */
export function readOnnxMetadata(file: Uint8Array): Record<string, string> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const metadata: Record<string, string> = {};
  for (const entry of readFields(file)) {
    if (entry.field !== MODEL_METADATA_PROPS || entry.bytes === undefined) continue;
    let key = '';
    let value = '';
    for (const part of readFields(entry.bytes)) {
      if (part.field === ENTRY_KEY && part.bytes !== undefined) key = decoder.decode(part.bytes);
      if (part.field === ENTRY_VALUE && part.bytes !== undefined) value = decoder.decode(part.bytes);
    }
    metadata[key] = value;
  }
  return metadata;
}

function encodeGraph(graph: OnnxModel['graph']): ProtoWriter {
  const writer = new ProtoWriter();
  for (const node of graph.nodes) writer.message(GRAPH_NODE, encodeNode(node));
  writer.string(GRAPH_NAME, graph.name);
  for (const tensor of graph.initializers) writer.message(GRAPH_INITIALIZER, encodeTensor(tensor));
  for (const input of graph.inputs) writer.message(GRAPH_INPUT, encodeValueInfo(input));
  for (const output of graph.outputs) writer.message(GRAPH_OUTPUT, encodeValueInfo(output));
  return writer;
}

function encodeNode(node: OnnxNode): ProtoWriter {
  const writer = new ProtoWriter();
  for (const input of node.inputs) writer.string(NODE_INPUT, input);
  for (const output of node.outputs) writer.string(NODE_OUTPUT, output);
  writer.string(NODE_NAME, node.name).string(NODE_OP_TYPE, node.opType);
  for (const attribute of node.attributes ?? []) writer.message(NODE_ATTRIBUTE, encodeAttribute(attribute));
  if (node.domain !== undefined && node.domain !== '') writer.string(NODE_DOMAIN, node.domain);
  return writer;
}

function encodeAttribute(attribute: OnnxAttribute): ProtoWriter {
  const writer = new ProtoWriter().string(ATTRIBUTE_NAME, attribute.name);
  if ('int' in attribute) return writer.varint(ATTRIBUTE_I, attribute.int).varint(ATTRIBUTE_TYPE, ATTRIBUTE_TYPE_INT);
  if ('float' in attribute) return writer.float(ATTRIBUTE_F, attribute.float).varint(ATTRIBUTE_TYPE, ATTRIBUTE_TYPE_FLOAT);
  if ('string' in attribute) return writer.string(ATTRIBUTE_S, attribute.string).varint(ATTRIBUTE_TYPE, ATTRIBUTE_TYPE_STRING);
  if ('ints' in attribute) {
    return writer.packedVarints(ATTRIBUTE_INTS, attribute.ints).varint(ATTRIBUTE_TYPE, ATTRIBUTE_TYPE_INTS);
  }
  for (const value of attribute.strings) writer.string(ATTRIBUTE_STRINGS, value);
  return writer.varint(ATTRIBUTE_TYPE, ATTRIBUTE_TYPE_STRINGS);
}

function encodeTensor(tensor: OnnxTensor): ProtoWriter {
  return new ProtoWriter()
    .packedVarints(TENSOR_DIMS, tensor.dims)
    .varint(TENSOR_DATA_TYPE, ONNX_DTYPE[tensor.dtype])
    .string(TENSOR_NAME, tensor.name)
    .bytes(TENSOR_RAW_DATA, tensor.data);
}

function encodeValueInfo(info: OnnxValueInfo): ProtoWriter {
  const shape = new ProtoWriter();
  for (const dim of info.dims) {
    const dimension = new ProtoWriter();
    if (typeof dim === 'number') dimension.varint(DIMENSION_VALUE, dim);
    else dimension.string(DIMENSION_PARAM, dim);
    shape.message(SHAPE_DIM, dimension);
  }
  const tensorType = new ProtoWriter().varint(TENSOR_TYPE_ELEM_TYPE, ONNX_DTYPE[info.dtype]).message(TENSOR_TYPE_SHAPE, shape);
  return new ProtoWriter()
    .string(VALUE_INFO_NAME, info.name)
    .message(VALUE_INFO_TYPE, new ProtoWriter().message(TYPE_TENSOR_TYPE, tensorType));
}
