import { describe, expect, it } from 'vitest';
import type { AudioSource } from '../../src/capture/audio-source.js';
import { SAMPLE_RATE } from '../../src/dsp/constants.js';
import { CaptureSink } from '../helpers/alsa.js';

/** A source under test and the sound it captures. */
export interface AudioSourceHarness {
  source: AudioSource;
  /** What the source delivers first once it runs, sample for sample. */
  expected: Float32Array;
}

/** Long enough for a source that kept going after stop() to deliver again, were it to. */
const afterwards = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 250));

/** A sink whose every samples() call throws, after recording the chunk. */
class ThrowingSink extends CaptureSink {
  override samples(chunk: Float32Array): void {
    super.samples(chunk);
    throw new Error('the sink failed');
  }
}

/**
 * What every AudioSource promises the daemon (src/capture/audio-source.ts), run against the
 * recorder (the real arecord through the test ALSA device) and the file replay alike: samples
 * in order at the model's rate, 'starting' then 'running', idempotent start and stop, silence
 * after stop, and no exception out of the source when the sink throws.
 */
export function audioSourceContract(name: string, build: () => AudioSourceHarness | Promise<AudioSourceHarness>): void {
  const states = (sink: CaptureSink) => sink.states.map((entry) => entry.state);

  describe(`${name}: the AudioSource contract`, () => {
    it('delivers its sound sample for sample at the model rate, reporting starting then running', async () => {
      const { source, expected } = await build();
      expect(source.sampleRate).toBe(SAMPLE_RATE);
      expect(source.description).not.toBe('');
      const sink = new CaptureSink(expected.length);
      await source.start(sink);
      await sink.until(() => (sink.runs[0]?.length ?? 0) >= expected.length, 'the expected samples');
      expect(Array.from(sink.runs[0]?.samples ?? [])).toEqual(Array.from(expected));
      expect(sink.runs.every((run) => run.samples.every((sample) => sample >= -1 && sample < 1))).toBe(true);
      expect(states(sink)).toEqual(['starting', 'running']);
      await source.stop();
    });

    it('ignores a second start()', async () => {
      const { source } = await build();
      const sink = new CaptureSink(1);
      await source.start(sink);
      await source.start(sink);
      await sink.until(() => (sink.runs[0]?.length ?? 0) >= 1, 'audio');
      await afterwards();
      expect(states(sink)).toEqual(['starting', 'running']);
      await source.stop();
    });

    it('stops once however often stop() is called, reports stopped last and delivers nothing after', async () => {
      const { source } = await build();
      const sink = new CaptureSink(SAMPLE_RATE * 60);
      await source.start(sink);
      await sink.until(() => (sink.runs[0]?.length ?? 0) >= 1, 'audio');
      await Promise.all([source.stop(), source.stop()]);
      await source.stop();
      const delivered = sink.runs.map((run) => run.length);
      await afterwards();
      expect(sink.runs.map((run) => run.length)).toEqual(delivered);
      expect(states(sink).filter((state) => state === 'stopped')).toEqual(['stopped']);
      expect(states(sink).at(-1)).toBe('stopped');
    });

    it('resolves stop() before start(), and starts normally after it', async () => {
      const { source } = await build();
      await source.stop();
      const sink = new CaptureSink(1);
      await source.start(sink);
      await sink.until(() => (sink.runs[0]?.length ?? 0) >= 1, 'audio after a stop() before start()');
      await source.stop();
      expect(states(sink)[0]).toBe('starting');
    });

    it('keeps a sink that throws from ending the process, and still stops', async () => {
      const { source } = await build();
      const sink = new ThrowingSink(1);
      await source.start(sink);
      await sink.until(() => (sink.runs[0]?.length ?? 0) >= 1, 'a chunk the sink threw on');
      await afterwards();
      await source.stop();
      expect(states(sink).at(-1)).toBe('stopped');
    });
  });
}
