import { gunzipSync } from 'node:zlib';

/**
 * Kafka's Fetch response, read in place: each record's value goes to the stream's format as a
 * slice of the response, with its offset and time, and no object is made per record. A client
 * library builds one per record (kafkajs: a decoder, two 64-bit sums through strings and a headers
 * object each), which cost more than the whole engine's work on the record.
 *
 * Layouts: Fetch v4 to v11 (the versions kafkajs speaks; it picks one with the broker) and record
 * batches of magic 2 (Kafka 0.11 and later). Read committed: records of aborted transactions and
 * the transaction markers are consumed without a row, as Kafka's own consumer skips them.
 */

/** What the reader hands each record to; `value` is `source[start, end)`, valid only during the call. */
export type RecordVisitor = (partition: number, offset: number, timestamp: number, source: Uint8Array, start: number, end: number) => void;

/** One partition of a response, read. */
export interface PartitionRead {
  partition: number;
  /** Kafka's error code for the partition (0: none); the records are not read when it is set. */
  errorCode: number;
  highWatermark: number;
  /** The offset after the last record consumed: the next to fetch. */
  next: number;
  /** Records handed to the visitor. */
  records: number;
  /**
   * The offset after the last record handed over (or the position asked, when none was): from it
   * up to `next` lie only records consumed without a row (transaction markers, aborted records).
   */
  afterData: number;
}

export class KafkaRecordError extends Error {}

const BATCH_HEADER = 61;
const COMPRESSION = 0x07;
const LOG_APPEND_TIME = 0x08;
const TRANSACTIONAL = 0x10;
const CONTROL = 0x20;
/** Control record type of an aborted transaction's marker (1 is a commit). */
const ABORT_MARKER = 0;
const CODECS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

/**
 * Reads a Fetch response of `version`. `from` gives, per partition, the offset the read starts at
 * (records before it, which a broker returns when they share a batch with it, are skipped);
 * `room` is how many records may still be handed over in all: once it is reached, a partition's
 * `next` stops at the first record not taken, so nothing is lost, only fetched again later.
 */
export function readFetchResponse(response: Buffer, version: number, from: ReadonlyMap<number, number>, room: number, visit: RecordVisitor): PartitionRead[] {
  if (version < 4 || version > 11) throw new KafkaRecordError(`Fetch v${version} is not read here (v4 to v11 are)`);
  const r = new Reader(response);
  r.skip(4); // throttle time
  if (version >= 7) {
    const errorCode = r.int16();
    if (errorCode) throw new KafkaRecordError(`the broker refused the fetch with error code ${errorCode}`);
    r.skip(4); // session id
  }
  const reads: PartitionRead[] = [];
  for (let topics = r.int32(); topics > 0; topics--) {
    r.skip(r.int16()); // topic name: one topic a fetch
    for (let partitions = r.int32(); partitions > 0; partitions--) {
      const partition = r.int32();
      const errorCode = r.int16();
      const highWatermark = r.int64();
      r.skip(8); // last stable offset
      if (version >= 5) r.skip(8); // log start offset
      const aborted: { producerId: number; firstOffset: number }[] = [];
      for (let n = r.int32(); n > 0; n--) aborted.push({ producerId: r.int64(), firstOffset: r.int64() });
      if (version >= 11) r.skip(4); // preferred read replica
      const size = r.int32();
      const start = from.get(partition) ?? 0;
      const read: PartitionRead = { partition, errorCode, highWatermark, next: start, records: 0, afterData: start };
      reads.push(read);
      if (size <= 0) continue;
      const end = r.at + size;
      if (!errorCode) room -= readBatches(response, r.at, end, aborted, read, room, visit);
      r.at = end;
    }
  }
  return reads;
}

/** Reads the record batches of one partition in `data[at, end)`; returns the records handed over. */
function readBatches(data: Buffer, at: number, end: number, aborted: { producerId: number; firstOffset: number }[], read: PartitionRead, room: number, visit: RecordVisitor): number {
  aborted.sort((a, b) => a.firstOffset - b.firstOffset);
  const abortedProducers = new Set<number>();
  let taken = 0;
  while (at + BATCH_HEADER <= end) {
    const baseOffset = Number(data.readBigInt64BE(at));
    const batchEnd = at + 12 + data.readInt32BE(at + 8);
    // A broker cuts the last batch of a partition at the size asked: it comes whole next time.
    if (batchEnd > end) break;
    const magic = data[at + 16]!;
    if (magic !== 2) throw new KafkaRecordError(`partition ${read.partition}: a record batch of magic ${magic} at offset ${baseOffset}; Tributary reads Kafka 0.11's format (magic 2) and later`);
    const attributes = data.readInt16BE(at + 21);
    const lastOffset = baseOffset + data.readInt32BE(at + 23);
    if (lastOffset < read.next) {
      at = batchEnd;
      continue;
    }
    const baseTimestamp = Number(data.readBigInt64BE(at + 27));
    const maxTimestamp = Number(data.readBigInt64BE(at + 35));
    const producerId = Number(data.readBigInt64BE(at + 43));
    const count = data.readInt32BE(at + 57);
    let skip = false;
    if (attributes & TRANSACTIONAL) {
      while (aborted.length && aborted[0]!.firstOffset <= lastOffset) abortedProducers.add(aborted.shift()!.producerId);
      if (attributes & CONTROL) {
        if (abortedProducers.has(producerId) && controlType(data, at + BATCH_HEADER, batchEnd) === ABORT_MARKER) abortedProducers.delete(producerId);
        skip = true;
      } else {
        skip = abortedProducers.has(producerId);
      }
    } else if (attributes & CONTROL) {
      skip = true;
    }
    if (skip) {
      read.next = lastOffset + 1;
      at = batchEnd;
      continue;
    }
    const codec = attributes & COMPRESSION;
    let records = data;
    let recordAt = at + BATCH_HEADER;
    let recordsEnd = batchEnd;
    if (codec) {
      if (codec !== 1) {
        throw new KafkaRecordError(
          `partition ${read.partition}: records compressed with ${CODECS[codec] ?? `codec ${codec}`} at offset ${baseOffset}; Tributary reads uncompressed and gzip batches: set the producer's compression.type to gzip or none`,
        );
      }
      records = gunzipSync(data.subarray(recordAt, batchEnd));
      recordAt = 0;
      recordsEnd = records.length;
    }
    const logAppend = (attributes & LOG_APPEND_TIME) !== 0;
    for (let i = 0; i < count && recordAt < recordsEnd; i++) {
      const length = varint(records, recordAt);
      recordAt = VARINT.at;
      const recordEnd = recordAt + length;
      const timestampDelta = varlong(records, recordAt + 1);
      const offset = baseOffset + varint(records, VARINT.at);
      const keyLength = varint(records, VARINT.at);
      const valueLength = varint(records, VARINT.at + Math.max(keyLength, 0));
      const valueAt = VARINT.at;
      if (offset >= read.next) {
        if (taken === room) return taken;
        visit(read.partition, offset, logAppend ? maxTimestamp : baseTimestamp + timestampDelta, records, valueAt, valueAt + Math.max(valueLength, 0));
        taken++;
        read.records++;
        read.next = offset + 1;
        read.afterData = offset + 1;
      }
      recordAt = recordEnd;
    }
    read.next = Math.max(read.next, lastOffset + 1);
    at = batchEnd;
  }
  return taken;
}

/** The type of a control batch's marker: its first record's key is (version INT16, type INT16). */
function controlType(data: Buffer, at: number, end: number): number {
  if (at >= end) return -1;
  varint(data, at); // length
  varlong(data, VARINT.at + 1); // after attributes: timestamp delta
  varint(data, VARINT.at); // offset delta
  const keyLength = varint(data, VARINT.at);
  return keyLength >= 4 ? data.readInt16BE(VARINT.at + 2) : -1;
}

/** Where the last varint read ended: varints are read on the hot path without an object per value. */
const VARINT = { at: 0 };

/** A zigzag varint (32 bits) at `at`; sets VARINT.at past it. */
function varint(data: Uint8Array, at: number): number {
  let value = 0;
  let shift = 0;
  let byte: number;
  do {
    byte = data[at++]!;
    value |= (byte & 0x7f) << shift;
    shift += 7;
  } while (byte & 0x80 && shift < 35);
  VARINT.at = at;
  return (value >>> 1) ^ -(value & 1);
}

/** A zigzag varlong at `at`, exact within ±2^53 (a time delta in ms); sets VARINT.at past it. */
function varlong(data: Uint8Array, at: number): number {
  let value = 0;
  let scale = 1;
  let byte: number;
  do {
    byte = data[at++]!;
    value += (byte & 0x7f) * scale;
    scale *= 128;
  } while (byte & 0x80 && scale < 2 ** 70);
  VARINT.at = at;
  return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
}

class Reader {
  at = 0;
  constructor(private readonly data: Buffer) {}
  skip(bytes: number): void {
    this.at += Math.max(bytes, 0);
  }
  int16(): number {
    const v = this.data.readInt16BE(this.at);
    this.at += 2;
    return v;
  }
  int32(): number {
    const v = this.data.readInt32BE(this.at);
    this.at += 4;
    return v;
  }
  int64(): number {
    const v = Number(this.data.readBigInt64BE(this.at));
    this.at += 8;
    return v;
  }
}
