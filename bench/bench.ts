import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { loadAudio } from '../src/audio/load-clip.js';
import { prepareClip } from '../src/dsp/clip.js';
import { FeatureExtractor } from '../src/dsp/features.js';
import { type BackendName } from '../src/model/runtime/backend.js';
import { EmotionClassifier } from '../src/model/runtime/classifier.js';
import { CLIP_SAMPLES, SAMPLE_RATE } from '../src/dsp/constants.js';
import { SpeechDetector, toDetectorRate } from '../src/speech/speech-detector.js';
import { SpeechTrack } from '../src/speech/speech-track.js';
import { modelWindowOptions, Windower } from '../src/pipeline/windower.js';
import { REPO_ROOT as root } from '../test/helpers/cli.js';
import { ManualClock } from '../test/helpers/manual-clock.js';
import { measureDaemon } from './daemon-bench.js';
import { measureDaemonMemory } from './daemon-memory.js';
import { summarize, time, type Summary } from './stats.js';

/**
 * `npm run bench [-- --json]`: medians and p95 of the per-window costs on this machine.
 * Numbers from one run are comparable with each other; across runs, compare ratios (the
 * machines are shared and noisy), never absolute thresholds.
 */
const golden = path.resolve(root, '..', 'shared', 'golden', 'wav');
const modelDir = path.join(root, 'models', 'ser-cnn-lstm');
const asJson = process.argv.includes('--json');
const silentLogger = { info: () => undefined, warn: () => undefined };

// A 44.1 kHz recording: decoding plus a real resampling step, as most microphones deliver.
const sampleFile = path.join(golden, 'speech_b_44k.wav');
if (!existsSync(sampleFile)) {
  process.stderr.write(`bench needs ${sampleFile}: put ../shared beside the repository\n`);
  process.exit(1);
}

const decodeResample = summarize(await time(() => loadAudio(sampleFile), 50, 5));
const clip = prepareClip(await loadAudio(sampleFile));
const extractor = new FeatureExtractor();
const features = extractor.extract(clip);
const featuresSummary = summarize(await time(() => extractor.extract(clip), 300, 30));

// Every backend and format the shipped model can run on here, named as the table shows them.
const variants: Array<{ label: string; backend: BackendName; onnxFormat?: 'float32' | 'int8' }> = [
  { label: 'onnxruntime int8', backend: 'onnxruntime', onnxFormat: 'int8' },
  { label: 'onnxruntime float32', backend: 'onnxruntime', onnxFormat: 'float32' },
  { label: 'tfjs-node', backend: 'tfjs-node' },
  { label: 'wasm', backend: 'wasm' },
  { label: 'cpu', backend: 'cpu' },
];
const inference: Record<string, { batch1: Summary; batch8: Summary }> = {};
for (const { label, backend, onnxFormat } of variants) {
  let classifier: EmotionClassifier;
  try {
    classifier = await EmotionClassifier.load(modelDir, {
      backend: { preference: backend, logger: silentLogger, ...(onnxFormat === undefined ? {} : { onnxFormat }) },
    });
  } catch {
    continue; // not available on this machine: nothing to measure
  }
  // The cpu backend is ~10x slower; fewer runs keep the whole bench short.
  const runs = backend === 'cpu' ? 20 : backend === 'onnxruntime' ? 1000 : 200;
  const batch8 = Array.from({ length: 8 }, () => features);
  inference[label] = {
    batch1: summarize(await time(() => classifier.classify(features), runs, 10)),
    batch8: summarize(await time(() => classifier.classifyBatch(batch8), Math.ceil(runs / 4), 3)),
  };
  classifier.dispose();
}

// One window as the daemon pays for it on the backend `auto` picks: features, then inference.
const daemonClassifier = await EmotionClassifier.load(modelDir, { backend: { preference: 'auto', logger: silentLogger } });
const windowFeatures = new Float32Array(features.length);
const windowSummary = summarize(
  await time(() => daemonClassifier.classify(extractor.extract(clip, windowFeatures)), 300, 30),
);
const windowBackend = [daemonClassifier.runtime.backend, daemonClassifier.runtime.onnxDtype].filter(Boolean).join(' ');
daemonClassifier.dispose();

// The speech gate on the same window as the daemon runs it, before the model: the 3 s at
// 22,050 Hz resampled to 16 kHz, then 94 Silero VAD chunks. The resampling is shown apart.
const detector = await SpeechDetector.load(path.join(root, 'models', 'silero-vad', 'silero_vad_16k_op15.onnx'));
const window = new Float32Array(CLIP_SAMPLES);
window.set((await loadAudio(sampleFile)).subarray(0, CLIP_SAMPLES));
const gateSummary = summarize(await time(() => detector.speechRatio(window, SAMPLE_RATE), 100, 10));
const gateResampleSummary = summarize(await time(() => toDetectorRate(window, SAMPLE_RATE), 100, 10));
// At hop 1 s the daemon's windows overlap and the gate hears each stretch once (SpeechTrack):
// 100 consecutive windows of the looped recording, each timed as the worker meets it.
const looped = await loadAudio(sampleFile, { durationSeconds: Infinity });
const streamSamples = new Float32Array(102 * SAMPLE_RATE).map((_, i) => looped[i % looped.length] as number);
const hopWindows = new Windower(modelWindowOptions(1), new ManualClock()).push(streamSamples);
const track = new SpeechTrack(detector, SAMPLE_RATE);
const streamedMs = hopWindows.map((hopWindow) => {
  const start = process.hrtime.bigint();
  track.speechRatio(hopWindow.samples, hopWindow.position);
  return Number(process.hrtime.bigint() - start) / 1e6;
});
const gateStreamedSummary = summarize(streamedMs.slice(10));
detector.dispose();

const peakRssMb = Math.round(process.resourceUsage().maxRSS / 1024);

// The daemon itself, capturing speech through arecord in real time: 15 RAVDESS clips of an
// actor the shipped model never heard, about 55 s, looped, after the warm-up (model load, JIT tier-up).
const actor = path.resolve(root, '..', 'shared', 'datasets', 'ravdess', 'Actor_17');
const speech = readdirSync(actor).sort().slice(0, 15).map((file) => path.join(actor, file));
const daemon = await measureDaemon(speech, { warmupSeconds: 12, seconds: 30 });
// The same without the speech gate: the difference is what the gate costs a box at hop 1 s.
const ungatedDaemon = await measureDaemon(speech, { warmupSeconds: 12, seconds: 30, window: { minSpeechRatio: 0 } });
// Listening alone: every window skipped as silence (a 0 dBFS threshold), so no speech gate,
// features, inference or event; what remains is capture, cutting windows, their level, timers.
const captureOnlyDaemon = await measureDaemon(speech, { warmupSeconds: 12, seconds: 30, window: { silenceDbfs: 0 } });

// Memory as a 512 MB board pays for it: the daemon replaying 8 clips of the same actor (about
// 30 s) with `run --input`, publishing to a central broker as a deployed box does, on the
// default backend and on wasm, where onnxruntime cannot run; and on the default backend with
// the embedded broker of a box tried alone, which carries Aedes in the daemon.
const daemonMemory = {
  onnxruntime: await measureDaemonMemory(speech.slice(0, 8), 'onnxruntime', 'central'),
  wasm: await measureDaemonMemory(speech.slice(0, 8), 'wasm', 'central'),
  'onnxruntime, embedded broker': await measureDaemonMemory(speech.slice(0, 8), 'onnxruntime', 'embedded'),
};

const result = {
  features_ms: featuresSummary,
  decode_resample_ms: decodeResample,
  inference_ms: inference,
  window_ms: { backend: windowBackend, ...windowSummary },
  speech_gate_ms: { ...gateSummary, resample_ms: gateResampleSummary, hop_1s: gateStreamedSummary },
  peak_rss_mb: peakRssMb,
  daemon,
  daemon_memory_mb: daemonMemory,
  daemon_without_speech_gate: ungatedDaemon,
  daemon_capture_only: captureOnlyDaemon,
};

if (asJson) {
  process.stdout.write(`${JSON.stringify(result)}\n`);
} else {
  const rows: Array<[string, Summary]> = [
    ['features per 3 s clip', result.features_ms],
    ['decode + resample (44.1 kHz WAV)', result.decode_resample_ms],
    ...Object.entries(inference).flatMap(([backend, r]): Array<[string, Summary]> => [
      [`inference ${backend} batch 1`, r.batch1],
      [`inference ${backend} batch 8`, r.batch8],
    ]),
    [`features + inference, one window (${windowBackend})`, windowSummary],
    ['speech gate (Silero VAD), one window', gateSummary],
    ['  of which resampling to 16 kHz', gateResampleSummary],
    ['speech gate, one window at hop 1 s (overlap heard once)', gateStreamedSummary],
  ];
  const width = Math.max(...rows.map(([name]) => name.length));
  process.stdout.write(`${'measure'.padEnd(width)}  median ms     p95 ms\n`);
  for (const [name, s] of rows) {
    process.stdout.write(`${name.padEnd(width)}  ${s.median.toFixed(3).padStart(9)}  ${s.p95.toFixed(3).padStart(9)}\n`);
  }
  const latency = daemon.publish_latency_ms;
  if (latency !== null) {
    process.stdout.write(`${'window end to MQTT publish'.padEnd(width)}  ${latency.median.toFixed(3).padStart(9)}  ${latency.p95.toFixed(3).padStart(9)}\n`);
  }
  process.stdout.write(`peak RSS of the bench: ${result.peak_rss_mb} MB\n`);
  process.stdout.write(
    `daemon at hop 1 s, live capture: CPU ${daemon.cpu_percent}% of one core (user ${daemon.cpu_user_percent}%, ` +
      `system ${daemon.cpu_system_percent}%), ${daemon.wakeups_per_second} wake-ups/s, arecord ${daemon.recorder_cpu_percent}%, ` +
      `RSS ${daemon.rss_mb} MB, ${daemon.events} events\n`,
  );
  for (const [backend, memory] of Object.entries(daemonMemory)) {
    const parts = memory.peak_breakdown_mb;
    process.stdout.write(
      `daemon memory on ${backend}, replaying speech (run --input): peak VmHWM ${memory.peak_vmhwm_mb} MB, steady RSS ${memory.steady_rss_mb} MB; ` +
        `at the peak: node binary ${parts.node_binary}, onnxruntime library ${parts.onnxruntime_library}, other files ${parts.other_files}, ` +
        `malloc heap ${parts.malloc_heap}, other anonymous ${parts.anonymous} MB\n`,
    );
  }
  process.stdout.write(
    `the same without the speech gate (window.minSpeechRatio 0): CPU ${ungatedDaemon.cpu_percent}% of one core, ` +
      `RSS ${ungatedDaemon.rss_mb} MB, ${ungatedDaemon.events} events; the gate adds ` +
      `${Math.round((daemon.cpu_percent - ungatedDaemon.cpu_percent) * 100) / 100} points\n`,
  );
  process.stdout.write(
    `listening alone, every window skipped as silence (window.silenceDbfs 0): CPU ${captureOnlyDaemon.cpu_percent}% of one core, ` +
      `${captureOnlyDaemon.wakeups_per_second} wake-ups/s, arecord ${captureOnlyDaemon.recorder_cpu_percent}%\n`,
  );
}
