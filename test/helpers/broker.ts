import { pino } from 'pino';
import { EmbeddedBroker } from '../../src/mqtt/embedded-broker.js';

export interface TestBroker {
  url: string;
  port: number;
  /** MQTT clients connected now: 0 after everyone has disconnected. */
  connectedClients(): number;
  close(): Promise<void>;
}

/**
 * A real Aedes broker on 127.0.0.1. Port 0 (the default) picks a free port; pass a previous
 * broker's port to restart "the same" broker after closing it.
 */
export async function startTestBroker(options: { port?: number } = {}): Promise<TestBroker> {
  const broker = new EmbeddedBroker({ logger: pino({ level: 'silent' }), port: options.port ?? 0 });
  const url = await broker.start();
  return {
    url,
    port: Number(new URL(url).port),
    connectedClients: () => broker.connectedClients,
    close: () => broker.stop(),
  };
}
