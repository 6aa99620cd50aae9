import { describe, expect, it } from 'vitest';
import { ModelSlot, type ModelResource } from '../../src/pipeline/model-slot.js';
import { captureLogs } from '../helpers/logs.js';

/** A resource that records when it is freed. */
class Resource implements ModelResource {
  disposed = 0;

  constructor(
    readonly name: string,
    private readonly freed: string[],
  ) {}

  dispose(): void {
    this.disposed++;
    this.freed.push(this.name);
  }
}

function model(name: string, ...resources: ModelResource[]): { name: string; resources: ModelResource[] } {
  return { name, resources };
}

/** A promise and its resolve, for work that is still in flight. */
function pending(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => undefined;
  const promise = new Promise<void>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}

describe('ModelSlot', () => {
  it('runs each use on the model in place when it began, and frees a replaced one at once when nothing uses it', () => {
    const freed: string[] = [];
    const a = model('a', new Resource('a', freed));
    const b = model('b', new Resource('b', freed));
    const slot = new ModelSlot(a);
    expect(slot.use((m) => m.name)).toBe('a');
    slot.replace(b);
    expect(freed).toEqual(['a']);
    expect(slot.use((m) => m.name)).toBe('b');
    expect(slot.current).toBe(b);
  });

  it('lets a window in flight finish on the old model and frees it only afterwards', async () => {
    const freed: string[] = [];
    const a = model('a', new Resource('a', freed));
    const b = model('b', new Resource('b', freed));
    const slot = new ModelSlot(a);
    const inference = pending();
    const inFlight = slot.use(async (m) => {
      await inference.promise;
      return m.name;
    });
    slot.replace(b);
    // The next window takes the new model; the old one is kept for the window still running on it.
    expect(slot.use((m) => m.name)).toBe('b');
    expect(slot.inFlight).toBe(1);
    expect(freed).toEqual([]);
    inference.resolve();
    expect(await inFlight).toBe('a');
    expect(freed).toEqual(['a']);
    expect(slot.inFlight).toBe(0);
  });

  it('frees a model whose use threw, once replaced', () => {
    const freed: string[] = [];
    const slot = new ModelSlot(model('a', new Resource('a', freed)));
    expect(() =>
      slot.use(() => {
        throw new Error('inference failed');
      }),
    ).toThrow('inference failed');
    slot.replace(model('b'));
    expect(freed).toEqual(['a']);
  });

  it('keeps a resource the new model shares (the speech detector) and frees only the rest', () => {
    const freed: string[] = [];
    const detector = new Resource('detector', freed);
    const a = model('a', new Resource('classifier a', freed), detector);
    const b = model('b', new Resource('classifier b', freed), detector);
    const slot = new ModelSlot(a);
    slot.replace(b);
    expect(freed).toEqual(['classifier a']);
    void slot.close();
    expect(freed).toEqual(['classifier a', 'classifier b', 'detector']);
    expect(detector.disposed).toBe(1);
  });

  it('keeps a shared resource while an older model holding it is still in use', async () => {
    const freed: string[] = [];
    const detector = new Resource('detector', freed);
    const a = model('a', detector);
    const slot = new ModelSlot(a);
    const inference = pending();
    const inFlight = slot.use(() => inference.promise);
    slot.replace(model('b', detector));
    slot.replace(model('c'));
    // b is gone, but a still runs a window with the detector.
    expect(freed).toEqual([]);
    inference.resolve();
    await inFlight;
    expect(freed).toEqual(['detector']);
  });

  it('closes after the window in flight, frees everything once, and refuses uses afterwards', async () => {
    const freed: string[] = [];
    const slot = new ModelSlot(model('a', new Resource('a', freed)));
    const inference = pending();
    const inFlight = slot.use(() => inference.promise);
    let closed = false;
    const closing = slot.close().then(() => {
      closed = true;
    });
    await Promise.resolve();
    expect(closed).toBe(false);
    inference.resolve();
    await inFlight;
    await closing;
    expect(freed).toEqual(['a']);
    await slot.close();
    expect(freed).toEqual(['a']);
    expect(() => slot.use(() => 1)).toThrow(/closed/);
    expect(() => slot.replace(model('b'))).toThrow(/closed/);
  });

  it('logs a resource that cannot be freed and frees the others', () => {
    const logs = captureLogs();
    const freed: string[] = [];
    const broken: ModelResource = {
      dispose() {
        throw new Error('session already released');
      },
    };
    const slot = new ModelSlot(model('a', new Resource('a', freed)), { logger: logs.logger });
    slot.replace(model('b', broken, new Resource('b', freed)));
    slot.replace(model('c'));
    expect(freed).toEqual(['a', 'b']);
    expect(logs.lines.find((line) => line['msg'] === 'could not free a replaced model')).toMatchObject({ module: 'model-slot' });
  });
});
