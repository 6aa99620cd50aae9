import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { QUEUE_FILE } from '../../src/mqtt/durable-queue.js';
import { RECORD_EVENT, scanQueueFile } from '../../src/mqtt/queue-file.js';

/**
 * The events an agent's state directory holds for the broker now, oldest first, as the next
 * start would send them: none when there is no queue file.
 */
export async function queuedPayloads(stateDir: string): Promise<string[]> {
  let data: Buffer;
  try {
    data = await readFile(path.join(stateDir, QUEUE_FILE));
  } catch {
    return [];
  }
  const live = new Map<number, string>();
  for (const record of scanQueueFile(data).records) {
    if (record.kind === RECORD_EVENT) live.set(record.seq, record.payload);
    else live.delete(record.seq);
  }
  return [...live].sort(([a], [b]) => a - b).map(([, payload]) => payload);
}
