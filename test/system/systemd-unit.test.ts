import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { EXIT } from '../../src/commands/command.js';
import { REPO_ROOT } from '../helpers/cli.js';

const UNIT = path.join(REPO_ROOT, 'systemd', 'ser-agent.service');

describe('systemd/ser-agent.service', () => {
  it('passes systemd-analyze verify', async () => {
    const { stdout, stderr } = await promisify(execFile)('systemd-analyze', ['verify', UNIT]);
    expect(`${stdout}${stderr}`.split('\n').filter((line) => line.includes('ser-agent'))).toEqual([]);
  });

  it('is a notify service with a watchdog that does not restart on a bad configuration', async () => {
    const settings = (await readFile(UNIT, 'utf8'))
      .split('\n')
      .filter((line) => /^[A-Za-z]+=/.test(line))
      // Split at the first '=' only: values hold '=' too (ExecStart's node options).
      .map((line): [string, string] => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]);
    const value = (key: string) => settings.filter(([k]) => k === key).map(([, v]) => v);
    expect(value('Type')).toEqual(['notify']);
    expect(value('NotifyAccess')).toEqual(['all']);
    expect(Number(value('WatchdogSec')[0])).toBeGreaterThan(0);
    expect(value('Restart')).toEqual(['on-failure']);
    expect(value('RestartPreventExitStatus')).toEqual([String(EXIT.config)]);
    expect(value('ExecStart')[0]).toMatch(/ser-agent\.js run$/);
    // `systemctl reload` sends SIGHUP, which `run` takes as "reload the configuration and model".
    expect(value('ExecReload')).toEqual(['/bin/kill -HUP $MAINPID']);
    // The small young generation is part of the daemon's memory budget (README "Memory").
    expect(value('ExecStart')[0]).toMatch(/^\/usr\/bin\/node --max-semi-space-size=\d+ /);
  });
});
