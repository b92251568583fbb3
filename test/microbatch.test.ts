import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { declaredColumns } from '../src/core/schemas.js';
import { Engine } from '../src/engine/index.js';
import { BatchWriter, loadPreparedBatch } from '../src/stream/microbatch.js';
import { tempDir } from './helpers.js';

// The staging of a micro-batch, as a specification: whatever bytes arrive, each record comes out
// as one row at its own partition and offset, typed when it is a good event, judged with a reason
// and kept as it came when it is not.
const columns = declaredColumns({ id: 'BIGINT', event_time: 'TIMESTAMP', event_type: 'VARCHAR', price: 'DECIMAL(10,2)' });
const rules = [
  { column: 'id', notNull: true },
  { column: 'event_type', accepted: ['view', 'cart', 'purchase'] },
];

interface Row {
  __p: number;
  __o: string;
  id: string | null;
  event_time: string | null;
  price: string | null;
  __rule: string;
  __reason: string | null;
  __raw: string | null;
}

let engine: Engine;
let dir: string;
beforeAll(async () => {
  engine = await Engine.open();
  dir = tempDir();
});
afterAll(() => engine.close());

async function load(values: (string | Buffer)[], partition = 3, firstOffset = 2 ** 40): Promise<Row[]> {
  const writer = new BatchWriter(16);
  values.forEach((v, i) => writer.add(partition, firstOffset + i, 1_795_000_000_000 + i, Buffer.from(v)));
  const batch = await loadPreparedBatch(engine, writer.finish(path.join(dir, 'batch.txt')), columns, rules);
  expect(batch.count).toBe(values.length);
  expect(batch.ranges.get(partition)).toEqual({ first: firstOffset, last: firstOffset + values.length - 1 });
  return engine.queryJson<Row>(`SELECT * FROM ${batch.table} ORDER BY __o`);
}

const good = (id: string, extra = '') => `{"id":${id},"event_time":"2019-11-01 00:00:00 UTC","event_type":"view","price":"12.30"${extra}}`;

describe('a micro-batch on its way into the engine', () => {
  it('types good events exactly, with 64-bit ids, at their partition and offset', async () => {
    const rows = await load([good('1515915625519388267'), good('9007199254740993')]);
    expect(rows.map((r) => [r.__p, r.__o, r.id, r.event_time, r.price, r.__rule])).toEqual([
      [3, String(2 ** 40), '1515915625519388267', '2019-11-01 00:00:00', '12.30', 'ok'],
      [3, String(2 ** 40 + 1), '9007199254740993', '2019-11-01 00:00:00', '12.30', 'ok'],
    ]);
  });

  it('judges each bad event with a reason and keeps it as it came, beside good ones', async () => {
    const pretty = '{\n  "id": 7,\n  "event_time": "2019-11-01 00:00:00",\n  "event_type": "cart"\n}';
    const values = [
      good('1'),
      pretty,
      '{}',
      '[1, 2]',
      'not json\x01with a separator\nand a newline',
      good('"seven"'),
      good('8').replace('view', 'refund'),
      '',
      good('9'),
    ];
    const rows = await load(values, 0, 10);
    expect(rows.map((r) => Number(r.__o))).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18]);
    expect(rows.map((r) => r.__reason)).toEqual([
      null,
      null,
      'id: expected a value (not null), got NULL',
      'expected a JSON object, got an array',
      expect.stringMatching(/^not valid JSON: not json/),
      'id: expected BIGINT, got seven',
      'event_type: expected one of view, cart, purchase, got refund',
      expect.stringMatching(/^not valid JSON/),
      null,
    ]);
    // Pretty-printed JSON is a good event; what was wrong is kept byte for byte, bar line breaks.
    expect(rows[1]).toMatchObject({ id: '7', __rule: 'ok' });
    expect(rows.filter((r) => r.__rule !== 'ok').map((r) => r.__raw)).toEqual([
      '{}',
      '[1, 2]',
      'not json with a separator and a newline',
      good('"seven"'),
      good('8').replace('view', 'refund'),
      '',
    ]);
  });

  it('a text longer than its declared VARCHAR(n) is a dead letter with the reason; a shorter one is the string, not its JSON', async () => {
    const sized = declaredColumns({ id: 'BIGINT', event_type: 'VARCHAR(4)' });
    const writer = new BatchWriter(16);
    ['view', 'cart', 'purchase'].forEach((type, i) => writer.add(0, i, 1_795_000_000_000, Buffer.from(`{"id":${i},"event_type":"${type}"}`)));
    const batch = await loadPreparedBatch(engine, writer.finish(path.join(dir, 'sized.txt')), sized, []);
    const rows = await engine.queryJson<{ event_type: string | null; __rule: string; __reason: string | null }>(`SELECT event_type, __rule, __reason FROM ${batch.table} ORDER BY __o`);
    expect(rows.slice(0, 2)).toEqual([
      { event_type: 'view', __rule: 'ok', __reason: null },
      { event_type: 'cart', __rule: 'ok', __reason: null },
    ]);
    expect(rows[2]!.__rule).not.toBe('ok');
    expect(rows[2]!.__reason).toBe('event_type: expected VARCHAR(4), got purchase');
  });

  it('an event cannot move itself to another offset by carrying the bookkeeping fields', async () => {
    const rows = await load([good('1', ',"__o":0,"__p":9'), good('2')], 1, 500);
    expect(rows.map((r) => [r.__p, r.__o, r.id, r.__rule])).toEqual([
      [1, '500', '1', 'ok'],
      [1, '501', '2', 'ok'],
    ]);
  });

  it('an event that is not UTF-8 is a dead letter on its own; the rest of the batch loads, and a one-line rewrite still holds', async () => {
    // "Café" in Latin-1, the way an old POS terminal sends it: one invalid byte in the middle.
    const latin1 = Buffer.concat([Buffer.from('{"id":2,"event_time":"2019-11-01 00:00:00","event_type":"view","price":"1.00","store":"Caf'), Buffer.from([0xe9]), Buffer.from('"}')]);
    const rows = await load([good('1'), latin1, good('3'), '{\n"id": 4,\n"event_time": "2019-11-01 00:00:00", "event_type": "cart"}'], 0, 10);
    expect(rows.map((r) => [r.__o, r.id, r.__rule])).toEqual([
      ['10', '1', 'ok'],
      ['11', '2', 'parse'],
      ['12', '3', 'ok'],
      ['13', '4', 'ok'],
    ]);
    expect(rows[1]!.__reason).toMatch(/not UTF-8 text/);
    expect(rows[1]!.__raw).toBe(`{"id":2,"event_time":"2019-11-01 00:00:00","event_type":"view","price":"1.00","store":"Caf\ufffd"}`);
  });
});
