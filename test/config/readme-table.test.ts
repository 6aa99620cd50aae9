import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { configKeys } from '../../src/config/reload-policy.js';
import { configSchema } from '../../src/config/schema.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { TEST_HOME_DIR, TEST_INSTALL_DIR, testConfig } from '../helpers/config.js';

/**
 * The README's configuration table is written by hand for operators; this keeps it the schema's
 * copy: every key once, with its environment variable, and the defaults the table states as
 * values (those it describes in words, such as "host name", are left to the reader).
 */
interface Row {
  key: string;
  env: string;
  defaultCell: string;
}

function readmeRows(): Row[] {
  const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('\n## Configure\n'), readme.indexOf('\n### Backends\n'));
  return section
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .map((line) => {
      const [key, env, defaultCell] = line.split(' | ').map((cell) => cell.replace(/^\| /, '').trim());
      return { key: (key ?? '').replace(/`/g, ''), env: (env ?? '').replace(/`/g, ''), defaultCell: defaultCell ?? '' };
    });
}

function valueAt(root: unknown, key: string): unknown {
  let node = root;
  for (const part of key.split('.')) node = (node as Record<string, unknown>)[part];
  return node;
}


/**
 * The configuration with nothing set, as the agent computes it: the schema's defaults, with
 * the empty paths resolved to the files installed beside the package (shown relative to it)
 * and to the user's home (shown as ~).
 */
const defaults = testConfig();

function asReadmeShowsIt(value: unknown): unknown {
  if (typeof value === 'object' && value !== null) return JSON.stringify(value);
  if (typeof value !== 'string') return value;
  if (value.startsWith(`${TEST_INSTALL_DIR}/`)) return path.relative(TEST_INSTALL_DIR, value);
  if (value.startsWith(`${TEST_HOME_DIR}/`)) return `~/${path.relative(TEST_HOME_DIR, value)}`;
  return value;
}

/** The default a cell states as a value, or undefined when it describes it in words. */
function statedDefault(cell: string): { value: unknown } | undefined {
  if (cell === 'empty') return { value: '' };
  const literal = /^(-?\d+(?:\.\d+)?|true|false|null)(?: |$)/.exec(cell);
  if (literal) return { value: JSON.parse(literal[1] as string) };
  const quoted = /^`([^`]*)`$/.exec(cell);
  if (quoted) return { value: quoted[1] };
  return undefined;
}

describe('the README configuration table', () => {
  const rows = readmeRows();

  it('lists every configuration key once, and no other', () => {
    expect(rows.map((row) => row.key).sort()).toEqual(configKeys().sort());
  });

  it('names each key\'s environment variable as the schema does', () => {
    for (const row of rows) expect(row.env, row.key).toBe((valueAt(configSchema, row.key) as { env?: string }).env);
  });

  it('states the defaults the agent runs with', () => {
    let checked = 0;
    for (const row of rows) {
      const stated = statedDefault(row.defaultCell);
      if (stated === undefined) continue;
      expect(asReadmeShowsIt(valueAt(defaults, row.key)), `${row.key}: README says ${row.defaultCell}`).toEqual(stated.value);
      checked++;
    }
    // Most defaults are plain values; a parser that matched none would check nothing.
    expect(checked).toBeGreaterThan(rows.length / 2);
  });
});
