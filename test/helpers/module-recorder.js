// Preloaded with `node --import ./test/helpers/module-recorder.js`: writes every module the
// process loads to the file named by SER_MODULE_RECORD, one per line, so a test can assert
// which code a command never loads, from the modules themselves rather than from timings.
// ES modules are seen by a loader `resolve` hook (which runs on Node's loader thread); CommonJS
// files (TensorFlow.js's `main`, for one) are read from the require cache when the process exits.
import { appendFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import { pathToFileURL } from 'node:url';
import process from 'node:process';
import { isMainThread } from 'node:worker_threads';

let recordFile = '';

/** Loader hook: receives the record file from `register` below. */
export function initialize(data) {
  recordFile = data.recordFile;
}

/** Loader hook: records each URL an import resolves to. */
export async function resolve(specifier, context, nextResolve) {
  const resolved = await nextResolve(specifier, context);
  appendFileSync(recordFile, `${resolved.url}\n`);
  return resolved;
}

if (isMainThread) {
  const file = process.env['SER_MODULE_RECORD'];
  if (!file) throw new Error('module-recorder.js needs SER_MODULE_RECORD, the file to record loaded modules in');
  register(import.meta.url, { data: { recordFile: file } });
  const requireCache = createRequire(import.meta.url).cache;
  process.on('exit', () => {
    const loaded = Object.keys(requireCache).map((modulePath) => `${pathToFileURL(modulePath).href}\n`);
    appendFileSync(file, loaded.join(''));
  });
}
