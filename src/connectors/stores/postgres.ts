import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { z } from 'zod';
import { TributaryError } from '../../core/errors.js';
import { DatabaseStore, databaseUrl, type DatabaseConnection, type DatabaseDialect } from './database.js';
import { defineStore, type Store, type StoreContext } from './types.js';

const schema = z
  .object({
    kind: z.literal('postgres'),
    /** The environment variable holding the connection URL (default TRIBUTARY_DATABASE_URL). */
    urlEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'expected an environment variable name such as WAREHOUSE_URL').optional(),
  })
  .strict();

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** DuckDB types as PostgreSQL spells them: text is TEXT (never VARCHAR(255)), timestamps stay timestamps, 64-bit ids BIGINT, decimals keep their scale. */
function pgType(duck: string): string {
  const t = duck.trim().toUpperCase();
  const decimal = /^DECIMAL\((\d+),\s*(\d+)\)$/.exec(t);
  if (decimal) return `NUMERIC(${decimal[1]},${decimal[2]})`;
  if (/[[\]]|^(STRUCT|MAP|UNION)|^JSON$/.test(t)) return 'JSONB';
  const types: Record<string, string> = {
    BIGINT: 'BIGINT', INTEGER: 'INTEGER', SMALLINT: 'SMALLINT', TINYINT: 'SMALLINT', HUGEINT: 'NUMERIC(39,0)', UBIGINT: 'NUMERIC(20,0)',
    UINTEGER: 'BIGINT', USMALLINT: 'INTEGER', UTINYINT: 'SMALLINT', DOUBLE: 'DOUBLE PRECISION', FLOAT: 'REAL', BOOLEAN: 'BOOLEAN',
    DATE: 'DATE', TIME: 'TIME', TIMESTAMP: 'TIMESTAMP(6)', 'TIMESTAMP WITH TIME ZONE': 'TIMESTAMPTZ', UUID: 'UUID', VARCHAR: 'TEXT', BLOB: 'BYTEA',
  };
  const found = types[t];
  if (!found) throw new TributaryError(`no PostgreSQL type for DuckDB type ${duck}`, { hint: 'cast the column in the model to a common type (VARCHAR, BIGINT, DOUBLE, DECIMAL, TIMESTAMP)' });
  return found;
}

// Exact text for what JSON numbers would bend (decimals, 64-bit ids travel as text already), and nested values as JSON.
function transport(duck: string, expr: string): string {
  const t = duck.toUpperCase();
  if (/^(DATE|TIME|TIMESTAMP|UUID|DECIMAL|INTERVAL)/.test(t)) return `CAST(${expr} AS VARCHAR)`;
  if (/[[\]]|^(STRUCT|MAP|UNION)/.test(t)) return `CAST(to_json(${expr}) AS VARCHAR)`;
  // PostgreSQL's text cannot hold a NUL: it arrives as ␀ (U+2400), as in a catalog in PostgreSQL.
  if (/^(VARCHAR|TEXT|STRING|CHAR|BPCHAR)\b/.test(t)) return `replace(${expr}, chr(0), '\u2400')`;
  return expr;
}

/** The dialect; `url` is asked for when the store connects (or is checked before a run), so a config names a store without its secret at hand. */
const dialect = (url: () => string): DatabaseDialect => ({
  url,
  label: 'PostgreSQL',
  quote,
  param: (n, duckType) => (duckType ? `$${n}::${pgType(duckType)}` : `$${n}`),
  type: (duck) => pgType(duck),
  transport,
  // COPY's CSV: NULL is an unquoted empty field, every value is quoted (so an empty string, or a
  // line holding only `\.`, is data), and bytes travel in bytea's hex form.
  bulk: {
    csv: 'FORMAT csv, HEADER false, FORCE_QUOTE *',
    transport: (duck, expr) => (duck.toUpperCase() === 'BLOB' ? `'\\x' || hex(${expr})` : transport(duck, expr)),
  },
  keyTextType: 'TEXT',
  upsert: { quote, stored: (c) => `t.${quote(c)}`, incoming: (c) => `EXCLUDED.${quote(c)}` },
  onConflict: (keys, assignments) => ` ON CONFLICT (${keys.map(quote).join(', ')}) DO UPDATE SET ${assignments.join(', ')}`,
  upsertRow: (table, columns, keyColumns) =>
    `INSERT INTO ${table} AS t (${columns.map(quote).join(', ')}) VALUES (${columns.map((_c, i) => `$${i + 1}`).join(', ')})
     ON CONFLICT (${columns.slice(0, keyColumns).map(quote).join(', ')}) DO UPDATE SET ${columns.slice(keyColumns).map((c) => `${quote(c)} = EXCLUDED.${quote(c)}`).join(', ')}`,
  existingColumns: async (db, table) =>
    new Set((await db.query(`SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1`, [table])).map((r) => String(r.column_name).toLowerCase())),
  async connect(): Promise<DatabaseConnection> {
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: url() });
    await client.connect();
    const arrayType = (duck: string) => `${pgType(duck).replace(/\(6\)$/, '')}[]`;
    return {
      query: async (sql, params) => (await client.query(sql, params)).rows as Record<string, unknown>[],
      begin: async () => void (await client.query('BEGIN')),
      commit: async () => void (await client.query('COMMIT')),
      rollback: async () => void (await client.query('ROLLBACK')),
      // One statement per chunk: each column travels as one array parameter.
      async insert(table, columns, data, suffix) {
        if (!data[0]?.length) return;
        const cols = columns.map((c) => quote(c.name)).join(', ');
        const unnest = columns.map((c, i) => `$${i + 1}::${arrayType(c.type)}`).join(', ');
        await client.query(`INSERT INTO ${quote(table)} AS t (${cols}) SELECT * FROM unnest(${unnest})${suffix ?? ''}`, data as unknown[]);
      },
      async load(table, columns, file) {
        const { from } = await import('pg-copy-streams');
        const copy = client.query(from(`COPY ${quote(table)} (${columns.map((c) => quote(c.name)).join(', ')}) FROM STDIN (FORMAT csv)`));
        await pipeline(createReadStream(file, { highWaterMark: 1 << 20 }), copy);
        return copy.rowCount;
      },
      close: () => client.end(),
    };
  },
});

export const postgresStore = defineStore({
  kind: 'postgres',
  description: 'tables in PostgreSQL, each commit one transaction with its offsets or run record',
  config: schema,
  create: (config: z.output<typeof schema>, context: StoreContext): Store =>
    new DatabaseStore('postgres', dialect(() => databaseUrl(context.field, config.urlEnv, 'postgres://user@127.0.0.1:5432/db', ['postgres', 'postgresql'])), context),
});
