export const RECORDERS = ['arecord', 'sox'] as const;
export type RecorderName = (typeof RECORDERS)[number];

/**
 * How often the recorder hands audio over, in seconds: each hand-over wakes the agent (a pipe
 * read, a decode, a windower push), so this sets the idle cost of listening, and a window
 * cannot be classified before the buffer holding its last sample arrives, so it also bounds the
 * wait added to the latency from window end to event. 200 ms is 4,410 samples at 22,050 Hz,
 * which divides the 3 s window and the hops that are whole multiples of 200 ms (1 s and the
 * default 3 s included): the windows then end exactly where a buffer ends and wait for nothing
 * (on devices that honour the period; otherwise the wait is at most one period). It is the
 * longest period that divides both 1 s and 3 s (4,410 samples = 5 × 882). Against the 40 ms
 * used before, five wake-ups a second instead of 25 took the daemon listening to windows it
 * skips as silence from 0.63-0.73% to 0.20-0.37% of a core (npm run bench, `daemon_capture_only`),
 * and Node alone reading such a pipe from 0.45% to 0.12%. The defaults (~125 ms for arecord,
 * 8 KiB = 186 ms for sox) divide neither and dominated the latency.
 */
export const CAPTURE_PERIOD_SECONDS = 0.2;
/**
 * The device's ring buffer, in periods: arecord's default (the smaller of the device's maximum
 * and 500 ms) would hold only two 200 ms periods, so a recorder descheduled for one period
 * would overrun. Five periods (1 s) give twice the 500 ms the 40 ms periods had.
 */
const BUFFER_PERIODS = 5;

export interface RecorderCommand {
  binary: RecorderName;
  args: string[];
  /** The Debian package that provides the binary, for the "not found" message. */
  debianPackage: string;
  /** Short form for logs and reasons: "arecord -D plughw:1,0". */
  description: string;
}

/**
 * The recorder command line: raw signed 16-bit little-endian mono at `sampleRate` on stdout.
 * Never WAV: a WAV stream carries a 32-bit size field, and recorders stop once it would
 * overflow (2 GiB, about 13.5 hours at 22,050 Hz) — issue 2, part 1. Rate and channel
 * conversion are left to ALSA (`plughw`, `default`).
 */
export function recorderCommand(recorder: RecorderName, device: string, sampleRate: number): RecorderCommand {
  const rate = String(sampleRate);
  const periodMicros = String(Math.round(CAPTURE_PERIOD_SECONDS * 1e6));
  const bufferMicros = String(Math.round(BUFFER_PERIODS * CAPTURE_PERIOD_SECONDS * 1e6));
  const bufferBytes = String(Math.round(CAPTURE_PERIOD_SECONDS * sampleRate) * 2);
  switch (recorder) {
    case 'arecord':
      return {
        binary: 'arecord',
        args: ['-q', '-D', device, '-t', 'raw', '-f', 'S16_LE', '-c', '1', '-r', rate, '--period-time', periodMicros, '--buffer-time', bufferMicros, '-'],
        debianPackage: 'alsa-utils',
        description: `arecord -D ${device}`,
      };
    case 'sox':
      return {
        binary: 'sox',
        // sox applies format options to the file that follows them: the first set asks ALSA
        // for the exact format (so ALSA converts, not sox), the second describes stdout.
        args: [
          '-q',
          ...['--buffer', bufferBytes],
          ...['-r', rate, '-c', '1', '-b', '16', '-e', 'signed-integer', '-t', 'alsa', device],
          ...['-r', rate, '-c', '1', '-b', '16', '-e', 'signed-integer', '--endian', 'little', '-t', 'raw', '-'],
        ],
        debianPackage: 'sox and libsox-fmt-alsa',
        description: `sox -t alsa ${device}`,
      };
  }
}
