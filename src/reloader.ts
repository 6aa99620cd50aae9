import { type AgentConfig } from './config/load.js';
import { planReload, type ConfigChange } from './config/reload-policy.js';
import { type DaemonModel } from './daemon.js';
import { describeError } from './errors.js';
import { type Logger } from './logging/logger.js';
import { type ReloadReport } from './mqtt/payloads.js';
import { freeUnshared } from './pipeline/model-slot.js';
import { type Clock } from './system/clock.js';

/** What a reload changes: the Daemon is one. */
export interface Reconfigurable<M extends DaemonModel> {
  /** The configuration running now. */
  readonly config: Readonly<AgentConfig>;
  /** Throws if the pipeline cannot run with this configuration's live settings. */
  checkConfig(config: Readonly<AgentConfig>): void;
  /** Puts the configuration and the model in place; cannot fail. */
  reconfigure(config: Readonly<AgentConfig>, model: M): void;
  recordReload(report: ReloadReport): void;
  /**
   * Runs `change` once no other change of the model runs (a settings change over MQTT that
   * builds the speech gate), and holds those off until it has ended.
   */
  exclusive<R>(change: () => Promise<R>): Promise<R>;
}

export interface ReloaderOptions<M extends DaemonModel> {
  logger: Logger;
  /** Reads the configuration again, from the sources it was read from at start; throws ConfigError when it does not validate. */
  readConfig(): Readonly<AgentConfig>;
  /** The model running now. */
  currentModel(): M;
  /**
   * Builds and tests the model `config` asks for (with the settings changed over MQTT in place
   * of the file's), reusing what `running` has when it asks for the same; returns `running`
   * itself when nothing changed. Throws when anything fails its
   * checks, having freed what it built.
   */
  openModel(config: Readonly<AgentConfig>, running: M): Promise<M>;
  /** The one clock (src/system/clock.ts); its wall time dates the report. */
  clock: Pick<Clock, 'now'>;
}

/**
 * Carries out reloads (SIGHUP, `systemctl reload`): reads the configuration file and the model
 * directory again and puts in place what can change while the agent runs, or refuses the
 * whole reload, changing nothing, when the configuration does not validate or the model fails
 * verification.
 *
 * One reload runs at a time. Reloads asked for while one runs are coalesced into one more
 * after it, since the files may have changed after it read them; reloads asked for before the
 * agent has started (attach) are held, and one runs as soon as it has.
 */
export class Reloader<M extends DaemonModel> {
  readonly #options: ReloaderOptions<M>;
  readonly #log: Logger;
  #target: Reconfigurable<M> | undefined;
  /** Asked for before attach. */
  #held = false;
  /** Asked for while one runs. */
  #again = false;
  #running: Promise<void> | undefined;
  #stopped = false;

  constructor(options: ReloaderOptions<M>) {
    this.#options = options;
    this.#log = options.logger.child({ module: 'reload' });
  }

  /** Asks for a reload; returns at once. Never throws. */
  request(): void {
    if (this.#stopped) {
      this.#log.info({}, 'reload asked for while stopping: ignored');
      return;
    }
    if (this.#target === undefined) {
      this.#held = true;
      this.#log.info({}, 'reload asked for before start-up finished: it runs once the agent is running');
      return;
    }
    if (this.#running !== undefined) {
      this.#again = true;
      this.#log.info({}, 'reload asked for while one runs: one more follows it');
      return;
    }
    this.#running = this.#loop();
  }

  /** Starts carrying out reloads on `target`, now running; one asked for before runs now. */
  attach(target: Reconfigurable<M>): void {
    this.#target = target;
    if (this.#held) {
      this.#held = false;
      this.request();
    }
  }

  /** Resolves once no reload runs or is due. */
  async idle(): Promise<void> {
    while (this.#running !== undefined) await this.#running;
  }

  /** No reload starts after this; resolves once the one running (if any) has ended. A model it was building is freed, not used. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#again = false;
    this.#held = false;
    await this.idle();
  }

  async #loop(): Promise<void> {
    // Never finishes synchronously, so #running is set before the finally clears it.
    await Promise.resolve();
    try {
      do {
        this.#again = false;
        const target = this.#target as Reconfigurable<M>;
        // From reading the settings the model is built with to putting it in place, so that a
        // speech gate changed over MQTT meanwhile is neither lost nor undone.
        await target.exclusive(() => this.#reloadOnce(target));
      } while (this.#again && !this.#stopped);
    } finally {
      this.#running = undefined;
    }
  }

  async #reloadOnce(target: Reconfigurable<M>): Promise<void> {
    this.#log.info({}, 'reloading the configuration and the model');
    let plan: ReturnType<typeof planReload>;
    try {
      plan = planReload(target.config, this.#options.readConfig());
      target.checkConfig(plan.config);
    } catch (error) {
      this.#refuse(target, `configuration: ${describeError(error)}`);
      return;
    }
    const running = this.#options.currentModel();
    let model: M;
    try {
      model = await this.#options.openModel(plan.config, running);
    } catch (error) {
      this.#refuse(target, `model: ${describeError(error)}`);
      return;
    }
    if (this.#stopped) {
      freeUnshared(model, running, this.#log);
      this.#log.info({}, 'the agent is stopping: reload abandoned');
      return;
    }
    target.reconfigure(plan.config, model);
    const modelChanged = model !== running;
    const report: ReloadReport = {
      ts: new Date(this.#options.clock.now()).toISOString(),
      outcome: 'ok',
      reason: null,
      modelChanged,
      applied: plan.applied.map((change) => change.key),
      needsRestart: plan.needsRestart.map((change) => change.key),
    };
    target.recordReload(report);
    if (plan.needsRestart.length > 0) {
      this.#log.warn(
        { needsRestart: plan.needsRestart.map(describeChange) },
        `changed in the configuration file but needs a restart: ${report.needsRestart.join(', ')}; ` +
          'the agent runs on with the values it started with until `systemctl restart ser-agent`',
      );
    }
    this.#log.info(
      { model: model.identity, modelChanged, applied: plan.applied.map(describeChange), needsRestart: report.needsRestart },
      'reloaded',
    );
  }

  #refuse(target: Reconfigurable<M>, reason: string): void {
    this.#log.error({ reason }, 'reload refused; still running on the previous configuration and model');
    target.recordReload({
      ts: new Date(this.#options.clock.now()).toISOString(),
      outcome: 'refused',
      reason,
      modelChanged: false,
      applied: [],
      needsRestart: [],
    });
  }
}

/** `key: from → to` for the log, without the values of sensitive keys. */
function describeChange(change: ConfigChange): string {
  if (!('to' in change)) return `${change.key} (changed)`;
  return `${change.key}: ${JSON.stringify(change.from)} → ${JSON.stringify(change.to)}`;
}
