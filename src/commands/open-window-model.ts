import { isDeepStrictEqual } from 'node:util';
import { type AgentConfig } from '../config/load.js';
import { prepareClip } from '../dsp/clip.js';
import { CLIP_SAMPLES, SAMPLE_RATE } from '../dsp/constants.js';
import { FeatureExtractor } from '../dsp/features.js';
import { ModelError } from '../errors.js';
import { type Logger } from '../logging/logger.js';
import { type EmotionClassifier } from '../model/runtime/classifier.js';
import { type ModelMetadata } from '../model/artifact/metadata.js';
import { verifyModelDir } from '../model/artifact/store.js';
import { modelIdentity, type ModelIdentity } from '../mqtt/payloads.js';
import { type SlotModel } from '../pipeline/model-slot.js';
import { WindowClassifier, type SpeechGate } from '../pipeline/window-classifier.js';
import { type SpeechDetector } from '../speech/speech-detector.js';
import { openVerifiedClassifier } from './open-classifier.js';
import { loadSpeechGate } from './open-speech-gate.js';

/**
 * The model side of the daemon's pipeline, as one value the daemon can swap (src/pipeline/model-slot.ts):
 * the emotion model, the speech gate before it, and the WindowClassifier that runs both on a
 * window. Built at start and again on every reload, by openWindowModel.
 */
export interface WindowModel extends SlotModel {
  windowClassifier: WindowClassifier;
  /** Named in every event and in the health report. */
  identity: ModelIdentity;
  classifier: {
    instance: EmotionClassifier;
    /** What it was loaded from and how; a reload asking for the same keeps it. */
    dir: string;
    metadata: ModelMetadata;
    options: Pick<AgentConfig['model'], 'backend' | 'threads' | 'onnxFormat'>;
  };
  /** Undefined when window.minSpeechRatio is 0. */
  speechGate: { gate: SpeechGate & { detector: SpeechDetector }; file: string } | undefined;
  extractor: FeatureExtractor;
}

/**
 * Builds the model side of the pipeline from `config`, reusing what `previous` (the running
 * one, on a reload) already has when the configuration and the files ask for the same. Returns
 * `previous` itself when nothing changed.
 *
 * A new emotion model is verified before it is trusted: every file's size and sha256 against
 * metadata.json, the labels and features it was built for, the input and output shapes of the
 * network (by the engine that loads it), then one test inference whose probabilities must be
 * finite and sum to 1. Anything wrong throws (a ModelError naming the file and the fix) after
 * freeing whatever was built, and `previous` is left untouched.
 */
export async function openWindowModel(
  config: Readonly<AgentConfig>,
  logger: Logger,
  previous?: WindowModel,
): Promise<WindowModel> {
  const verified = await verifyModelDir(config.model.path);
  const options = { backend: config.model.backend, threads: config.model.threads, onnxFormat: config.model.onnxFormat };
  const extractor = previous?.extractor ?? new FeatureExtractor();
  const keepClassifier =
    previous !== undefined &&
    previous.classifier.dir === verified.dir &&
    isDeepStrictEqual(previous.classifier.metadata, verified.metadata) &&
    isDeepStrictEqual(previous.classifier.options, options);
  let classifier: WindowModel['classifier'];
  if (keepClassifier) {
    classifier = previous.classifier;
  } else {
    const instance = await openVerifiedClassifier(verified, options, logger);
    try {
      testInference(instance, extractor, verified.dir);
    } catch (error) {
      instance.dispose();
      throw error;
    }
    classifier = { instance, dir: verified.dir, metadata: verified.metadata, options };
  }

  let speechGate: WindowModel['speechGate'];
  try {
    speechGate = await openGate(config.window, logger, previous);
  } catch (error) {
    if (!keepClassifier) classifier.instance.dispose();
    throw error;
  }
  if (previous !== undefined && keepClassifier && speechGate === previous.speechGate) return previous;
  return assemble(classifier, modelIdentity(classifier.metadata), extractor, speechGate);
}

/**
 * The running model with the speech gate `window` asks for, its emotion model kept as it is:
 * window.minSpeechRatio changed over MQTT. Returns `running` itself when its gate already is
 * that one. Turning the gate on loads the detector (a ModelError naming the file when it
 * cannot); a new ratio keeps the detector and its stream; turning it off drops the detector,
 * which the model slot frees once no window uses it.
 */
export async function withSpeechGate(
  running: WindowModel,
  window: Pick<AgentConfig['window'], 'minSpeechRatio' | 'speechModel'>,
  logger: Logger,
): Promise<WindowModel> {
  const speechGate = await openGate(window, logger, running);
  if (speechGate === running.speechGate) return running;
  // The same emotion model: its identity too, so events name it as before.
  return assemble(running.classifier, running.identity, running.extractor, speechGate);
}

function assemble(
  classifier: WindowModel['classifier'],
  identity: ModelIdentity,
  extractor: FeatureExtractor,
  speechGate: WindowModel['speechGate'],
): WindowModel {
  return {
    windowClassifier: new WindowClassifier(extractor, classifier.instance, speechGate === undefined ? {} : { speechGate: speechGate.gate }),
    identity,
    classifier,
    speechGate,
    extractor,
    resources: [classifier.instance, ...(speechGate === undefined ? [] : [speechGate.gate.detector])],
  };
}

/** The speech gate as window.minSpeechRatio and window.speechModel ask; the running one's detector when the file is the same. */
async function openGate(
  window: Pick<AgentConfig['window'], 'minSpeechRatio' | 'speechModel'>,
  logger: Logger,
  previous: WindowModel | undefined,
): Promise<WindowModel['speechGate']> {
  const { minSpeechRatio, speechModel } = window;
  const running = previous?.speechGate;
  // Off and already off: nothing to load or to say again.
  if (minSpeechRatio === 0 && previous !== undefined && running === undefined) return undefined;
  if (minSpeechRatio !== 0 && running !== undefined && running.file === speechModel) {
    if (running.gate.minSpeechRatio === minSpeechRatio) return running;
    // The same detector and its stream: only the threshold changes.
    return { gate: { ...running.gate, minSpeechRatio }, file: speechModel };
  }
  const gate = await loadSpeechGate(window, logger);
  return gate === undefined ? undefined : { gate, file: speechModel };
}

/**
 * One inference on the features of a synthetic voiced sound, as a window would be run: the
 * model must give one finite probability per label, summing to 1. Catches a model that loads
 * but computes nonsense (NaN weights, a wrong calibration) before it replaces a working one.
 */
function testInference(classifier: EmotionClassifier, extractor: FeatureExtractor, dir: string): void {
  const clip = new Float32Array(CLIP_SAMPLES);
  for (let i = 0; i < clip.length; i++) {
    const t = i / SAMPLE_RATE;
    // A 140 Hz voice with a slow vibrato and its first harmonics, at about -20 dBFS.
    const phase = 2 * Math.PI * (140 * t + 2 * Math.sin(2 * Math.PI * 5 * t));
    clip[i] = 0.1 * (Math.sin(phase) + 0.5 * Math.sin(2 * phase) + 0.25 * Math.sin(3 * phase));
  }
  const { probabilities } = classifier.classify(extractor.extract(prepareClip(clip)));
  const values = Object.values(probabilities);
  const sum = values.reduce((total, value) => total + value, 0);
  if (values.length !== classifier.metadata.labels.length || !values.every((value) => Number.isFinite(value) && value >= 0 && value <= 1) || Math.abs(sum - 1) > 1e-3) {
    throw new ModelError(
      `${dir}: the test inference gave probabilities ${JSON.stringify(probabilities)} (sum ${sum}); a working model gives ` +
        `${classifier.metadata.labels.length} finite probabilities summing to 1: restore the model directory from its original copy`,
    );
  }
}
