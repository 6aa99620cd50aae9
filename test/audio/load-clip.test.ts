import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { loadAudio, loadAudioBytes } from '../../src/audio/load-clip.js';
import { readAudioFile } from '../../src/audio/decode.js';
import { absDiff, GOLDEN_WAVS, goldenWavPath, readGoldenF32 } from '../helpers/golden.js';

/**
 * Bounds for the resampled golden clips. libsoxr's VHQ recipe differs from the HQ one that
 * made the golden arrays by max |Δ| 1e-5..5.1e-4 and mean |Δ| 1e-7..1.3e-5 on these clips
 * (measured with libsoxr 0.1.3); a resampler built to HQ's band edges should sit no farther
 * away on average. The max leaves room for the first samples of a clip that starts
 * abruptly (speech_c: 7.3e-4 at sample 0), where two kernels' step responses differ most.
 */
const RESAMPLED_MAX_ABS_DIFF = 1e-3;
const RESAMPLED_MEAN_ABS_DIFF = 1.5e-5;

const RESAMPLED_WAVS = GOLDEN_WAVS.filter((name) => name !== 'speech_e_22k');

describe('loadAudio against librosa.load(path, sr=22050, duration=3.0)', () => {
  it('returns the 22.05 kHz recording unchanged, sample for sample', async () => {
    const loaded = await loadAudio(goldenWavPath('speech_e_22k'));
    const golden = readGoldenF32('speech_e_22k.audio_loaded');
    expect(loaded.length).toBe(golden.length);
    expect(absDiff(loaded, golden).max).toBeLessThanOrEqual(1e-7);
  });

  it.each(RESAMPLED_WAVS)('resamples %s to the golden soxr_hq clip', async (name) => {
    const loaded = await loadAudio(goldenWavPath(name));
    const golden = readGoldenF32(`${name}.audio_loaded`);
    expect(loaded.length).toBe(golden.length);
    const { max, mean } = absDiff(loaded, golden);
    console.info(`${name}: max |Δ| ${max.toExponential(2)}, mean |Δ| ${mean.toExponential(2)}`);
    expect(max).toBeLessThanOrEqual(RESAMPLED_MAX_ABS_DIFF);
    expect(mean).toBeLessThanOrEqual(RESAMPLED_MEAN_ABS_DIFF);
  });

  it('keeps digital silence exactly silent', async () => {
    const loaded = await loadAudio(goldenWavPath('silence_2s_16k'));
    expect(loaded.length).toBe(44_100);
    expect(loaded.every((sample) => sample === 0)).toBe(true);
  });

  it('reads only int(3.0 * native rate) frames of a longer file', async () => {
    const whole = await readAudioFile(goldenWavPath('speech_d_44k'));
    expect(whole.samples.length).toBe(198_186);
    const loaded = await loadAudio(goldenWavPath('speech_d_44k'));
    expect(loaded.length).toBe(66_150);
  });

  it('honours durationSeconds and sampleRate', async () => {
    const path = goldenWavPath('speech_d_44k');
    const wholeFile = await loadAudio(path, { durationSeconds: Infinity });
    expect(wholeFile.length).toBe(99_093);
    const first3s = await loadAudio(path);
    // Past the first 3 s boundary's kernel reach the two must agree exactly in the interior.
    expect(absDiff(wholeFile.subarray(0, 60_000), first3s.subarray(0, 60_000)).max).toBe(0);
    const at16k = await loadAudio(path, { sampleRate: 16_000, durationSeconds: 1.5 });
    expect(at16k.length).toBe(24_000);
  });

  it('loads bytes in memory the same as the file', async () => {
    const path = goldenWavPath('speech_a_16k');
    const fromBytes = await loadAudioBytes(await readFile(path), 'speech_a_16k.wav');
    expect(absDiff(fromBytes, await loadAudio(path)).max).toBe(0);
  });
});
