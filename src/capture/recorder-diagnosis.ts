import type { RecorderCommand } from './recorder-command.js';

const PICK_DEVICE = 'list devices with "ser-agent devices" and set audio.device, or replay files with --input';

/**
 * Why a recorder process ended, in words a user can act on. arecord and sox report through
 * ALSA's messages on stderr ("Unknown PCM x", "Device or resource busy"); those are matched
 * here, and anything unrecognised is quoted as its last stderr line.
 */
export function diagnoseRecorderExit(
  command: RecorderCommand,
  device: string,
  stderr: string,
  code: number | null,
  signal: NodeJS.Signals | null,
): string {
  const known = diagnoseStderr(device, stderr);
  if (known !== undefined) return `${command.description}: ${known}`;
  const lastLine = stderr.trim().split('\n').pop()?.trim();
  const detail = lastLine ? `: ${lastLine}` : '';
  if (signal !== null) return `${command.description} was killed by ${signal}${detail}`;
  return `${command.description} exited with code ${String(code)}${detail}`;
}

function diagnoseStderr(device: string, stderr: string): string | undefined {
  // Checked first: without any card, ALSA's "default" fails as "cannot find card '0'" and only
  // then as "Unknown PCM default", and "no sound card" is the message that helps there.
  if (/no soundcards found|cannot find card/i.test(stderr)) {
    return `no sound card found for device "${device}"; plug in a microphone, ${PICK_DEVICE}`;
  }
  const unknownPcm = /Unknown PCM (\S+)/.exec(stderr);
  if (unknownPcm) return `capture device "${unknownPcm[1]}" does not exist; ${PICK_DEVICE}`;
  const missingCard = /Cannot get card index for (\S+)/.exec(stderr);
  if (missingCard) {
    return `sound card "${missingCard[1]}" of device "${device}" not found (unplugged?); ${PICK_DEVICE}`;
  }
  if (/Device or resource busy/i.test(stderr)) {
    return `capture device "${device}" is busy (another program is recording from it); stop that program or pick another device`;
  }
  if (/Permission denied/i.test(stderr)) {
    return `no permission to open capture device "${device}"; add the service user to the "audio" group`;
  }
  if (/audio open error|No such device|No such file or directory/i.test(stderr)) {
    return `capture device "${device}" cannot be opened (absent or unplugged); ${PICK_DEVICE}`;
  }
  return undefined;
}
