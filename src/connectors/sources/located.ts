import type { Engine } from '../../engine/index.js';
import { scanCsvRecords, type CsvDialect, type MultiLineRecord } from './csv-records.js';
import type { LineCount } from './line-count.js';
import type { RejectedRow } from './types.js';

/**
 * Rows a DuckDB reader refused, from its reject tables: one row per refused record, with every
 * reason once (a line may fail in several columns, and the reader repeats itself).
 */
export async function readRejects(engine: Engine, rejectsTable: string, scansTable: string, fileLabel: (sql: string) => string): Promise<RejectedRow[]> {
  const exists = await engine.scalar<number>(`SELECT count(*)::INTEGER FROM duckdb_tables() WHERE table_name = '${rejectsTable}'`);
  if (!exists) return [];
  const rows = await engine.queryJson<{ file: string; line: number; column: string | null; reasons: string[]; raw: string | null }>(
    `SELECT ${fileLabel('s.file_path')} AS file, e.line::DOUBLE AS line, string_agg(DISTINCT e.column_name, ', ') AS column,
            list(e.error_type || ': ' || e.error_message ORDER BY e.column_idx) AS reasons, any_value(e.csv_line) AS raw
     FROM ${rejectsTable} e JOIN ${scansTable} s USING (scan_id, file_id)
     GROUP BY ALL ORDER BY file, line`,
  );
  return rows.map((r) => ({ file: r.file, line: r.line, column: r.column, reason: conciseReason(r.reasons), raw: r.raw }));
}

/**
 * Each distinct problem once, in the reader's first words: DuckDB reports a line that is short of
 * columns once per parse attempt, each with its own "Found" count.
 */
function conciseReason(reasons: string[]): string {
  const byKind = new Map<string, string>();
  for (const reason of reasons) {
    const first = reason.split('\n')[0]!.replace(/\s+/g, ' ').trim();
    const kind = first.replace(/\d+/g, '#');
    if (!byKind.has(kind)) byKind.set(kind, first);
  }
  return [...byKind.values()].join('; ');
}

/**
 * The physical line of records numbered by a located scan (which skips refused records). With one
 * line per record (no blank lines, no multi-line values) it is arithmetic; otherwise the file is
 * read again, byte by byte, for just the records asked.
 */
export async function locateRecords(options: {
  read: string;
  known: string;
  records: readonly number[];
  rejects: readonly RejectedRow[];
  counted: LineCount | undefined;
  multiLine: readonly MultiLineRecord[] | undefined;
  dialect: CsvDialect;
}): Promise<Map<number, { line: number | null; record: number | null }>> {
  const header = options.dialect.header ? 1 : 0;
  const rejected = options.rejects.filter((r) => r.file === options.known && r.line !== null).map((r) => r.line!);
  const out = new Map<number, { line: number | null; record: number | null }>();
  if (options.counted && options.counted.blank === 0 && !options.multiLine?.length) {
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
