/**
 * The on-disk format of the durable event queue: an append-only log that survives a power cut
 * in the middle of any write.
 *
 *   file   = HEADER record*
 *   HEADER = the 8 ASCII bytes "SERQUEU1" (format version 1)
 *   record = length:u32be crc:u32be body[length]
 *   body   = kind:u8 seq:u48be payload
 *
 * kind 1 (`event`) carries the event's JSON payload (UTF-8) under its queue position `seq`;
 * kind 2 (`removed`) has no payload and says that the event `seq` is gone: acknowledged by the
 * broker or dropped from a full queue. `crc` is CRC-32 (IEEE, as in zlib and PNG) of the body.
 *
 * A write cut short leaves a record whose length runs past the end of the file or whose CRC
 * does not match; a flipped bit anywhere fails the CRC. Such bytes are skipped up to the next
 * offset where a whole record checks out, so the records around damage are kept.
 */

export const FILE_HEADER = Buffer.from('SERQUEU1', 'ascii');
/** length + crc. */
const FRAME_BYTES = 8;
/** kind + seq. */
const BODY_HEAD_BYTES = 7;
/** Far above any event (about 600 bytes); a larger length field is damage, not a record. */
export const MAX_PAYLOAD_BYTES = 64 * 1024;
/** seq is stored in 6 bytes. */
const MAX_SEQ = 2 ** 48 - 1;

export const RECORD_EVENT = 1;
export const RECORD_REMOVED = 2;

export type QueueRecord =
  | { kind: typeof RECORD_EVENT; seq: number; payload: string }
  | { kind: typeof RECORD_REMOVED; seq: number };

/** Bytes that were not a valid record: where they start and how many. */
export interface DamagedRange {
  offset: number;
  bytes: number;
}

export interface ScannedQueueFile {
  records: QueueRecord[];
  damaged: DamagedRange[];
}

export function encodeRecord(record: QueueRecord): Buffer {
  if (!Number.isSafeInteger(record.seq) || record.seq < 0 || record.seq > MAX_SEQ) {
    throw new RangeError(`queue seq ${record.seq} does not fit the 48-bit field`);
  }
  const payload = record.kind === RECORD_EVENT ? Buffer.from(record.payload, 'utf8') : Buffer.alloc(0);
  if (payload.length > MAX_PAYLOAD_BYTES) {
    throw new RangeError(`event payload of ${payload.length} bytes is above the queue's ${MAX_PAYLOAD_BYTES}-byte record limit`);
  }
  const out = Buffer.alloc(FRAME_BYTES + BODY_HEAD_BYTES + payload.length);
  out.writeUInt32BE(BODY_HEAD_BYTES + payload.length, 0);
  out.writeUInt8(record.kind, FRAME_BYTES);
  out.writeUIntBE(record.seq, FRAME_BYTES + 1, 6);
  payload.copy(out, FRAME_BYTES + BODY_HEAD_BYTES);
  out.writeUInt32BE(crc32(out.subarray(FRAME_BYTES)), 4);
  return out;
}

/** The bytes a `removed` record takes on disk. */
export const REMOVED_RECORD_BYTES = FRAME_BYTES + BODY_HEAD_BYTES;

/** The bytes an event record takes on disk: what the queue's byte limit counts. */
export function eventRecordBytes(payload: string): number {
  return FRAME_BYTES + BODY_HEAD_BYTES + Buffer.byteLength(payload, 'utf8');
}

/** Reads every intact record, in file order, and where the bytes in between were damaged. */
export function scanQueueFile(data: Buffer): ScannedQueueFile {
  const records: QueueRecord[] = [];
  const damaged: DamagedRange[] = [];
  const headerIntact = data.length >= FILE_HEADER.length && data.subarray(0, FILE_HEADER.length).equals(FILE_HEADER);
  let offset = headerIntact ? FILE_HEADER.length : 0;
  let damageStart = headerIntact ? -1 : 0;
  while (offset < data.length) {
    const found = recordAt(data, offset);
    if (found === undefined) {
      if (damageStart < 0) damageStart = offset;
      offset++;
      continue;
    }
    if (damageStart >= 0) {
      damaged.push({ offset: damageStart, bytes: offset - damageStart });
      damageStart = -1;
    }
    records.push(found.record);
    offset = found.end;
  }
  if (damageStart >= 0 && data.length > damageStart) damaged.push({ offset: damageStart, bytes: data.length - damageStart });
  return { records, damaged };
}

function recordAt(data: Buffer, offset: number): { record: QueueRecord; end: number } | undefined {
  if (offset + FRAME_BYTES + BODY_HEAD_BYTES > data.length) return undefined;
  const length = data.readUInt32BE(offset);
  const end = offset + FRAME_BYTES + length;
  if (length < BODY_HEAD_BYTES || length > BODY_HEAD_BYTES + MAX_PAYLOAD_BYTES || end > data.length) return undefined;
  const bodyStart = offset + FRAME_BYTES;
  const kind = data.readUInt8(bodyStart);
  if (kind !== RECORD_EVENT && kind !== RECORD_REMOVED) return undefined;
  if (kind === RECORD_REMOVED && length !== BODY_HEAD_BYTES) return undefined;
  if (crc32(data.subarray(bodyStart, end)) !== data.readUInt32BE(offset + 4)) return undefined;
  const seq = data.readUIntBE(bodyStart + 1, 6);
  if (kind === RECORD_REMOVED) return { record: { kind, seq }, end };
  const payload = data.subarray(bodyStart + BODY_HEAD_BYTES, end);
  // A record that passed its CRC was written as UTF-8 by encodeRecord; fatal decoding is a last guard.
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(payload);
  } catch {
    return undefined;
  }
  return { record: { kind, seq, payload: text }, end };
}

/**
 * CRC-32/ISO-HDLC, the zlib one. node:zlib has crc32 only from Node 20.15, and the package
 * supports every Node 20, so the 256-entry table is built here.
 */
const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
    table[byte] = crc >>> 0;
  }
  return table;
})();

export function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = (CRC_TABLE[(crc ^ byte) & 0xff] as number) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
