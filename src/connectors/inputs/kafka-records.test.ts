import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { readFetchResponse, type PartitionRead } from './kafka-records.js';

/*
 * Fetch responses built with kafkajs's own encoders (the record batches a producer writes, byte
 * for byte), framed as a broker frames them for each Fetch version, and read back in place.
 */
const require = createRequire(import.meta.url);
type Encoder = {
  buffer: Buffer;
  writeInt8(v: number): Encoder;
  writeInt16(v: number): Encoder;
  writeInt32(v: number): Encoder;
  writeInt64(v: number | string): Encoder;
  writeString(v: string): Encoder;
  writeBuffer(v: Buffer): Encoder;
};
const Encoder = require('kafkajs/src/protocol/encoder.js') as new () => Encoder;
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0/index.js') as { RecordBatch: (batch: object) => Promise<Encoder> };
const Record = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as (record: object) => Encoder;
const { Types: Compression } = require('kafkajs/src/protocol/message/compression/index.js') as { Types: { GZIP: number; Snappy: number } };

const T0 = 1_795_000_000_000;

interface BatchSpec {
  base: number;
  values: (string | null)[];
  compression?: number;
  transactional?: boolean;
  producerId?: number;
  /** A transaction marker: its one record's key says abort (0) or commit (1). */
  marker?: 0 | 1;
  logAppendTime?: boolean;
}

async function recordBatch(spec: BatchSpec): Promise<Buffer> {
  const values = spec.marker === undefined ? spec.values : [''];
  const records = values.map((value, i) =>
    Record({
      offsetDelta: i,
      timestampDelta: i * 1000,
      key: spec.marker === undefined ? Buffer.from(`k${spec.base + i}`) : Buffer.from([0, 0, 0, spec.marker]),
      value: value === null ? null : Buffer.from(value),
      headers: spec.marker === undefined ? { trace: Buffer.from('x') } : {},
    }),
  );
  const encoded = (
    await RecordBatch({
      compression: spec.compression ?? 0,
      firstOffset: String(spec.base),
      firstTimestamp: T0,
      maxTimestamp: T0 + 99_000,
      lastOffsetDelta: values.length - 1,
      transactional: spec.transactional ?? spec.marker !== undefined,
      producerId: String(spec.producerId ?? -1),
      records,
    })
  ).buffer;
  // kafkajs writes no control batches or log-append times: their attribute bits, set here (the reader checks no CRC).
  const attributes = encoded.readInt16BE(21) | (spec.marker !== undefined ? 0x20 : 0) | (spec.logAppendTime ? 0x08 : 0);
  encoded.writeInt16BE(attributes, 21);
  return encoded;
}

interface PartitionSpec {
  partition: number;
  batches: Buffer[];
  errorCode?: number;
  highWatermark?: number;
  aborted?: { producerId: number; firstOffset: number }[];
  /** Bytes cut off the end of the partition's records, as a broker cuts at the size asked. */
  cut?: number;
}

function fetchResponse(version: number, partitions: PartitionSpec[]): Buffer {
  const e = new Encoder().writeInt32(0);
  if (version >= 7) e.writeInt16(0).writeInt32(0);
  e.writeInt32(1).writeString('clicks').writeInt32(partitions.length);
  for (const p of partitions) {
    e.writeInt32(p.partition).writeInt16(p.errorCode ?? 0).writeInt64(p.highWatermark ?? 1000).writeInt64(p.highWatermark ?? 1000);
    if (version >= 5) e.writeInt64(0);
    const aborted = p.aborted ?? [];
    e.writeInt32(aborted.length);
    for (const a of aborted) e.writeInt64(a.producerId).writeInt64(a.firstOffset);
    if (version >= 11) e.writeInt32(-1);
    const records = Buffer.concat(p.batches);
    const sent = records.subarray(0, records.length - (p.cut ?? 0));
    e.writeInt32(sent.length).writeBuffer(sent);
  }
  return e.buffer;
}

function read(response: Buffer, version: number, from: Record<number, number>, room = Infinity) {
  const records: { partition: number; offset: number; timestamp: number; value: string }[] = [];
  const reads = readFetchResponse(response, version, new Map(Object.entries(from).map(([p, o]) => [Number(p), o])), room, (partition, offset, timestamp, source, start, end) =>
    records.push({ partition, offset, timestamp, value: Buffer.from(source.subarray(start, end)).toString() }),
  );
  return { records, reads: Object.fromEntries(reads.map((r) => [r.partition, r])) as Record<number, PartitionRead> };
}

describe('Kafka fetch responses read in place', () => {
  it.each([4, 5, 7, 11])('Fetch v%i: each record of each partition once, with its offset, time and value, from the offset asked', async (version) => {
    const response = fetchResponse(version, [
      { partition: 0, batches: [await recordBatch({ base: 0, values: ['{"a":0}', '{"a":1}', '{"a":2}'] }), await recordBatch({ base: 3, values: ['{"a":3}'] })] },
      { partition: 5, batches: [await recordBatch({ base: 40, values: ['{"b":40}', '{"b":41}'] })] },
    ]);
    const { records, reads } = read(response, version, { 0: 1, 5: 40 });
    expect(records).toEqual([
      { partition: 0, offset: 1, timestamp: T0 + 1000, value: '{"a":1}' },
      { partition: 0, offset: 2, timestamp: T0 + 2000, value: '{"a":2}' },
      { partition: 0, offset: 3, timestamp: T0, value: '{"a":3}' },
      { partition: 5, offset: 40, timestamp: T0, value: '{"b":40}' },
      { partition: 5, offset: 41, timestamp: T0 + 1000, value: '{"b":41}' },
    ]);
    expect(reads[0]).toMatchObject({ next: 4, records: 3, afterData: 4, errorCode: 0, highWatermark: 1000 });
    expect(reads[5]).toMatchObject({ next: 42, records: 2 });
  });

  it('stops at the room left, each partition’s next offset at the first record not taken', async () => {
    const response = fetchResponse(11, [
      { partition: 0, batches: [await recordBatch({ base: 0, values: ['0', '1', '2'] })] },
      { partition: 1, batches: [await recordBatch({ base: 0, values: ['0', '1'] })] },
    ]);
    const { records, reads } = read(response, 11, { 0: 0, 1: 0 }, 2);
    expect(records.map((r) => `${r.partition}:${r.offset}`)).toEqual(['0:0', '0:1']);
    expect(reads[0]).toMatchObject({ next: 2, records: 2 });
    expect(reads[1]).toMatchObject({ next: 0, records: 0 });
  });

  it('reads gzip batches and a log-append time; a null value is an empty one', async () => {
    const response = fetchResponse(11, [
      { partition: 0, batches: [await recordBatch({ base: 7, values: ['{"z":1}', null], compression: Compression.GZIP, logAppendTime: true })] },
    ]);
    const { records } = read(response, 11, { 0: 7 });
    expect(records).toEqual([
      { partition: 0, offset: 7, timestamp: T0 + 99_000, value: '{"z":1}' },
      { partition: 0, offset: 8, timestamp: T0 + 99_000, value: '' },
    ]);
  });

  it('read committed: an aborted transaction and both markers give no row, yet their offsets are consumed', async () => {
    const response = fetchResponse(11, [
      {
        partition: 0,
        aborted: [{ producerId: 7, firstOffset: 10 }],
        batches: [
          await recordBatch({ base: 9, values: ['plain'] }),
          await recordBatch({ base: 10, values: ['aborted-1', 'aborted-2'], transactional: true, producerId: 7 }),
          await recordBatch({ base: 12, values: [], marker: 0, producerId: 7 }),
          await recordBatch({ base: 13, values: ['committed-1', 'committed-2'], transactional: true, producerId: 8 }),
          await recordBatch({ base: 15, values: [], marker: 1, producerId: 8 }),
        ],
      },
    ]);
    const { records, reads } = read(response, 11, { 0: 9 });
    expect(records.map((r) => `${r.offset}:${r.value}`)).toEqual(['9:plain', '13:committed-1', '14:committed-2']);
    // After the last record with a row (14) only a marker lies before 16: a reader there may go on from 16.
    expect(reads[0]).toMatchObject({ next: 16, afterData: 15, records: 3 });
  });

  it('leaves a batch the broker cut short for the next fetch', async () => {
    const response = fetchResponse(11, [{ partition: 0, cut: 5, batches: [await recordBatch({ base: 0, values: ['a', 'b'] }), await recordBatch({ base: 2, values: ['c', 'd'] })] }]);
    const { records, reads } = read(response, 11, { 0: 0 });
    expect(records.map((r) => r.value)).toEqual(['a', 'b']);
    expect(reads[0]).toMatchObject({ next: 2 });
  });

  it('a partition’s error comes back with its code and no records read', async () => {
    const response = fetchResponse(11, [{ partition: 3, errorCode: 1, batches: [] }]);
    const { records, reads } = read(response, 11, { 3: 500 });
    expect(records).toEqual([]);
    expect(reads[3]).toMatchObject({ errorCode: 1, next: 500, records: 0 });
  });

  it('refuses a codec it cannot read, naming it and what to do', async () => {
    const batch = await recordBatch({ base: 0, values: ['a'] });
    batch.writeInt16BE(batch.readInt16BE(21) | Compression.Snappy, 21);
    expect(() => read(fetchResponse(11, [{ partition: 0, batches: [batch] }]), 11, { 0: 0 })).toThrow(
      /partition 0: records compressed with snappy at offset 0; .*compression.type to gzip or none/,
    );
  });
});
