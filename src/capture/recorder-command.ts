export const RECORDERS = ['arecord', 'sox'] as const;
export type RecorderName = (typeof RECORDERS)[number];

/**
 * How often the recorder hands audio over, in seconds: each hand-over wakes the agent (a pipe
 * read, a decode, a windower push), so this sets the idle cost of listening, and a window
 * cannot be classified before the buffer holding its last sample arrives, so it also bounds the
 * wait added to the latency from window end to event. 40 ms is 882 samples at 22,050 Hz, which
 * divides the 3 s window and every hop that is a multiple of 40 ms (1 s included): the
 * windows then end exactly where a buffer ends and wait for nothing (on devices that honour
 * the period, until an overrun loses samples; otherwise the wait is at most 40 ms). It halves the wake-ups of
 * the 20 ms used before, which took the daemon from about 2.5% to 1.9% of a core at hop 1 s;
 * 100 ms saved nothing measurable beyond that. The defaults (~125 ms for arecord, 8 KiB =
 * 186 ms for sox) divide neither and dominated the latency.
 */
export const CAPTURE_PERIOD_SECONDS = 0.04;

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
  const bufferMicros = String(Math.round(CAPTURE_PERIOD_SECONDS * 1e6));
  const bufferBytes = String(Math.round(CAPTURE_PERIOD_SECONDS * sampleRate) * 2);
  switch (recorder) {
    case 'arecord':
      return {
        binary: 'arecord',
        args: ['-q', '-D', device, '-t', 'raw', '-f', 'S16_LE', '-c', '1', '-r', rate, '--period-time', bufferMicros, '-'],
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
