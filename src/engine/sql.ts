/** SQL text helpers: every identifier or literal built from user input passes through these. */

/** A name SQL reaches without quoting (and `ref()` at all). */
export const PLAIN_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** A DuckDB list literal of strings, e.g. for read_parquet's file list. */
export function quoteList(values: readonly string[]): string {
  return `[${values.map(quoteLiteral).join(', ')}]`;
}

/** A DuckDB struct literal of column name → type, as read_csv's `columns` takes it. */
export function columnsStruct(columns: Record<string, string>): string {
  return `{${Object.entries(columns)
    .map(([name, type]) => `${quoteLiteral(name)}: ${quoteLiteral(type)}`)
    .join(', ')}}`;
}

/**
 * read_csv's limit on a line, for reading text a line at a time (JSON lines), with a read buffer
 * of 8 lines of that size instead of DuckDB's 16. At a 16 MB limit its own 256 MB buffer cost
 * about a quarter of the read time: bare DuckDB read the lines of a week of gzipped Segment drops in
 * 7.4–7.5 s instead of 9.7–9.9 with any buffer from 16 to 128 MB, and 100,000 NDJSON lines in
 * 7.4–8.3 ms instead of 12.1. A line over the limit but within the buffer is still refused alone
 * (and quarantined); with the buffer at the limit itself, one line went missing beside an
 * overlong one and the load failed to reconcile.
 */
export function lineReadLimit(maxLineBytes: number): string {
  return `max_line_size = ${maxLineBytes}, buffer_size = ${8 * maxLineBytes}`;
}

/** DuckDB's longest CSV line unless `max_line_size` says otherwise. */
const READER_MAX_LINE = 2_097_152;

/** Files DuckDB decompresses as it reads: their size on disk says nothing of the buffers they take. */
const COMPRESSED = /\.(gz|gzip|zst)$/i;

/**
 * The read_csv calls a list of CSV files is read in: the files that fit one small buffer, then the
 * rest with DuckDB's own. DuckDB gives each file a 32 MB buffer unless told otherwise, and for a
 * file of a few KB making it costs more than reading the file: over 90,000 store drops (3 M lines,
 * most files under 1 KB) a load's scan took 9.0 s with it and 6.4 s with a 2 MB one, the crawl's
 * 10 s and 8 s; the month as one file a day read the same with either. Only a file that fits whole
 * gets the small buffer, so no buffer boundary falls inside it: over a file spanning several
 * buffers smaller than the default, DuckDB 1.5.5 misread a valid clickstream line (an `""` cut by a
 * boundary, refused as an unterminated quote) or refused the file outright. The buffer must exceed
 * the longest line the reader accepts.
 */
export function csvReadsBySize(files: readonly string[], sizeOf: (file: string) => number, maxLineBytes = READER_MAX_LINE): { files: string[]; bufferSize?: number }[] {
  const bufferSize = Math.max(maxLineBytes, READER_MAX_LINE) + 1;
  const fits = files.map((file) => !COMPRESSED.test(file) && sizeOf(file) < bufferSize);
  return [{ files: files.filter((_, i) => fits[i]), bufferSize }, { files: files.filter((_, i) => !fits[i]) }].filter((read) => read.files.length);
}

/** A node of DuckDB's JSON parse tree (`json_serialize_sql`). */
export type SqlNode = Record<string, unknown>;

// The tree's numbers must come back as DuckDB wrote them: an unknown `query_location` is 2^64 − 1,
// which a JavaScript number rounds, and a DOUBLE constant 100.0 that comes back as 100 no longer
// deserialises. Numbers that are not safe integers travel as marked strings between the two.
/** Written as JSON escapes, so the marked string is valid JSON text. */
const NUMBER_MARK = '\\u0000tributary-number:';
const MARKED_NUMBER = /"\\u0000tributary-number:([-+.\deE]+)"/g;

/** JSON text with each number that is not a safe integer made a marked string; strings are left alone. */
function markNumbers(json: string): string {
  let out = '';
  let at = 0;
  for (let i = 0; i < json.length; i++) {
    const c = json[i]!;
    if (c === '"') {
      // Skip the string, escapes included.
      for (i++; i < json.length && json[i] !== '"'; i++) if (json[i] === '\\') i++;
      continue;
    }
    if (c !== '-' && (c < '0' || c > '9')) continue;
    let end = i + 1;
    while (end < json.length && /[-+.\deE]/.test(json[end]!)) end++;
    const text = json.slice(i, end);
    if (/[.eE]/.test(text) || !Number.isSafeInteger(Number(text))) {
      out += `${json.slice(at, i)}"${NUMBER_MARK}${text}"`;
      at = end;
    }
    i = end - 1;
  }
  return out + json.slice(at);
}

/** DuckDB's parse tree of `sql`, exact: `{ error, error_message }` or `{ statements: [{ node }] }`. */
export async function parseSqlTree(engine: { query<R>(sql: string, params?: string[]): Promise<R[]> }, sql: string): Promise<SqlNode & { statements?: { node: SqlNode }[] }> {
  const rows = await engine.query<{ j: string }>(`SELECT json_serialize_sql($1::VARCHAR)::VARCHAR AS j`, [sql]);
  return JSON.parse(markNumbers(rows[0]!.j)) as SqlNode & { statements?: { node: SqlNode }[] };
}

/** SQL printed back from a (possibly rewritten) parse tree. */
export async function printSqlTree(engine: { query<R>(sql: string, params?: string[]): Promise<R[]> }, tree: SqlNode): Promise<string> {
  const rows = await engine.query<{ sql: string }>(`SELECT json_deserialize_sql($1::JSON) AS sql`, [JSON.stringify(tree).replace(MARKED_NUMBER, '$1')]);
  return rows[0]!.sql;
}
