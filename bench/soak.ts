import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { REPO_ROOT } from '../test/helpers/cli.js';
import { FULL_SOAK_WINDOWS, runSoak, soakSpeech, type SoakSample } from './soak-run.js';

/**
 * `npm run soak [-- --windows N --backend NAME --json]`: 24 hours of audio (28,800 windows of 3 s, or N)
 * through the real daemon, faster than real time, with a real broker. Prints the daemon's
 * RSS, open file descriptors and live tensors as it goes, then the summary; exits 1 when an
 * invariant is broken (README, "Long runs").
 */
const { values } = parseArgs({
  options: {
    windows: { type: 'string', default: String(FULL_SOAK_WINDOWS) },
    backend: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const windows = Number(values.windows);
if (!Number.isSafeInteger(windows) || windows < 10) {
  process.stderr.write(`soak: --windows ${values.windows} is not usable; give a whole number of at least 10, e.g. --windows 1200\n`);
  process.exit(2);
}

const tess = path.resolve(REPO_ROOT, '..', 'shared', 'datasets', 'tess');
if (!existsSync(tess)) {
  process.stderr.write(`soak needs ${tess}: put ../shared beside the repository\n`);
  process.exit(2);
}
const speechFiles = soakSpeech(tess);

const row = (cells: readonly (string | number)[]) => cells.map((cell) => String(cell).padStart(10)).join(' ');
if (!values.json) process.stdout.write(`${row(['windows', 'seconds', 'rss MB', 'open fds', 'tensors'])}\n`);
const result = await runSoak({
  speechFiles,
  windows,
  ...(values.backend === undefined ? {} : { backend: values.backend }),
  warmupWindows: Math.max(1, Math.floor(windows / 10)),
  onSample: values.json ? undefined : (sample: SoakSample) => {
    const rssMb = (sample.rssBytes / 1024 / 1024).toFixed(1);
    process.stdout.write(`${row([sample.windows, sample.elapsedSeconds, rssMb, sample.openFds, sample.tensors ?? '-'])}\n`);
  },
});

const { samples, health, ...summary } = result;
if (values.json) {
  process.stdout.write(`${JSON.stringify({ ...summary, health, samples })}\n`);
} else {
  process.stdout.write(`\n${JSON.stringify(summary, null, 2)}\n`);
  process.stdout.write(result.violations.length === 0 ? 'soak passed\n' : `soak FAILED:\n- ${result.violations.join('\n- ')}\n`);
}
process.exitCode = result.violations.length === 0 ? 0 : 1;

