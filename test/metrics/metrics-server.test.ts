import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { MetricsServer } from '../../src/metrics/metrics-server.js';
import { captureLogs } from '../helpers/logs.js';
import { freePort } from '../helpers/ports.js';

/** The endpoint on its own, on a real port, with renderings the test chooses. */
describe('MetricsServer', () => {
  it('answers 500 when the metrics cannot be rendered, logs why, and serves the next scrape', async () => {
    const { logger, lines } = captureLogs();
    let fail = true;
    const server = new MetricsServer({
      host: '127.0.0.1',
      port: await freePort(),
      logger,
      render: () => (fail ? Promise.reject(new Error('collector broke')) : Promise.resolve({ contentType: 'text/plain', body: 'up 1\n' })),
    });
    await server.start();
    const url = server.url ?? '';
    const failed = await fetch(url);
    expect(failed.status).toBe(500);
    expect(lines.find((line) => line['msg'] === 'could not render the metrics')?.['err']).toMatchObject({ message: 'collector broke' });
    fail = false;
    expect(await (await fetch(url)).text()).toBe('up 1\n');
    await server.stop();
  });

  it('stopped while it starts, leaves no server listening and its port free', async () => {
    const port = await freePort();
    const server = new MetricsServer({
      host: '127.0.0.1',
      port,
      logger: captureLogs().logger,
      render: () => Promise.resolve({ contentType: 'text/plain', body: '' }),
    });
    const starting = server.start();
    await server.stop();
    await starting;
    expect(server.url).toBeUndefined();
    const probe = createServer();
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject);
      probe.listen(port, '127.0.0.1', resolve);
    });
    await new Promise((resolve) => probe.close(resolve));
  });
});
