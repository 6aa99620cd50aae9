// `npm ci` and `npm install` run this (package.json "prepare") in the repository: it compiles
// src/ to dist/, which bin/ser-agent.js runs. TypeScript is a devDependency, so an
// install without dev packages has no compiler; rather than the shell's bare "tsc: not found"
// (exit 127), say what happened and how a device is installed.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');

if (!existsSync(tsc)) {
  process.stderr.write(
    `ser-agent: cannot build dist/: TypeScript is not installed (${tsc} is missing), because dev ` +
      'packages were left out (--omit=dev or NODE_ENV=production). Install with `npm ci` (it builds ' +
      'dist/), then `npm prune --omit=dev` to remove the compiler and test tools again: README, ' +
      '"Install on a device".\n',
  );
  process.exit(1);
}
const build = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
process.exit(build.status ?? 1);
