import { describe, expect, it } from 'vitest';
import { StopList } from '../../src/system/stop-list.js';
import { captureLogs } from '../helpers/logs.js';

describe('StopList', () => {
  it('stops the parts newest first, each once, however often it is asked', async () => {
    const { logger, lines } = captureLogs();
    const stops = new StopList(logger);
    const stopped: string[] = [];
    for (const name of ['queue', 'model', 'mqtt']) stops.add(name, () => void stopped.push(name));
    expect(stops.stopping).toBe(false);

    const first = stops.stop();
    expect(stops.stopping).toBe(true);
    expect(stops.stop()).toBe(first);
    await expect(first).resolves.toEqual({ failed: [] });
    await stops.stop();

    expect(stopped).toEqual(['mqtt', 'model', 'queue']);
    expect(lines.filter((line) => line['msg'] === 'stopped')).toHaveLength(1);
  });

  it('stops the rest when a part throws or rejects, and names each that failed', async () => {
    const { logger, lines } = captureLogs();
    const stops = new StopList(logger);
    const stopped: string[] = [];
    stops.add('queue', () => void stopped.push('queue'));
    stops.add('capture', () => {
      throw new Error('recorder ignored SIGKILL');
    });
    stops.add('mqtt', () => Promise.reject(new Error('broker closed the socket')));
    stops.add('indicators', () => void stopped.push('indicators'));

    await expect(stops.stop()).resolves.toEqual({ failed: ['mqtt', 'capture'] });
    expect(stopped).toEqual(['indicators', 'queue']);
    const failures = lines.filter((line) => line['msg'] === 'could not stop cleanly');
    expect(failures.map((line) => [line['part'], (line['err'] as { message: string }).message])).toEqual([
      ['mqtt', 'broker closed the socket'],
      ['capture', 'recorder ignored SIGKILL'],
    ]);
    expect(lines.at(-1)).toMatchObject({ msg: 'stopped, but not cleanly', failed: ['mqtt', 'capture'] });
  });

  it('waits for each part before the next, and stops next a part added while it stops', async () => {
    const stops = new StopList(captureLogs().logger);
    const events: string[] = [];
    let release: () => void = () => undefined;
    stops.add('queue', () => void events.push('queue stopped'));
    stops.add('publisher', () => {
      events.push('publisher stopping');
      return new Promise<void>((resolve) => {
        release = () => {
          events.push('publisher stopped');
          resolve();
        };
      });
    });
    const stopping = stops.stop();
    // A start that was in progress adds its part after the stop began.
    stops.add('late', () => void events.push('late stopped'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(events).toEqual(['publisher stopping']);
    release();
    await stopping;
    expect(events).toEqual(['publisher stopping', 'publisher stopped', 'late stopped', 'queue stopped']);
  });
});
