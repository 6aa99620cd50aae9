import { ConfigError } from '../errors.js';

export const BROKER_PROTOCOLS = ['mqtt:', 'mqtts:', 'ws:', 'wss:'] as const;

/** A broker URL MQTT.js cannot connect to. */
export class BrokerUrlError extends ConfigError {
  readonly key: string;

  constructor(key: string, value: unknown, problem: string) {
    // The value is redacted here too: a URL with a password in it must not reach the logs via an error.
    const shown = typeof value === 'string' ? redactBrokerUrl(value) : JSON.stringify(value);
    super(
      `${key} is ${JSON.stringify(shown)}: ${problem}; ` +
        'expected e.g. mqtt://broker.local:1883, mqtts://, ws:// or wss://',
    );
    this.key = key;
  }
}

/** Returns the URL if MQTT.js can connect to it, else throws BrokerUrlError. */
export function validateBrokerUrl(value: unknown, key = 'mqtt.url'): URL {
  if (typeof value !== 'string' || value === '') throw new BrokerUrlError(key, value, 'not a URL');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new BrokerUrlError(key, value, 'not a URL');
  }
  if (!(BROKER_PROTOCOLS as readonly string[]).includes(url.protocol)) {
    throw new BrokerUrlError(key, value, `the scheme ${url.protocol} is not one of ${BROKER_PROTOCOLS.join(' ')}`);
  }
  if (url.hostname === '') throw new BrokerUrlError(key, value, 'it names no host');
  return url;
}

/** The URL for logs and health: a password written into it (user:secret@host) is replaced. */
export function redactBrokerUrl(text: string): string {
  try {
    const url = new URL(text);
    // Unchanged when there is nothing to hide, so messages show the value as the user wrote it.
    if (url.password === '') return text;
    url.password = 'REDACTED';
    return url.toString();
  } catch {
    // Not parsable, so no user:password part can be located; hide everything that could be one.
    return text.replace(/\/\/[^@/]*@/, '//REDACTED@');
  }
}
