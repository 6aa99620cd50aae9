import type * as tf from '@tensorflow/tfjs';
import { ModelError } from '../../errors.js';
import { type ModelMetrics } from '../artifact/metrics.js';
import { trainingHistoryOf, verifyModelDir, writeModelDir, type WriteModelDirOptions } from '../artifact/store.js';
import { encodeAffineUint8, encodeFloat16 } from './weight-codecs.js';

export type QuantizationDtype = 'uint8' | 'float16';

export interface QuantizeOptions extends WriteModelDirOptions {
  /**
   * Evaluation of the quantized model, if the caller has one. The source's metrics are not
   * carried over: they were measured on different weights.
   */
  metrics?: ModelMetrics;
}

export interface QuantizationSummary {
  dtype: QuantizationDtype;
  /** Weight bytes of the float32 source and of the quantized copy. */
  bytesBefore: number;
  bytesAfter: number;
  /** bytesBefore / bytesAfter: about 4 for uint8, 2 for float16. */
  compressionRatio: number;
  sourceWeightsSha256: string;
  weightsSha256: string;
}

/**
 * Writes a copy of the float32 model in `srcDir` to `outDir` with every weight tensor stored
 * as uint8 (per-tensor min and scale) or float16, in the weights-manifest format that stock
 * `tf.loadLayersModel` dequantizes on load.
 */
export async function quantizeModelDir(
  srcDir: string,
  outDir: string,
  dtype: QuantizationDtype,
  options: QuantizeOptions = {},
): Promise<QuantizationSummary> {
  const source = await verifyModelDir(srcDir);
  if (source.metadata.weights.dtype !== 'float32') {
    throw new ModelError(
      `${source.dir}: weights are already ${source.metadata.weights.dtype}; quantize from the float32 model ` +
        `(weights sha256 ${source.metadata.weights.quantizedFrom?.weightsSha256 ?? 'unknown'}) to avoid compounding the error`,
    );
  }
  const specs: tf.io.WeightsManifestEntry[] = [];
  const encoded: Uint8Array[] = [];
  let offset = 0;
  for (const spec of source.weightSpecs) {
    const size = spec.shape.reduce((product, dim) => product * dim, 1);
    if (spec.dtype !== 'float32') {
      throw new ModelError(`${source.dir}: weight ${spec.name} is ${spec.dtype}; only float32 weights can be quantized`);
    }
    // Copied out so the Float32Array is 4-byte aligned whatever the offset.
    const values = new Float32Array(source.weightData.slice(offset, offset + size * 4).buffer);
    offset += size * 4;
    try {
      if (dtype === 'uint8') {
        const { codes, min, scale } = encodeAffineUint8(values);
        specs.push({ ...spec, quantization: { dtype: 'uint8', min, scale } });
        encoded.push(codes);
      } else {
        const halves = encodeFloat16(values);
        specs.push({ ...spec, quantization: { dtype: 'float16' } });
        encoded.push(new Uint8Array(halves.buffer));
      }
    } catch (error) {
      if (!(error instanceof RangeError)) throw error;
      throw new ModelError(`${source.dir}: weight ${spec.name} cannot be stored as ${dtype}: ${error.message}; keep it float32`, {
        cause: error,
      });
    }
  }
  const weightData = new Uint8Array(encoded.reduce((sum, part) => sum + part.byteLength, 0));
  let position = 0;
  for (const part of encoded) {
    weightData.set(part, position);
    position += part.byteLength;
  }

  const { name, version, architecture, labels, featureParameters, frontEnd, bandStatistics, clipWindow, training, temperature, weights: sourceWeights } =
    source.metadata;
  const history = await trainingHistoryOf(source);
  const metadata = await writeModelDir(
    outDir,
    {
      // Topology and format fields as they were; writeModelDir replaces the weights manifest.
      modelJson: source.modelJson,
      weightSpecs: specs,
      weightData,
      weightsDtype: dtype,
      // The temperature was fitted to the float model; quantization barely moves its outputs
      // (top-1 agreement is measured), so the copy keeps it rather than losing calibration.
      description: {
        name,
        version,
        architecture,
        labels,
        featureParameters,
        ...(frontEnd === undefined ? {} : { frontEnd }),
        ...(bandStatistics === undefined ? {} : { bandStatistics }),
        ...(clipWindow === undefined ? {} : { clipWindow }),
        training,
        metrics: options.metrics ?? {},
        ...(temperature === undefined ? {} : { temperature }),
      },
      quantizedFrom: { weightsSha256: sourceWeights.sha256 },
      // The same training run: its learning curves go with the copy.
      ...(history === undefined ? {} : { history }),
    },
    options,
  );
  return {
    dtype,
    bytesBefore: sourceWeights.bytes,
    bytesAfter: metadata.weights.bytes,
    compressionRatio: sourceWeights.bytes / metadata.weights.bytes,
    sourceWeightsSha256: sourceWeights.sha256,
    weightsSha256: metadata.weights.sha256,
  };
}
