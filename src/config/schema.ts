import { EMOTIONS } from '../labels.js';
import { LOG_FORMATS, LOG_LEVELS } from '../logging/logger.js';

import {
  DEFAULT_CAPTURE_PERIOD_SECONDS,
  MAX_CAPTURE_PERIOD_SECONDS,
  MIN_CAPTURE_PERIOD_SECONDS,
  RECORDERS,
} from '../capture/recorder-command.js';
import { LED_DRIVER_CHOICES } from '../indicators/select-driver.js';
import { BACKEND_PREFERENCES, ONNX_FORMAT_PREFERENCES } from '../model/runtime/backend.js';
import { SMOOTHING_MODES } from '../pipeline/smoothing.js';


/** BCM GPIO numbers a Raspberry Pi exposes on its header. */
const MAX_BCM_PIN = 27;

/** Text that is not a number stays text, so a message shows "lots" rather than NaN. */
function numberOrText(text: string): unknown {
  return /^\s*[-+]?(\d+\.?\d*|\.\d+)\s*$/.test(text) ? Number(text) : text;
}

/**
 * Custom convict formats. Their messages become part of the one start-up error that lists
 * every invalid key, so each says what is expected.
 */
export const customFormats = {
  'emotion-pins': {
    validate(value: unknown): void {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        throw new Error('must be an object mapping emotions to BCM pin numbers, e.g. {"anger": 17}');
      }
      const problems: string[] = [];
      for (const [emotion, pin] of Object.entries(value)) {
        if (!(EMOTIONS as readonly string[]).includes(emotion)) {
          problems.push(`"${emotion}" is not an emotion (one of ${EMOTIONS.join(', ')})`);
        }
        if (!isBcmPin(pin)) problems.push(`${emotion}: pin ${JSON.stringify(pin)} is not a BCM pin 0-${MAX_BCM_PIN}`);
      }
      if (problems.length > 0) throw new Error(problems.join('; '));
    },
    // From the environment the map arrives as JSON text: SER_GPIO_PINS='{"anger":17}'.
    coerce: (text: string): unknown => parseJsonOr(text),
  },
  'optional-bcm-pin': {
    validate(value: unknown): void {
      if (value !== null && !isBcmPin(value)) {
        throw new Error(`must be a BCM pin number 0-${MAX_BCM_PIN}, or null for none`);
      }
    },
    coerce: (text: string): unknown => parseJsonOr(text),
  },
  'optional-integer': {
    validate(value: unknown): void {
      if (value !== null && !Number.isInteger(value)) throw new Error('must be an integer, or null for automatic');
    },
    coerce: (text: string): unknown => parseJsonOr(text),
  },
  'positive-number': {
    validate(value: unknown): void {
      if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) {
        throw new Error('must be a number greater than 0');
      }
    },
    coerce: Number,
  },
  'positive-integer': {
    validate(value: unknown): void {
      if (!Number.isSafeInteger(value) || (value as number) < 1) throw new Error('must be a whole number of at least 1');
    },
    coerce: Number,
  },
  'unit-interval': {
    validate(value: unknown): void {
      if (typeof value !== 'number' || !(value >= 0 && value <= 1)) throw new Error('must be a number from 0 to 1');
    },
    coerce: Number,
  },
  'capture-period': {
    validate(value: unknown): void {
      if (typeof value !== 'number' || !(value >= MIN_CAPTURE_PERIOD_SECONDS && value <= MAX_CAPTURE_PERIOD_SECONDS)) {
        throw new Error(
          `must be a capture period from ${MIN_CAPTURE_PERIOD_SECONDS} to ${MAX_CAPTURE_PERIOD_SECONDS} seconds, ` +
            `e.g. ${DEFAULT_CAPTURE_PERIOD_SECONDS} (fewer wake-ups) or 0.04 (less latency)`,
        );
      }
    },
    coerce: numberOrText,
  },
  'speech-ratio': {
    validate(value: unknown): void {
      if (typeof value !== 'number' || !(value >= 0 && value <= 1)) {
        throw new Error('must be the share of a window that must be speech, from 0 to 1, e.g. 0.3; 0 turns the speech gate off');
      }
    },
    coerce: numberOrText,
  },
  'mqtt-protocol-version': {
    validate(value: unknown): void {
      if (value !== 4 && value !== 5) throw new Error('must be 4 (MQTT 3.1.1) or 5 (MQTT 5)');
    },
    coerce: Number,
  },
  'metrics-port': {
    validate(value: unknown): void {
      if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > 65535) {
        throw new Error('must be a TCP port from 1 to 65535, or 0 for no metrics endpoint');
      }
    },
    // Text that is not a number stays text, so the message shows "9o90" rather than NaN.
    coerce: (text: string): unknown => (/^\d+$/.test(text) ? Number(text) : text),
  },
  'listen-host': {
    validate(value: unknown): void {
      const example = 'e.g. 127.0.0.1 (this box only) or 0.0.0.0 (every interface)';
      // convict leaves an empty value out of its message, so this one says it.
      if (value === '') throw new Error(`is empty; give an address to listen on, ${example}`);
      if (typeof value !== 'string' || /\s/.test(value)) throw new Error(`must be an address to listen on, ${example}`);
    },
  },
  'dbfs': {
    validate(value: unknown): void {
      if (typeof value !== 'number' || !(value <= 0) || !Number.isFinite(value)) {
        throw new Error('must be a level in dBFS: a number at or below 0, e.g. -50');
      }
    },
    coerce: Number,
  },
};

/** Environment text as JSON (`17`, `null`, `{"anger":17}`); unparsable text stays a string for the validator to name. */
function parseJsonOr(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function isBcmPin(value: unknown): boolean {
  return Number.isInteger(value) && (value as number) >= 0 && (value as number) <= MAX_BCM_PIN;
}

/**
 * The convict schema: every key has a doc, a format, a default and an environment variable
 * (`SER_` + the key path in upper snake case). Defaults that depend on the machine (device
 * id, shipped model, cache) are filled in by the loader, so this module stays free of I/O.
 */
export const configSchema = {
  deviceId: {
    doc: 'This box\'s id: the MQTT client id and a topic level. Empty: the host name.',
    format: String,
    default: '',
    env: 'SER_DEVICE_ID',
  },
  mqtt: {
    url: {
      doc: 'Broker URL (mqtt://, mqtts://, ws://, wss://). Empty: start an embedded broker on 127.0.0.1:1883.',
      format: String,
      default: '',
      env: 'SER_MQTT_URL',
    },
    topicPrefix: {
      doc: 'First topic level(s): events go to <prefix>/<deviceId>/event.',
      format: String,
      default: 'ser',
      env: 'SER_MQTT_TOPIC_PREFIX',
    },
    username: {
      doc: 'Broker user name; empty for none.',
      format: String,
      default: '',
      env: 'SER_MQTT_USERNAME',
    },
    password: {
      doc: 'Broker password; prefer mqtt.passwordFile, which keeps it out of config and environment listings.',
      format: String,
      default: '',
      env: 'SER_MQTT_PASSWORD',
      sensitive: true,
    },
    passwordFile: {
      doc: 'File whose first line is the broker password; empty for none.',
      format: String,
      default: '',
      env: 'SER_MQTT_PASSWORD_FILE',
    },
    protocolVersion: {
      doc: 'MQTT protocol: 4 (3.1.1, every broker, the embedded one too) or 5 (the broker then gives reasons when it refuses a publish or subscription).',
      format: 'mqtt-protocol-version',
      default: 4,
      env: 'SER_MQTT_PROTOCOL_VERSION',
    },
    tls: {
      caFile: {
        doc: 'PEM file of the CA certificate(s) trusted to sign the broker\'s certificate, instead of the system\'s CAs; empty: the system\'s. Needs an mqtts:// or wss:// URL.',
        format: String,
        default: '',
        env: 'SER_MQTT_TLS_CA_FILE',
      },
      certFile: {
        doc: 'PEM file of this box\'s client certificate (mutual TLS), with mqtt.tls.keyFile; empty for none.',
        format: String,
        default: '',
        env: 'SER_MQTT_TLS_CERT_FILE',
      },
      keyFile: {
        doc: 'PEM file of the client certificate\'s private key, unencrypted, readable only by the agent user; empty for none.',
        format: String,
        default: '',
        env: 'SER_MQTT_TLS_KEY_FILE',
      },
      rejectUnauthorized: {
        doc: 'Refuse a broker whose certificate is not signed by a trusted CA or does not name its host. false is insecure and logged as a warning.',
        format: Boolean,
        default: true,
        env: 'SER_MQTT_TLS_REJECT_UNAUTHORIZED',
      },
      servername: {
        doc: 'Host name the broker\'s certificate must name (and TLS SNI), when it differs from the host in mqtt.url; empty: that host.',
        format: String,
        default: '',
        env: 'SER_MQTT_TLS_SERVERNAME',
      },
    },
    queueLimit: {
      doc: 'Events kept (on disk, in state.directory) until the broker acknowledges them; the oldest are dropped beyond it.',
      format: 'positive-integer',
      default: 10000,
      env: 'SER_MQTT_QUEUE_LIMIT',
    },
    queueBytes: {
      doc: 'Bytes of queued events kept (an event takes about 600); the oldest are dropped beyond it.',
      format: 'positive-integer',
      default: 8 * 1024 * 1024,
      env: 'SER_MQTT_QUEUE_BYTES',
    },
    healthSeconds: {
      doc: 'Seconds between retained health messages.',
      format: 'positive-number',
      default: 60,
      env: 'SER_MQTT_HEALTH_SECONDS',
    },
    discovery: {
      enabled: {
        doc: 'Publish Home Assistant MQTT discovery configs.',
        format: Boolean,
        default: true,
        env: 'SER_MQTT_DISCOVERY_ENABLED',
      },
      prefix: {
        doc: 'Home Assistant discovery prefix.',
        format: String,
        default: 'homeassistant',
        env: 'SER_MQTT_DISCOVERY_PREFIX',
      },
    },
  },
  audio: {
    recorder: {
      doc: 'Capture program: arecord (alsa-utils) or sox.',
      format: RECORDERS as unknown as string[],
      default: 'arecord',
      env: 'SER_AUDIO_RECORDER',
    },
    device: {
      doc: 'Capture device: default, plughw:1,0, or a card name (see "ser-agent devices").',
      format: String,
      default: 'default',
      env: 'SER_AUDIO_DEVICE',
    },
    stallSeconds: {
      doc: 'Seconds without audio bytes after which the recorder is restarted.',
      format: 'positive-number',
      default: 10,
      env: 'SER_AUDIO_STALL_SECONDS',
    },
    periodSeconds: {
      doc:
        'Seconds of audio the recorder hands over at a time: longer wakes the agent less often, ' +
        'and a window waits for the hand-over holding its end unless the period divides the hop and the 3 s window.',
      format: 'capture-period',
      default: DEFAULT_CAPTURE_PERIOD_SECONDS,
      env: 'SER_AUDIO_PERIOD_SECONDS',
    },
  },
  window: {
    hopSeconds: {
      doc: 'Seconds between the starts of consecutive 3 s windows; below 3 they overlap.',
      format: 'positive-number',
      default: 3,
      env: 'SER_WINDOW_HOP_SECONDS',
    },
    silenceDbfs: {
      doc: 'Windows quieter than this (RMS, dBFS) are skipped as silence: no inference, no event.',
      format: 'dbfs',
      default: -50,
      env: 'SER_WINDOW_SILENCE_DBFS',
    },
    minSpeechRatio: {
      doc: 'Windows above the silence threshold are classified only if at least this share (0-1) of them is speech (Silero VAD); 0: no speech gate.',
      format: 'speech-ratio',
      default: 0.3,
      env: 'SER_WINDOW_MIN_SPEECH_RATIO',
    },
    speechModel: {
      doc: 'Silero VAD ONNX file the speech gate runs. Empty: the one shipped in models/silero-vad/.',
      format: String,
      default: '',
      env: 'SER_WINDOW_SPEECH_MODEL',
    },
    queueLimit: {
      doc: 'Windows waiting for inference; when inference falls behind the oldest are dropped.',
      format: 'nat',
      default: 4,
      env: 'SER_WINDOW_QUEUE_LIMIT',
    },
    smoothing: {
      doc: 'Smoothing over the last smoothingWindows predictions: none, majority, or mean of probabilities.',
      format: SMOOTHING_MODES as unknown as string[],
      default: 'none',
      env: 'SER_WINDOW_SMOOTHING',
    },
    smoothingWindows: {
      doc: 'How many recent windows smoothing looks at.',
      format: 'positive-integer',
      default: 3,
      env: 'SER_WINDOW_SMOOTHING_WINDOWS',
    },
    minConfidence: {
      doc: 'Events below this confidence (0-1) are not published.',
      format: 'unit-interval',
      default: 0,
      env: 'SER_WINDOW_MIN_CONFIDENCE',
    },
  },
  gpio: {
    driver: {
      doc:
        'LED driver: auto (onoff when /sys/class/gpio is usable; else gpiod when a /dev/gpiochip* has the Raspberry Pi header; ' +
        'else simulated), onoff (sysfs GPIO), gpiod (GPIO character device through the libgpiod tools), or simulated.',
      format: LED_DRIVER_CHOICES as unknown as string[],
      default: 'auto',
      env: 'SER_GPIO_DRIVER',
    },
    pins: {
      doc: 'Emotion → BCM pin of its LED, for any subset of the emotions.',
      format: 'emotion-pins',
      default: {},
      env: 'SER_GPIO_PINS',
    },
    statusPin: {
      doc: 'BCM pin of the status LED (steady: listening; slow blink: broker unreachable; fast blink: error); null for none.',
      format: 'optional-bcm-pin',
      default: null,
      env: 'SER_GPIO_STATUS_PIN',
    },
    holdSeconds: {
      doc: 'Seconds an emotion LED stays lit.',
      format: 'positive-number',
      default: 3,
      env: 'SER_GPIO_HOLD_SECONDS',
    },
    chipBase: {
      doc: 'sysfs number of BCM pin 0 (512 on a Pi 4, 571 on a Pi 5 with kernel 6.6+); null: read it from /sys/class/gpio.',
      format: 'optional-integer',
      default: null,
      env: 'SER_GPIO_CHIP_BASE',
    },
  },
  model: {
    path: {
      doc: 'Model directory (model.json, weights, metadata.json). Empty: the model shipped in models/.',
      format: String,
      default: '',
      env: 'SER_MODEL_PATH',
    },
    backend: {
      doc: 'Inference backend: auto (onnxruntime if its binary loads and the model has an ONNX file, else tfjs-node, else wasm, else cpu), or one by name.',
      format: BACKEND_PREFERENCES as unknown as string[],
      default: 'auto',
      env: 'SER_MODEL_BACKEND',
    },
    threads: {
      doc: 'Threads one onnxruntime operator may use. 1 leaves the other core to capture and MQTT on a 2-core board.',
      format: 'positive-integer',
      default: 1,
      env: 'SER_MODEL_THREADS',
    },
    onnxFormat: {
      doc: 'ONNX file onnxruntime runs: auto (model.int8.onnx if present, else model.onnx), int8 or float32.',
      format: ONNX_FORMAT_PREFERENCES as unknown as string[],
      default: 'auto',
      env: 'SER_MODEL_ONNX_FORMAT',
    },
  },
  log: {
    level: {
      doc: 'Log level. One-shot commands (classify, evaluate...) logging to a terminal show info lines only when --log-level asks for them.',
      format: LOG_LEVELS as unknown as string[],
      default: 'info',
      env: 'SER_LOG_LEVEL',
    },
    format: {
      doc: 'Log line format: json (one object per line, for journald and pipes), pretty (for people), or auto (pretty when the logs go to a terminal).',
      format: LOG_FORMATS as unknown as string[],
      default: 'auto',
      env: 'SER_LOG_FORMAT',
    },
  },
  metrics: {
    port: {
      doc: 'TCP port of the Prometheus endpoint (GET /metrics) of "ser-agent run"; 0: no endpoint.',
      format: 'metrics-port',
      default: 0,
      env: 'SER_METRICS_PORT',
    },
    host: {
      doc: 'Address the metrics endpoint listens on: 127.0.0.1 keeps it on this box, 0.0.0.0 opens it to the network.',
      format: 'listen-host',
      default: '127.0.0.1',
      env: 'SER_METRICS_HOST',
    },
  },
  cache: {
    dir: {
      doc: 'Where computed training/evaluation features are cached. Empty: $XDG_CACHE_HOME/ser-agent or ~/.cache/ser-agent.',
      format: String,
      default: '',
      env: 'SER_CACHE_DIR',
    },
  },
  state: {
    directory: {
      doc: 'Where the outbound event queue and the settings changed over MQTT are kept (nothing else). Empty: $STATE_DIRECTORY (systemd StateDirectory=), else $XDG_STATE_HOME/ser-agent or ~/.local/state/ser-agent.',
      format: String,
      default: '',
      env: 'SER_STATE_DIRECTORY',
    },
  },
  paused: {
    doc: 'Start paused: capture runs but no window is classified and no event is published. Usually switched over MQTT (<prefix>/<deviceId>/set).',
    format: Boolean,
    default: false,
    env: 'SER_PAUSED',
  },
  shutdownSeconds: {
    doc:
      'Deadline for a graceful stop after SIGTERM/SIGINT (a second signal exits at once); also how long a finished ' +
      '`run --input` replay waits for the broker to take its events.',
    format: 'positive-number',
    default: 10,
    env: 'SER_SHUTDOWN_SECONDS',
  },
};
