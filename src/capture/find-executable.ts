import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';

/**
 * The absolute path of `name` in a PATH string, or undefined. Checked before spawning so a
 * missing recorder is reported as "not installed" rather than as an opaque ENOENT.
 */
export function findExecutable(name: string, searchPath: string | undefined): string | undefined {
  for (const directory of (searchPath ?? '').split(path.delimiter)) {
    if (directory === '') continue;
    const candidate = path.join(directory, name);
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // Not in this directory (or not executable): keep looking.
    }
  }
  return undefined;
}
