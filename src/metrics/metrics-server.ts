import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type Logger } from '../logging/logger.js';
import { listen } from '../system/listen.js';

/** One rendering of the metrics, as the Prometheus text format. */
export interface Exposition {
  contentType: string;
  body: string;
}

export interface MetricsServerOptions {
  host: string;
  port: number;
  /** Renders the metrics for one scrape; a rejection becomes a 500 and a log line. */
  render: () => Promise<Exposition>;
  logger: Logger;
}

export const METRICS_PATH = '/metrics';

/**
 * The HTTP endpoint Prometheus scrapes: GET (or HEAD) /metrics and nothing else. It belongs
 * to the daemon's monitoring, not its work, so no failure of its own stops the daemon: a port
 * already taken or an address that cannot be bound is logged with the fix and the daemon goes
 * on without metrics; a malformed request gets Node's 400; a failed rendering gets a 500.
 */
export class MetricsServer {
  readonly #options: MetricsServerOptions;
  readonly #log: Logger;
  #listening: Promise<Server | undefined> | undefined;
  /** The listening server, for its address. */
  #server: Server | undefined;

  constructor(options: MetricsServerOptions) {
    this.#options = options;
    this.#log = options.logger.child({ module: 'metrics' });
  }

  /** The URL it serves, once listening; undefined before, after stop(), or when it could not listen. */
  get url(): string | undefined {
    const address = this.#server?.address();
    if (typeof address !== 'object' || address === null) return undefined;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `http://${host}:${address.port}${METRICS_PATH}`;
  }

  /** Resolves once listening, or once the reason it cannot listen has been logged. */
  async start(): Promise<void> {
    this.#listening ??= this.#listen();
    await this.#listening;
  }

  /**
   * Stops listening and closes open connections (a scraper's keep-alive would hold close()
   * forever). Called while start() still waits for the port, it waits for that first, so no
   * server is left listening after the daemon has stopped.
   */
  async stop(): Promise<void> {
    const listening = this.#listening;
    if (listening === undefined) return;
    this.#listening = undefined;
    const server = await listening;
    this.#server = undefined;
    if (server === undefined) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  async #listen(): Promise<Server | undefined> {
    const { host, port } = this.#options;
    const server = createServer((request, response) => {
      this.#handle(request, response).catch((error: unknown) => {
        this.#log.error({ err: error }, 'metrics request failed');
        response.destroy();
      });
    });
    try {
      await listen(server, host, port);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      this.#log.error(
        { err: error, host, port, fix: listenFix(code, host, port) },
        `metrics endpoint not started: cannot listen on ${host}:${port}; the agent runs on without it`,
      );
      return undefined;
    }
    server.on('error', (error) => this.#log.error({ err: error }, 'metrics endpoint socket error'));
    this.#server = server;
    this.#log.info({ url: this.url }, 'serving Prometheus metrics');
    return server;
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = new URL(request.url ?? '/', 'http://metrics').pathname;
    if (path !== METRICS_PATH) {
      reply(response, 404, `not found: the metrics are at ${METRICS_PATH}\n`);
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.setHeader('Allow', 'GET, HEAD');
      reply(response, 405, `method ${request.method ?? ''} not allowed: use GET or HEAD\n`);
      return;
    }
    let exposition: Exposition;
    try {
      exposition = await this.#options.render();
    } catch (error) {
      this.#log.error({ err: error }, 'could not render the metrics');
      reply(response, 500, 'metrics could not be rendered; see the agent log\n');
      return;
    }
    response.writeHead(200, { 'Content-Type': exposition.contentType });
    response.end(request.method === 'HEAD' ? undefined : exposition.body);
  }
}

function reply(response: ServerResponse, status: number, text: string): void {
  response.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
  response.end(text);
}

function listenFix(code: string | undefined, host: string, port: number): string {
  if (code === 'EADDRINUSE') {
    return `another program holds port ${port} (ss -ltnp 'sport = :${port}' names it): set metrics.port (SER_METRICS_PORT) to a free port, or 0 to turn metrics off`;
  }
  if (code === 'EACCES') return `ports below 1024 need privileges the agent does not have: set metrics.port to 1024 or above`;
  return `set metrics.host to an address of this box (127.0.0.1, or 0.0.0.0 for every interface), or metrics.port to 0 to turn metrics off`;
}

