import { copyFile, cp, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_RATE } from '../../src/dsp/constants.js';
import { EMOTIONS } from '../../src/labels.js';
import { encodeWav } from '../audio/helpers/wav-writer.js';
import { loudPinkNoise, pluckedChords } from '../helpers/non-speech.js';
import { goldenWavPath } from '../helpers/golden.js';
import { REPO_ROOT, messageLines, runSerAgent } from '../helpers/cli.js';
import { saveRandomSeedModel, scratchDir, useWasm } from '../model/seed-model-fixture.js';

let work: { dir: string; cleanup: () => Promise<void> };
let modelDir: string;
let cacheEnv: Record<string, string>;

beforeAll(async () => {
  work = await scratchDir();
  modelDir = path.join(work.dir, 'model');
  await useWasm();
  await saveRandomSeedModel(modelDir);
  cacheEnv = { SER_CACHE_DIR: path.join(work.dir, 'cache') };
});

afterAll(async () => {
  await work.cleanup();
});

describe('ser-agent (the executable)', () => {
  it('prints the commands for help and no arguments, and exits 2 on an unknown command', async () => {
    const help = await runSerAgent([]);
    expect(help.code).toBe(0);
    for (const command of ['classify', 'features', 'train', 'evaluate', 'quantize']) {
      expect(help.stdout).toContain(command);
    }
    const unknown = await runSerAgent(['clasify']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "clasify"');
    const badFlag = await runSerAgent(['classify', '--nope', 'x.wav']);
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr).toMatch(/--nope/);
  });

  it('classifies good files as JSON lines and reports each bad one on its own line', async () => {
    const bad = path.join(work.dir, 'bad');
    await mkdir(bad);
    const good = goldenWavPath('speech_e_22k');
    const wav = await readFile(good);
    const files = {
      missing: path.join(bad, 'missing.wav'),
      directory: path.join(bad, 'a-directory.wav'),
      text: path.join(bad, 'notes.wav'),
      empty: path.join(bad, 'empty.wav'),
      truncated: path.join(bad, 'truncated.wav'),
      adpcm: path.join(bad, 'adpcm.wav'),
    };
    await mkdir(files.directory);
    await writeFile(files.text, 'this is not audio\n');
    await writeFile(files.empty, '');
    await writeFile(files.truncated, wav.subarray(0, 30));
    const adpcm = Buffer.from(wav);
    adpcm.writeUInt16LE(2, 20); // WAVE format tag 2: Microsoft ADPCM
    await writeFile(files.adpcm, adpcm);

    const result = await runSerAgent(
      ['classify', '--json', '--model', modelDir, files.missing, good, ...Object.values(files).slice(1), good],
      cacheEnv,
    );
    expect(result.code).toBe(1);
    const predictions = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(predictions).toHaveLength(2);
    for (const prediction of predictions) {
      expect(prediction['file']).toBe(good);
      expect(EMOTIONS).toContain(prediction['emotion']);
      const probabilities = prediction['probabilities'] as Record<string, number>;
      expect(Object.keys(probabilities)).toEqual([...EMOTIONS]);
      const total = Object.values(probabilities).reduce((a, b) => a + b, 0);
      expect(total).toBeCloseTo(1, 5);
      expect(prediction['confidence']).toBe(Math.max(...Object.values(probabilities)));
    }
    const errors = messageLines(result.stderr);
    expect(errors).toHaveLength(6);
    for (const file of Object.values(files)) {
      expect(errors.filter((line) => line.includes(file))).toHaveLength(1);
    }
    expect(errors.find((line) => line.includes(files.adpcm))).toMatch(/ADPCM|format tag 2/);
  });

  it('prints a table without --json', async () => {
    const result = await runSerAgent(['classify', '--model', modelDir, goldenWavPath('speech_a_16k')], cacheEnv);
    expect(result.code).toBe(0);
    const [header, row] = result.stdout.trim().split('\n');
    expect(header).toMatch(/^file\s+emotion\s+confidence\s+speech$/);
    expect(row).toMatch(new RegExp(`speech_a_16k\\.wav\\s+(${EMOTIONS.join('|')})\\s+[01]\\.\\d\\d\\s+[01]\\.\\d\\d$`));
  });

  it('says a file of loud noise and music has no speech instead of giving it an emotion, in the table and in JSON', async () => {
    const music = path.join(work.dir, 'radio.wav');
    const noise = loudPinkNoise(3, SAMPLE_RATE, -12);
    const chords = pluckedChords(3, SAMPLE_RATE, -14);
    await writeFile(music, encodeWav([noise.map((value, i) => value + (chords[i] as number))], SAMPLE_RATE, { kind: 'pcm', bits: 16 }));
    const speech = goldenWavPath('speech_b_44k');

    const table = await runSerAgent(['classify', '--model', modelDir, music, speech], cacheEnv);
    expect(table.code).toBe(0);
    const [, musicRow, speechRow] = table.stdout.trim().split('\n');
    expect(musicRow).toMatch(/radio\.wav\s+no speech\s+-\s+0\.\d\d$/);
    expect(speechRow).toMatch(new RegExp(`speech_b_44k\\.wav\\s+(${EMOTIONS.join('|')})\\s+[01]\\.\\d\\d\\s+[01]\\.\\d\\d$`));

    const json = await runSerAgent(['classify', '--json', '--model', modelDir, music, speech], cacheEnv);
    expect(json.code).toBe(0);
    const [musicLine, speechLine] = json.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(musicLine).toEqual({ file: music, emotion: null, speechRatio: expect.any(Number) as unknown });
    expect(musicLine?.['speechRatio']).toBeLessThan(0.3);
    expect(EMOTIONS).toContain(speechLine?.['emotion']);
    expect(speechLine?.['speechRatio']).toBeGreaterThanOrEqual(0.3);

    // With the gate off the music gets an emotion again, and no ratio.
    const ungated = await runSerAgent(['classify', '--json', '--model', modelDir, music], { ...cacheEnv, SER_WINDOW_MIN_SPEECH_RATIO: '0' });
    const line = JSON.parse(ungated.stdout.trim()) as Record<string, unknown>;
    expect(EMOTIONS).toContain(line['emotion']);
    expect(line['speechRatio']).toBeNull();
  });

  it('refuses to start without its speech model, naming the file and the fix', async () => {
    const missing = path.join(work.dir, 'no-vad.onnx');
    const result = await runSerAgent(['classify', '--model', modelDir, goldenWavPath('speech_a_16k')], { ...cacheEnv, SER_WINDOW_SPEECH_MODEL: missing });
    expect(result.code).toBe(78);
    expect(messageLines(result.stderr).join('\n')).toMatch(new RegExp(`speech model ${missing} cannot be read .*window\\.minSpeechRatio to 0`));
  });

  it('refuses a model directory that fails verification, naming it', async () => {
    const result = await runSerAgent(['classify', '--model', path.join(work.dir, 'no-model'), goldenWavPath('speech_e_22k')]);
    // A model that cannot be loaded is a configuration problem: 78 (EX_CONFIG).
    expect(result.code).toBe(78);
    expect(messageLines(result.stderr).join('\n')).toContain(path.join(work.dir, 'no-model'));
  });

  it('refuses at start-up to run a model whose weights fail their checksum, with exit 78 (no systemd restart)', async () => {
    const tampered = path.join(work.dir, 'tampered-model');
    await cp(path.join(REPO_ROOT, 'models', 'ser-cnn-lstm'), tampered, { recursive: true });
    const shard = path.join(tampered, 'group1-shard1of1.bin');
    const bytes = await readFile(shard);
    bytes[1000] = (bytes[1000] as number) ^ 0x01;
    await writeFile(shard, bytes);
    const result = await runSerAgent(['run', '--model', tampered], { ...cacheEnv, SER_MQTT_URL: 'mqtt://127.0.0.1:1' });
    expect(result.code).toBe(78);
    const messages = messageLines(result.stderr).join('\n');
    expect(messages).toContain(tampered);
    expect(messages).toMatch(/sha256/);
  });

  it('prints the effective configuration with the password redacted, and exits 78 on a bad one', async () => {
    const shown = await runSerAgent(['config'], { SER_MQTT_PASSWORD: 'hunter2', SER_DEVICE_ID: 'box-9' });
    expect(shown.code).toBe(0);
    const config = JSON.parse(shown.stdout) as { deviceId: string; mqtt: { password: string } };
    expect(config.deviceId).toBe('box-9');
    expect(config.mqtt.password).toBe('[redacted]');
    expect(shown.stdout + shown.stderr).not.toContain('hunter2');
    const bad = await runSerAgent(['config'], { SER_WINDOW_HOP_SECONDS: 'soon', SER_DEVICE_ID: 'a/b' });
    expect(bad.code).toBe(78);
    expect(bad.stderr).toMatch(/window\.hopSeconds/);
    expect(bad.stderr).toMatch(/deviceId/);
  });

  it('prints the (130, 168) features as JSON', async () => {
    const result = await runSerAgent(['features', '--json', goldenWavPath('speech_e_22k')]);
    expect(result.code).toBe(0);
    const parsed = JSON.parse(result.stdout) as { shape: number[]; features: number[][] };
    expect(parsed.shape).toEqual([130, 168]);
    expect(parsed.features).toHaveLength(130);
    expect(parsed.features.every((row) => row.length === 168)).toBe(true);
  });

  it('evaluates a folder dataset and counts files it cannot label', async () => {
    const data = await mkdtemp(path.join(os.tmpdir(), 'ser-eval-'));
    await mkdir(path.join(data, 'happy'));
    await mkdir(path.join(data, 'sad'));
    await mkdir(path.join(data, 'misc'));
    await copyFile(goldenWavPath('speech_a_16k'), path.join(data, 'happy', 'a.wav'));
    await copyFile(goldenWavPath('speech_b_44k'), path.join(data, 'sad', 'b.wav'));
    await copyFile(goldenWavPath('speech_c_16k'), path.join(data, 'misc', 'c.wav'));
    const result = await runSerAgent(['evaluate', '--json', '--model', modelDir, '--data', data], cacheEnv);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as {
      count: number;
      accuracy: number;
      confusion: number[][];
      unlabelled: { count: number; files: Array<{ path: string }> };
    };
    expect(report.count).toBe(2);
    expect(report.confusion.flat().reduce((a, b) => a + b, 0)).toBe(2);
    expect(report.unlabelled.count).toBe(1);
    expect(report.unlabelled.files[0]?.path).toBe(path.join(data, 'misc', 'c.wav'));
    expect(messageLines(result.stderr).join('\n')).toMatch(/1 file\(s\) have no derivable label/);
  });
});
