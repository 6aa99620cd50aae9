import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import {
  checkDeviceId,
  checkTopicPrefix,
  deviceTopics,
  discoveryTopics,
  TopicValidationError,
  validateDeviceId,
  validateTopicPrefix,
} from '../../src/mqtt/topics.js';

describe('topic builders', () => {
  it('puts the device under the prefix', () => {
    expect(deviceTopics('ser', 'kiosk-01')).toEqual({
      event: 'ser/kiosk-01/event',
      status: 'ser/kiosk-01/status',
      health: 'ser/kiosk-01/health',
      settings: 'ser/kiosk-01/settings',
      set: 'ser/kiosk-01/set',
      setResult: 'ser/kiosk-01/set/result',
    });
    expect(deviceTopics('site/ser', 'kiosk-01').event).toBe('site/ser/kiosk-01/event');
  });

  it('builds Home Assistant discovery topics with a node id Home Assistant accepts', () => {
    expect(discoveryTopics('homeassistant', 'kiosk-01')).toEqual({
      emotionConfig: 'homeassistant/sensor/kiosk-01/emotion/config',
      confidenceConfig: 'homeassistant/sensor/kiosk-01/confidence/config',
      homeAssistantStatus: 'homeassistant/status',
    });
    expect(discoveryTopics('ha', 'kiosk.lobby:2').emotionConfig).toBe('ha/sensor/kiosk_lobby_2/emotion/config');
  });
});

describe('device id validation', () => {
  it.each(['kiosk-01', 'Pi 4 (lobby)', 'café', 'a'.repeat(64), 'x$'])('accepts %j', (id) => {
    expect(checkDeviceId(id)).toEqual([]);
    expect(validateDeviceId(id)).toBe(id);
  });

  it.each([
    ['', 'it is empty'],
    ['kiosk/01', '"/" would split it'],
    ['kiosk+', 'wildcards'],
    ['kiosk#', 'wildcards'],
    ['$SYS', 'reserved for the broker'],
    ['kiosk\n01', 'control character U+000a'],
    ['kiosk\u0085', 'control character U+0085'],
    ['a'.repeat(65), 'it has 65 characters'],
  ])('rejects %j, naming the key, the value and the allowed form', (id, problem) => {
    const [message, ...rest] = checkDeviceId(id);
    expect(rest).toEqual([]);
    expect(message).toContain(`deviceId is ${JSON.stringify(id)}`);
    expect(message).toContain(problem);
    expect(message).toContain('expected 1-64 printable characters without "/", "+" or "#"');
  });

  it('reports every problem of one value', () => {
    expect(checkDeviceId('$a/b#', 'device')).toHaveLength(3);
  });

  it('throws a ConfigError carrying the key and value', () => {
    const error = (() => {
      try {
        validateDeviceId(42, 'settings.deviceId');
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(TopicValidationError);
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ key: 'settings.deviceId', value: 42, code: 'CONFIG' });
    expect((error as Error).message).toContain('settings.deviceId is 42: it is not a string');
  });
});

describe('topic prefix validation', () => {
  it.each(['ser', 'site/ser', 'a/b/c', 'my prefix'])('accepts %j', (prefix) => {
    expect(validateTopicPrefix(prefix)).toBe(prefix);
  });

  it.each([
    ['', 'it is empty'],
    ['/ser', 'leading or trailing "/"'],
    ['ser/', 'leading or trailing "/"'],
    ['site//ser', '"//" makes an empty topic level'],
    ['ser/+', 'wildcards'],
    ['ser/#', 'wildcards'],
    ['$SYS/ser', 'reserved for the broker'],
    ['ser\u0000', 'control character U+0000'],
  ])('rejects %j', (prefix, problem) => {
    const problems = checkTopicPrefix(prefix);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(`mqtt.topicPrefix is ${JSON.stringify(prefix)}: `);
    expect(problems[0]).toContain(problem);
    expect(problems[0]).toContain('expected one or more topic levels joined by "/"');
    expect(() => validateTopicPrefix(prefix, 'mqtt.discovery.prefix')).toThrow(/^mqtt\.discovery\.prefix is /);
  });
});
