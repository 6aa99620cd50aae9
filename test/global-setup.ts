import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The programs real-part tests run, with the Debian package that installs each (.ci/run installs them all). */
const SYSTEM_TOOLS: Readonly<Record<string, string>> = {
  arecord: 'alsa-utils',
  sox: 'sox',
  'systemd-analyze': 'systemd',
  mosquitto: 'mosquitto',
  openssl: 'openssl',
  chromium: 'chromium',
  strace: 'strace',
  script: 'bsdutils',
};

/**
 * Some tests run the real `ser-agent` executable, which runs the compiled dist/; build it
 * from the current sources first so those tests never exercise a stale build. Type errors are
 * the lint step's job (`npm run lint` runs tsc --noEmit); tsc still emits JavaScript when it
 * finds them, so they do not stop the test run here.
 */
export default function setup(): void {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const build = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], {
    cwd: root,
    encoding: 'utf8',
  });
  if (build.error) throw build.error;
  checkSystemTools();
}

/**
 * Without these programs the tests that use them fail only after their wait times out, with a
 * message about the wait. Name what is missing up front: in CI that is a broken install step,
 * so stop at once; on a developer's machine, say it and let the tests that need none of them run.
 */
function checkSystemTools(): void {
  const missing = Object.entries(SYSTEM_TOOLS).filter(([tool]) => !onSearchPath(tool));
  if (spawnSync('sox', ['--help'], { encoding: 'utf8' }).stdout?.includes('alsa') === false) {
    missing.push(['sox ALSA driver', 'libsox-fmt-alsa']);
  }
  if (missing.length === 0) return;
  const message =
    `tests need programs that are not installed: ${missing.map(([tool, pkg]) => `${tool} (Debian package ${pkg})`).join(', ')}; ` +
    `install them with: apt-get install -y --no-install-recommends ${[...new Set(missing.map(([, pkg]) => pkg))].join(' ')}`;
  if (process.env['CI'] !== undefined) throw new Error(message);
  process.stderr.write(`\nwarning: ${message}\n(the tests that use them will fail)\n\n`);
}

/** mosquitto lives in /usr/sbin, which a non-root PATH may leave out. */
function onSearchPath(program: string): boolean {
  const dirs = [...(process.env['PATH'] ?? '').split(path.delimiter), '/usr/sbin', '/sbin'];
  return dirs.some((dir) => {
    try {
      accessSync(path.join(dir, program), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}
