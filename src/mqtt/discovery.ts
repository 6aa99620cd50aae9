import { discoveryTopics, type DeviceTopics } from './topics.js';

/** How the device shows up in Home Assistant's device registry. */
export interface DiscoveryDevice {
  deviceId: string;
  /** Shown as the device name; the device id when not set. */
  name?: string;
  /** E.g. the model name, `ser-cnn-lstm`. */
  model: string;
  /** The ser-agent version. */
  swVersion: string;
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
 * read the event topic and are unavailable while the status topic says `offline`.
 */
export function discoveryMessages(
  discoveryPrefix: string,
  topics: DeviceTopics,
  device: DiscoveryDevice,
): DiscoveryMessage[] {
  const configTopics = discoveryTopics(discoveryPrefix, device.deviceId);
  const shared = {
    state_topic: topics.event,
    availability_topic: topics.status,
    payload_available: 'online',
    payload_not_available: 'offline',
    device: {
      identifiers: [device.deviceId],
      name: device.name ?? device.deviceId,
      model: device.model,
      manufacturer: MANUFACTURER,
      sw_version: device.swVersion,
    },
    origin: { name: MANUFACTURER, sw_version: device.swVersion },
  };
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
  return [
    { topic: configTopics.emotionConfig, payload: JSON.stringify(emotion) },
    { topic: configTopics.confidenceConfig, payload: JSON.stringify(confidence) },
  ];
}
