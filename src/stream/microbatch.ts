import { writeFileSync } from 'node:fs';
import type { Rule } from '../core/config.js';
import type { Engine } from '../engine/index.js';
import { quoteLiteral } from '../engine/index.js';
import { PARSE_ERROR, VERDICT, reasonExpression, ruleChecks, typeJson, verdictExpression } from '../quality/index.js';
import type { InputRecord } from './inputs/types.js';

/** Internal columns every micro-batch row carries: where it came from and what the rules said. */
export const BATCH_COLUMNS = { partition: '__p', offset: '__o', timestamp: '__ts', reason: '__reason', raw: '__raw' } as const;

export interface MicroBatch {
  /** Temp table with every record of the batch, parsed, judged and located. */
  table: string;
  count: number;
  /** Offsets the batch covers, per partition. */
  ranges: Map<number, { first: number; last: number }>;
  /** Oldest log timestamp in the batch (ms), for latency. */
  oldestTimestamp: number;
}

const NEWLINE = 0x0a;
const RETURN = 0x0d;
const SEPARATOR = 0x01;

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
  ranges: Map<number, { first: number; last: number }>;
  /** Log timestamps of the records (ms), for latency. */
  timestamps: Float64Array;
}

/**
 * Writes records to a scratch file (partition, offset, timestamp, JSON a line) in one buffer,
 * with no per-record garbage. Pure JavaScript: the job runs it for the next batch while the engine
 * commits the current one.
 */
export function prepareBatch(records: readonly InputRecord[], file: string): PreparedBatch {
  const ranges = new Map<number, { first: number; last: number }>();
  const timestamps = new Float64Array(records.length);
  const values = records.map((r) => oneLine(r.value));
  const buffer = Buffer.allocUnsafe(values.reduce((n, v) => n + v.length + 64, 0));
  let at = 0;
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    at += buffer.write(`${r.partition}\x01${r.offset}\x01${r.timestamp}\x01`, at, 'latin1');
    at += values[i]!.copy(buffer, at);
    buffer[at++] = NEWLINE;
    const range = ranges.get(r.partition);
    if (!range) ranges.set(r.partition, { first: r.offset, last: r.offset });
    else {
      range.first = Math.min(range.first, r.offset);
      range.last = Math.max(range.last, r.offset);
    }
    timestamps[i] = r.timestamp;
  }
  writeFileSync(file, buffer.subarray(0, at));
  return { file, count: records.length, ranges, timestamps };
}

/**
 * The engine half: DuckDB reads the scratch file in parallel into a temp table, typing each event
 * by the stream's declared columns and judging it by its rules.
 */
export async function loadPreparedBatch(
  engine: Engine,
  prepared: PreparedBatch,
  columns: Record<string, string>,
  rules: readonly Rule[],
  table = '__microbatch',
): Promise<MicroBatch> {
  const checks = ruleChecks(rules);
  const verdict = verdictExpression(checks, true);
  const { reason } = reasonExpression(checks, true);
  const { partition, offset, timestamp, reason: reasonCol, raw } = BATCH_COLUMNS;
  const lines = `(SELECT p AS ${partition}, o AS ${offset}, ts AS ${timestamp}, v
      FROM read_csv(${quoteLiteral(prepared.file)}, columns = {'p': 'INTEGER', 'o': 'BIGINT', 'ts': 'DOUBLE', 'v': 'VARCHAR'},
                    delim = '\x01', quote = '', escape = '', header = false, auto_detect = false, max_line_size = 16000000))`;
  await engine.run(`
    CREATE OR REPLACE TEMP TABLE ${table} AS
    WITH typed AS (SELECT * FROM ${typeJson(lines, 'v', columns, [partition, offset, timestamp, 'v'])}),
    judged AS (SELECT *, ${verdict} AS ${VERDICT} FROM typed)
    SELECT * EXCLUDE (v, ${PARSE_ERROR}),
           CASE WHEN ${VERDICT} <> 'ok' THEN ${reason} END AS ${reasonCol},
           CASE WHEN ${VERDICT} <> 'ok' THEN v END AS ${raw}
    FROM judged`);
  let oldest = Infinity;
  for (const t of prepared.timestamps) if (t < oldest) oldest = t;
  return { table, count: prepared.count, ranges: prepared.ranges, oldestTimestamp: oldest };
}

/** Both halves at once, for callers that do not overlap them. */
export async function loadMicroBatch(
  engine: Engine,
  records: readonly InputRecord[],
  columns: Record<string, string>,
  rules: readonly Rule[],
  scratchFile: string,
  table = '__microbatch',
): Promise<MicroBatch> {
  return loadPreparedBatch(engine, prepareBatch(records, scratchFile), columns, rules, table);
}

/** SQL condition: the row is one a sink with these next-offsets has not committed yet. */
export function freshFor(next: ReadonlyMap<number, number>): string {
  if (!next.size) return 'true';
  const { partition, offset } = BATCH_COLUMNS;
  return `${offset} >= CASE ${partition} ${[...next].map(([p, o]) => `WHEN ${p} THEN ${o}`).join(' ')} ELSE 0 END`;
}
