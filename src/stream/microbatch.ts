import { isUtf8 } from 'node:buffer';
import { closeSync, constants, ftruncateSync, openSync, writeSync } from 'node:fs';
import type { DeclaredColumn, Rule } from '../core/schemas.js';
import type { Engine } from '../engine/index.js';
import { lineReadLimit, quoteIdent, quoteLiteral } from '../engine/index.js';
import { PARSE_ERROR, VERDICT, fieldTextColumns, reasonExpression, ruleChecks, typeJson, typedColumns, verdictExpression, type JsonOptions } from '../quality/index.js';
import type { RecordSink } from '../connectors/index.js';

/** Internal columns every micro-batch row carries: where it came from and what the rules said. */
export const BATCH_COLUMNS = { partition: '__p', offset: '__o', timestamp: '__ts', reason: '__reason', raw: '__raw' } as const;

export interface MicroBatch {
  /** Table with every record of the batch, parsed, judged and located. */
  table: string;
  count: number;
  /** Offsets the batch covers, per partition. */
  ranges: Map<number, { first: number; last: number }>;
  /** Oldest log timestamp in the batch (ms), for latency. */
  oldestTimestamp: number;
  /** Every record loaded and passed its rules: the batch has no dead letters. */
  clean: boolean;
}

const NEWLINE = 0x0a;
const RETURN = 0x0d;
const SEPARATOR = 0x01;
const ZERO = 0x30;
const OPEN_BRACE = 0x7b;
const QUOTE = 0x22;
const COMMA = 0x2c;
/** Marks a value staged as it came, because it is not an object the prefix can be spliced into. */
const AS_IS = 0x21;
/** Marks a record refused for not being UTF-8: its reason as a JSON string, then the value shown lossily. */
const REJECTED = 0x3f;
/** The careful load's column for an input's own reason, folded into the parse error. */
const REJECTED_REASON = '__rejected';
const PREFIX = {
  partition: Buffer.from(`{"${BATCH_COLUMNS.partition}":`),
  offset: Buffer.from(`,"${BATCH_COLUMNS.offset}":`),
  timestamp: Buffer.from(`,"${BATCH_COLUMNS.timestamp}":`),
};

/** A value as one line: valid JSON may contain newlines as whitespace; re-serialise it then. */
function oneLine(value: Buffer): Buffer {
  if (value.indexOf(NEWLINE) < 0 && value.indexOf(RETURN) < 0 && value.indexOf(SEPARATOR) < 0) return value;
  const text = value.toString('utf8');
  try {
    return Buffer.from(JSON.stringify(JSON.parse(text)));
  } catch {
    return Buffer.from(text.replace(/[\n\r\x01]/g, ' '));
  }
}

/** A batch written to its scratch file, ready for the engine: the JavaScript half of a micro-batch. */
export interface PreparedBatch {
  file: string;
  count: number;
  /** Records whose value was staged as it came (not a JSON object): the batch needs the careful load. */
  asIs: number;
  /** Records refused for not being UTF-8: only the careful load keeps their reason, so the batch needs it. */
  rejected: number;
  /**
   * Records the input (its format) refused with a reason. They are not in `file` but in
   * `refusedFile`, and join the batch as they are: a few malformed lines in every batch (an
   * access log's) leave the rest of the batch on the fast load.
   */
  refused: number;
  refusedFile: string;
  ranges: Map<number, { first: number; last: number }>;
  /** Log timestamps of the records (ms), for latency. */
  timestamps: Float64Array;
  /**
   * Rewrites the scratch file with every value on one line. Values are copied as they are, and
   * one that spans lines (pretty-printed JSON, say) shows up as extra rows when the engine reads
   * the file; only then is the batch rewritten, so the common case pays nothing for the check.
   */
  rewriteOneLine(): void;
}

/**
 * Collects a micro-batch as the lines of its scratch file in one buffer, reused from batch to
 * batch: no object or string per record, so staging half a million events costs little more than
 * copying their bytes. A line is the event's JSON object with the record's partition, offset and
 * log time spliced in front of its fields, so the engine's JSON reader types the whole batch in
 * one pass; a value that is not an object is kept as it came, after a `!`.
 */
export class BatchWriter implements RecordSink {
  private buffer: Buffer;
  private at = 0;
  count = 0;
  /** Records with a line in `buffer` (all but the refused). */
  private lines = 0;
  private asIs = 0;
  private rejected = 0;
  /** The refused records, one JSON object a line: `{"p","o","ts","reason","raw"}`. */
  private refusals: string[] = [];
  private ranges = new Map<number, { first: number; last: number }>();
  private timestamps = new Float64Array(1024);
  /** Per line, where it and its content start: enough to rewrite the batch line-safe. */
  private starts = new Float64Array(2048);
  /** The last timestamp and its text: records appended together share it. */
  private lastTimestamp = Number.NaN;
  private timestampText = Buffer.alloc(0);

  constructor(initialBytes = 1 << 20) {
    this.buffer = Buffer.allocUnsafe(initialBytes);
  }

  reset(): void {
    this.at = 0;
    this.count = 0;
    this.lines = 0;
    this.asIs = 0;
    this.rejected = 0;
    this.refusals = [];
    this.ranges = new Map();
    this.lastTimestamp = Number.NaN;
  }

  add(partition: number, offset: number, timestamp: number, source: Uint8Array, start = 0, end = source.length): void {
    this.begin(partition, offset, timestamp, end - start);
    if (end - start >= 2 && source[start] === OPEN_BRACE && source[start + 1] === QUOTE) {
      start++;
    } else {
      this.buffer[this.at++] = AS_IS;
      this.asIs++;
    }
    this.buffer.set(start === 0 && end === source.length ? source : source.subarray(start, end), this.at);
    this.at += end - start;
    this.close(partition, offset, timestamp);
  }

  reject(partition: number, offset: number, timestamp: number, reason: string, source: Uint8Array, start = 0, end = source.length): void {
    // Kept as text (bytes that are not UTF-8 show as U+FFFD), newlines and all: JSON escapes them.
    const raw = Buffer.from(source.buffer, source.byteOffset + start, end - start).toString('utf8');
    this.refusals.push(JSON.stringify({ p: partition, o: offset, ts: timestamp, reason, raw }));
    this.count++;
    this.noteRecord(partition, offset, timestamp);
  }

  /** Starts a record's line: room for `valueBytes` and the prefix that locates it. */
  private begin(partition: number, offset: number, timestamp: number, valueBytes: number): void {
    this.reserve(valueBytes + 96);
    if (this.lines * 2 === this.starts.length) this.starts = grow(this.starts, this.lines * 4);
    const buffer = this.buffer;
    this.starts[this.lines * 2] = this.at;
    this.put(PREFIX.partition);
    this.at = writeInteger(buffer, this.at, partition);
    this.put(PREFIX.offset);
    this.at = writeInteger(buffer, this.at, offset);
    this.put(PREFIX.timestamp);
    if (timestamp !== this.lastTimestamp) {
      this.timestampText = Buffer.from(String(timestamp), 'latin1');
      this.lastTimestamp = timestamp;
    }
    this.put(this.timestampText);
    buffer[this.at++] = COMMA;
    this.starts[this.lines * 2 + 1] = this.at;
  }

  /** Ends the record's line and counts it. */
  private close(partition: number, offset: number, timestamp: number): void {
    this.buffer[this.at++] = NEWLINE;
    this.lines++;
    this.count++;
    this.noteRecord(partition, offset, timestamp);
  }

  /** Its log time (for latency) and its place in the batch's offset ranges: every record has them. */
  private noteRecord(partition: number, offset: number, timestamp: number): void {
    if (this.count > this.timestamps.length) this.timestamps = grow(this.timestamps, this.count * 2);
    this.timestamps[this.count - 1] = timestamp;
    const range = this.ranges.get(partition);
    if (!range) this.ranges.set(partition, { first: offset, last: offset });
    else {
      if (offset < range.first) range.first = offset;
      if (offset > range.last) range.last = offset;
    }
  }

  private put(bytes: Buffer): void {
    this.buffer.set(bytes, this.at);
    this.at += bytes.length;
  }

  private reserve(bytes: number): void {
    if (this.at + bytes <= this.buffer.length) return;
    // Four times as large: a writer grows only in its first batches, and doubling copied as many
    // bytes as a big batch holds (a third of a second for a 2 M-event drain's first batches).
    const bigger = Buffer.allocUnsafe(Math.max(this.buffer.length * 4, this.at + bytes));
    this.buffer.copy(bigger, 0, 0, this.at);
    this.buffer = bigger;
  }

  /** Writes the scratch file; the batch stays valid until the writer is reset. */
  finish(file: string): PreparedBatch {
    // Text that is not UTF-8 stops the engine reading the whole batch, on every retry: such a
    // record becomes a dead letter on its own. One check of the whole batch keeps this free.
    if (!isUtf8(this.buffer.subarray(0, this.at))) this.refuseInvalidText();
    overwrite(file, this.buffer.subarray(0, this.at));
    const refusedFile = `${file}.refused`;
    if (this.refusals.length) overwrite(refusedFile, Buffer.from(`${this.refusals.join('\n')}\n`));
    return {
      file,
      count: this.count,
      asIs: this.asIs,
      rejected: this.rejected,
      refused: this.refusals.length,
      refusedFile,
      ranges: this.ranges,
      timestamps: this.timestamps.slice(0, this.count),
      rewriteOneLine: () => overwrite(file, this.oneLine()),
    };
  }

  /** Rewrites each record that is not UTF-8 as refused, its value shown with replacement characters. */
  private refuseInvalidText(): void {
    const parts: Buffer[] = [];
    let length = 0;
    for (let i = 0; i < this.lines; i++) {
      const line = this.starts[i * 2]!;
      const content = this.starts[i * 2 + 1]!;
      const end = i + 1 < this.lines ? this.starts[(i + 1) * 2]! - 1 : this.at - 1;
      // The record's prefix keeps its length, so its content starts as far after its line as before.
      this.starts[i * 2] = length;
      this.starts[i * 2 + 1] = length + (content - line);
      const record = isUtf8(this.buffer.subarray(content, end))
        ? [this.buffer.subarray(line, end + 1)]
        : this.refusedText(this.buffer.subarray(line, content), this.buffer.subarray(content, end));
      for (const part of record) {
        parts.push(part);
        length += part.length;
      }
    }
    this.buffer = Buffer.concat(parts, length);
    this.at = length;
  }

  /** A record's line refused for not being UTF-8: its prefix, the marker, the reason, the value shown lossily. */
  private refusedText(prefix: Buffer, content: Buffer): Buffer[] {
    this.rejected++;
    const value = content[0] === AS_IS ? content.subarray(1) : Buffer.concat([Buffer.from('{'), content]);
    const reason = JSON.stringify('not UTF-8 text: invalid bytes are shown as U+FFFD; the producer must send UTF-8');
    return [prefix, Buffer.from([REJECTED]), Buffer.from(reason), oneLine(Buffer.from(value.toString('utf8'))), Buffer.from([NEWLINE])];
  }

  /** Every record's line again, its value (as it came) on one line and staged as it is. */
  private oneLine(): Buffer {
    const parts: Buffer[] = [];
    for (let i = 0; i < this.lines; i++) {
      const line = this.starts[i * 2]!;
      const content = this.starts[i * 2 + 1]!;
      const end = i + 1 < this.lines ? this.starts[(i + 1) * 2]! - 1 : this.at - 1;
      // A record refused as not UTF-8 was made one line when it was refused.
      if (this.buffer[content] === REJECTED) {
        parts.push(this.buffer.subarray(line, end + 1));
        continue;
      }
      const value = this.buffer[content] === AS_IS ? this.buffer.subarray(content + 1, end) : Buffer.concat([Buffer.from('{'), this.buffer.subarray(content, end)]);
      parts.push(this.buffer.subarray(line, content), Buffer.from([AS_IS]), oneLine(value), Buffer.from([NEWLINE]));
    }
    return Buffer.concat(parts);
  }
}

/**
 * Writes `data` over the file in place and cuts what is left of the old content: the scratch files
 * are rewritten every batch at about the same size, and reusing their pages beats truncating first.
 */
function overwrite(file: string, data: Buffer): void {
  const fd = openSync(file, constants.O_WRONLY | constants.O_CREAT);
  try {
    for (let written = 0; written < data.length; ) written += writeSync(fd, data, written, data.length - written, written);
    ftruncateSync(fd, data.length);
  } finally {
    closeSync(fd);
  }
}

function grow(array: Float64Array, length: number): Float64Array<ArrayBuffer> {
  const bigger = new Float64Array(length);
  bigger.set(array);
  return bigger;
}

/** Writes a non-negative integer's digits; small ones (all partitions, most offsets) without a string. */
function writeInteger(buffer: Buffer, at: number, value: number): number {
  if (value >= 0x8000_0000 || !Number.isInteger(value) || value < 0) return at + buffer.write(String(value), at, 'latin1');
  let digits = 1;
  for (let rest = value; rest >= 10; rest = (rest / 10) | 0) digits++;
  for (let i = at + digits - 1, rest = value; i >= at; i--) {
    const next = (rest / 10) | 0;
    buffer[i] = ZERO + rest - next * 10;
    rest = next;
  }
  return at + digits;
}

/**
 * The engine half: DuckDB reads the scratch file in parallel into `table`, typing each event by
 * the stream's declared columns (exactly: see quality/json.ts) and judging it by its rules. The
 * table is no temp table: a job loads on a connection of its own while another commits the batch
 * before, and both read it.
 *
 * The fast load has DuckDB's JSON reader hand over each field's text in one pass, typed by the
 * shared SQL. It accepts a batch only if every record loaded and passed; anything else (a
 * malformed event, a wrong type, a rule broken, a duplicated key) sends the whole batch through
 * the careful load, which reads each line as text, finds the record's place from the prefix and
 * keeps each bad event as it came, with its reason. Records the input refused join the batch
 * afterwards, from their own file, whichever load ran.
 */
export async function loadPreparedBatch(
  engine: Engine,
  prepared: PreparedBatch,
  columns: readonly DeclaredColumn[],
  rules: readonly Rule[],
  options: JsonOptions = {},
  table = '__microbatch',
): Promise<MicroBatch> {
  const checks = ruleChecks(rules);
  const verdict = verdictExpression(checks, true);
  const { reason } = reasonExpression(checks, true);
  const { partition, offset, timestamp, reason: reasonCol, raw } = BATCH_COLUMNS;
  const file = quoteLiteral(prepared.file);
  const judge = (typed: string) => `
    CREATE OR REPLACE TABLE ${table} AS
    WITH judged AS (SELECT *, ${verdict} AS ${VERDICT} FROM ${typed})
    SELECT * EXCLUDE (v, ${PARSE_ERROR}),
           CASE WHEN ${VERDICT} <> 'ok' THEN ${reason} END AS ${reasonCol},
           CASE WHEN ${VERDICT} <> 'ok' THEN v END AS ${raw}
    FROM judged`;
  const loadedRows = async () =>
    (await engine.query<{ rows: bigint; bad: bigint }>(`SELECT count(*) AS rows, count(*) FILTER (WHERE ${VERDICT} <> 'ok') AS bad FROM ${table}`))[0]!;
  const inFile = prepared.count - prepared.refused;
  const done = async (clean = false) => {
    if (prepared.refused) await addRefused(engine, table, prepared.refusedFile);
    return located(table, prepared, clean && !prepared.refused);
  };

  if (inFile && !prepared.asIs && !prepared.rejected) {
    const fields = fieldTextColumns(columns).slice(1, -1);
    const { select, problems } = typedColumns(columns, (c) => quoteIdent(c.key), options);
    const typed = `(SELECT ${[partition, offset, timestamp].join(', ')}, NULL::VARCHAR AS v, ${select.join(', ')}, ${problems} AS ${PARSE_ERROR}
      FROM read_ndjson(${file}, columns = {'${partition}': 'INTEGER', '${offset}': 'BIGINT', '${timestamp}': 'DOUBLE', ${fields}}, maximum_object_size = 16000000))`;
    const fast = await engine.run(judge(typed)).then(loadedRows, () => undefined);
    if (fast && Number(fast.rows) === inFile && Number(fast.bad) === 0) return done(true);
  }

  // A line refused as not UTF-8 holds `?`, its reason as a JSON string, then its value shown lossily.
  const lines = `(SELECT TRY_CAST(m.p AS INTEGER) AS ${partition}, TRY_CAST(m.o AS BIGINT) AS ${offset}, TRY_CAST(m.ts AS DOUBLE) AS ${timestamp},
        CASE WHEN starts_with(m.rest, '!') THEN m.rest[2:] WHEN refused.raw IS NOT NULL THEN refused.raw ELSE '{' || m.rest END AS v,
        json_extract_string(refused.reason, '$') AS ${REJECTED_REASON}
      FROM (SELECT m, CASE WHEN starts_with(m.rest, '?') THEN regexp_extract(m.rest, '^[?]("(?:[^"\\\\]|\\\\.)*")(.*)$', ['reason', 'raw']) END AS refused
            FROM (SELECT regexp_extract(line, '^[{]"${partition}":([0-9]+),"${offset}":([0-9]+),"${timestamp}":([^,]+),(.*)$', ['p', 'o', 'ts', 'rest']) AS m
                  FROM read_csv(${file}, columns = {'line': 'VARCHAR'}, delim = '\x01', quote = '', escape = '', header = false, auto_detect = false, ${lineReadLimit(16_000_000)}))))`;
  const typed = typeJson(lines, 'v', columns, [partition, offset, timestamp, 'v', REJECTED_REASON], options);
  const careful = async () => {
    await engine.run(judge(`(SELECT * EXCLUDE (${REJECTED_REASON}) REPLACE (coalesce(${REJECTED_REASON}, ${PARSE_ERROR}) AS ${PARSE_ERROR}) FROM ${typed})`));
    return Number((await loadedRows()).rows);
  };
  // A value spanning lines makes more rows than records, or rows with the wrong number of fields.
  const loaded = await careful().catch((error: Error) => {
    if (/CSV Error|Expected Number of Columns/i.test(error.message)) return -1;
    throw error;
  });
  if (loaded !== inFile) {
    prepared.rewriteOneLine();
    const again = await careful();
    if (again !== inFile) throw new Error(`micro-batch staging lost records: ${inFile} read, ${again} loaded from ${prepared.file}`);
  }
  return done();
}

/** Adds the records the input refused to the batch table: judged 'parse' with the input's reason, kept as they came. */
async function addRefused(engine: Engine, table: string, refusedFile: string): Promise<void> {
  const { partition, offset, timestamp, reason, raw } = BATCH_COLUMNS;
  await engine.run(
    `INSERT INTO ${table} BY NAME
     SELECT p AS ${partition}, o AS ${offset}, ts AS ${timestamp}, 'parse' AS ${VERDICT}, reason AS ${reason}, raw AS ${raw}
     FROM read_ndjson(${quoteLiteral(refusedFile)}, columns = {p: 'INTEGER', o: 'BIGINT', ts: 'DOUBLE', reason: 'VARCHAR', raw: 'VARCHAR'}, maximum_object_size = 16000000)`,
  );
}

function located(table: string, prepared: PreparedBatch, clean: boolean): MicroBatch {
  let oldest = Infinity;
  for (const t of prepared.timestamps) if (t < oldest) oldest = t;
  return { table, count: prepared.count, ranges: prepared.ranges, oldestTimestamp: oldest, clean };
}

/**
 * SQL condition: the row is one a sink with these next-offsets has not committed yet. Given the
 * batch's ranges, it is `true` when the sink has committed none of them (the usual case), so the
 * text is the same from batch to batch.
 */
export function freshFor(next: ReadonlyMap<number, number>, ranges?: ReadonlyMap<number, { first: number }>): string {
  if (!next.size) return 'true';
  if (ranges && [...ranges].every(([p, range]) => (next.get(p) ?? 0) <= range.first)) return 'true';
  const { partition, offset } = BATCH_COLUMNS;
  return `${offset} >= CASE ${partition} ${[...next].map(([p, o]) => `WHEN ${p} THEN ${o}`).join(' ')} ELSE 0 END`;
}
