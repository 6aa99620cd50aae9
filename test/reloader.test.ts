import { describe, expect, it } from 'vitest';
import { type AgentConfig } from '../src/config/load.js';
import { type DaemonModel } from '../src/daemon.js';
import { ConfigError, ModelError } from '../src/errors.js';
import { type ReloadReport } from '../src/mqtt/payloads.js';
import { type ModelResource } from '../src/pipeline/model-slot.js';
import { Reloader, type Reconfigurable } from '../src/reloader.js';
import { captureLogs } from './helpers/logs.js';
import { testConfig } from './helpers/config.js';

const NOW = Date.UTC(2026, 5, 1, 12, 0, 0);


class Freed implements ModelResource {
  disposed = false;
  dispose(): void {
    this.disposed = true;
  }
}

function model(name: string, ...resources: ModelResource[]): DaemonModel {
  return {
    windowClassifier: { classify: () => ({ outcome: 'non_speech', speechRatio: 0 }) },
    identity: { name, version: '1.0.0', sha256: 'ab'.repeat(32) },
    resources,
  };
}

/** The daemon's side of a reload, recording what it was given. */
class FakeDaemon implements Reconfigurable<DaemonModel> {
  reports: ReloadReport[] = [];
  applied: Array<{ config: Readonly<AgentConfig>; model: DaemonModel; exclusive: boolean }> = [];
  refuseHop: number | undefined;
  /** Inside exclusive(): what the daemon's settings changes wait for. */
  inExclusive = false;

  constructor(
    public config: Readonly<AgentConfig>,
    public model: DaemonModel,
  ) {}

  checkConfig(next: Readonly<AgentConfig>): void {
    if (next.window.hopSeconds === this.refuseHop) throw new RangeError(`window hop ${this.refuseHop} s is not usable`);
  }

  reconfigure(next: Readonly<AgentConfig>, model: DaemonModel): void {
    this.config = next;
    this.model = model;
    this.applied.push({ config: next, model, exclusive: this.inExclusive });
  }

  async exclusive<R>(change: () => Promise<R>): Promise<R> {
    if (this.inExclusive) throw new Error('FakeDaemon: exclusive() entered twice');
    this.inExclusive = true;
    try {
      return await change();
    } finally {
      this.inExclusive = false;
    }
  }

  recordReload(report: ReloadReport): void {
    this.reports.push(report);
  }
}

/** A model load the test finishes when it wants, as a slow ONNX session creation would. */
interface PendingLoad {
  config: Readonly<AgentConfig>;
  /** Whether the load began inside the daemon's exclusive section. */
  exclusive: boolean;
  finish(model: DaemonModel): void;
  fail(error: Error): void;
}

function harness(options: { files?: Array<Readonly<AgentConfig> | Error> } = {}) {
  const logs = captureLogs();
  const daemon = new FakeDaemon(testConfig(), model('shipped'));
  const files = options.files ?? [];
  const loads: PendingLoad[] = [];
  let reads = 0;
  const reloader = new Reloader<DaemonModel>({
    logger: logs.logger,
    readConfig: () => {
      const file = files[Math.min(reads++, files.length - 1)] ?? daemon.config;
      if (file instanceof Error) throw file;
      return file;
    },
    currentModel: () => daemon.model,
    openModel: (next) =>
      new Promise<DaemonModel>((resolve, reject) =>
        loads.push({ config: next, exclusive: daemon.inExclusive, finish: resolve, fail: reject }),
      ),
    clock: { now: () => NOW },
  });
  const logged = (msg: string) => logs.lines.filter((line) => line['msg'] === msg);
  return { reloader, daemon, loads, logs, logged, reads: () => reads };
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe('Reloader', () => {
  it('applies a new configuration and model together and reports what changed', async () => {
    const h = harness({ files: [testConfig({ window: { minConfidence: 0.5 }, audio: { device: 'hw:2' } })] });
    h.reloader.attach(h.daemon);
    h.reloader.request();
    await settle();
    const site = model('site');
    h.loads[0]?.finish(site);
    await h.reloader.idle();

    expect(h.daemon.model).toBe(site);
    expect(h.daemon.config.window.minConfidence).toBe(0.5);
    // Restart-only keys keep their running value.
    expect(h.daemon.config.audio.device).toBe('default');
    expect(h.daemon.reports).toEqual([
      {
        ts: new Date(NOW).toISOString(),
        outcome: 'ok',
        reason: null,
        modelChanged: true,
        applied: ['window.minConfidence'],
        needsRestart: ['audio.device'],
      },
    ]);
    expect(h.logged('reloaded')[0]).toMatchObject({ module: 'reload', modelChanged: true, model: site.identity });
    expect(String(h.logs.lines.find((line) => line['level'] === 40)?.['msg'])).toMatch(
      /^changed in the configuration file but needs a restart: audio\.device; /,
    );
  });

  it('builds and puts the model in place inside the daemon\'s exclusive section, so a settings change cannot come between', async () => {
    const h = harness();
    h.reloader.attach(h.daemon);
    h.reloader.request();
    await settle();
    expect(h.loads.map((load) => load.exclusive)).toEqual([true]);
    h.loads[0]?.finish(model('site'));
    await h.reloader.idle();
    expect(h.daemon.applied.map((applied) => applied.exclusive)).toEqual([true]);
    expect(h.daemon.inExclusive).toBe(false);
  });

  it('refuses a configuration that does not validate before it loads any model, changing nothing', async () => {
    const h = harness({ files: [new ConfigError('invalid configuration:\n  window.minConfidence: must be a number from 0 to 1')] });
    const running = h.daemon.config;
    h.reloader.attach(h.daemon);
    h.reloader.request();
    await h.reloader.idle();
    expect(h.loads).toEqual([]);
    expect(h.daemon.applied).toEqual([]);
    expect(h.daemon.config).toBe(running);
    expect(h.daemon.reports).toEqual([
      expect.objectContaining({
        outcome: 'refused',
        reason: 'configuration: invalid configuration:\n  window.minConfidence: must be a number from 0 to 1',
        modelChanged: false,
      }),
    ]);
    expect(h.logged('reload refused; still running on the previous configuration and model')[0]).toMatchObject({ level: 50 });
  });

  it('refuses settings the pipeline cannot run with, as the daemon checks them', async () => {
    const h = harness({ files: [testConfig({ window: { hopSeconds: 0.00001 } })] });
    h.daemon.refuseHop = 0.00001;
    h.reloader.attach(h.daemon);
    h.reloader.request();
    await h.reloader.idle();
    expect(h.daemon.reports[0]).toMatchObject({ outcome: 'refused', reason: 'configuration: window hop 0.00001 s is not usable' });
    expect(h.loads).toEqual([]);
  });

  it('refuses a model that fails its checks, and keeps the configuration too: all or nothing', async () => {
    const h = harness({ files: [testConfig({ window: { minConfidence: 0.5 } })] });
    h.reloader.attach(h.daemon);
    h.reloader.request();
    await settle();
    h.loads[0]?.fail(new ModelError('/opt/model/model.int8.onnx has sha256 00…, ab… was recorded: modified or corrupted'));
    await h.reloader.idle();
    expect(h.daemon.applied).toEqual([]);
    expect(h.daemon.config.window.minConfidence).toBe(0);
    expect(h.daemon.model.identity.name).toBe('shipped');
    expect(h.daemon.reports[0]).toMatchObject({
      outcome: 'refused',
      reason: 'model: /opt/model/model.int8.onnx has sha256 00…, ab… was recorded: modified or corrupted',
    });
  });

  it('reports an unchanged model as such', async () => {
    const h = harness();
    h.reloader.attach(h.daemon);
    h.reloader.request();
    await settle();
    h.loads[0]?.finish(h.daemon.model);
    await h.reloader.idle();
    expect(h.daemon.reports[0]).toMatchObject({ outcome: 'ok', modelChanged: false, applied: [], needsRestart: [] });
  });

  it('coalesces reloads asked for while one runs into one more after it', async () => {
    const h = harness();
    h.reloader.attach(h.daemon);
    h.reloader.request();
    await settle();
    h.reloader.request();
    h.reloader.request();
    h.reloader.request();
    expect(h.loads).toHaveLength(1);
    h.loads[0]?.finish(model('first'));
    await settle();
    // The follow-up reads the files again: they may have changed after the first read them.
    expect(h.loads).toHaveLength(2);
    expect(h.reads()).toBe(2);
    h.loads[1]?.finish(model('second'));
    await h.reloader.idle();
    expect(h.loads).toHaveLength(2);
    expect(h.daemon.applied.map((applied) => applied.model.identity.name)).toEqual(['first', 'second']);
    expect(h.logged('reload asked for while one runs: one more follows it')).toHaveLength(3);
  });

  it('holds a reload asked for before start-up finished and runs it once attached', async () => {
    const h = harness();
    h.reloader.request();
    h.reloader.request();
    await settle();
    expect(h.loads).toEqual([]);
    expect(h.logged('reload asked for before start-up finished: it runs once the agent is running')).toHaveLength(2);
    h.reloader.attach(h.daemon);
    await settle();
    expect(h.loads).toHaveLength(1);
    h.loads[0]?.finish(model('site'));
    await h.reloader.idle();
    expect(h.daemon.reports).toHaveLength(1);
  });

  it('frees a model it was building when the agent stops meanwhile, without the parts the running one shares', async () => {
    const h = harness();
    const detector = new Freed();
    h.daemon.model = model('shipped', new Freed(), detector);
    h.reloader.attach(h.daemon);
    h.reloader.request();
    await settle();
    const stopped = h.reloader.stop();
    const classifier = new Freed();
    h.loads[0]?.finish(model('site', classifier, detector));
    await stopped;
    expect(classifier.disposed).toBe(true);
    expect(detector.disposed).toBe(false);
    expect(h.daemon.applied).toEqual([]);
    expect(h.daemon.reports).toEqual([]);
    h.reloader.request();
    await settle();
    expect(h.loads).toHaveLength(1);
  });
});
