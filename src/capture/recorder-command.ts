export const RECORDERS = ['arecord', 'sox'] as const;
export type RecorderName = (typeof RECORDERS)[number];

/** Capture buffer length in µs: how often the recorder hands audio over. */
const CHUNK_MICROS = 20_000;

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
  // Audio reaches the agent one recorder buffer at a time, and a window cannot be classified
  // before the buffer holding its last sample arrives: 20 ms buffers keep that wait short
  // (the defaults, ~125 ms for arecord and 8 KiB = 186 ms for sox, dominated the latency from
  // window end to event).
  const bufferMicros = String(CHUNK_MICROS);
  const bufferBytes = String(Math.round((CHUNK_MICROS / 1e6) * sampleRate) * 2);
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
