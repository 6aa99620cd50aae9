import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { chooseLogSetup, openLogger, type LogSetupInputs } from '../../src/logging/logger.js';

const oneShotAtTerminal: LogSetupInputs = { level: 'info', format: 'auto', terminal: true, levelFromFlag: false, daemon: false };

describe('chooseLogSetup', () => {
  it('auto is pretty at a terminal and JSON anywhere else; json and pretty are kept as asked', () => {
    expect(chooseLogSetup(oneShotAtTerminal).format).toBe('pretty');
    expect(chooseLogSetup({ ...oneShotAtTerminal, terminal: false }).format).toBe('json');
    expect(chooseLogSetup({ ...oneShotAtTerminal, format: 'json' }).format).toBe('json');
    expect(chooseLogSetup({ ...oneShotAtTerminal, terminal: false, format: 'pretty' }).format).toBe('pretty');
  });

  it('keeps one-shot commands at a terminal to warnings and errors, unless --log-level asks for info', () => {
    expect(chooseLogSetup(oneShotAtTerminal).level).toBe('warn');
    expect(chooseLogSetup({ ...oneShotAtTerminal, format: 'json' }).level).toBe('warn');
    expect(chooseLogSetup({ ...oneShotAtTerminal, levelFromFlag: true }).level).toBe('info');
    // Not at a terminal (journald, a pipe, a file) nothing is left out; nor for the daemon.
    expect(chooseLogSetup({ ...oneShotAtTerminal, terminal: false }).level).toBe('info');
    expect(chooseLogSetup({ ...oneShotAtTerminal, daemon: true }).level).toBe('info');
    // A level other than the default info, from any source, is what someone asked for.
    expect(chooseLogSetup({ ...oneShotAtTerminal, level: 'debug' }).level).toBe('debug');
    expect(chooseLogSetup({ ...oneShotAtTerminal, level: 'error' }).level).toBe('error');
  });
});

describe('openLogger', () => {
  it('writes one pretty line per record, warnings included, synchronously to the descriptor', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ser-logger-'));
    const file = path.join(dir, 'log.txt');
    const handle = await open(file, 'w');
    try {
      const logger = await openLogger(chooseLogSetup(oneShotAtTerminal), handle.fd, false);
      logger.child({ module: 'model' }).info({ backend: 'wasm' }, 'model loaded');
      logger.child({ module: 'model' }).warn({ backend: 'wasm' }, 'wasm backend runs without SIMD');
      // Nothing flushed by hand: a sync destination has written the line when warn() returns.
      const written = await readFile(file, 'utf8');
      expect(written).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] WARN: \[model\] wasm backend runs without SIMD \{"backend":"wasm"\}\n$/);
    } finally {
      await handle.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
