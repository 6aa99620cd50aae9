import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

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
}
