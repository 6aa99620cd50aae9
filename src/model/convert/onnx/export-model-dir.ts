import { ONNX_METADATA_KEYS } from '../../artifact/onnx-files.js';
import { addOnnxFile } from '../../artifact/store.js';
import { loadModelDir } from '../../artifact/tfjs-model.js';
import type { OnnxFileRecord, OnnxWeightsDtype } from '../../artifact/metadata.js';
import { exportLayersModel, ONNX_OPSET } from './export.js';
import { FLOAT_OPS } from './float-ops.js';
import { INT8_OPS } from './int8-ops.js';
import { encodeOnnxModel } from './onnx-proto.js';

export interface OnnxExport {
  record: OnnxFileRecord;
  /** Bytes of the tfjs weight files, for the size comparison commands print. */
  tfjsWeightBytes: number;
}

/**
 * Exports a model directory's tfjs model to ONNX, float32 or int8, and adds the file to the
 * same directory (see addOnnxFile). Quantized tfjs weights are dequantized on load, so the
 * float32 export computes exactly what the tfjs backends compute.
 */
export async function exportOnnxToModelDir(
  dir: string,
  dtype: OnnxWeightsDtype,
  producerVersion: string,
): Promise<OnnxExport> {
  const { model, metadata } = await loadModelDir(dir);
  let bytes: Uint8Array;
  try {
    bytes = encodeOnnxModel(
      exportLayersModel(model, dtype === 'int8' ? INT8_OPS : FLOAT_OPS, {
        producerVersion,
        metadata: {
          [ONNX_METADATA_KEYS.labels]: JSON.stringify(metadata.labels),
          [ONNX_METADATA_KEYS.sourceWeightsSha256]: metadata.weights.sha256,
        },
      }),
    );
  } finally {
    model.dispose();
  }
  const record = await addOnnxFile(dir, { dtype, bytes, opset: ONNX_OPSET });
  return { record, tfjsWeightBytes: metadata.weights.bytes };
}
