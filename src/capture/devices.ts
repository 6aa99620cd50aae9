import { execFile } from 'node:child_process';
import { findExecutable } from './find-executable.js';

export interface CaptureDevice {
  /** The value to put in audio.device (`arecord -D`). */
  device: string;
  description: string;
}

export type DeviceListing =
  | { found: true; devices: CaptureDevice[] }
  | { found: false; message: string };

/**
 * The capture devices ALSA offers: sound cards from `arecord -l`, named `plughw:CARD=<id>,DEV=<n>`
 * (stable across reboots and USB re-plugging, unlike card numbers, and with ALSA converting to
 * the model's format), followed by the PCMs of `arecord -L` not already listed.
 */
export async function listCaptureDevices(
  env: Readonly<Record<string, string | undefined>>,
): Promise<DeviceListing> {
  const arecord = findExecutable('arecord', env['PATH']);
  if (arecord === undefined) {
    return {
      found: false,
      message: 'arecord not found in PATH; install alsa-utils (sudo apt-get install alsa-utils) to list and use capture devices',
    };
  }
  const [cards, pcms] = await Promise.all([run(arecord, ['-l'], env), run(arecord, ['-L'], env)]);
  return { found: true, devices: mergeDeviceLists(cards, pcms) };
}

/**
 * The cards of `arecord -l` first, then the PCMs of `arecord -L` not already among them.
 * ALSA's `null` PCM is left out: it captures silence, so offering it as a microphone would
 * only hide the fact that there is none.
 */
export function mergeDeviceLists(cardsText: string, pcmsText: string): CaptureDevice[] {
  const devices = parseHardwareList(cardsText);
  for (const pcm of parsePcmList(pcmsText)) {
    if (pcm.device !== 'null' && !devices.some((known) => known.device === pcm.device)) devices.push(pcm);
  }
  return devices;
}

const CARD_LINE = /^card (\d+): (\S+) \[(.*)\], device (\d+): .*\[(.*)\]$/;

/** `arecord -l`: "card 1: Device [USB PnP Sound Device], device 0: USB Audio [USB Audio]". */
export function parseHardwareList(text: string): CaptureDevice[] {
  const devices: CaptureDevice[] = [];
  for (const line of text.split('\n')) {
    const match = CARD_LINE.exec(line.trim());
    if (!match) continue;
    const [, card, id, cardName, device, deviceName] = match;
    devices.push({
      device: `plughw:CARD=${id},DEV=${device}`,
      description: `${cardName}, ${deviceName} (card ${card}, device ${device})`,
    });
  }
  return devices;
}

/** `arecord -L`: a PCM name at the start of a line, its description on the indented lines after. */
export function parsePcmList(text: string): CaptureDevice[] {
  const devices: CaptureDevice[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const last = devices.at(-1);
    if (/^\s/.test(line) && last !== undefined) {
      last.description = last.description === '' ? line.trim() : `${last.description}, ${line.trim()}`;
    } else if (!/^\s/.test(line)) {
      devices.push({ device: line.trim(), description: '' });
    }
  }
  return devices;
}

function run(
  binary: string,
  args: string[],
  env: Readonly<Record<string, string | undefined>> | undefined,
): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(binary, args, env === undefined ? {} : { env }, (error, stdout, stderr) => {
      if (error) {
        reject(new Error(`${binary} ${args.join(' ')} failed: ${stderr.trim() || error.message}`, { cause: error }));
      } else {
        resolve(stdout);
      }
    });
  });
}
