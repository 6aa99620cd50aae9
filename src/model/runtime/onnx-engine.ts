import { N_FEATURES, N_FRAMES } from '../../dsp/constants.js';
import { EMOTIONS } from '../../labels.js';
import { OnnxSession } from './onnx-session.js';

/** Runs an exported ONNX model through ONNX Runtime: features in, probabilities out. */
export class OnnxEngine {
  readonly #session: OnnxSession;

  private constructor(session: OnnxSession) {
    this.#session = session;
  }

  /** Throws with ONNX Runtime's reason if it cannot run the model or the shapes are not ser-agent's. */
  static async create(model: Uint8Array, threads: number): Promise<OnnxEngine> {
    const session = await OnnxSession.create(model, { threads });
    const input = JSON.stringify(session.inputShape.slice(1));
    const output = JSON.stringify(session.outputShape.slice(1));
    if (input !== JSON.stringify([N_FRAMES, N_FEATURES]) || output !== JSON.stringify([EMOTIONS.length])) {
      session.dispose();
      throw new Error(`the ONNX model maps [batch, ${input}] to [batch, ${output}]; ser-agent feeds [batch, ${N_FRAMES}, ${N_FEATURES}] and reads ${EMOTIONS.length} probabilities`);
    }
    return new OnnxEngine(session);
  }

  /**
   * `input` holds `batch` feature matrices back to back; returns `batch` rows of probabilities.
   * One clip per call: the int8 model quantizes its activations with one scale per call, so a
   * clip run in a batch would depend on its batchmates (one RAVDESS test clip in 240 changed
   * class between two evaluations of the same files). Alone, every clip gets exactly what the
   * daemon computes for it, at about 0.6 ms a clip.
   */
  run(input: Float32Array, batch: number): Float32Array {
    const clipValues = N_FRAMES * N_FEATURES;
    const output = new Float32Array(batch * EMOTIONS.length);
    for (let clip = 0; clip < batch; clip++) {
      const probabilities = this.#session.run(input.subarray(clip * clipValues, (clip + 1) * clipValues), [1, N_FRAMES, N_FEATURES]);
      output.set(probabilities, clip * EMOTIONS.length);
    }
    return output;
  }

  dispose(): void {
    this.#session.dispose();
  }
}
