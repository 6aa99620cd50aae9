import { RecorderSource } from '../capture/recorder-source.js';
import { ReplaySource } from '../capture/replay-source.js';
import { type AudioSource } from '../capture/audio-source.js';
import { Daemon } from '../daemon.js';
import { Indicators } from '../indicators/indicators.js';
import { selectLedDriver } from '../indicators/select-driver.js';
import { type Logger } from '../logging/logger.js';
import { redactBrokerUrl } from '../mqtt/broker-url.js';
import { DurableQueue } from '../mqtt/durable-queue.js';
import { createEventIdGenerator } from '../mqtt/event-id.js';
import { deviceModel } from '../mqtt/discovery.js';
import { MqttPublisher } from '../mqtt/publisher.js';
import { readTlsOptions } from '../mqtt/tls-options.js';
import { ModelSlot } from '../pipeline/model-slot.js';
import { Reloader } from '../reloader.js';
import { RuntimeSettings } from '../settings/runtime-settings.js';
import { createNotifier } from '../system/sd-notify.js';
import { StopList } from '../system/stop-list.js';
import { systemClock } from '../system/clock.js';
import { EXIT, type Command, type CommandContext } from './command.js';
import { openWindowModel, withSpeechGate, type WindowModel } from './open-window-model.js';
import { stringList } from './options.js';

export const runCommand: Command = {
  usage: 'ser-agent run [--config FILE] [--input FILE...]',
  options: { input: { type: 'string', multiple: true } },
  logsToStdout: true,
  reloadsOnHangup: true,
  async run(values, positionals, context) {
    // `--input a.wav b.flac` reads naturally; the files after the first are positionals.
    const inputs = [...stringList(values, 'input'), ...(values['input'] === undefined ? [] : positionals)];
    const { config, logger, shutdown } = context;
    // The daemon's configuration once it runs: a reload may change its shutdown deadline.
    let running = (): Readonly<typeof config> => config;
    shutdown?.setDeadline(() => running().shutdownSeconds * 1000);
    // Everything that runs, in the order it starts; stopped newest first (see StopList).
    const stops = new StopList(logger.child({ module: 'lifecycle' }));
    // First, so that a SIGHUP while the model loads is held for after start-up, not lost.
    let models: ModelSlot<WindowModel> | undefined;
    let settings: RuntimeSettings | undefined;
    const reloader = new Reloader<WindowModel>({
      logger,
      readConfig: context.readConfig ?? (() => config),
      currentModel: () => (models as ModelSlot<WindowModel>).current,
      // The file read again, with the settings changed over MQTT in force over its values:
      // a reload must not undo the operator's window.minSpeechRatio.
      openModel: (next, current) => openWindowModel((settings as RuntimeSettings).applyTo(next), logger, current),
      clock: systemClock,
    });
    const stopListening = context.hangups?.listen(() => reloader.request());
    try {
      // Before the model loads: a bad certificate or key file is a configuration error (exit 78).
      const tls = readTlsOptions(config.mqtt.tls, config.mqtt.url, logger);
      // Also before the model: an unusable state directory is a configuration error.
      const queue = DurableQueue.open({
        directory: config.state.directory,
        limits: { count: config.mqtt.queueLimit, bytes: config.mqtt.queueBytes },
        logger,
      });
      stops.add('event queue', () => queue.close());
      // Settings changed over MQTT in earlier runs, beside the queue; a damaged file is only logged.
      const runtimeSettings = RuntimeSettings.open({ config, directory: config.state.directory, logger });
      settings = runtimeSettings;
      // The emotion model and the speech gate (as a window.minSpeechRatio persisted from an
      // earlier run asks, over the file's), replaced as one by a reload; the slot frees
      // whichever runs last once its window in flight is done.
      const slot = new ModelSlot(await openWindowModel(runtimeSettings.applyTo(config), logger), { logger });
      models = slot;
      stops.add('model', () => slot.close());

      let brokerUrl = config.mqtt.url;
      if (brokerUrl === '') {
        // Loaded only here: a box that talks to a real broker never carries Aedes.
        const { EmbeddedBroker } = await import('../mqtt/embedded-broker.js');
        const broker = new EmbeddedBroker({ logger });
        stops.add('embedded broker', () => broker.stop());
        // The broker logs that it started and how to watch it.
        brokerUrl = await broker.start();
      }

      const gpioLogger = logger.child({ module: 'gpio' });
      // prom-client is loaded only when metrics are asked for: memory on a Pi is the budget.
      const metrics =
        config.metrics.port === 0
          ? undefined
          : new (await import('../metrics/agent-metrics.js')).AgentMetrics({ ...config.metrics, logger });
      const driver = await selectLedDriver({ driver: config.gpio.driver, chipBase: config.gpio.chipBase, logger: gpioLogger });
      const daemon = new Daemon({
        config,
        settings: runtimeSettings,
        logger,
        source: createSource(inputs, context, logger),
        models: slot,
        withSpeechGate: (window) => withSpeechGate(slot.current, window, logger),
        publisher: new MqttPublisher({
          url: brokerUrl,
          deviceId: config.deviceId,
          topicPrefix: config.mqtt.topicPrefix,
          ...(config.mqtt.username ? { username: config.mqtt.username } : {}),
          ...(config.mqtt.password ? { password: config.mqtt.password } : {}),
          ...(tls === undefined ? {} : { tls }),
          protocolVersion: config.mqtt.protocolVersion,
          discovery: config.mqtt.discovery,
          device: { ...deviceModel(slot.current.identity), swVersion: context.version },
          queue,
          logger,
        }),
        brokerUrl: redactBrokerUrl(brokerUrl),
        indicators: new Indicators({ config: config.gpio, driver, logger: gpioLogger }),
        notifier: createNotifier(context.env, logger, context.pid),
        clock: systemClock,
        nextEventId: createEventIdGenerator(),
        processProbe: {
          rssBytes: () => process.memoryUsage.rss(),
          cpuMicros: () => {
            const usage = process.cpuUsage();
            return usage.user + usage.system;
          },
          liveTensors: () => slot.current.classifier.instance.liveTensors(),
        },
        ...(metrics === undefined ? {} : { metrics }),
        stops,
      });
      await daemon.start();
      running = () => daemon.config;
      // Before attach, which may start a reload held since start-up: a reload in progress ends
      // (its new model freed) before the daemon's parts stop. Until then requests are only held.
      stops.add('reloader', async () => {
        stopListening?.();
        await reloader.stop();
      });
      reloader.attach(daemon);

      // Runs until a signal or fatal error, or until a replay of --input files has been fully processed
      // and the broker has its events (or shutdownSeconds have passed).
      await Promise.race([aborted(context.signal), daemon.finished]);
    } catch (error) {
      shutdown?.close();
      stopListening?.();
      await stops.stop();
      throw error;
    }
    shutdown?.close();
    const { failed } = await stops.stop();
    return failed.length === 0 ? EXIT.ok : EXIT.failure;
  },
};

function createSource(inputs: readonly string[], context: CommandContext, logger: Logger): AudioSource {
  const { audio } = context.config;
  if (inputs.length > 0) return new ReplaySource({ logger, files: inputs, realtime: true, chunkSeconds: audio.periodSeconds });
  return new RecorderSource({
    logger,
    recorder: audio.recorder,
    device: audio.device,
    stallSeconds: audio.stallSeconds,
    periodSeconds: audio.periodSeconds,
    env: context.env,
  });
}

function aborted(signal: AbortSignal): Promise<void> {
  return signal.aborted
    ? Promise.resolve()
    : new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}
