import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { recorderCommand } from '../../src/capture/recorder-command.js';
import { diagnoseRecorderExit } from '../../src/capture/recorder-diagnosis.js';

/** stderr of arecord 1.2.8 on failures; the busy and permission ones in arecord's format. */
function stderr(name: string): string {
  return readFileSync(new URL(`fixtures/stderr-${name}.txt`, import.meta.url), 'utf8');
}

const PICK = 'list devices with "ser-agent devices" and set audio.device, or replay files with --input';

function diagnose(device: string, text: string, code: number | null = 1, signal: NodeJS.Signals | null = null) {
  return diagnoseRecorderExit(recorderCommand('arecord', device, 22050), device, text, code, signal);
}

describe('diagnoseRecorderExit', () => {
  it('names the device, the cause and the fix for the failures arecord reports', () => {
    expect(diagnose('nosuch', stderr('unknown-pcm'))).toBe(
      `arecord -D nosuch: capture device "nosuch" does not exist; ${PICK}`,
    );
    expect(diagnose('plughw:7,0', stderr('missing-card'))).toBe(
      `arecord -D plughw:7,0: sound card "7" of device "plughw:7,0" not found (unplugged?); ${PICK}`,
    );
    expect(diagnose('default', stderr('no-soundcard'))).toBe(
      `arecord -D default: no sound card found for device "default"; plug in a microphone, ${PICK}`,
    );
    expect(diagnose('plughw:1,0', stderr('busy'))).toBe(
      'arecord -D plughw:1,0: capture device "plughw:1,0" is busy (another program is recording from it); stop that program or pick another device',
    );
    expect(diagnose('plughw:1,0', stderr('permission'))).toBe(
      'arecord -D plughw:1,0: no permission to open capture device "plughw:1,0"; add the service user to the "audio" group',
    );
  });

  it('quotes the last stderr line of an exit it does not recognise, with the code or signal', () => {
    expect(diagnose('default', 'arecord: pcm_read:2221: read error: Input/output error\n')).toBe(
      'arecord -D default exited with code 1: arecord: pcm_read:2221: read error: Input/output error',
    );
    expect(diagnose('default', '', null, 'SIGKILL')).toBe('arecord -D default was killed by SIGKILL');
    expect(diagnose('default', '', 0)).toBe('arecord -D default exited with code 0');
  });
});
