import { createReadStream } from 'node:fs';
import type { ResultSetHeader } from 'mysql2';
import { z } from 'zod';
import { TributaryError } from '../../core/errors.js';
import type { ColumnInfo } from '../../catalog/index.js';
import { DatabaseStore, databaseUrl, type DatabaseConnection, type DatabaseDialect } from './database.js';
import { defineStore, type Store, type StoreContext } from './types.js';

const schema = z
  .object({
    kind: z.literal('mysql'),
    /** The environment variable holding the connection URL (default TRIBUTARY_DATABASE_URL). */
    urlEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'expected an environment variable name such as WAREHOUSE_URL').optional(),
  })
  .strict();

const quote = (name: string) => `\`${name.replace(/`/g, '``')}\``;

/**
 * DuckDB types as MySQL and MariaDB spell them. Text is LONGTEXT (a key, which must be indexable,
 * a bounded VARCHAR): in strict mode a value that does not fit fails loudly, it is never cut.
 */
function mysqlType(duck: string, keyText: number | false): string {
  const t = duck.trim().toUpperCase();
  const decimal = /^DECIMAL\((\d+),\s*(\d+)\)$/.exec(t);
  if (decimal) return `DECIMAL(${decimal[1]},${decimal[2]})`;
  if (/[[\]]|^(STRUCT|MAP|UNION)|^JSON$/.test(t)) return 'JSON';
  const types: Record<string, string> = {
    BIGINT: 'BIGINT', INTEGER: 'INT', SMALLINT: 'SMALLINT', TINYINT: 'TINYINT', HUGEINT: 'DECIMAL(39,0)', UBIGINT: 'BIGINT UNSIGNED',
    UINTEGER: 'INT UNSIGNED', USMALLINT: 'SMALLINT UNSIGNED', UTINYINT: 'TINYINT UNSIGNED', DOUBLE: 'DOUBLE', FLOAT: 'FLOAT', BOOLEAN: 'BOOLEAN',
    DATE: 'DATE', TIME: 'TIME(6)', TIMESTAMP: 'DATETIME(6)', 'TIMESTAMP WITH TIME ZONE': 'DATETIME(6)', UUID: 'CHAR(36)', BLOB: 'LONGBLOB',
    VARCHAR: keyText ? `VARCHAR(${keyText})` : 'LONGTEXT',
  };
  const found = types[t];
  if (!found) throw new TributaryError(`no MySQL type for DuckDB type ${duck}`, { hint: 'cast the column in the model to a common type (VARCHAR, BIGINT, DOUBLE, DECIMAL, TIMESTAMP)' });
  return found;
}

/** Rows per INSERT statement (MySQL's packet limit bounds a statement). */
const ROWS_PER_STATEMENT = 5_000;

function transport(duck: string, expr: string): string {
  const t = duck.toUpperCase();
  // The connection runs in UTC; an instant is written as its UTC wall time, which DATETIME holds.
  if (t === 'TIMESTAMP WITH TIME ZONE') return `strftime(${expr} AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M:%S.%f')`;
  if (/^(DATE|TIME|TIMESTAMP|UUID|DECIMAL|INTERVAL)/.test(t)) return `CAST(${expr} AS VARCHAR)`;
  if (/[[\]]|^(STRUCT|MAP|UNION)/.test(t)) return `CAST(to_json(${expr}) AS VARCHAR)`;
  return expr;
}

/**
 * LOAD DATA's reading of the engine's CSV: fields quoted with doubled quotes inside and no escape
 * character (a backslash is data), NULL as the bare word (a quoted "NULL" is text).
 */
const LOAD_FORMAT = `CHARACTER SET utf8mb4 FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '"' ESCAPED BY '' LINES TERMINATED BY '\\n'`;

/** The dialect; `url` is asked for when the store connects (or is checked before a run). */
const dialect = (url: () => string): DatabaseDialect => ({
  url,
  label: 'MySQL',
  quote,
  param: () => '?',
  type: mysqlType,
  transport,
  bulk: {
    csv: `FORMAT csv, HEADER false, FORCE_QUOTE *, NULLSTR 'NULL'`,
    transport: (duck, expr) => {
      const t = duck.toUpperCase();
      // BOOLEAN is a TINYINT; bytes have no exact form in this CSV, so such a table goes by inserts.
      if (t === 'BOOLEAN') return `CAST(${expr} AS INTEGER)`;
      return t === 'BLOB' ? undefined : transport(duck, expr);
    },
  },
  keyTextType: 'VARCHAR(190)',
  upsert: { quote, stored: (c) => quote(c), incoming: (c) => `VALUES(${quote(c)})` },
  onConflict: (_keys, assignments) => ` ON DUPLICATE KEY UPDATE ${assignments.join(', ')}`,
  upsertRow: (table, columns, keyColumns) =>
    `INSERT INTO ${table} (${columns.map(quote).join(', ')}) VALUES (${columns.map(() => '?').join(', ')})
     ON DUPLICATE KEY UPDATE ${columns.slice(keyColumns).map((c) => `${quote(c)} = VALUES(${quote(c)})`).join(', ')}`,
  existingColumns: async (db, table) =>
    new Set((await db.query(`SELECT column_name AS c FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ?`, [table])).map((r) => String(r.c).toLowerCase())),
  async connect(): Promise<DatabaseConnection> {
    const { default: mysql } = await import('mysql2/promise');
    const conn = await mysql.createConnection({ uri: url(), supportBigNumbers: true, bigNumberStrings: true, dateStrings: true, timezone: 'Z' });
    // Strict: a value that does not fit is an error, never silently cut or zeroed.
    await conn.query(`SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION', time_zone = '+00:00'`);
    // LOAD DATA LOCAL needs the server's consent (MySQL 8 refuses it by default): without it, rows go by inserts.
    const [[consent]] = (await conn.query('SELECT @@GLOBAL.local_infile AS allowed')) as unknown as [{ allowed: number | string }[]];
    const local = Number(consent?.allowed) === 1;
    return {
      query: async (sql, params) => (await conn.query(sql, params))[0] as Record<string, unknown>[],
      begin: () => conn.beginTransaction(),
      commit: () => conn.commit(),
      rollback: () => conn.rollback(),
      async insert(table, columns, data, suffix) {
        const n = data[0]?.length ?? 0;
        const cols = columns.map((c) => quote(c.name)).join(', ');
        for (let from = 0; from < n; from += ROWS_PER_STATEMENT) {
          const rows: unknown[][] = [];
          for (let r = from; r < Math.min(n, from + ROWS_PER_STATEMENT); r++) rows.push(data.map((column) => column[r]));
          await conn.query(`INSERT INTO ${quote(table)} (${cols}) VALUES ?${suffix ?? ''}`, [rows]);
        }
      },
      ...(local
        ? {
            async load(table: string, columns: readonly ColumnInfo[], file: string): Promise<number> {
              const [result] = (await conn.query({
                sql: `LOAD DATA LOCAL INFILE 'tributary-bulk' INTO TABLE ${quote(table)} ${LOAD_FORMAT} (${columns.map((c) => quote(c.name)).join(', ')})`,
                infileStreamFactory: () => createReadStream(file, { highWaterMark: 1 << 20 }),
              })) as unknown as [ResultSetHeader];
              // LOCAL turns what strict mode refuses (a value cut, a duplicate key) into warnings: any warning fails the commit.
              if (result.warningStatus > 0) {
                const [warnings] = (await conn.query('SHOW WARNINGS LIMIT 3')) as unknown as [{ Message: string }[]];
                throw new TributaryError(`MySQL refused rows of table '${table}': ${warnings.map((w) => w.Message).join('; ')}; nothing was committed`);
              }
              return result.affectedRows;
            },
          }
        : {}),
      close: () => conn.end(),
    };
  },
});

export const mysqlStore = defineStore({
  kind: 'mysql',
  description: 'tables in MySQL or MariaDB, each commit one transaction with its offsets or run record',
  config: schema,
  create: (config: z.output<typeof schema>, context: StoreContext): Store =>
    new DatabaseStore('mysql', dialect(() => databaseUrl(context.field, config.urlEnv, 'mysql://root@127.0.0.1:3306/db', ['mysql'])), context),
});
