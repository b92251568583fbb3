/** SQL text helpers: every identifier or literal built from user input passes through these. */

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

/** A node of DuckDB's JSON parse tree (`json_serialize_sql`). */
export type SqlNode = Record<string, unknown>;

// The tree carries unsigned 64-bit numbers (an unknown `query_location` is 2^64 − 1) that a
// JavaScript number rounds, and DuckDB refuses them rounded: they travel as strings here.
const BIG_NUMBER = /("query_location":)(\d{16,})/g;
const BIG_NUMBER_TEXT = /("query_location":)"(\d{16,})"/g;

/** DuckDB's parse tree of `sql`, exact: `{ error, error_message }` or `{ statements: [{ node }] }`. */
export async function parseSqlTree(engine: { query<R>(sql: string, params?: string[]): Promise<R[]> }, sql: string): Promise<SqlNode & { statements?: { node: SqlNode }[] }> {
  const rows = await engine.query<{ j: string }>(`SELECT json_serialize_sql($1::VARCHAR)::VARCHAR AS j`, [sql]);
  return JSON.parse(rows[0]!.j.replace(BIG_NUMBER, '$1"$2"')) as SqlNode & { statements?: { node: SqlNode }[] };
}

/** SQL printed back from a (possibly rewritten) parse tree. */
export async function printSqlTree(engine: { query<R>(sql: string, params?: string[]): Promise<R[]> }, tree: SqlNode): Promise<string> {
  const rows = await engine.query<{ sql: string }>(`SELECT json_deserialize_sql($1::JSON) AS sql`, [JSON.stringify(tree).replace(BIG_NUMBER_TEXT, '$1$2')]);
  return rows[0]!.sql;
}
