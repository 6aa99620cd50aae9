import { N_FEATURES, N_FRAMES } from '../../dsp/constants.js';
import { EMOTIONS } from '../../labels.js';
import { OnnxSession } from './session.js';

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

  /** `input` holds `batch` feature matrices back to back; returns `batch` rows of probabilities. */
  run(input: Float32Array, batch: number): Float32Array {
    return this.#session.run(input, [batch, N_FRAMES, N_FEATURES]);
  }

  dispose(): void {
    this.#session.dispose();
  }
}
