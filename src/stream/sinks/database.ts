import mysql from 'mysql2/promise';
import pg from 'pg';
import type { StreamTableConfig } from '../../core/config.js';
import { TributaryError } from '../../core/errors.js';
import type { Project } from '../../core/project.js';
import type { Engine } from '../../engine/index.js';
import { ModelSink, WATERMARK_KEY, type PendingWrite, type TableShape } from './model-sink.js';

/**
 * A serving database that is not the embedded one: PostgreSQL or MySQL/MariaDB. The batch's rows,
 * merges, late rows and the sink's offsets are one transaction of that database, so its tables and
 * its progress can never disagree.
 */
interface Dialect {
  readonly name: 'postgres' | 'mysql';
  quote(id: string): string;
  /** `keyChars`: the column is part of a key of text columns that may each hold this many characters. */
  type(duckType: string, keyChars: number | false): string;
  connect(): Promise<void>;
  exec(sql: string, params?: unknown[]): Promise<unknown[]>;
  begin(): Promise<void>;
  commit(): Promise<void>;
  rollback(): Promise<void>;
  insert(table: string, columns: { name: string; type: string }[], data: unknown[][], merge?: { keys: string[]; measures: string[] }): Promise<void>;
  upsertOffset(job: string, sink: string, partition: number, next: number): Promise<void>;
  upsertState(job: string, sink: string, key: string, value: number): Promise<void>;
  close(): Promise<void>;
}

/** DuckDB types as PostgreSQL or MySQL spell them; explicit, so nothing is truncated or mistyped. */
function mapType(duck: string, dialect: 'postgres' | 'mysql', keyChars: number | false): string {
  const t = duck.toUpperCase();
  const decimal = /^DECIMAL\((\d+),\s*(\d+)\)$/.exec(t);
  if (decimal) return dialect === 'postgres' ? `NUMERIC(${decimal[1]},${decimal[2]})` : `DECIMAL(${decimal[1]},${decimal[2]})`;
  const common: Record<string, [string, string]> = {
    BIGINT: ['BIGINT', 'BIGINT'],
    INTEGER: ['INTEGER', 'INT'],
    SMALLINT: ['SMALLINT', 'SMALLINT'],
    TINYINT: ['SMALLINT', 'TINYINT'],
    HUGEINT: ['NUMERIC(38,0)', 'DECIMAL(38,0)'],
    UBIGINT: ['NUMERIC(20,0)', 'BIGINT UNSIGNED'],
    DOUBLE: ['DOUBLE PRECISION', 'DOUBLE'],
    FLOAT: ['REAL', 'FLOAT'],
    BOOLEAN: ['BOOLEAN', 'BOOLEAN'],
    DATE: ['DATE', 'DATE'],
    TIMESTAMP: ['TIMESTAMP(6)', 'DATETIME(6)'],
    'TIMESTAMP WITH TIME ZONE': ['TIMESTAMPTZ', 'DATETIME(6)'],
    UUID: ['UUID', 'CHAR(36)'],
    // A key must be indexable in MySQL (3,072 bytes for all key columns, 4 bytes a character); a
    // longer value fails loudly in strict mode, never truncates.
    VARCHAR: ['TEXT', keyChars ? `VARCHAR(${keyChars})` : 'TEXT'],
  };
  const found = common[t];
  if (!found) throw new TributaryError(`no ${dialect} type for DuckDB type ${duck}`, { hint: 'cast the column in the model to a common type (VARCHAR, BIGINT, DOUBLE, DECIMAL, TIMESTAMP)' });
  return dialect === 'postgres' ? found[0] : found[1];
}

function postgres(url: string): Dialect {
  const client = new pg.Client({ connectionString: url });
  const quote = (id: string) => `"${id.replace(/"/g, '""')}"`;
  const arrayType = (duck: string) => `${mapType(duck, 'postgres', false).replace(/\(6\)$/, '')}[]`;
  return {
    name: 'postgres',
    quote,
    type: (duck, keyChars) => mapType(duck, 'postgres', keyChars),
    connect: async () => {
      await client.connect();
    },
    exec: async (sql, params) => (await client.query(sql, params as unknown[])).rows,
    begin: async () => void (await client.query('BEGIN')),
    commit: async () => void (await client.query('COMMIT')),
    rollback: async () => void (await client.query('ROLLBACK')),
    async insert(table, columns, data, merge) {
      if (!data[0]?.length) return;
      const cols = columns.map((c) => quote(c.name)).join(', ');
      const unnest = columns.map((c, i) => `$${i + 1}::${arrayType(c.type)}`).join(', ');
      const conflict = merge
        ? ` ON CONFLICT (${merge.keys.map(quote).join(', ')}) DO UPDATE SET ${merge.measures.map((m) => `${quote(m)} = t.${quote(m)} + EXCLUDED.${quote(m)}`).join(', ')}`
        : '';
      await client.query(`INSERT INTO ${quote(table)} AS t (${cols}) SELECT * FROM unnest(${unnest})${conflict}`, data);
    },
    upsertOffset: async (job, sink, partition, next) =>
      void (await client.query(
        `INSERT INTO tributary_stream_offsets VALUES ($1, $2, $3, $4) ON CONFLICT (job, sink, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset`,
        [job, sink, partition, next],
      )),
    upsertState: async (job, sink, key, value) =>
      void (await client.query(
        `INSERT INTO tributary_stream_state VALUES ($1, $2, $3, $4) ON CONFLICT (job, sink, key) DO UPDATE SET value = EXCLUDED.value`,
        [job, sink, key, value],
      )),
    close: () => client.end(),
  };
}

function mysqlDialect(url: string): Dialect {
  let conn: mysql.Connection;
  const quote = (id: string) => `\`${id.replace(/`/g, '``')}\``;
  const CHUNK = 5_000;
  return {
    name: 'mysql',
    quote,
    type: (duck, keyChars) => mapType(duck, 'mysql', keyChars),
    connect: async () => {
      conn = await mysql.createConnection({ uri: url, dateStrings: true, supportBigNumbers: true, bigNumberStrings: true });
      await conn.query(`SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION', time_zone = '+00:00'`);
    },
    exec: async (sql, params) => (await conn.query(sql, params))[0] as unknown[],
    begin: () => conn.beginTransaction(),
    commit: () => conn.commit(),
    rollback: () => conn.rollback(),
    async insert(table, columns, data, merge) {
      const n = data[0]?.length ?? 0;
      const cols = columns.map((c) => quote(c.name)).join(', ');
      const update = merge ? ` ON DUPLICATE KEY UPDATE ${merge.measures.map((m) => `${quote(m)} = ${quote(m)} + VALUES(${quote(m)})`).join(', ')}` : '';
      for (let from = 0; from < n; from += CHUNK) {
        const rows: unknown[][] = [];
        for (let r = from; r < Math.min(n, from + CHUNK); r++) rows.push(data.map((col) => col[r]));
        await conn.query(`INSERT INTO ${quote(table)} (${cols}) VALUES ?${update}`, [rows]);
      }
    },
    upsertOffset: async (job, sink, partition, next) =>
      void (await conn.query(`REPLACE INTO tributary_stream_offsets VALUES (?, ?, ?, ?)`, [job, sink, partition, next])),
    upsertState: async (job, sink, key, value) => void (await conn.query(`REPLACE INTO tributary_stream_state VALUES (?, ?, ?, ?)`, [job, sink, key, value])),
    close: () => conn.end(),
  };
}

export class DatabaseSink extends ModelSink {
  private readonly db: Dialect;

  constructor(
    job: string,
    name: string,
    kind: 'postgres' | 'mysql',
    url: string,
    engine: Engine,
    models: { project: Project; binds: string },
    tables: Record<string, StreamTableConfig>,
  ) {
    super(job, name, kind, engine, models, tables);
    this.db = kind === 'postgres' ? postgres(url) : mysqlDialect(url);
  }

  static urlFrom(sink: string, urlEnv: string | undefined): string {
    const name = urlEnv ?? 'TRIBUTARY_DATABASE_URL';
    const url = process.env[name];
    if (!url) {
      throw new TributaryError(`sink '${sink}' needs a database URL in the environment variable ${name}`, {
        hint: `export ${name}=postgres://user@127.0.0.1:5432/db (or mysql://root@127.0.0.1:3306/db); secrets stay out of the config`,
      });
    }
    return url;
  }

  protected async createTables(shapes: TableShape[]): Promise<void> {
    await this.db.connect();
    const q = (id: string) => this.db.quote(id);
    const text = this.db.name === 'postgres' ? 'TEXT' : 'VARCHAR(255)';
    await this.db.exec(
      `CREATE TABLE IF NOT EXISTS tributary_stream_offsets (job ${text} NOT NULL, sink ${text} NOT NULL, ${q('partition')} INTEGER NOT NULL, next_offset BIGINT NOT NULL, PRIMARY KEY (job, sink, ${q('partition')}))`,
    );
    await this.db.exec(
      `CREATE TABLE IF NOT EXISTS tributary_stream_state (job ${text} NOT NULL, sink ${text} NOT NULL, ${q('key')} ${text} NOT NULL, value DOUBLE PRECISION, PRIMARY KEY (job, sink, ${q('key')}))`,
    );
    for (const shape of shapes) {
      const keys = shape.config.mode === 'merge' ? shape.config.keys ?? [] : [];
      const textKeys = shape.columns.filter((c) => keys.includes(c.name) && c.type === 'VARCHAR').length;
      // 3,072 bytes in all, 4 a character, with room for lengths and other key columns.
      const keyChars = Math.floor(740 / Math.max(1, textKeys));
      const columns = shape.columns.map(
        (c) => `${q(c.name)} ${this.db.type(c.type, keys.includes(c.name) && keyChars)}${keys.includes(c.name) ? ' NOT NULL' : ''}`,
      );
      const pk = keys.length ? `, PRIMARY KEY (${keys.map(q).join(', ')})` : '';
      await this.db.exec(`CREATE TABLE IF NOT EXISTS ${q(shape.name)} (${columns.join(', ')}${pk})`);
      if (shape.config.mode === 'merge' && !keys.length) {
        const rows = await this.db.exec(`SELECT count(*) AS n FROM ${q(shape.name)}`);
        if (Number((rows[0] as { n: number | string }).n) === 0) {
          await this.db.exec(`INSERT INTO ${q(shape.name)} VALUES (${shape.columns.map(() => '0').join(', ')})`);
        }
      }
    }
    if (this.window) {
      const columns = await this.lateColumns();
      await this.db.exec(
        `CREATE TABLE IF NOT EXISTS ${q(`${this.job}_late`)} (${columns.map((c) => `${q(c.name)} ${this.db.type(c.type, false)}`).join(', ')})`,
      );
    }
  }

  protected async readOffsets(): Promise<Map<number, number>> {
    const rows = (await this.db.exec(`SELECT ${this.db.quote('partition')} AS p, next_offset AS o FROM tributary_stream_offsets WHERE job = ${this.db.name === 'postgres' ? '$1' : '?'} AND sink = ${this.db.name === 'postgres' ? '$2' : '?'}`, [this.job, this.name])) as { p: number; o: string | number }[];
    return new Map(rows.map((r) => [Number(r.p), Number(r.o)]));
  }

  protected async readWatermark(): Promise<number | undefined> {
    const p = (i: number) => (this.db.name === 'postgres' ? `$${i}` : '?');
    const rows = (await this.db.exec(`SELECT value FROM tributary_stream_state WHERE job = ${p(1)} AND sink = ${p(2)} AND ${this.db.quote('key')} = ${p(3)}`, [this.job, this.name, WATERMARK_KEY])) as { value: number }[];
    return rows[0] ? Number(rows[0].value) : undefined;
  }

  protected async write(pending: PendingWrite): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    const batches: { shape: TableShape; data: unknown[][] }[] = [];
    for (const shape of this.shapes) {
      // Dates, times, UUIDs and decimals travel as text both databases parse exactly.
      const cols = shape.columns
        .map((c) => {
          const name = `"${c.name.replace(/"/g, '""')}"`;
          return /^(DATE|TIME|TIMESTAMP|UUID|DECIMAL)/.test(c.type) ? `CAST(${name} AS VARCHAR) AS ${name}` : name;
        })
        .join(', ');
      const source = pending.sources.get(shape.name)!;
      const select =
        shape.config.mode === 'merge' && !(shape.config.keys ?? []).length
          ? `SELECT ${shape.measures.map((m) => `coalesce(sum("${m}"), 0) AS "${m}"`).join(', ')} FROM ${source}`
          : `SELECT ${cols} FROM ${source}`;
      const { columns } = await this.engine.columnsJson(select);
      counts[shape.name] = Number(await this.engine.scalar<bigint>(`SELECT count(*) FROM ${source}`));
      batches.push({ shape, data: columns });
    }
    const late = pending.late ? await this.engine.columnsJson(`SELECT * EXCLUDE (__rule, __reason, __raw) FROM ${pending.late}`) : undefined;
    const lateColumns = pending.late ? await this.lateColumns() : [];
    await this.db.begin();
    try {
      for (const { shape, data } of batches) {
        const keys = shape.config.keys ?? [];
        if (shape.config.mode === 'merge' && !keys.length) {
          const p = (i: number) => (this.db.name === 'postgres' ? `$${i}` : '?');
          await this.db.exec(
            `UPDATE ${this.db.quote(shape.name)} SET ${shape.measures.map((m, i) => `${this.db.quote(m)} = ${this.db.quote(m)} + ${p(i + 1)}`).join(', ')}`,
            data.map((col) => col[0]),
          );
        } else {
          await this.db.insert(shape.name, shape.columns, data, shape.config.mode === 'merge' ? { keys, measures: shape.measures } : undefined);
        }
      }
      if (late && late.columns[0]?.length) await this.db.insert(`${this.job}_late`, lateColumns, late.columns);
      for (const [partition, next] of pending.next) await this.db.upsertOffset(this.job, this.name, partition, next);
      if (pending.watermark !== undefined) await this.db.upsertState(this.job, this.name, WATERMARK_KEY, pending.watermark);
      await this.db.commit();
    } catch (error) {
      await this.db.rollback().catch(() => undefined);
      throw error;
    }
    return counts;
  }

  override async close(): Promise<void> {
    await this.db.close().catch(() => undefined);
  }
}
