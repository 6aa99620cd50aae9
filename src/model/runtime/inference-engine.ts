/** Features in, probabilities out: one implementation per backend family (ONNX Runtime, TensorFlow.js). */
export interface InferenceEngine {
  /** `input` holds `batch` feature matrices back to back; returns `batch` rows of probabilities. */
  run(input: Float32Array, batch: number): Float32Array;
  /**
   * Live TensorFlow.js tensors, for the health report's leak check. Only an engine that makes
   * them has it: ONNX Runtime allocates none.
   */
  tensorCount?(): number;
  dispose(): void;
}
