import { Socket } from 'node:net';
import { connect, type IClientOptions, type IClientPublishOptions, type MqttClient } from 'mqtt';
import type { Logger } from '../logging/logger.js';
import { DEFAULT_BACKOFF, reconnectDelay, validateBackoff, type Backoff } from '../system/backoff.js';
import { redactBrokerUrl, validateBrokerUrl } from './broker-url.js';
import { diagnoseConnectionError, isPublishRefusal } from './connection-errors.js';
import { deviceModel, discoveryMessages, type DiscoveryDevice } from './discovery.js';
import { memoryEventQueue, type EventQueue, type QueueEntry, type QueuedEvent } from './outbound-queue.js';
import type { TlsConnectOptions } from './tls-options.js';
import type { BrokerState, EmotionEvent, HealthReport, ModelIdentity } from './payloads.js';
import type { RuntimeSettingValues, SetResult } from '../settings/runtime-settings.js';
import { systemClock, type Clock } from '../system/clock.js';
import {
  DEFAULT_DISCOVERY_PREFIX,
  DEFAULT_TOPIC_PREFIX,
  deviceTopics,
  discoveryTopics,
  validateDeviceId,
  validateTopicPrefix,
  type DeviceTopics,
} from './topics.js';

export const STATUS_ONLINE = 'online';
export const STATUS_OFFLINE = 'offline';

export interface MqttPublisherOptions {
  /** mqtt://, mqtts://, ws:// or wss://; may carry user:password, which is never logged. */
  url: string;
  /** Also the MQTT client id. */
  deviceId: string;
  /** Default `ser`. */
  topicPrefix?: string;
  username?: string;
  password?: string;
  /** For mqtts:// and wss:// URLs: CA, client certificate and key, already read (see tls-options.ts). */
  tls?: TlsConnectOptions;
  /** 4 (MQTT 3.1.1, the default) or 5. */
  protocolVersion?: 4 | 5;
  /** Home Assistant discovery; on with prefix `homeassistant` by default. */
  discovery?: { enabled: boolean; prefix?: string };
  /** How the device appears in Home Assistant. */
  device: Omit<DiscoveryDevice, 'deviceId'>;
  /**
   * Where events wait for the broker's acknowledgement; the agent passes a DurableQueue so they
   * survive restarts. Default: in memory, `queueLimit` events.
   */
  queue?: EventQueue;
  /** Without `queue`: events kept in memory while the broker is unreachable; the oldest is dropped beyond it. Default 1000. */
  queueLimit?: number;
  /** Wait between reconnect attempts, doubling from minMs to maxMs. Default 1 s to 60 s. */
  reconnect?: Backoff;
  /** Draws the reconnect jitter, in [0, 1); Math.random by default. */
  random?: () => number;
  /** Give up a connection attempt that gets no CONNACK after this long. Default 10 s. */
  connectTimeoutMs?: number;
  /** MQTT keepalive; a dead connection is noticed after 1.5 times this. Default 30 s. */
  keepaliveSeconds?: number;
  /** How long stop() waits for `offline` and pending events to be acknowledged. Default 2 s. */
  stopTimeoutMs?: number;
  logger: Logger;
  clock?: Pick<Clock, 'after'>;
  /** Makes each connection's client; MQTT.js `connect` by default. Tests wrap it to reach the socket. */
  connect?: (url: string, options: IClientOptions) => MqttClient;
}

export interface PublisherCounters {
  /** Events the broker acknowledged. */
  published: number;
  /** Events waiting for the broker's acknowledgement (unsent or in flight). */
  queued: number;
  /** The queued events' size as counted against the queue's byte limit. */
  queuedBytes: number;
  /** Events dropped from the full queue. */
  dropped: number;
}

/**
 * Queued events sent at once on a new connection. The backlog after an outage is paced by
 * PUBACKs, this many outstanding, so the socket never holds more than a few kB of it and
 * events made meanwhile go out at once, ahead of it.
 */
const BACKLOG_IN_FLIGHT = 10;

const EVENT_PUBLISH: IClientPublishOptions = { qos: 1, retain: false };
const RETAINED: IClientPublishOptions = { qos: 1, retain: true };
const RESULT_PUBLISH: IClientPublishOptions = { qos: 1, retain: false };

/**
 * Publishes events, status, health and Home Assistant discovery over one MQTT.js client.
 *
 * Reconnects are managed here rather than by MQTT.js, whose `reconnectPeriod` is a fixed
 * interval: each lost connection's client is discarded and a new one is made after a doubling
 * wait. Events are queued here, bounded, instead of in MQTT.js's unbounded offline store, and
 * stay queued until the broker acknowledges them, so a new connection re-sends in order those
 * that were in flight when the last one died.
 *
 * Order: the backlog (whatever was queued when a connection came up) drains oldest first,
 * BACKLOG_IN_FLIGHT at a time; an event made while connected is sent at once, so live events
 * are never held behind a long backlog and may arrive before older ones. Event ids are ULIDs
 * that sort by time, for subscribers that need strict order.
 */
export class MqttPublisher {
  readonly #url: string;
  readonly #logUrl: string;
  readonly #deviceId: string;
  readonly #topics: DeviceTopics;
  readonly #discovery: { prefix: string; statusTopic: string } | undefined;
  #device: DiscoveryDevice;
  readonly #options: MqttPublisherOptions;
  readonly #backoff: Backoff;
  readonly #clock: Pick<Clock, 'after'>;
  readonly #log: Logger;
  readonly #queue: EventQueue;

  #client: MqttClient | undefined;
  #state: BrokerState = 'disconnected';
  #running = false;
  #stopping: Promise<void> | undefined;
  #failures = 0;
  #lastError: Error | undefined;
  #cancelRetry: (() => void) | undefined;
  #published = 0;
  /** Whether a drop was logged during the current outage: one warning per outage, not one per event. */
  #dropLogged = false;
  /** queue.dropped when the last connection came up: the next one reports the difference. */
  #droppedBeforeOutage: number;
  /** Backlog events sent on the current connection and not yet acknowledged. */
  #backlogInFlight = 0;
  /** The last settings published: sent again on every connection, as a broker may have lost them. */
  #settingsPayload: string | undefined;
  #onSettingsCommand: ((payload: string) => void) | undefined;
  #onStateChange: ((state: BrokerState) => void) | undefined;
  /** Callers of delivered() still waiting: each settles with whether the queue emptied in time. */
  readonly #deliveryWaiters = new Set<(delivered: boolean) => void>();

  constructor(options: MqttPublisherOptions) {
    this.#options = options;
    this.#url = validateBrokerUrl(options.url).toString();
    this.#logUrl = redactBrokerUrl(options.url);
    this.#deviceId = validateDeviceId(options.deviceId);
    this.#topics = deviceTopics(validateTopicPrefix(options.topicPrefix ?? DEFAULT_TOPIC_PREFIX), this.#deviceId);
    const discovery = options.discovery ?? { enabled: true };
    if (discovery.enabled) {
      const prefix = validateTopicPrefix(discovery.prefix ?? DEFAULT_DISCOVERY_PREFIX, 'mqtt.discovery.prefix');
      this.#discovery = { prefix, statusTopic: discoveryTopics(prefix, this.#deviceId).homeAssistantStatus };
    }
    this.#device = { ...options.device, deviceId: this.#deviceId };
    this.#backoff = validateBackoff(options.reconnect ?? DEFAULT_BACKOFF);
    this.#clock = options.clock ?? systemClock;
    this.#log = options.logger.child({ module: 'mqtt' });
    this.#queue = options.queue ?? memoryEventQueue({ count: options.queueLimit ?? 1000, bytes: Number.POSITIVE_INFINITY });
    this.#droppedBeforeOutage = this.#queue.dropped;
  }

  get topics(): DeviceTopics {
    return this.#topics;
  }

  get state(): BrokerState {
    return this.#state;
  }

  get counters(): PublisherCounters {
    return {
      published: this.#published,
      queued: this.#queue.size,
      queuedBytes: this.#queue.bytes,
      dropped: this.#queue.dropped,
    };
  }

  /**
   * Starts connecting and returns: an unreachable broker is not a start-up failure, events are
   * queued until it answers. Read `state`, or hear of each change through `onStateChange`.
   */
  async start(): Promise<void> {
    if (this.#stopping !== undefined) await this.#stopping;
    if (this.#running) return;
    this.#running = true;
    this.#failures = 0;
    this.#connect();
  }

  /**
   * Publishes a retained `offline` (so the will is not needed), waits up to stopTimeoutMs for it
   * and for events in flight to be acknowledged, and disconnects. Events still queued stay in
   * the queue: a DurableQueue keeps them for the next start.
   */
  async stop(): Promise<void> {
    if (!this.#running) return this.#stopping;
    this.#running = false;
    this.#stopping = this.#shutdown().finally(() => {
      this.#stopping = undefined;
    });
    return this.#stopping;
  }

  /**
   * Queues the event (a DurableQueue has written it to disk when this returns) and sends it now
   * if connected. Never throws for broker trouble.
   */
  publishEvent(event: EmotionEvent): void {
    const { entry, dropped } = this.#queue.push({ id: event.id, payload: JSON.stringify(event) });
    const [oldest] = dropped;
    if (oldest !== undefined && !this.#dropLogged) {
      this.#dropLogged = true;
      this.#log.warn(
        { droppedId: oldest.item.id, queued: this.#queue.size, queuedBytes: this.#queue.bytes },
        'event queue full while the broker is unreachable: dropping the oldest events',
      );
    }
    if (this.#state === 'connected' && this.#client !== undefined) this.#sendEvent(this.#client, entry, false);
  }

  /**
   * Resolves true once the broker has acknowledged every queued event (at once if none wait),
   * false if some still wait after `timeoutMs` or when the publisher stops first.
   */
  delivered(timeoutMs: number): Promise<boolean> {
    if (this.#queue.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const settle = (delivered: boolean): void => {
        cancelTimeout();
        this.#deliveryWaiters.delete(settle);
        resolve(delivered);
      };
      const cancelTimeout = this.#clock.after(timeoutMs, () => settle(false));
      this.#deliveryWaiters.add(settle);
    });
  }

  #settleDeliveryWaiters(delivered: boolean): void {
    for (const settle of [...this.#deliveryWaiters]) settle(delivered);
  }

  /** Publishes the report retained. Skipped while disconnected: the next report replaces it anyway. */
  publishHealth(report: HealthReport): void {
    if (this.#state === 'connected' && this.#client !== undefined) {
      this.#send(this.#client, this.#topics.health, JSON.stringify(report), RETAINED);
    }
  }

  /**
   * Makes the publisher subscribe to `<prefix>/<deviceId>/set` on every connection and hand each
   * message there to `handler`. Retained messages are not handed over (see #onMessage).
   */
  onSettingsCommand(handler: (payload: string) => void): void {
    this.#onSettingsCommand = handler;
  }

  /** Hands every change of `state` to `listener` (one; a later call replaces it), e.g. to drive the status LED. */
  onStateChange(listener: (state: BrokerState) => void): void {
    this.#onStateChange = listener;
  }

  /** Publishes the effective runtime settings retained, now if connected and on every later connection. */
  publishSettings(settings: RuntimeSettingValues): void {
    this.#settingsPayload = JSON.stringify(settings);
    if (this.#state === 'connected' && this.#client !== undefined) {
      this.#send(this.#client, this.#topics.settings, this.#settingsPayload, RETAINED);
    }
  }

  /**
   * Shows `model` on the Home Assistant device (model and model_id) from now on: the discovery
   * configs are sent again at once when connected, else on connecting.
   */
  showModel(model: ModelIdentity): void {
    this.#device = { ...this.#device, ...deviceModel(model) };
    if (this.#state === 'connected' && this.#client !== undefined) this.#publishDiscovery(this.#client);
  }

  /** Answers a settings change; not retained, since it answers one message. Skipped while disconnected. */
  publishSetResult(result: SetResult): void {
    if (this.#state === 'connected' && this.#client !== undefined) {
      this.#send(this.#client, this.#topics.setResult, JSON.stringify(result), RESULT_PUBLISH);
    }
  }

  #connect(): void {
    const client = (this.#options.connect ?? connect)(this.#url, {
      ...this.#options.tls,
      protocolVersion: this.#options.protocolVersion ?? 4,
      clientId: this.#deviceId,
      username: this.#options.username,
      password: this.#options.password,
      clean: true,
      // 0 turns MQTT.js's fixed-interval reconnect off: #onClose schedules the next attempt.
      reconnectPeriod: 0,
      connectTimeout: this.#options.connectTimeoutMs ?? 10_000,
      keepalive: this.#options.keepaliveSeconds ?? 30,
      will: { topic: this.#topics.status, payload: Buffer.from(STATUS_OFFLINE), qos: 1, retain: true },
      // Otherwise mqtt-packet fills a cache of all 65,536 two-byte numbers (one Buffer each,
      // about 6 MB of heap) on the first packet, to save an allocation per packet id; a box
      // publishing one event per window has no use for it. The switch is module-wide, so the
      // embedded broker (Aedes writes through the same mqtt-packet) goes without it too.
      writeCache: false,
    });
    this.#client = client;
    this.#setState('connecting');
    client.on('connect', () => this.#onConnect(client));
    client.on('message', (topic, payload, packet) => this.#onMessage(client, topic, payload, packet.retain));
    client.on('error', (error) => {
      // MQTT.js emits the cause (ECONNREFUSED, bad credentials...) before 'close'; kept for its log line.
      this.#lastError = error;
    });
    client.on('close', () => this.#onClose(client));
  }

  #onConnect(client: MqttClient): void {
    if (client !== this.#client) return;
    // Events are small, one at a time: with Nagle's algorithm each waited for the previous
    // packet's (delayed) ACK, adding tens of ms from window to subscriber on a quiet link.
    if (client.stream instanceof Socket) client.stream.setNoDelay(true);
    this.#failures = 0;
    this.#lastError = undefined;
    this.#dropLogged = false;
    this.#backlogInFlight = 0;
    this.#setState('connected');
    this.#log.info(
      { url: this.#logUrl, clientId: this.#deviceId, queued: this.#queue.size },
      'connected to MQTT broker',
    );
    const droppedInOutage = this.#queue.dropped - this.#droppedBeforeOutage;
    this.#droppedBeforeOutage = this.#queue.dropped;
    if (droppedInOutage > 0) {
      this.#log.warn({ dropped: droppedInOutage, droppedTotal: this.#queue.dropped }, 'events dropped from the full queue during the outage');
    }
    this.#send(client, this.#topics.status, STATUS_ONLINE, RETAINED);
    if (this.#settingsPayload !== undefined) this.#send(client, this.#topics.settings, this.#settingsPayload, RETAINED);
    if (this.#onSettingsCommand !== undefined) {
      const topic = this.#topics.set;
      client.subscribe(topic, { qos: 1 }, (error, granted) => {
        // MQTT 5 and mosquitto answer a subscription the ACL forbids with code 128 or 135, not an error.
        const refused = granted?.some((grant) => grant.qos > 2);
        if (error || refused) {
          this.#log.warn({ err: error, topic }, 'cannot subscribe to the settings topic; settings cannot be changed over MQTT (check the broker\'s ACL)');
        }
      });
    }
    if (this.#discovery !== undefined) {
      // Clean sessions forget subscriptions, so every connection subscribes again.
      const topic = this.#discovery.statusTopic;
      client.subscribe(topic, { qos: 1 }, (error) => {
        if (error) this.#log.warn({ err: error, topic }, 'cannot subscribe to Home Assistant status');
      });
      this.#publishDiscovery(client);
    }
    this.#drainBacklog(client);
  }

  #onMessage(client: MqttClient, topic: string, payload: Buffer, retained: boolean): void {
    if (topic === this.#topics.set) {
      this.#onSetMessage(client, payload, retained);
      return;
    }
    // Home Assistant forgets discovered entities when it restarts without retained configs; its
    // birth message `online` is the documented cue to send them again.
    if (topic === this.#discovery?.statusTopic && payload.toString() === STATUS_ONLINE) {
      this.#log.info({ topic }, 'Home Assistant came online: re-publishing discovery configs');
      this.#publishDiscovery(client);
    }
  }

  #onSetMessage(client: MqttClient, payload: Buffer, retained: boolean): void {
    if (retained) {
      // A retained command would be applied again at every reconnect, undoing later changes.
      const error = 'a retained message on the set topic is ignored (it would be applied again at every reconnect); publish without retain, and clear it with an empty retained message';
      this.#log.warn({ topic: this.#topics.set }, error);
      this.#send(client, this.#topics.setResult, JSON.stringify({ ok: false, error }), RESULT_PUBLISH);
      return;
    }
    // Clearing a retained message on the set topic sends an empty one: nothing was asked.
    if (payload.length === 0) return;
    try {
      this.#onSettingsCommand?.(payload.toString());
    } catch (error) {
      // One bad message never stops the agent.
      this.#log.error({ err: error, topic: this.#topics.set }, 'settings command failed');
    }
  }

  #onClose(client: MqttClient): void {
    if (client !== this.#client) return;
    this.#client = undefined;
    this.#queue.markAllUnsent();
    const wasConnected = this.#state === 'connected';
    discard(client);
    this.#setState('disconnected');
    const delayMs = reconnectDelay(this.#failures, this.#backoff, this.#options.random);
    this.#failures++;
    const { reason, fix, refused } = diagnoseConnectionError(this.#lastError);
    // A refusal (credentials, certificates) needs someone to change a setting: an error, not a warning.
    this.#log[refused ? 'error' : 'warn'](
      {
        url: this.#logUrl,
        reason,
        ...(fix === undefined ? {} : { fix }),
        attempt: this.#failures,
        retryInMs: delayMs,
        queued: this.#queue.size,
      },
      wasConnected ? 'lost the connection to the MQTT broker' : 'cannot connect to the MQTT broker',
    );
    this.#lastError = undefined;
    this.#cancelRetry = this.#clock.after(delayMs, () => {
      this.#cancelRetry = undefined;
      if (this.#running) this.#connect();
    });
  }

  #publishDiscovery(client: MqttClient): void {
    if (this.#discovery === undefined) return;
    for (const message of discoveryMessages(this.#discovery.prefix, this.#topics, this.#device)) {
      this.#send(client, message.topic, message.payload, RETAINED);
    }
  }

  /** Sends queued events not yet sent on this connection, oldest first, while fewer than BACKLOG_IN_FLIGHT are unacknowledged. */
  #drainBacklog(client: MqttClient): void {
    while (this.#backlogInFlight < BACKLOG_IN_FLIGHT) {
      const entry = this.#queue.firstUnsent();
      if (entry === undefined) return;
      this.#sendEvent(client, entry, true);
    }
  }

  #sendEvent(client: MqttClient, entry: QueueEntry<QueuedEvent>, backlog: boolean): void {
    entry.sent = true;
    if (backlog) this.#backlogInFlight++;
    client.publish(this.#topics.event, entry.item.payload, EVENT_PUBLISH, (error) => {
      // An MQTT 5 PUBACK with a reason code (e.g. 135, not authorized by the ACL) is a final
      // answer: re-sending would be refused again and, from the backlog, hold up every event
      // behind it. Any other failure means the connection went away; #onClose has marked the
      // entry for re-sending.
      const refused = isPublishRefusal(error);
      if (error && !refused) return;
      if (refused) {
        this.#log.warn({ err: error, eventId: entry.item.id }, 'the MQTT broker refused an event; dropping it (check its ACL for this user)');
      } else {
        this.#published++;
      }
      // Removed from the queue (and its file) only now, on the broker's PUBACK; also one that
      // arrives while stop() waits for the connection's last acknowledgements.
      this.#queue.acknowledge(entry);
      if (this.#queue.size === 0) this.#settleDeliveryWaiters(true);
      if (backlog && client === this.#client) {
        this.#backlogInFlight--;
        this.#drainBacklog(client);
      }
    });
  }

  #send(client: MqttClient, topic: string, payload: string, options: IClientPublishOptions): void {
    client.publish(topic, payload, options, (error) => {
      if (!error) return;
      // MQTT 5 brokers say why they refused a publish (PUBACK reason code, e.g. 135 not authorized
      // by the ACL); anything else means the connection went away, which #onClose reports.
      if (isPublishRefusal(error)) {
        this.#log.warn({ err: error, topic }, 'the MQTT broker refused a publish; check its ACL for this user');
      } else {
        this.#log.debug({ err: error, topic }, 'publish not acknowledged');
      }
    });
  }

  async #shutdown(): Promise<void> {
    this.#settleDeliveryWaiters(this.#queue.size === 0);
    this.#cancelRetry?.();
    this.#cancelRetry = undefined;
    const client = this.#client;
    this.#client = undefined;
    if (client !== undefined) {
      const timeoutMs = this.#options.stopTimeoutMs ?? 2_000;
      if (this.#state === 'connected') {
        try {
          const offline = client.publishAsync(this.#topics.status, STATUS_OFFLINE, RETAINED);
          await this.#deadline(offline, timeoutMs, 'publishing offline');
          // end(false) waits for in-flight events' acknowledgements, then sends DISCONNECT so the will is discarded.
          await this.#deadline(client.endAsync(false), timeoutMs, 'disconnecting');
        } catch (error) {
          this.#log.warn(
            { err: error, url: this.#logUrl },
            'broker did not answer while stopping; closing the connection',
          );
          // A pending end(false) makes MQTT.js ignore end(true), so the socket is closed directly.
          client.stream.destroy();
        }
      }
      discard(client);
    }
    this.#setState('disconnected');
    if (this.#queue.size > 0) {
      this.#log.info({ queued: this.#queue.size }, 'stopped with events the broker has not acknowledged yet');
    }
    this.#log.info('MQTT publisher stopped');
  }

  #deadline<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
    let cancel: (() => void) | undefined;
    const timeout = new Promise<never>((_, reject) => {
      cancel = this.#clock.after(timeoutMs, () => reject(new Error(`${what} took longer than ${timeoutMs} ms`)));
    });
    return Promise.race([promise, timeout]).finally(() => cancel?.());
  }

  #setState(state: BrokerState): void {
    if (state === this.#state) return;
    this.#state = state;
    try {
      this.#onStateChange?.(state);
    } catch (error) {
      // A failing listener (an LED write) must not break publishing.
      this.#log.error({ err: error, state }, 'broker state listener failed');
    }
  }
}

/**
 * Drops a client for good: end(true) destroys its socket if still open. An error listener stays
 * because a late socket error with no listener would crash the process.
 */
function discard(client: MqttClient): void {
  client.removeAllListeners();
  client.on('error', () => undefined);
  client.end(true);
}
