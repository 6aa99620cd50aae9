import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { runSerAgent, runSerAgentInTerminal } from '../helpers/cli.js';
import { DATASETS_DIR } from '../helpers/golden.js';

/**
 * Log lines as people and programs see them: the real `ser-agent` in a pseudo-terminal
 * (util-linux `script`) and with its output piped, on the shipped model and a TESS recording.
 */
const SPEECH = path.join(DATASETS_DIR, 'tess', 'OAF_angry', 'OAF_bath_angry.flac');
/** What `classify` logs at info while it loads the model; never its output. */
const MODEL_LOADED = 'model loaded';

let work: string;
let env: Record<string, string>;
let broker: TestBroker;

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'ser-log-format-'));
  env = { SER_CACHE_DIR: path.join(work, 'cache') };
  broker = await startTestBroker();
});

afterAll(async () => {
  await broker.close();
  await rm(work, { recursive: true, force: true });
});

const lines = (text: string): string[] => text.split('\n').filter((line) => line.trim().length > 0);
const isJson = (line: string): boolean => {
  try {
    return typeof JSON.parse(line) === 'object';
  } catch {
    return false;
  }
};
/** The line holding the result table's row for the recording. */
const tableRow = (text: string): string | undefined => lines(text).find((line) => line.startsWith(SPEECH));

describe('logs at a terminal', () => {
  it('a one-shot command prints its table and no info lines', async () => {
    const { code, output } = await runSerAgentInTerminal(['classify', SPEECH], env);
    expect(code).toBe(0);
    expect(tableRow(output)).toMatch(/anger/);
    expect(output).not.toContain(MODEL_LOADED);
    expect(output).not.toMatch(/\bINFO\b/);
    expect(lines(output).filter(isJson)).toEqual([]);
  });

  it('--log-level info brings the info lines back, in the pretty format: not JSON, holding the message', async () => {
    const { code, output } = await runSerAgentInTerminal(['classify', '--log-level', 'info', SPEECH], env);
    expect(code).toBe(0);
    const loaded = lines(output).find((line) => line.includes(MODEL_LOADED));
    expect(loaded).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO\b.*: model loaded \{/);
    expect(isJson(loaded ?? '{}')).toBe(false);
    expect(tableRow(output)).toMatch(/anger/);
  });

  it('--log-format json keeps JSON lines at a terminal', async () => {
    const { code, output } = await runSerAgentInTerminal(['classify', '--log-format', 'json', '--log-level', 'info', SPEECH], env);
    expect(code).toBe(0);
    const logLines = lines(output).filter((line) => line.startsWith('{'));
    expect(logLines.length).toBeGreaterThanOrEqual(1);
    const parsed = logLines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(parsed.find((line) => line['msg'] === MODEL_LOADED)).toMatchObject({ level: 30 });
  });

  it('the daemon keeps its info lines, pretty', async () => {
    const config = path.join(work, 'run.json');
    await writeFile(
      config,
      JSON.stringify({ deviceId: 'tty-box', mqtt: { url: broker.url }, gpio: { driver: 'simulated' }, state: { directory: path.join(work, 'state') } }),
    );
    const { code, output } = await runSerAgentInTerminal(['run', '--config', config, '--input', SPEECH], env);
    expect(code).toBe(0);
    const logLines = lines(output);
    for (const message of ['connected to MQTT broker', 'listening', 'audio is flowing', 'stopped']) {
      const line = logLines.find((candidate) => candidate.includes(`INFO`) && candidate.includes(message));
      expect(line, message).toBeDefined();
      expect(isJson(line ?? '{}'), message).toBe(false);
    }
    expect(logLines.filter(isJson)).toEqual([]);
  });
});

describe('logs into a pipe', () => {
  it('are JSON lines at info, as journald and log shippers expect', async () => {
    const { code, stderr } = await runSerAgent(['classify', SPEECH], env);
    expect(code).toBe(0);
    const parsed = lines(stderr).map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(parsed.find((line) => line['msg'] === MODEL_LOADED)).toMatchObject({ level: 30 });
  });

  it('are pretty with --log-format pretty (or log.format), without colour codes', async () => {
    for (const [args, extraEnv] of [
      [['--log-format', 'pretty'], {}],
      [[], { SER_LOG_FORMAT: 'pretty' }],
    ] as const) {
      const { code, stdout, stderr } = await runSerAgent(['classify', ...args, SPEECH], { ...env, ...extraEnv });
      expect(code).toBe(0);
      expect(tableRow(stdout)).toMatch(/anger/);
      const loaded = lines(stderr).find((line) => line.includes(MODEL_LOADED));
      expect(loaded).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO\b.*: model loaded \{/);
      expect(stderr).not.toContain('\u001b[');
      expect(lines(stderr).filter(isJson)).toEqual([]);
    }
  });

  it('refuses an unknown --log-format, naming the key, the value and the choices', async () => {
    const { code, stderr } = await runSerAgent(['classify', '--log-format', 'xml', SPEECH], env);
    expect(code).toBe(78);
    expect(stderr).toContain('log.format: must be one of the possible values: ["auto","json","pretty"]: value was "xml"');
  });
});
