import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { globSync } from 'tinyglobby';
import { afterAll, describe, expect, it } from 'vitest';
import { formatSchema, openFormat, type LineLocation } from '../src/connectors/formats/index.js';
import type { RecordSink } from '../src/connectors/inputs/types.js';
import { declaredColumns } from '../src/core/schemas.js';
import { Engine } from '../src/engine/index.js';
import { Log } from '../src/log/index.js';
import { BatchWriter, loadPreparedBatch } from '../src/stream/microbatch.js';
import { REPO, openProject, tempDir, writeTree } from './helpers.js';
import { requireService, tcpOpen } from './services.js';
import { startKafkaMock } from './support/kafka-mock.js';
import { runWorker } from './stream-helpers.js';

/**
 * Record formats: how an input's records become events. The combined-log format is checked line
 * by line against hand-made cases, then end to end on the retail example's generated access logs
 * through every input (a spool folder, the embedded log, NATS JetStream, Kafka): every line is a
 * row or a dead letter with its reason, and the rows equal an independent parse of the same
 * lines (a regular expression, not the format's code).
 */

type Outcome = { row: Record<string, unknown> } | { reason: string };

/** Reads records through a format and keeps what it made of each. */
function readAll(format: unknown, records: readonly (string | Buffer)[], at?: LineLocation): Outcome[] {
  const outcomes: Outcome[] = [];
  const sink: RecordSink = {
    get count() {
      return outcomes.length;
    },
    add(_partition, _offset, _timestamp, source, start = 0, end = source.length) {
      outcomes.push({ row: JSON.parse(Buffer.from(source.subarray(start, end)).toString('utf8')) as Record<string, unknown> });
    },
    reject(_partition, _offset, _timestamp, reason) {
      outcomes.push({ reason });
    },
  };
  const read = openFormat(formatSchema.parse(format));
  records.forEach((record, i) => {
    // Each record inside a larger buffer, as the inputs hand them over: nothing past `end` may be read.
    const bytes = Buffer.concat([Buffer.from('xx"['), Buffer.from(record), Buffer.from('" "\n')]);
    read(sink, 0, i, 0, bytes, 4, bytes.length - 4, at);
  });
  return outcomes;
}

const one = (format: unknown, record: string, at?: LineLocation) => readAll(format, [record], at)[0]!;

describe('combined-log format', () => {
  const apache = '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"';

  it("parses Apache's documented example, applying the offset to give UTC", () => {
    expect(one('combined-log', apache)).toEqual({
      row: {
        remote_host: '127.0.0.1',
        ident: '-',
        remote_user: 'frank',
        time: '2000-10-10 20:55:36',
        method: 'GET',
        path: '/apache_pb.gif',
        protocol: 'HTTP/1.0',
        status: 200,
        bytes: 2326,
        referrer: 'http://www.example.com/start.html',
        user_agent: 'Mozilla/4.08 [en] (Win98; I ;Nav)',
      },
    });
  });

  it('applies offsets across midnight, month and year ends, and in leap years', () => {
    const at = (time: string) => (one('combined-log', apache.replace('10/Oct/2000:13:55:36 -0700', time)) as { row: { time: string } }).row.time;
    expect(at('31/Dec/2024:23:30:00 -0130')).toBe('2025-01-01 01:00:00');
    expect(at('01/Mar/2024:00:15:00 +0100')).toBe('2024-02-29 23:15:00');
    expect(at('01/Mar/2023:00:15:00 +0100')).toBe('2023-02-28 23:15:00');
    expect(at('06/Dec/2024:00:03:16 +0000')).toBe('2024-12-06 00:03:16');
    expect(at('15/Jun/2024:08:00:00 +0545')).toBe('2024-06-15 02:15:00');
  });

  it("reads Apache's escaped quotes and backslashes inside quoted fields, and keeps other escapes as written", () => {
    const line = `10.0.0.1 - - [06/Dec/2024:10:00:00 +0000] "GET /search?q=\\"lego star wars\\" HTTP/1.1" 200 512 "https://a.example/?q=\\"x\\"" "Bot \\"quoted\\" C:\\\\path \\x16 end"`;
    expect(one('combined-log', line)).toMatchObject({
      row: { path: '/search?q="lego star wars"', referrer: 'https://a.example/?q="x"', user_agent: 'Bot "quoted" C:\\path \\x16 end' },
    });
  });

  it("takes the protocol as the request's last word, so a path may hold spaces; '-' bytes are NULL; dashAsNull makes other '-' NULL", () => {
    const line = '10.0.0.1 - - [06/Dec/2024:10:00:00 +0000] "GET /a b.html HTTP/1.1" 304 - "-" "-"';
    expect(one('combined-log', line)).toMatchObject({ row: { path: '/a b.html', protocol: 'HTTP/1.1', status: 304, bytes: null, ident: '-', referrer: '-', user_agent: '-' } });
    expect(one({ kind: 'combined-log', dashAsNull: true }, line)).toMatchObject({ row: { ident: null, remote_user: null, referrer: null, user_agent: null, bytes: null } });
    expect(one({ kind: 'combined-log', dashAsNull: true }, apache)).toMatchObject({ row: { ident: null, remote_user: 'frank' } });
  });

  it('escapes what JSON cannot hold (a tab, a quote in a word) so a strange line is still a row', () => {
    const line = '10.0.0.1 "odd\tident - [06/Dec/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "tab\there"';
    expect(one('combined-log', line)).toMatchObject({ row: { ident: '"odd\tident', user_agent: 'tab\there' } });
  });

  it('refuses a line it cannot parse with what it expected at which character (characters, not bytes)', () => {
    const reason = (line: string) => (one('combined-log', line) as { reason: string }).reason;
    expect(reason('90.45.44.211 - - [06/Dec/2024:00:11:53 +0000] "\\x16\\x03\\x01\\x02\\x00" 400 226 "-" "-"')).toBe(
      "expected the request method (a word like GET) at character 48, found '\\'",
    );
    expect(reason('89.151.228.33 - - [06/Dec/2024:00:18:36 +0000] "GET /c/build')).toBe('expected \'"\' closing the request at character 61, found the end of the line');
    expect(reason('86.24.221.28 - - [06/Dec/2024:00:30:33 +0000] "GET /wp-login.php HTTP/1.1" 404 1187 "-" "Mozilla/5.0 (compatible; "Nimbostratus-Bot" v1.3.2)"')).toBe(
      "expected the end of the line after the user agent at character 116, found 'N'",
    );
    expect(reason('10.0.0.1 - josé [06/Dez/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "-"')).toBe(
      'expected the time as [dd/Mon/yyyy:HH:MM:SS ±hhmm] with an English month (Jan … Dec) at character 21, found \'D\'',
    );
    expect(reason('10.0.0.1 - - [31/Nov/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "-"')).toBe(
      "expected the time as [dd/Mon/yyyy:HH:MM:SS ±hhmm] with a day of the month at character 15, found '3'",
    );
    expect(reason('10.0.0.1 - - [06/Dec/2024:10:00:00] "GET / HTTP/1.1" 200 1 "-" "-"')).toBe("expected the time as [dd/Mon/yyyy:HH:MM:SS ±hhmm] at character 35, found ']'");
    expect(reason('10.0.0.1 - - [06/Dec/2024:10:00:00 +0000] "GET / HTTP/1.1" 2000 1 "-" "-"')).toBe("expected ' ' after the status at character 63, found '0'");
    expect(reason('10.0.0.1 - - [06/Dec/2024:10:00:00 +0000] "GET /" 200 1 "-" "-"')).toBe("expected ' ' and the protocol after the path at character 49, found '\"'");
    expect(reason('10.0.0.1 - - [06/Dec/2024:10:00:00 +0000] "GET / SPDY/3" 200 1 "-" "-"')).toBe("expected the protocol (HTTP/x.y) at character 50, found 'S'");
    expect(reason('10.0.0.1 - - [06/Dec/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-"')).toBe("expected ' ' after the referrer at character 69, found the end of the line");
    expect(reason('')).toBe('expected the remote host at character 1, found the end of the line');
    expect(reason('10.0.0.1 - - [06/Dec/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "\u0007"x')).toBe('expected the end of the line after the user agent at character 73, found \'x\'');
    expect(one('combined-log', 'garbage', { file: 'access_log', line: 7 })).toEqual({ reason: "access_log:7: expected ' ' after the remote host at character 8, found the end of the line" });
  });
});

describe('delimited and json formats', () => {
  it('delimited: names the fields, escapes what JSON needs, counts the fields of a bad record', () => {
    const format = { kind: 'delimited', delimiter: '||', fields: ['customer_id', 'menu', 'note'] };
    expect(readAll(format, ['117||latte||say "hi" \\ \t', '117||latte', '1||2||3||4', '||||'])).toEqual([
      { row: { customer_id: '117', menu: 'latte', note: 'say "hi" \\ \t' } },
      { reason: "expected 3 fields separated by '||', got 2" },
      { reason: "expected 3 fields separated by '||', got 4" },
      { row: { customer_id: '', menu: '', note: '' } },
    ]);
    expect(one(format, 'x', { file: 'orders.txt', line: 3 })).toEqual({ reason: "orders.txt:3: expected 3 fields separated by '||', got 1" });
  });

  it('json: a message goes on as it is (the micro-batch judges it); a line of a file must be one object', () => {
    const kept: string[] = [];
    const sink = {
      count: 0,
      add: (_p: number, _o: number, _t: number, s: Uint8Array, a = 0, b = s.length) => void kept.push(Buffer.from(s.subarray(a, b)).toString()),
      reject: (_p: number, _o: number, _t: number, reason: string) => void kept.push(`refused: ${reason}`),
    } as RecordSink;
    const read = openFormat(formatSchema.parse(undefined));
    for (const value of ['{"a":1}', 'garbage', ' {"b":2} ']) read(sink, 0, 0, 0, Buffer.from(value), 0, value.length);
    read(sink, 0, 0, 0, Buffer.from(' {"b":2}\t'), 0, 9, { file: 'f.jsonl', line: 2 });
    read(sink, 0, 0, 0, Buffer.from('1,2,3'), 0, 5, { file: 'f.jsonl', line: 3 });
    expect(kept).toEqual(['{"a":1}', 'garbage', ' {"b":2} ', '{"b":2}', 'refused: f.jsonl:3: expected one JSON object per line']);
  });

  it('reads the spool input’s earlier spellings and a kind alone', () => {
    expect(formatSchema.parse('jsonl')).toEqual({ kind: 'json' });
    expect(formatSchema.parse({ delimiter: '|', fields: ['a', 'b'] })).toEqual({ kind: 'delimited', delimiter: '|', fields: ['a', 'b'] });
    expect(formatSchema.parse('combined-log')).toEqual({ kind: 'combined-log', dashAsNull: false });
    expect(formatSchema.parse(undefined)).toEqual({ kind: 'json' });
    expect(formatSchema.safeParse('delimited').success).toBe(false);
    expect(formatSchema.safeParse({ kind: 'combined-log', dashes: true }).success).toBe(false);
  });
});

describe('refused records in a micro-batch', () => {
  it('join the batch with their reason whichever load runs, and a batch of nothing but refusals loads', async () => {
    const engine = await Engine.open();
    const dir = tempDir();
    const columns = declaredColumns({ customer_id: 'BIGINT', menu: 'VARCHAR' });
    const read = openFormat(formatSchema.parse({ delimiter: '|', fields: ['customer_id', 'menu'] }));
    const load = async (records: string[]) => {
      const writer = new BatchWriter();
      records.forEach((r, i) => read(writer, 2, 100 + i, 1_800_000_000_000, Buffer.from(r), 0, Buffer.byteLength(r)));
      const batch = await loadPreparedBatch(engine, writer.finish(path.join(dir, 'batch.txt')), columns, []);
      expect(batch.count).toBe(records.length);
      return engine.queryJson(`SELECT __p, __o, customer_id, menu, __rule, __reason, __raw FROM ${batch.table} ORDER BY __o`);
    };
    try {
      // Good records and refusals: the fast load, then the refusals.
      expect(await load(['117|latte', 'only one field', '118|mocha', 'a|b|c\nwith a newline'])).toEqual([
        { __p: 2, __o: '100', customer_id: '117', menu: 'latte', __rule: 'ok', __reason: null, __raw: null },
        { __p: 2, __o: '101', customer_id: null, menu: null, __rule: 'parse', __reason: "expected 2 fields separated by '|', got 1", __raw: 'only one field' },
        { __p: 2, __o: '102', customer_id: '118', menu: 'mocha', __rule: 'ok', __reason: null, __raw: null },
        { __p: 2, __o: '103', customer_id: null, menu: null, __rule: 'parse', __reason: "expected 2 fields separated by '|', got 3", __raw: 'a|b|c\nwith a newline' },
      ]);
      // A record that fails typing sends the rest through the careful load; the refusal still joins.
      const careful = await load(['x17|latte', 'no', '119|cake']);
      expect(careful.map((r) => [r.__o, r.customer_id, r.__rule, r.__reason])).toEqual([
        ['100', null, 'parse', 'customer_id: expected BIGINT, got x17'],
        ['101', null, 'parse', "expected 2 fields separated by '|', got 1"],
        ['102', '119', 'ok', null],
      ]);
      expect((await load(['a', 'b'])).map((r) => [r.__o, r.__rule, r.__raw])).toEqual([
        ['100', 'parse', 'a'],
        ['101', 'parse', 'b'],
      ]);
    } finally {
      engine.close();
    }
  });
});

// ── The retail example's generated access logs, end to end ─────────────────────────────────

const LOG_FILES = globSync('examples/retail-sales/data/sample/streams/**/access_log', { cwd: REPO, absolute: true, onlyFiles: true }).sort();
const LOG_LINES = LOG_FILES.flatMap((file) => {
  const text = readFileSync(file, 'utf8');
  // The independent count: every newline ends a line (the generator ends the file with one).
  expect(text.endsWith('\n')).toBe(true);
  return text.slice(0, -1).split('\n');
});

/** An independent parse: the combined format as one regular expression (the sample has no escaped quotes). */
const COMBINED = /^(\S+) (\S+) (\S+) \[(\d{2})\/(\w{3})\/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})\] "([A-Z]+) (\S+) (HTTP\/\d\.\d)" (\d{3}) (\d+|-) "([^"]*)" "([^"]*)"$/;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Each good line as the stream's columns should hold it, in the order the table is read back. */
function expectedRows(lines: readonly string[]): string[] {
  return lines
    .flatMap((line) => {
      const m = COMBINED.exec(line);
      if (!m) return [];
      const local = Date.UTC(Number(m[6]), MONTHS.indexOf(m[5]!), Number(m[4]), Number(m[7]), Number(m[8]), Number(m[9]));
      const offset = (m[10] === '-' ? -1 : 1) * (Number(m[11]) * 60 + Number(m[12])) * 60_000;
      const dash = (v: string) => (v === '-' ? null : v);
      return [
        JSON.stringify([m[1], dash(m[2]!), m[3] === '-' ? null : m[3], new Date(local - offset).toISOString().slice(0, 19).replace('T', ' '), m[13], m[14], m[15], Number(m[16]), m[17] === '-' ? null : m[17], dash(m[18]!), dash(m[19]!)]),
      ];
    })
    .sort();
}

const malformed = LOG_LINES.filter((line) => !COMBINED.test(line));

function accessProject(input: string, topics = ''): string {
  return writeTree({
    'tributary.config.ts': `import { defineProject } from 'tributary';
export default defineProject({
  name: 'access_logs',
  models: { requests: { sql: "SELECT * FROM {{ source('access') }}", materialize: 'ephemeral' } },
  ${topics}
  streams: {
    access: {
      input: ${input},
      binds: 'access',
      columns: {
        remote_host: 'VARCHAR', ident: 'VARCHAR', remote_user: 'BIGINT', time: 'TIMESTAMP', method: 'VARCHAR', path: 'VARCHAR',
        protocol: 'VARCHAR', status: 'SMALLINT', bytes: 'BIGINT', referrer: 'VARCHAR', user_agent: 'VARCHAR',
      },
      triggerMs: 0,
      sinks: { serving: { kind: 'duckdb', tables: { requests: { model: 'requests' } } } },
    },
  },
});
`,
  });
}

const FORMAT = "{ kind: 'combined-log', dashAsNull: true }";

/** Drains the project and checks every line is a row or a dead letter, the rows equal the independent parse. */
async function expectEveryLineAccounted(
  projectDir: string,
  dataDir: string,
  reasonPrefix: (line: number) => string,
  recordAt?: (partition: number, offset: number) => string,
): Promise<void> {
  const run = runWorker(projectDir, dataDir, { maxBatch: 250 });
  expect(run.code, run.stderr).toBe(0);
  const ws = await openProject(projectDir, { dataDir });
  try {
    const rows = await ws.engine.queryJson<Record<string, unknown>>(
      `SELECT remote_host, ident, remote_user::VARCHAR AS remote_user, strftime(time, '%Y-%m-%d %H:%M:%S') AS time, method, path, protocol, status, bytes, referrer, user_agent FROM requests`,
    );
    const dead = await ws.engine.queryJson<{ reason: string; raw: string; partition: number; offset: string }>(
      `SELECT reason, raw, partition, "offset" FROM tributary.dead_letters ORDER BY partition, "offset"`,
    );
    expect(rows.length + dead.length).toBe(LOG_LINES.length);
    const asRows = rows
      .map((r) => JSON.stringify([r.remote_host, r.ident, r.remote_user, r.time, r.method, r.path, r.protocol, Number(r.status), r.bytes === null ? null : String(r.bytes), r.referrer, r.user_agent]))
      .sort();
    expect(asRows).toEqual(expectedRows(LOG_LINES));
    expect(dead.map((d) => d.raw).sort()).toEqual([...malformed].sort());
    // Each refusal says what was wrong with that line.
    const expectedReasons = malformed.map((line) => {
      const number = LOG_LINES.indexOf(line) + 1;
      if (line.includes('"\\x16')) return `${reasonPrefix(number)}expected the request method (a word like GET) at character ${line.indexOf('"\\x16') + 2}, found '\\'`;
      if (line.includes('"Nimbostratus')) return `${reasonPrefix(number)}expected the end of the line after the user agent at character ${line.indexOf('Nimbostratus') + 1}, found 'N'`;
      const quoted = line.split('"').length - 1;
      return `${reasonPrefix(number)}expected '"' closing the ${quoted <= 1 ? 'request' : quoted <= 3 ? 'referrer' : 'user agent'} at character ${line.length + 1}, found the end of the line`;
    });
    expect(dead.map((d) => d.reason).sort()).toEqual(expectedReasons.sort());
    if (recordAt) for (const d of dead) expect(recordAt(d.partition, Number(d.offset))).toBe(d.raw);
  } finally {
    ws.close();
  }
}

let kafkaMock: Awaited<ReturnType<typeof startKafkaMock>> | undefined;
const kafkaUp = await requireService('Kafka (librdkafka mock cluster via kcat)', async () => {
  kafkaMock = await startKafkaMock();
});
const natsUp = await requireService('NATS JetStream', () => tcpOpen('127.0.0.1', 4222));
afterAll(() => kafkaMock?.process.kill());

describe('the generated access logs through every input', () => {
  it('the sample holds the three deliberate kinds of malformed line', () => {
    expect(LOG_LINES.length).toBeGreaterThanOrEqual(600);
    expect(malformed.some((l) => l.includes('"\\x16\\x03'))).toBe(true);
    expect(malformed.some((l) => l.includes('"Nimbostratus-Bot"'))).toBe(true);
    expect(malformed.some((l) => !l.endsWith('"'))).toBe(true);
  });

  it('a spool folder: every line a row or a dead letter naming the file and line', async () => {
    const dir = accessProject(`{ kind: 'spool', dir: 'incoming', pattern: 'access_log*', format: ${FORMAT} }`);
    mkdirSync(path.join(dir, 'incoming'));
    // Only one file (the sample has one day), so its line numbers are the lines' numbers.
    expect(LOG_FILES).toHaveLength(1);
    copyFileSync(LOG_FILES[0]!, path.join(dir, 'incoming', 'access_log'));
    await expectEveryLineAccounted(dir, tempDir(), (line) => `access_log:${line}: `);
  });

  it('the embedded log: the same, each dead letter at its partition and offset', async () => {
    const dir = accessProject(`{ kind: 'log', topic: 'access_log', format: ${FORMAT} }`, 'topics: { access_log: { partitions: 3 } },');
    const dataDir = tempDir();
    const log = new Log(path.join(dataDir, 'state', 'log'));
    log.topic('access_log', { partitions: 3 }).append(LOG_LINES.map((value) => ({ value })));
    log.close();
    await expectEveryLineAccounted(dir, dataDir, () => '', (partition, offset) => {
      const reopened = new Log(path.join(dataDir, 'state', 'log'));
      try {
        return reopened.topic('access_log').read(partition, offset, undefined, 1)[0]!.value.toString('utf8');
      } finally {
        reopened.close();
      }
    });
  });

  it.runIf(natsUp)('NATS JetStream: the same', async () => {
    const stream = `ACCESS_${randomBytes(3).toString('hex')}`;
    const nc = await connect({ servers: '127.0.0.1:4222' });
    const jsm = await jetstreamManager(nc);
    try {
      await jsm.streams.add({ name: stream, subjects: [`${stream}.lines`] });
      const js = jetstream(nc);
      for (let i = 0; i < LOG_LINES.length; i += 200) await Promise.all(LOG_LINES.slice(i, i + 200).map((line) => js.publish(`${stream}.lines`, line)));
      const dir = accessProject(`{ kind: 'nats', servers: '127.0.0.1:4222', stream: '${stream}', format: ${FORMAT} }`);
      await expectEveryLineAccounted(dir, tempDir(), () => '');
    } finally {
      await jsm.streams.delete(stream);
      await nc.close();
    }
  });

  it.runIf(kafkaUp)('Kafka: the same', async () => {
    const topic = `access_${randomBytes(3).toString('hex')}`;
    const producer = new Kafka({ brokers: [kafkaMock!.bootstrap], logLevel: logLevel.NOTHING }).producer();
    await producer.connect();
    for (let i = 0; i < LOG_LINES.length; i += 200) await producer.send({ topic, messages: LOG_LINES.slice(i, i + 200).map((value) => ({ value })) });
    await producer.disconnect();
    const dir = accessProject(`{ kind: 'kafka', brokers: ['${kafkaMock!.bootstrap}'], topic: '${topic}', format: ${FORMAT} }`);
    await expectEveryLineAccounted(dir, tempDir(), () => '');
  });
});
