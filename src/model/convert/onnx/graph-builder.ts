import type { OnnxAttribute, OnnxDtype, OnnxModel, OnnxNode, OnnxTensor, OnnxValueInfo } from './onnx-proto.js';

/** Accumulates an ONNX graph's nodes and constant tensors under unique names. */
export class OnnxGraphBuilder {
  readonly #nodes: OnnxNode[] = [];
  readonly #initializers: OnnxTensor[] = [];
  readonly #names = new Set<string>();
  readonly #domains = new Set<string>();

  /** `input` is the graph input's name, reserved so no node output takes it. */
  constructor(input: string) {
    this.#names.add(input);
  }

  /** A constant tensor (an initializer); returns its name. */
  constant(name: string, dtype: OnnxDtype, dims: readonly number[], values: Float32Array | Int32Array | Int8Array | Uint8Array | BigInt64Array): string {
    const expected = dims.reduce((product, dim) => product * dim, 1);
    if (values.length !== expected) {
      throw new RangeError(`constant ${name} has ${values.length} values; its shape [${dims.join(', ')}] needs ${expected}`);
    }
    const unique = this.#claim(name);
    const data = new Uint8Array(values.buffer, values.byteOffset, values.byteLength).slice();
    this.#initializers.push({ name: unique, dtype, dims, data });
    return unique;
  }

  /** A node with one output per entry of `outputs` (base names, made unique); returns their names. */
  node(
    opType: string,
    name: string,
    inputs: readonly string[],
    outputs: readonly string[],
    attributes: readonly OnnxAttribute[] = [],
    domain = '',
  ): string[] {
    const outputNames = outputs.map((output) => this.#claim(output));
    if (domain !== '') this.#domains.add(domain);
    this.#nodes.push({ opType, name: this.#claim(`${name}/${opType}`), inputs, outputs: outputNames, attributes, domain });
    return outputNames;
  }

  /** A node with a single output; returns its name. */
  op(opType: string, name: string, inputs: readonly string[], attributes: readonly OnnxAttribute[] = [], domain = ''): string {
    return this.node(opType, name, inputs, [`${name}/${opType.toLowerCase()}`], attributes, domain)[0] as string;
  }

  /** Renames the value `from` to the graph output name `to` with an Identity node. */
  finish(
    header: Pick<OnnxModel, 'producerName' | 'producerVersion' | 'metadata'> & { graphName: string; opset: number },
    input: OnnxValueInfo,
    output: OnnxValueInfo & { from: string },
  ): OnnxModel {
    this.node('Identity', output.name, [output.from], [output.name]);
    return {
      producerName: header.producerName,
      producerVersion: header.producerVersion,
      opsets: [{ domain: '', version: header.opset }, ...[...this.#domains].map((domain) => ({ domain, version: 1 }))],
      graph: {
        name: header.graphName,
        nodes: this.#nodes,
        initializers: this.#initializers,
        inputs: [input],
        outputs: [{ name: output.name, dtype: output.dtype, dims: output.dims }],
      },
      metadata: header.metadata,
    };
  }

  #claim(base: string): string {
    let name = base;
    for (let suffix = 2; this.#names.has(name); suffix++) name = `${base}_${suffix}`;
    this.#names.add(name);
    return name;
  }
}
