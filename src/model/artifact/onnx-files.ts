import path from 'node:path';
import { ModelError, describeError } from '../../errors.js';
import { readOnnxMetadata } from '../convert/onnx/onnx-proto.js';
import { METADATA_FILE } from './files.js';
import { type ModelMetadata, type OnnxFileRecord, type OnnxWeightsDtype } from './metadata.js';

/** Where each ONNX copy of the model lives inside its directory. */
export const ONNX_FILES: Record<OnnxWeightsDtype, string> = { float32: 'model.onnx', int8: 'model.int8.onnx' };
/** ModelProto.metadata_props keys that tie an ONNX file to the directory it belongs in. */
export const ONNX_METADATA_KEYS = { labels: 'ser_agent.labels', sourceWeightsSha256: 'ser_agent.source_weights_sha256' } as const;

/**
 * Both formats must describe the same model: the ONNX file names the labels and the tfjs
 * weights it was exported from, and both must be this directory's.
 */
export function checkOnnxFile(dir: string, metadata: ModelMetadata, record: OnnxFileRecord, bytes: Uint8Array): Uint8Array {
  const file = path.join(dir, record.path);
  const reexport = `re-export it with \`ser-agent ${record.dtype === 'int8' ? 'quantize --format onnx --dtype int8' : 'export-onnx'} --model ${dir}\``;
  if (record.sourceWeightsSha256 !== metadata.weights.sha256) {
    throw new ModelError(
      `${file} was exported from weights ${record.sourceWeightsSha256}, but this model's weights are ${metadata.weights.sha256}; ${reexport}`,
    );
  }
  let embedded: Record<string, string>;
  try {
    embedded = readOnnxMetadata(bytes);
  } catch (error) {
    throw new ModelError(`${file} is not an ONNX model (${describeError(error)}); ${reexport}`, { cause: error });
  }
  const labels = JSON.stringify(metadata.labels);
  if (embedded[ONNX_METADATA_KEYS.labels] !== labels || embedded[ONNX_METADATA_KEYS.sourceWeightsSha256] !== metadata.weights.sha256) {
    throw new ModelError(
      `${file} says it has labels ${embedded[ONNX_METADATA_KEYS.labels] ?? 'missing'} and source weights ` +
        `${embedded[ONNX_METADATA_KEYS.sourceWeightsSha256] ?? 'missing'}; ${METADATA_FILE} says ${labels} and ${metadata.weights.sha256}; ${reexport}`,
    );
  }
  return bytes;
}
