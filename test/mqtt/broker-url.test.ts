import { describe, expect, it } from 'vitest';
import { BrokerUrlError, redactBrokerUrl, validateBrokerUrl } from '../../src/mqtt/broker-url.js';

describe('broker URL', () => {
  const usable = ['mqtt://broker.local:1883', 'mqtts://broker.local', 'ws://10.0.0.2:9001/mqtt', 'wss://h/mqtt'];
  it.each(usable)('accepts %s', (url) => {
    expect(validateBrokerUrl(url).toString()).toBe(url);
  });

  it.each([
    ['', 'not a URL'],
    ['broker.local:1883', 'the scheme broker.local: is not one of mqtt: mqtts: ws: wss:'],
    ['http://broker.local', 'the scheme http: is not one of'],
    ['mqtt://', 'it names no host'],
  ])('refuses %j, naming the key', (url, problem) => {
    expect(() => validateBrokerUrl(url)).toThrow(BrokerUrlError);
    expect(() => validateBrokerUrl(url)).toThrow(`mqtt.url is ${JSON.stringify(url)}: ${problem}`);
  });

  it('never repeats a password, in logs or in errors', () => {
    expect(redactBrokerUrl('mqtts://agent:s3cret@broker.local:8883')).toBe('mqtts://agent:REDACTED@broker.local:8883');
    expect(redactBrokerUrl('mqtt://broker.local')).toBe('mqtt://broker.local');
    expect(redactBrokerUrl('mqtt://agent:s3cret@bad host')).toBe('mqtt://REDACTED@bad host');
    expect(() => validateBrokerUrl('http://agent:s3cret@broker.local')).toThrow(/agent:REDACTED@/);
  });
});
