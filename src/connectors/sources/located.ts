import { createReadStream, rmSync } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { quoteLiteral, type Engine } from '../../engine/index.js';
import { blankLines, scanCsvRecords, unifyLineEndings, type CsvDialect, type MultiLineRecord } from './csv-records.js';
import { countNewlines, unreadableFile, type LineCount } from './line-count.js';
import type { RejectedRow } from './types.js';

/**
 * The rows of a single-threaded file scan, numbered within each file in the order they were read:
 * `__record` (1-based) beside the file read as `__scan_file`. A window partitioned by file without
 * an order of its own numbers rows in whatever order the sort left them, which past the first
 * vector is not the file's.
 */
export function numberedInFileOrder(scan: string): string {
  return `(SELECT *, row_number() OVER (PARTITION BY __scan_file ORDER BY __scan_position) AS __record
           FROM (SELECT *, filename AS __scan_file, row_number() OVER () AS __scan_position FROM ${scan}))`;
}

/**
 * Rows a DuckDB reader refused, from its reject tables: one row per refused record, with every
 * reason once (a line may fail in several columns, and the reader repeats itself).
 *
 * The reader's own `line` counts records, not lines: a quoted value holding a line break makes
 * every later number short by one. Its byte offset of the record is one past where the reader
 * began the record, so the physical line is counted from the file's bytes up to the byte before.
 * The reader may begin a record at the line ending before it (CRLF files, blank lines), which it
 * also puts at the start of its text of the line; both are skipped. (Taken as it is, the offset is
 * the line ending of a one-character record, and named the line after it.)
 */
export async function readRejects(engine: Engine, rejectsTable: string, scansTable: string, fileLabel: (sql: string) => string, lineLimitField: string): Promise<RejectedRow[]> {
  const exists = await engine.scalar<number>(`SELECT count(*)::INTEGER FROM duckdb_tables() WHERE table_name = '${rejectsTable}'`);
  if (!exists) return [];
  const rows = await engine.queryJson<{ read: string; file: string; offset: number; column: string | null; reasons: string[]; raw: string | null }>(
    `SELECT s.file_path AS read, ${fileLabel('s.file_path')} AS file, greatest(e.line_byte_position - 1, 0)::DOUBLE AS "offset", string_agg(DISTINCT e.column_name, ', ') AS column,
            list(e.error_type || ': ' || e.error_message ORDER BY e.column_idx) AS reasons, any_value(e.csv_line) AS raw
     FROM ${rejectsTable} e JOIN ${scansTable} s USING (scan_id, file_id)
     GROUP BY ALL ORDER BY file, "offset"`,
  );
  const byFile = new Map<string, number[]>();
  for (const r of rows) {
    const offsets = byFile.get(r.read);
    if (offsets) offsets.push(r.offset);
    else byFile.set(r.read, [r.offset]);
  }
  const lines = new Map<string, Map<number, number>>();
  for (const [file, offsets] of byFile) lines.set(file, await linesAtOffsets(file, offsets));
  // The reader's text of a line that is not UTF-8 has lost bytes around each bad one (a delimiter
  // too): the line is read again from the file, each bad byte a replacement character.
  const undecoded = new Map<string, Map<number, string>>();
  for (const file of byFile.keys()) {
    const bad = new Set(rows.filter((r) => r.read === file && r.reasons.some((reason) => reason.startsWith('INVALID ENCODING'))).map((r) => lines.get(file)?.get(r.offset) ?? 0));
    bad.delete(0);
    if (bad.size) undecoded.set(file, await readLines(file, bad));
  }
  return rows
    .map((r) => {
      const line = lines.get(r.read)?.get(r.offset) ?? null;
      // The reader keeps the start of an overlong line; its message states the whole size.
      const overlong = r.reasons.map(overlongLine).find(Boolean)?.actual;
      return {
        file: r.file,
        line,
        column: r.column,
        reason: conciseReason(r.reasons, lineLimitField),
        raw: (line !== null ? undecoded.get(r.read)?.get(line) : undefined) ?? (r.raw === null ? null : r.raw.replace(/^[\r\n]+/, '').replace(/\r$/, '')),
        ...(overlong ? { rawBytes: overlong } : {}),
      };
    })
    .sort((a, b) => (a.file === b.file ? (a.line ?? 0) - (b.line ?? 0) : a.file < b.file ? -1 : 1));
}

const NEWLINE = 0x0a;
const RETURN = 0x0d;

/**
 * SQL naming each row's file as people know it (`sql` gives the file read): a repaired copy by its
 * original. Only copies need a CASE branch: one over every file would compare each row with
 * thousands of names (a day of store drops is thousands of files).
 */
export function knownFileLabel(original: ReadonlyMap<string, string>): (sql: string) => string {
  const renamed = [...original].filter(([read, known]) => read !== known);
  return (sql) => (renamed.length ? `CASE ${sql} ${renamed.map(([read, known]) => `WHEN ${quoteLiteral(read)} THEN ${quoteLiteral(known)}`).join(' ')} ELSE ${sql} END` : sql);
}

/**
 * A file the strict reader can read to its end, each line where it was (`known` names it in an
 * error): `file` itself when it needs nothing, else a copy in `copyPath(step)` with LF endings throughout and every line that
 * holds a carriage return ending no line (outside quotes) blanked. Those lines come back with their
 * text, for the caller to set aside.
 */
export async function readableCopy(
  file: string,
  known: string,
  copyPath: (step: 'lf' | 'cr') => string,
  dialect: CsvDialect,
): Promise<{ read: string; crlf: number; lf: number; stray: { line: number; text: string | null }[] }> {
  const unified = copyPath('lf');
  const { crlf, lf, strayReturns } = await unifyLineEndings(file, unified, dialect).catch((error: Error) => {
    rmSync(unified, { force: true });
    throw unreadableFile(known, error);
  });
  if (!strayReturns.length) {
    if (crlf && lf) return { read: unified, crlf, lf, stray: [] };
    rmSync(unified, { force: true });
    return { read: file, crlf, lf, stray: [] };
  }
  const lines = new Set(strayReturns);
  const text = await readLines(unified, lines);
  const blanked = copyPath('cr');
  await blankLines(unified, lines, blanked);
  rmSync(unified, { force: true });
  return { read: blanked, crlf, lf, stray: strayReturns.map((line) => ({ line, text: text.get(line) ?? null })) };
}

/**
 * The text of some physical lines of a file (1-based, counted by line feeds as the line count
 * counts them), decoded as UTF-8 without the line ending: a byte that is none shows as U+FFFD.
 * Reads the file only as far as the last wanted line, a chunk at a time: a failing record near the
 * end of a large file costs one pass at the speed of a newline search, not a string per line.
 */
export async function readLines(file: string, wanted: ReadonlySet<number>): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  const lines = [...wanted].sort((a, b) => a - b);
  if (!lines.length) return out;
  const raw = createReadStream(file, { highWaterMark: 1 << 20 });
  const stream = /\.gz$/i.test(file) ? raw.pipe(createGunzip()) : raw;
  let line = 1;
  let next = 0; // index in `lines` of the next wanted line
  let parts: Buffer[] = []; // the wanted line's bytes so far, when it spans chunks
  const keep = () => {
    const text = Buffer.concat(parts).toString('utf8');
    out.set(line, text.endsWith('\r') ? text.slice(0, -1) : text);
    parts = [];
    next++;
  };
  try {
    for await (const data of stream) {
      const chunk = data as Buffer;
      let at = 0;
      while (next < lines.length) {
        // Skip to the wanted line by counting line feeds, no string made.
        while (line < lines[next]!) {
          const feed = chunk.indexOf(NEWLINE, at);
          if (feed < 0) break;
          at = feed + 1;
          line++;
        }
        if (line < lines[next]!) break;
        const feed = chunk.indexOf(NEWLINE, at);
        parts.push(chunk.subarray(at, feed < 0 ? chunk.length : feed));
        if (feed < 0) break;
        keep();
        at = feed + 1;
        line++;
      }
      if (next === lines.length) break;
    }
    // The last line, with no line feed after it.
    if (next < lines.length && line === lines[next] && parts.some((part) => part.length)) keep();
  } finally {
    raw.destroy();
  }
  return out;
}

/**
 * The physical line (1-based) of the record at each byte offset of a (possibly gzipped) file:
 * one more than the line endings before its first byte, line endings at the offset skipped.
 * Reads the file only as far as the last offset.
 */
export async function linesAtOffsets(file: string, offsets: readonly number[]): Promise<Map<number, number>> {
  const wanted = [...new Set(offsets)].sort((a, b) => a - b);
  const out = new Map<number, number>();
  if (!wanted.length) return out;
  const raw = createReadStream(file, { highWaterMark: 1 << 20 });
  const stream = /\.gz$/i.test(file) ? raw.pipe(createGunzip()) : raw;
  let base = 0; // file offset of the chunk's first byte
  let newlines = 0; // line endings before `cursor`
  let cursor = 0; // file offset counted up to
  let next = 0; // index in `wanted`
  let skipping = false; // past a wanted offset, skipping the line endings at it
  try {
    for await (const data of stream) {
      const chunk = data as Buffer;
      const end = base + chunk.length;
      while (next < wanted.length) {
        if (!skipping) {
          const target = Math.max(wanted[next]!, cursor);
          if (target > end) break;
          newlines += countNewlines(chunk.subarray(cursor - base, target - base));
          cursor = target;
          skipping = true;
        }
        while (cursor < end && (chunk[cursor - base] === NEWLINE || chunk[cursor - base] === RETURN)) {
          if (chunk[cursor - base] === NEWLINE) newlines++;
          cursor++;
        }
        if (cursor === end) break; // the record starts in a later chunk
        out.set(wanted[next++]!, newlines + 1);
        skipping = false;
      }
      if (next === wanted.length) break;
      if (!skipping) {
        newlines += countNewlines(chunk.subarray(cursor - base));
        cursor = end;
      }
      base = end;
    }
  } finally {
    raw.destroy();
  }
  // Offsets at the very end of the file (a last line of line endings only) are its last line.
  for (; next < wanted.length; next++) out.set(wanted[next]!, newlines + 1);
  return out;
}

/**
 * Each distinct problem once, in the reader's first words: DuckDB reports a line that is short of
 * columns once per parse attempt, each with its own "Found" count.
 */
function conciseReason(reasons: string[], lineLimitField: string): string {
  const byKind = new Map<string, string>();
  for (const reason of reasons) {
    const first = reason.split('\n')[0]!.replace(/\s+/g, ' ').trim();
    const kind = first.replace(/\d+/g, '#');
    if (!byKind.has(kind)) byKind.set(kind, readerReason(first, lineLimitField));
  }
  return [...byKind.values()].join('; ');
}

/** The reader's limit and a refused line's whole size, from its reason for a line too long. */
function overlongLine(reason: string): { limit: number; actual: number } | undefined {
  const sizes = /^LINE SIZE OVER MAXIMUM:\D*(\d+) bytes.*Actual Size: ?(\d+) bytes/.exec(reason);
  return sizes ? { limit: Number(sizes[1]), actual: Number(sizes[2]) } : undefined;
}

/**
 * The reader's reason in the user's terms, with what to do, where its own says neither (its kind
 * stays first: people and `castRefusals` look for it). `lineLimitField` is the setting of the
 * longest line the reader takes.
 */
function readerReason(reason: string, lineLimitField: string): string {
  const overlong = overlongLine(reason);
  if (overlong) {
    const { limit, actual } = overlong;
    // The reader's limit and its count of a line differ by its ending: the advice leaves room.
    const enough = Math.ceil((actual + 2) / 1_000_000) * 1_000_000;
    return `LINE SIZE OVER MAXIMUM: the line is ${actual.toLocaleString('en-US')} bytes, over the ${limit.toLocaleString('en-US')} the reader takes; to load it, set ${lineLimitField} to ${enough} or more`;
  }
  if (reason.startsWith('INVALID ENCODING')) {
    return 'INVALID ENCODING: the line holds bytes that are not UTF-8 (each shown as \uFFFD in its text); convert the file to UTF-8 (e.g. iconv -f latin1 -t utf-8) and load it again';
  }
  if (reason.startsWith('UNQUOTED VALUE')) return `${reason.replace(/\.?$/, '')}: a quote inside a quoted value is written twice (""); fix the line and load it again`;
  const fields = /^(TOO MANY|MISSING) COLUMNS: Expected Number of Columns: (\d+) Found: (\d+)/.exec(reason);
  if (fields?.[1] === 'TOO MANY') return `TOO MANY COLUMNS: ${fields[3]} fields where ${fields[2]} are expected; a value holding the delimiter must be quoted`;
  if (fields) return `MISSING COLUMNS: ${fields[3]} field${fields[3] === '1' ? '' : 's'} where ${fields[2]} are expected; the line was cut short, or broken in two by a line break in a value that is not quoted`;
  return reason;
}

/**
 * The physical line of records numbered by a located scan (which skips refused records). With one
 * line per record (no blank lines, no multi-line values; or `everyLineARecord`, a reader that
 * yields a blank line as a record too) it is arithmetic; otherwise the file is read again, byte by
 * byte, for just the records asked.
 */
export async function locateRecords(options: {
  read: string;
  known: string;
  records: readonly number[];
  rejects: readonly RejectedRow[];
  counted: LineCount | undefined;
  multiLine: readonly MultiLineRecord[] | undefined;
  dialect: CsvDialect;
  everyLineARecord?: boolean;
}): Promise<Map<number, { line: number | null; record: number | null }>> {
  const header = options.dialect.header ? 1 : 0;
  const rejected = options.rejects.filter((r) => r.file === options.known && r.line !== null).map((r) => r.line!);
  const out = new Map<number, { line: number | null; record: number | null }>();
  if (options.everyLineARecord || (options.counted && options.counted.blank === 0 && !options.multiLine?.length)) {
    const sorted = [...rejected].sort((a, b) => a - b);
    for (const record of options.records) {
      let line = record + header;
      for (const r of sorted) if (r <= line) line++;
      out.set(record, { line, record });
    }
    return out;
  }
  const scan = await scanCsvRecords(options.read, options.dialect, { wanted: new Set(options.records), rejectedLines: new Set(rejected) });
  for (const record of options.records) out.set(record, { line: scan.lines.get(record) ?? null, record });
  return out;
}
