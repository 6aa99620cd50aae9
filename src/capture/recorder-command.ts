export const RECORDERS = ['arecord', 'sox'] as const;
export type RecorderName = (typeof RECORDERS)[number];

/**
 * How often the recorder hands audio over, in seconds: each hand-over wakes the agent (a pipe
 * read, a decode, a windower push), so this sets the idle cost of listening, and a window
 * cannot be classified before the buffer holding its last sample arrives, so it also bounds the
 * wait added to the latency from window end to event. 1/14 s is 1,575 samples at 22,050 Hz,
 * which divides the 3 s window and every hop that is a whole number of seconds: the windows
 * then end exactly where a buffer ends and wait for nothing (on devices that honour the
 * period, until an overrun loses samples; otherwise the wait is at most 71 ms). Its 3,150 bytes
 * still fit in one atomic pipe write (PIPE_BUF, 4,096 bytes), which the soak's FIFO microphone
 * needs to be fed whole periods. Against 40 ms, in one run of two rounds: the daemon at hop 1 s
 * 1.83/2.13% → 1.50/1.80% of a core, listening alone 0.80/0.70% → 0.57/0.63% (14 wake-ups a
 * second instead of 25). 200 ms did better still but is 8,820 bytes, too much for one pipe
 * write. The defaults (~125 ms for arecord, 8 KiB = 186 ms for sox) divide neither window
 * nor hop and dominated the latency.
 */
export const CAPTURE_PERIOD_SECONDS = 1 / 14;

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
