import { createServer, type Server, type Socket } from 'node:net';
import { Aedes } from 'aedes';
import { ConfigError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import { MAX_DEVICE_ID_LENGTH } from './topics.js';
import { listen } from '../system/listen.js';

export const EMBEDDED_BROKER_HOST = '127.0.0.1';
export const EMBEDDED_BROKER_PORT = 1883;

export interface EmbeddedBrokerOptions {
  logger: Logger;
  /** Default 127.0.0.1: the embedded broker is for this machine, not the network. */
  host?: string;
  /** Default 1883; 0 picks a free port (tests). */
  port?: number;
}

/**
 * The port is taken. A ConfigError because the fix is configuration: point mqtt.url at the
 * broker that holds the port, so a systemd restart loop would not help.
 */
export class BrokerPortInUseError extends ConfigError {
  readonly port: number;

  constructor(host: string, port: number, options?: ErrorOptions) {
    super(
      `port ${port} is in use: another broker is running; set mqtt.url to it ` +
        `(e.g. mqtt://${host}:${port}), or stop it to use the embedded broker`,
      options,
    );
    this.port = port;
  }
}

/**
 * An in-process Aedes broker on a TCP port, so a fresh machine with no broker configured still
 * has somewhere to publish and `mosquitto_sub -t 'ser/#' -v` shows the messages. Retained
 * messages live in memory and are lost when it stops.
 */
export class EmbeddedBroker {
  readonly #host: string;
  readonly #port: number;
  readonly #log: Logger;
  readonly #sockets = new Set<Socket>();
  #aedes: Aedes | undefined;
  #server: Server | undefined;
  #url: string | undefined;

  constructor(options: EmbeddedBrokerOptions) {
    this.#host = options.host ?? EMBEDDED_BROKER_HOST;
    this.#port = options.port ?? EMBEDDED_BROKER_PORT;
    this.#log = options.logger.child({ module: 'broker' });
  }

  /** MQTT clients connected now (after CONNECT); 0 once stopped. */
  get connectedClients(): number {
    return this.#aedes?.connectedClients ?? 0;
  }

  /** The URL clients connect to; undefined until started. */
  get url(): string | undefined {
    return this.#url;
  }

  /** Listens and resolves with the URL (`mqtt://127.0.0.1:1883`). */
  async start(): Promise<string> {
    if (this.#url !== undefined) return this.#url;
    // Device ids up to MAX_DEVICE_ID_LENGTH are valid config; Aedes' default limit is MQTT's minimum of 23.
    const aedes = new Aedes({ maxClientsIdLength: MAX_DEVICE_ID_LENGTH });
    await aedes.listen();
    const server = createServer((socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
      aedes.handle(socket);
    });
    try {
      await listen(server, this.#host, this.#port);
    } catch (error) {
      await closeAedes(aedes);
      if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
        throw new BrokerPortInUseError(this.#host, this.#port, { cause: error });
      }
      throw error;
    }
    server.on('error', (error) => {
      this.#log.error({ err: error, url: this.#url }, 'embedded MQTT broker socket error');
    });
    aedes.on('clientError', (client, error) => {
      this.#log.debug({ clientId: client.id, err: error }, 'client error');
    });
    this.#aedes = aedes;
    this.#server = server;
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : this.#port;
    this.#url = `mqtt://${this.#host}:${port}`;
    this.#log.info(
      { url: this.#url },
      `no broker configured (mqtt.url is empty): started the embedded MQTT broker on ${this.#url}; ` +
        `watch it with: mosquitto_sub -h ${this.#host} -p ${port} -t 'ser/#' -v`,
    );
    return this.#url;
  }

  /** Stops listening and closes every client connection. */
  async stop(): Promise<void> {
    const server = this.#server;
    const aedes = this.#aedes;
    if (server === undefined || aedes === undefined) return;
    this.#server = undefined;
    this.#aedes = undefined;
    this.#url = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    await closeAedes(aedes);
    // Aedes closes the clients it knows; a socket that never sent CONNECT is not one of them.
    for (const socket of this.#sockets) socket.destroy();
    await closed;
    this.#log.info('embedded MQTT broker stopped');
  }
}

function closeAedes(aedes: Aedes): Promise<void> {
  return new Promise((resolve) => aedes.close(() => resolve()));
}
