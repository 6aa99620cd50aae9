import { crc32 as zlibCrc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  crc32,
  encodeRecord,
  eventRecordBytes,
  FILE_HEADER,
  MAX_PAYLOAD_BYTES,
  RECORD_EVENT,
  RECORD_REMOVED,
  REMOVED_RECORD_BYTES,
  scanQueueFile,
  type QueueRecord,
} from '../../src/mqtt/queue-file.js';

const records: QueueRecord[] = [
  { kind: RECORD_EVENT, seq: 0, payload: '{"id":"a","emotion":"anger"}' },
  { kind: RECORD_EVENT, seq: 1, payload: '{"id":"b","note":"ünïcödé"}' },
  { kind: RECORD_REMOVED, seq: 0 },
  { kind: RECORD_EVENT, seq: 2 ** 40, payload: '{"id":"c"}' },
];
const file = (list: QueueRecord[]): Buffer => Buffer.concat([FILE_HEADER, ...list.map(encodeRecord)]);

describe('queue file format', () => {
  it('computes the same CRC-32 as zlib', () => {
    for (const text of ['', 'a', '123456789', JSON.stringify(records)]) {
      expect(crc32(Buffer.from(text))).toBe(zlibCrc32(Buffer.from(text)));
    }
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
  });

  it('reads back every record it wrote, with sizes as counted against the byte limit', () => {
    expect(scanQueueFile(file(records))).toEqual({ records, damaged: [] });
    expect(encodeRecord(records[0]!).length).toBe(eventRecordBytes('{"id":"a","emotion":"anger"}'));
    expect(encodeRecord({ kind: RECORD_REMOVED, seq: 3 }).length).toBe(REMOVED_RECORD_BYTES);
    expect(scanQueueFile(Buffer.alloc(0))).toEqual({ records: [], damaged: [] });
  });

  it('refuses what it could not read back', () => {
    expect(() => encodeRecord({ kind: RECORD_REMOVED, seq: 2 ** 48 })).toThrow(/seq .* does not fit/);
    expect(() => encodeRecord({ kind: RECORD_EVENT, seq: 1, payload: 'x'.repeat(MAX_PAYLOAD_BYTES + 1) })).toThrow(
      /above the queue's 65536-byte record limit/,
    );
  });

  it('keeps the records before and after damaged bytes and says where the damage is', () => {
    const data = file(records);
    const second = FILE_HEADER.length + encodeRecord(records[0]!).length;
    data[second + 12] = (data[second + 12] as number) ^ 0x01;
    const scanned = scanQueueFile(data);
    expect(scanned.records).toEqual([records[0], records[2], records[3]]);
    expect(scanned.damaged).toEqual([{ offset: second, bytes: encodeRecord(records[1]!).length }]);
  });

  it('reads the records of a file whose header is damaged', () => {
    const data = file(records);
    data[0] = 0;
    const scanned = scanQueueFile(data);
    expect(scanned.records).toEqual(records);
    expect(scanned.damaged).toEqual([{ offset: 0, bytes: FILE_HEADER.length }]);
  });

  it('finds no record in bytes that are not a queue file', () => {
    const noise = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 251));
    expect(scanQueueFile(noise)).toEqual({ records: [], damaged: [{ offset: 0, bytes: 4096 }] });
  });
});
