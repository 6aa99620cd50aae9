export const RECORDERS = ['arecord', 'sox'] as const;
export type RecorderName = (typeof RECORDERS)[number];

/**
 * How often the recorder hands audio over by default, in seconds (`audio.periodSeconds`): each
 * hand-over wakes the agent (a pipe read, a decode, a windower push), so this sets the idle
 * cost of listening, and a window cannot be classified before the buffer holding its last
 * sample arrives, so it also bounds the wait added to the latency from window end to event.
 * 1/5 s is 4,410 samples at 22,050 Hz, which divides the 3 s window and every hop that is a
 * whole number of fifths of a second: the windows then end exactly where a buffer ends and
 * wait for nothing (on devices that honour the period, until an overrun loses samples;
 * otherwise the wait is at most 200 ms). Against 1/14 s, alternating in one run on a machine
 * shared with a training run (docs/benchmarks.md): 5 wake-ups a second instead of 14, listening
 * alone 0.52/0.43% → 0.17/0.20% of a core. The defaults (~125 ms for arecord, 8 KiB = 186 ms for
 * sox) divide neither window nor hop and dominated the latency.
 */
export const DEFAULT_CAPTURE_PERIOD_SECONDS = 1 / 5;
/** Shorter periods cost wake-ups for no gain; longer ones delay events by up to a period. */
export const MIN_CAPTURE_PERIOD_SECONDS = 0.01;
export const MAX_CAPTURE_PERIOD_SECONDS = 1;

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
export function recorderCommand(
  recorder: RecorderName,
  device: string,
  sampleRate: number,
  periodSeconds = DEFAULT_CAPTURE_PERIOD_SECONDS,
): RecorderCommand {
  const rate = String(sampleRate);
  const periodMicros = String(Math.round(periodSeconds * 1e6));
  // arecord's own choice of buffer is at most 500 ms: with long periods that is two or three of
  // them, little time for a late reader before the card overruns. Four periods at least.
  const bufferMicros = String(Math.max(500_000, Math.round(4 * periodSeconds * 1e6)));
  const bufferBytes = String(Math.round(periodSeconds * sampleRate) * 2);
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
