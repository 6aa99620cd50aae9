import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  parseToolsVersion,
  readChipLines,
  readToolsVersion,
  runTool,
  spawnTool,
  type ToolExit,
} from '../../src/indicators/gpiod-tools.js';
import { gpiosetArgs } from '../../src/indicators/gpiod-driver.js';
import { FakeGpiod, gpioinfoFixture } from './fake-gpiod.js';

describe('parseToolsVersion', () => {
  it.each([
    ['gpioset (libgpiod) v1.6.3\nCopyright (C) 2017-2018 Bartosz Golaszewski\n', 1, 'v1.6.3'],
    ['gpioset (libgpiod) v2.2.1\nCopyright (C) 2017-2023 Bartosz Golaszewski\n', 2, 'v2.2.1'],
    ['gpioset v2.3.2 (libgpiod v2.2.1)\n', 2, 'v2.3.2'],
    ['gpioset (libgpiod) v2.0\n', 2, 'v2.0'],
  ])('reads the tools version from %j', (output, major, text) => {
    expect(parseToolsVersion(output)).toEqual({ major, text });
  });

  it('says what it could not read', () => {
    expect(() => parseToolsVersion('gpioset, some build\n')).toThrow(/cannot read the libgpiod version .*"gpioset, some build"/);
  });
});

describe('reading the tools through the process edge', () => {
  it('reads version and chips from the fake tools of both releases', async () => {
    for (const major of [1, 2] as const) {
      const tools = new FakeGpiod({ major, gpioinfo: gpioinfoFixture(`pi4-v${major}`) });
      expect((await readToolsVersion(tools.spawn)).major).toBe(major);
      expect((await readChipLines(tools.spawn)).map((chip) => chip.name)).toEqual(['gpiochip0', 'gpiochip1']);
    }
  });
});

describe('spawnTool', () => {
  it('runs a program to its end, collecting its output and exit code', async () => {
    const result = await runTool(spawnTool, 'sh', ['-c', 'echo out; echo err >&2; exit 3']);
    expect(result).toEqual({ exit: { code: 3, signal: null }, stdout: 'out\n', stderr: 'err\n' });
  });

  it('reports the signal that ended a program, and kill after the end is harmless', async () => {
    const tool = spawnTool('sleep', ['30']);
    const ended = new Promise<ToolExit>((resolve) => tool.onExit(resolve));
    tool.kill('SIGTERM');
    expect(await ended).toEqual({ code: null, signal: 'SIGTERM' });
    tool.kill('SIGTERM');
    // A listener added after the end still hears of it.
    expect(await new Promise<ToolExit>((resolve) => tool.onExit(resolve))).toEqual({ code: null, signal: 'SIGTERM' });
  });

  it('turns a missing program into an error saying how to install the tools', async () => {
    await expect(runTool(spawnTool, 'gpioset-not-installed', ['--version'])).rejects.toThrow(
      /cannot run gpioset-not-installed: the libgpiod tools are not installed: `sudo apt-get install gpiod`/,
    );
  });

  it('kills a program that outlives its time', async () => {
    const result = await runTool(spawnTool, 'sleep', ['30'], 100);
    expect(result.exit).toEqual({ code: null, signal: 'SIGKILL' });
  });
});

/**
 * The real tools of Debian's gpiod package (CI installs it): their version is read, and a machine
 * without GPIO chips lists none. Nothing here touches a GPIO line.
 */
describe.runIf(existsSync('/usr/bin/gpioset') || process.env['CI'])('the installed libgpiod tools', () => {
  it('report a version this driver speaks', async () => {
    const version = await readToolsVersion(spawnTool);
    expect([1, 2]).toContain(version.major);
  });

  it('list the chips of this machine in a form the parser reads', async () => {
    const chips = await readChipLines(spawnTool);
    expect(Array.isArray(chips)).toBe(true);
  });

  it("take the driver's gpioset arguments, failing only on the chip this machine lacks", async () => {
    const { major } = await readToolsVersion(spawnTool);
    const chip = 'gpiochip977';
    const result = await runTool(spawnTool, 'gpioset', gpiosetArgs(major, chip, 17, false));
    expect(result.exit.code).toBe(1);
    expect(result.stderr).not.toMatch(/unrecognized|invalid|usage|try gpioset --help/i);
    // 1.x: "error setting the GPIO line values: No such file or directory"; 2.x: "cannot find GPIO chip ... 'gpiochip977'".
    expect(result.stderr).toMatch(major === 1 ? /No such file or directory/ : /cannot find GPIO chip character device 'gpiochip977'/);
  });
});
