import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listCaptureDevices, mergeDeviceLists, parseHardwareList, parsePcmList } from '../../src/capture/devices.js';
import { EXIT, type CommandContext } from '../../src/commands/command.js';
import { devicesCommand } from '../../src/commands/devices.js';
import { loadConfig } from '../../src/config/load.js';
import { type AlsaReplay, createAlsaReplay } from '../helpers/alsa.js';
import { captureLogs } from '../helpers/logs.js';
import { REPO_ROOT } from '../helpers/cli.js';

/** Output of `arecord -l` / `arecord -L` on a Raspberry Pi with a USB microphone and a voice HAT. */
function fixture(name: string): Promise<string> {
  return readFile(new URL(`fixtures/${name}`, import.meta.url), 'utf8');
}

let dir: string;
let replay: AlsaReplay;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ser-devices-'));
  replay = await createAlsaReplay(new Float32Array(10), dir);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('parsing arecord listings', () => {
  it('names each sound card by its stable id, ready for audio.device', async () => {
    expect(parseHardwareList(await fixture('arecord-l.txt'))).toEqual([
      { device: 'plughw:CARD=Device,DEV=0', description: 'USB PnP Sound Device, USB Audio (card 2, device 0)' },
      {
        device: 'plughw:CARD=sndrpigooglevoi,DEV=0',
        description:
          'snd_rpi_googlevoicehat_soundcar, Google voiceHAT SoundCard HiFi voicehat-hifi-0 (card 3, device 0)',
      },
    ]);
  });

  it('reads every PCM with its description lines', async () => {
    const pcms = parsePcmList(await fixture('arecord-L.txt'));
    expect(pcms.map((pcm) => pcm.device)).toEqual([
      'null',
      'default',
      'sysdefault:CARD=Device',
      'hw:CARD=Device,DEV=0',
      'plughw:CARD=Device,DEV=0',
      'dsnoop:CARD=Device,DEV=0',
    ]);
    expect(pcms[4]).toEqual({
      device: 'plughw:CARD=Device,DEV=0',
      description: 'USB PnP Sound Device, USB Audio, Hardware device with all software conversions',
    });
  });

  it('lists cards, then other PCMs once each, without ALSA\'s silent null PCM', async () => {
    const devices = mergeDeviceLists(await fixture('arecord-l.txt'), await fixture('arecord-L.txt'));
    expect(devices.map((device) => device.device)).toEqual([
      'plughw:CARD=Device,DEV=0',
      'plughw:CARD=sndrpigooglevoi,DEV=0',
      'default',
      'sysdefault:CARD=Device',
      'hw:CARD=Device,DEV=0',
      'dsnoop:CARD=Device,DEV=0',
    ]);
  });

  it('finds no capture device in a listing of a machine without sound cards', () => {
    expect(
      mergeDeviceLists('', 'null\n    Discard all samples (playback) or generate zero samples (capture)\n'),
    ).toEqual([]);
  });
});

describe('listCaptureDevices with the real arecord', () => {
  it('lists the PCMs of the ALSA configuration in use', async () => {
    const listing = await listCaptureDevices({ ...process.env, ...replay.env });
    expect(listing).toEqual({
      found: true,
      devices: [{ device: replay.device, description: 'ser-agent test replay' }],
    });
  });

  it('says how to install arecord when it is missing', async () => {
    const listing = await listCaptureDevices({ PATH: dir });
    expect(listing).toEqual({
      found: false,
      message: 'arecord not found in PATH; install alsa-utils (sudo apt-get install alsa-utils) to list and use capture devices',
    });
  });
});

describe('ser-agent devices', () => {
  async function runDevices(
    args: string[],
    env: Record<string, string | undefined> = process.env,
  ): Promise<{ code: number; out: string[]; err: string[] }> {
    const out: string[] = [];
    const err: string[] = [];
    const context: CommandContext = {
      config: loadConfig({
        env: {},
        installDir: REPO_ROOT,
        homeDir: dir,
        hostname: 'test-box',
        systemFile: path.join(dir, 'absent.json'),
      }),
      logger: captureLogs().logger,
      env,
      pid: process.pid,
      version: '0.0.0-test',
      out: (line) => out.push(line),
      err: (line) => err.push(line),
      commandLine: `ser-agent devices ${args.join(' ')}`,
      signal: new AbortController().signal,
    };
    const json = args.includes('--json');
    const code = await devicesCommand.run(json ? { json: true } : {}, args.filter((arg) => arg !== '--json'), context);
    return { code, out, err };
  }

  it('prints a table, or one JSON object a line with --json', async () => {
    // The command runs arecord with the environment the CLI hands it.
    const env = { ...process.env, ...replay.env };
    expect(await runDevices([], env)).toEqual({
      code: EXIT.ok,
      out: ['device      description', 'ser_replay  ser-agent test replay'],
      err: [],
    });
    expect(await runDevices(['--json'], env)).toEqual({
      code: EXIT.ok,
      out: ['{"device":"ser_replay","description":"ser-agent test replay"}'],
      err: [],
    });
  });

  it('says how to go on when there is no capture device', async () => {
    const emptyConfig = path.join(dir, 'empty-asoundrc');
    await writeFile(emptyConfig, '');
    expect(await runDevices([], { ...process.env, ALSA_CONFIG_PATH: emptyConfig })).toEqual({
      code: EXIT.ok,
      out: [],
      err: [
        'no capture devices found; plug in a microphone (USB, or a HAT with its overlay enabled), or replay recordings with "ser-agent run --input FILE..."',
      ],
    });
  });

  it('fails with the fix when arecord is not installed', async () => {
    const result = await runDevices([], { ...process.env, PATH: dir });
    expect(result.code).toBe(EXIT.failure);
    expect(result.err).toEqual([
      'arecord not found in PATH; install alsa-utils (sudo apt-get install alsa-utils) to list and use capture devices',
    ]);
  });

  it('rejects arguments', async () => {
    await expect(runDevices(['plughw:1,0'])).rejects.toThrow('devices takes no positional arguments; got "plughw:1,0"');
  });
});
