import { RUNTIME_SETTING_KEYS, RUNTIME_SETTINGS, settingChoices, type RuntimeSettingKey } from '../settings/runtime-settings.js';
import { type ModelIdentity } from './payloads.js';
import { discoveryTopics, settingConfigTopic, settingObjectId, type DeviceTopics } from './topics.js';

/** How the device shows up in Home Assistant's device registry. */
export interface DiscoveryDevice {
  deviceId: string;
  /** Shown as the device name; the device id when not set. */
  name?: string;
  /** The running model's name and version, e.g. `ser-cnn-lstm 1.0.0` (see deviceModel). */
  model: string;
  /** The running model's sha256 (of its weights, as in events and health), when known. */
  modelId?: string;
  /** The ser-agent version. */
  swVersion: string;
}

/**
 * The running model as the Home Assistant device shows it: `model` its name and version,
 * `model_id` the sha256 that identifies its weights. Sent again when a reload replaces the model.
 */
export function deviceModel(model: ModelIdentity): Pick<DiscoveryDevice, 'model' | 'modelId'> {
  return { model: `${model.name} ${model.version}`, modelId: model.sha256 };
}

/** A retained config message for Home Assistant. */
export interface DiscoveryMessage {
  topic: string;
  payload: string;
}

const MANUFACTURER = 'ser-agent';

/**
 * Home Assistant MQTT discovery configs (https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery):
 * an emotion sensor whose attributes are the probabilities, and a confidence sensor in %. Both
 * read the event topic and are unavailable while the status topic says `offline`. Each runtime
 * setting adds a configuration entity (number, select or switch) on the device page, reading the
 * settings topic and writing the set topic.
 */
export function discoveryMessages(
  discoveryPrefix: string,
  topics: DeviceTopics,
  device: DiscoveryDevice,
): DiscoveryMessage[] {
  const configTopics = discoveryTopics(discoveryPrefix, device.deviceId);
  // What every entity of the device shares; the sensors read the event topic, the settings' entities the settings topic.
  const common = {
    availability_topic: topics.status,
    payload_available: 'online',
    payload_not_available: 'offline',
    device: {
      identifiers: [device.deviceId],
      name: device.name ?? device.deviceId,
      model: device.model,
      ...(device.modelId === undefined ? {} : { model_id: device.modelId }),
      manufacturer: MANUFACTURER,
      sw_version: device.swVersion,
    },
    origin: { name: MANUFACTURER, sw_version: device.swVersion },
  };
  const shared = { ...common, state_topic: topics.event };
  const emotion = {
    ...shared,
    name: 'Emotion',
    unique_id: `${device.deviceId}_emotion`,
    icon: 'mdi:emoticon-outline',
    value_template: '{{ value_json.emotion }}',
    json_attributes_topic: topics.event,
    // Each emotion's probability becomes one attribute, rather than one nested "probabilities" attribute.
    json_attributes_template: '{{ value_json.probabilities | tojson }}',
  };
  const confidence = {
    ...shared,
    name: 'Emotion confidence',
    unique_id: `${device.deviceId}_confidence`,
    icon: 'mdi:percent-outline',
    unit_of_measurement: '%',
    state_class: 'measurement',
    value_template: '{{ (value_json.confidence * 100) | round(1) }}',
  };
  const settings = RUNTIME_SETTING_KEYS.map((key) => {
    const { component, config } = settingEntity(key);
    return {
      topic: settingConfigTopic(discoveryPrefix, device.deviceId, component, key),
      payload: JSON.stringify({
        ...common,
        ...config,
        name: RUNTIME_SETTINGS[key].name,
        unique_id: `${device.deviceId}_${settingObjectId(key)}`,
        entity_category: 'config',
        command_topic: topics.set,
        state_topic: topics.settings,
      }),
    };
  });
  return [
    { topic: configTopics.emotionConfig, payload: JSON.stringify(emotion) },
    { topic: configTopics.confidenceConfig, payload: JSON.stringify(confidence) },
    ...settings,
  ];
}

/**
 * The entity of one runtime setting. Its command template turns Home Assistant's value into the
 * JSON object the set topic takes; its value template reads the key from the settings JSON.
 */
function settingEntity(key: RuntimeSettingKey): { component: string; config: Record<string, unknown> } {
  const read = `{{ value_json['${key}'] }}`;
  const control = RUNTIME_SETTINGS[key].control;
  switch (control.kind) {
    case 'number':
      return {
        component: 'number',
        config: {
          command_template: `{"${key}": {{ value }}}`,
          value_template: read,
          min: control.min,
          max: control.max,
          step: control.step,
          mode: 'box',
          ...('unit' in control ? { unit_of_measurement: control.unit } : {}),
        },
      };
    case 'select':
      return {
        component: 'select',
        config: { command_template: `{"${key}": "{{ value }}"}`, value_template: read, options: settingChoices(key) },
      };
    case 'switch':
      return {
        component: 'switch',
        config: {
          // The payloads are the JSON objects themselves, so a Home Assistant without
          // command_template for switches sends the same; state_on/state_off stay apart from them.
          payload_on: JSON.stringify({ [key]: true }),
          payload_off: JSON.stringify({ [key]: false }),
          command_template: '{{ value }}',
          state_on: 'ON',
          state_off: 'OFF',
          value_template: `{{ 'ON' if value_json['${key}'] else 'OFF' }}`,
        },
      };
  }
}
