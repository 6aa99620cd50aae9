import mqtt, { type MqttClient } from 'mqtt';

export interface ReceivedMessage {
  topic: string;
  payload: string;
  retain: boolean;
}

/** A real MQTT client keeping every message it receives, as Home Assistant or a dashboard would get them. */
export interface RecordingSubscriber {
  client: MqttClient;
  /** Every message so far, oldest first. */
  messages: ReceivedMessage[];
  /** The messages on `topic`, oldest first. */
  on(topic: string): ReceivedMessage[];
  close(): Promise<void>;
}

/**
 * Connects to `url` and subscribes to `topics` (at `qos`, 0 unless given), listening before it
 * subscribes so that no message, retained ones included, arrives unrecorded.
 */
export async function startSubscriber(
  url: string,
  clientId: string,
  topics: string | string[],
  qos: 0 | 1 | 2 = 0,
): Promise<RecordingSubscriber> {
  const client = await mqtt.connectAsync(url, { clientId });
  const messages: ReceivedMessage[] = [];
  client.on('message', (topic, payload, packet) => messages.push({ topic, payload: payload.toString(), retain: packet.retain }));
  await client.subscribeAsync(topics, { qos });
  return {
    client,
    messages,
    on: (topic) => messages.filter((message) => message.topic === topic),
    close: () => client.endAsync(),
  };
}

/** The first message a client connecting now gets on `topic`: what the broker retains there. */
export async function retainedMessage(url: string, clientId: string, topic: string): Promise<ReceivedMessage> {
  const client = await mqtt.connectAsync(url, { clientId });
  try {
    const first = new Promise<ReceivedMessage>((resolve) =>
      client.once('message', (received, payload, packet) => resolve({ topic: received, payload: payload.toString(), retain: packet.retain })),
    );
    await client.subscribeAsync(topic);
    return await first;
  } finally {
    await client.endAsync();
  }
}
