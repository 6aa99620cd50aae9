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
    // So is glibc's allocator, tuned through the environment (bench/daemon-memory.ts reads it too).
    expect(value('Environment').flatMap((line) => line.split(/\s+/))).toEqual(
      expect.arrayContaining(['MALLOC_ARENA_MAX=1', expect.stringMatching(/^MALLOC_TRIM_THRESHOLD_=\d+$/), expect.stringMatching(/^MALLOC_MMAP_THRESHOLD_=\d+$/)]),
    );
  });

  it('is the unit the README describes: every node option and allocator setting it starts the daemon with is named there', async () => {
    const unit = await readFile(UNIT, 'utf8');
    const readme = await readFile(path.join(REPO_ROOT, 'README.md'), 'utf8');
    const execStart = /^ExecStart=(.*)$/m.exec(unit)?.[1] ?? '';
    const nodeOptions = execStart.split(/\s+/).filter((word) => word.startsWith('--'));
    const allocator = [...unit.matchAll(/^Environment=(.*)$/gm)].flatMap(([, line]) => (line ?? '').split(/\s+/)).filter((word) => word.startsWith('MALLOC_'));
    expect(nodeOptions).not.toEqual([]);
    expect(allocator).not.toEqual([]);
    // Both places an operator looks: how the unit runs the daemon, and what memory it takes.
    for (const heading of ['## Run under systemd', '### Memory']) {
      const start = readme.indexOf(`\n${heading}\n`);
      expect(start, heading).toBeGreaterThan(0);
      const end = readme.slice(start + heading.length + 2).search(/\n#{2,3} /);
      const section = readme.slice(start, end < 0 ? undefined : start + heading.length + 2 + end);
      for (const setting of [...nodeOptions, ...allocator]) expect(section, `${heading} names ${setting}`).toContain(`\`${setting}\``);
    }
  });
});
