// Helper of .ci/arm64.sh, run by the machine's own (x64) Node from the repository, whose
// node_modules provide mqtt. Three commands:
//
//   classify LABEL REFERENCE ACTUAL   compares two `ser-agent classify --json` outputs, file by
//                                     file: the same emotion (or both "no speech"), every
//                                     probability within 1e-3, the same speech ratio
//   subscribe URL TOPIC OUT           subscribes, prints "subscribed" once the broker confirms,
//                                     then appends every message's payload to OUT as one line
//   events LABEL EVENTS REFERENCE_ID ACTUAL_ID
//                                     waits up to 20 s for the events of two device ids in
//                                     EVENTS, requires exactly one of each, and compares them
//                                     as `classify` does
//
// Every failure names the CPU model (LABEL) and the file or event, and exits 1.
import { appendFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';
import mqtt from 'mqtt';

/** The tolerance: emulation must not change what the model says beyond rounding. */
const PROBABILITY_TOLERANCE = 1e-3;
/** The speech ratio counts 32 ms chunks heard as speech, so it is equal or it is not. */
const RATIO_TOLERANCE = 1e-6;

function fail(message) {
  process.stderr.write(`arm64: ${message}\n`);
  process.exit(1);
}

function readJsonLines(file) {
  const lines = readFileSync(file, 'utf8').split('\n').filter((line) => line.trim() !== '');
  return lines.map((line, index) => {
    try {
      return JSON.parse(line);
    } catch {
      return fail(`${file} line ${index + 1} is not JSON: ${line.slice(0, 200)}`);
    }
  });
}

/** The differences between two results (classify lines or events), as sentences; none if alike. */
function differences(reference, actual) {
  const found = [];
  if (reference.emotion !== actual.emotion) {
    found.push(`emotion ${JSON.stringify(actual.emotion)}, x64 ${JSON.stringify(reference.emotion)}`);
  }
  const ratioA = actual.speechRatio;
  const ratioR = reference.speechRatio;
  if ((ratioA === null) !== (ratioR === null) || (ratioA !== null && !(Math.abs(ratioA - ratioR) <= RATIO_TOLERANCE))) {
    found.push(`speech ratio ${ratioA}, x64 ${ratioR}`);
  }
  const labels = new Set([...Object.keys(reference.probabilities ?? {}), ...Object.keys(actual.probabilities ?? {})]);
  for (const label of labels) {
    const a = actual.probabilities?.[label];
    const r = reference.probabilities?.[label];
    if (typeof a !== 'number' || typeof r !== 'number' || !(Math.abs(a - r) <= PROBABILITY_TOLERANCE)) {
      found.push(`p(${label}) ${a}, x64 ${r} (tolerance ${PROBABILITY_TOLERANCE})`);
    }
  }
  return found;
}

function maxProbabilityDelta(reference, actual) {
  let max = 0;
  for (const [label, r] of Object.entries(reference.probabilities ?? {})) {
    max = Math.max(max, Math.abs((actual.probabilities?.[label] ?? Infinity) - r));
  }
  return max;
}

function describe(result) {
  return result.emotion === null ? 'no speech' : `${result.emotion} ${result.confidence.toFixed(4)}`;
}

function compareClassify(label, referenceFile, actualFile) {
  const byFile = (rows) => new Map(rows.map((row) => [path.basename(row.file), row]));
  const reference = byFile(readJsonLines(referenceFile));
  const actual = byFile(readJsonLines(actualFile));
  if (reference.size === 0) fail(`${label}: the x64 reference ${referenceFile} is empty`);
  const problems = [];
  for (const [file, ref] of reference) {
    const got = actual.get(file);
    if (got === undefined) {
      problems.push(`${file}: no result on arm64`);
      continue;
    }
    const found = differences(ref, got);
    const delta = maxProbabilityDelta(ref, got);
    process.stdout.write(
      `  ${label}  ${file.padEnd(22)} ${describe(got).padEnd(18)} x64 ${describe(ref).padEnd(18)} max |Δp| ${delta.toExponential(1)}` +
        `${found.length > 0 ? '  DIFFERENT' : ''}\n`,
    );
    for (const difference of found) problems.push(`${file}: ${difference}`);
  }
  for (const file of actual.keys()) {
    if (!reference.has(file)) problems.push(`${file}: classified on arm64 but not on x64`);
  }
  if (problems.length > 0) {
    fail(`${label}: classify on arm64 differs from x64:\n  ${problems.join('\n  ')}`);
  }
}

async function subscribe(url, topic, out) {
  const client = mqtt.connect(url, { clientId: `arm64-ci-${process.pid}`, reconnectPeriod: 200, connectTimeout: 5000 });
  client.on('error', (error) => process.stderr.write(`arm64: subscriber: ${error.message}\n`));
  client.on('message', (_topic, payload) => appendFileSync(out, `${payload.toString('utf8').replace(/\n/g, ' ')}\n`));
  await new Promise((resolve) => client.once('connect', resolve));
  await client.subscribeAsync(topic, { qos: 1 });
  process.stdout.write('subscribed\n');
  const stop = () => client.end(false, {}, () => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

async function compareEvents(label, eventsFile, referenceId, actualId) {
  const of = (id) => readJsonLines(eventsFile).filter((event) => event.deviceId === id);
  // QoS 1: the agent exits once the broker has the event; the subscriber may get it a moment later.
  for (let waited = 0; waited < 20_000 && (of(referenceId).length < 1 || of(actualId).length < 1); waited += 250) {
    await sleep(250);
  }
  const reference = of(referenceId);
  const actual = of(actualId);
  if (reference.length !== 1) fail(`${label}: the x64 agent (${referenceId}) published ${reference.length} events, expected 1`);
  if (actual.length !== 1) {
    fail(`${label}: the arm64 agent (${actualId}) published ${actual.length} events to the broker, expected 1`);
  }
  const [ref, got] = [reference[0], actual[0]];
  process.stdout.write(
    `  ${label}  event ${got.id}: ${describe(got)}, speech ratio ${got.speechRatio}; x64 ${describe(ref)}, ` +
      `max |Δp| ${maxProbabilityDelta(ref, got).toExponential(1)}\n`,
  );
  const found = differences(ref, got);
  if (found.length > 0) fail(`${label}: the arm64 event differs from the x64 event:\n  ${found.join('\n  ')}`);
}

const [command, ...args] = process.argv.slice(2);
if (command === 'classify' && args.length === 3) {
  compareClassify(args[0], args[1], args[2]);
} else if (command === 'subscribe' && args.length === 3) {
  await subscribe(args[0], args[1], args[2]);
} else if (command === 'events' && args.length === 4) {
  await compareEvents(args[0], args[1], args[2], args[3]);
} else {
  fail('usage: arm64-check.js classify LABEL REFERENCE ACTUAL | subscribe URL TOPIC OUT | events LABEL EVENTS REFERENCE_ID ACTUAL_ID');
}
