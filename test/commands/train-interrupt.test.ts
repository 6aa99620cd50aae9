import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.js';
import { DATASETS_DIR } from '../helpers/golden.js';
import { scratchDir } from '../model/seed-model-fixture.js';

describe('ser-agent train, stopped with SIGTERM', () => {
  it('saves the best epoch so far and exits, instead of lingering on its progress bar', async () => {
    const work = await scratchDir();
    try {
      const out = path.join(work.dir, 'run');
      const child = spawn(
        process.execPath,
        [
          path.join(REPO_ROOT, 'bin', 'ser-agent.js'),
          'train',
          '--data',
          path.join(DATASETS_DIR, 'ravdess'),
          '--limit-per-class',
          '6',
          '--epochs',
          '500',
          '--out',
          out,
          '--log-level',
          'warn',
        ],
        { cwd: REPO_ROOT, env: { ...process.env, SER_CACHE_DIR: path.join(work.dir, 'cache') } },
      );
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        // Mid-run: an epoch has ended, so there is a best epoch to save, and the next has begun.
        if (/epoch 1: loss/.test(stderr) && child.exitCode === null && !child.killed) child.kill('SIGTERM');
      });
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      expect(code, stderr).toBe(0);
      expect(stderr).toMatch(/trained \d+ epochs \(aborted\)/);
      const metadata = JSON.parse(await readFile(path.join(out, 'metadata.json'), 'utf8')) as { training: { stopReason: string } };
      expect(metadata.training.stopReason).toBe('aborted');
    } finally {
      await work.cleanup();
    }
  }, 240_000);
});
