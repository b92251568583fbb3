import { randomUUID } from 'node:crypto';
import type { Engine, Transaction } from '../engine/index.js';
import { quoteLiteral } from '../engine/index.js';

/**
 * The catalog: what tables exist, their columns, partitions and committed files, every run with
 * its row counts, lineage and quarantined rows. It lives in schema `tributary` of the project's
 * DuckDB warehouse, so a lake commit, a serving-table write and their bookkeeping can be one
 * transaction.
 */

export type TableKind = 'lake' | 'table' | 'view' | 'external';

export interface TableInfo {
  name: string;
  kind: TableKind;
  location: string | null;
  format: string | null;
  partition_by: string[];
  description: string | null;
  rows: number | null;
  bytes: number | null;
  files: number;
  updated_at: string;
}

export interface ColumnInfo {
  name: string;
  type: string;
}

export interface CommittedFile {
  /** Relative to the lake root. */
  path: string;
  /** Partition values, e.g. { dt: '2019-11-01' }; empty for unpartitioned tables. */
  partition: Record<string, string>;
  rows: number;
  bytes: number;
}

export interface RunCounts {
  /** Source rows a load read; null for models that only transform other tables. */
  read: number | null;
  written: number;
  quarantined: number;
}

export interface RunRecord extends RunCounts {
  run_id: string;
  model: string;
  status: 'running' | 'success' | 'failed';
  params: string | null;
  started_at: string;
  finished_at: string | null;
  error: string | null;
}

export interface QuarantineRecord {
  run_id: string;
  model: string;
  source: string;
  file: string | null;
  line: number | null;
  column_name: string | null;
  reason: string;
  raw: string | null;
}

export interface SchemaVersion {
  version: number;
  columns: ColumnInfo[];
  detected_at: string;
}

const SCHEMA = `
CREATE SCHEMA IF NOT EXISTS tributary;
CREATE TABLE IF NOT EXISTS tributary.tables (
  name VARCHAR PRIMARY KEY, kind VARCHAR NOT NULL, location VARCHAR, format VARCHAR,
  partition_by VARCHAR[] NOT NULL DEFAULT [], description VARCHAR,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(), updated_at TIMESTAMPTZ NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS tributary.columns (
  table_name VARCHAR NOT NULL, position INTEGER NOT NULL, name VARCHAR NOT NULL, type VARCHAR NOT NULL,
  PRIMARY KEY (table_name, position));
CREATE TABLE IF NOT EXISTS tributary.schema_versions (
  table_name VARCHAR NOT NULL, version INTEGER NOT NULL, columns JSON NOT NULL,
  detected_at TIMESTAMPTZ NOT NULL DEFAULT now(), PRIMARY KEY (table_name, version));
CREATE TABLE IF NOT EXISTS tributary.files (
  table_name VARCHAR NOT NULL, path VARCHAR NOT NULL, partition_values JSON NOT NULL,
  rows BIGINT NOT NULL, bytes BIGINT NOT NULL, added_run VARCHAR NOT NULL, removed_run VARCHAR,
  committed_at TIMESTAMPTZ NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS tributary.runs (
  run_id VARCHAR PRIMARY KEY, model VARCHAR NOT NULL, status VARCHAR NOT NULL, params VARCHAR,
  started_at TIMESTAMPTZ NOT NULL DEFAULT now(), finished_at TIMESTAMPTZ,
  read BIGINT, written BIGINT NOT NULL DEFAULT 0, quarantined BIGINT NOT NULL DEFAULT 0,
  error VARCHAR);
CREATE TABLE IF NOT EXISTS tributary.lineage (
  model VARCHAR NOT NULL, upstream VARCHAR NOT NULL, upstream_kind VARCHAR NOT NULL,
  PRIMARY KEY (model, upstream));
CREATE TABLE IF NOT EXISTS tributary.quarantine (
  run_id VARCHAR NOT NULL, model VARCHAR NOT NULL, source VARCHAR NOT NULL, file VARCHAR, line BIGINT,
  column_name VARCHAR, reason VARCHAR NOT NULL, raw VARCHAR, quarantined_at TIMESTAMPTZ NOT NULL DEFAULT now());
`;

export class Catalog {
  private constructor(private readonly engine: Engine) {}

  static async open(engine: Engine): Promise<Catalog> {
    await engine.run(SCHEMA);
    return new Catalog(engine);
  }

  newRunId(): string {
    const stamp = new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14);
    return `${stamp}-${randomUUID().slice(0, 8)}`;
  }

  async startRun(runId: string, model: string, params: unknown): Promise<void> {
    await this.engine.run(`INSERT INTO tributary.runs (run_id, model, status, params) VALUES ($1, $2, 'running', $3)`, [
      runId,
      model,
      params === undefined ? null : JSON.stringify(params),
    ]);
  }

  async finishRun(runId: string, status: 'success' | 'failed', counts: RunCounts, error?: string): Promise<void> {
    await this.engine.run(
      `UPDATE tributary.runs SET status = $2, finished_at = now(), read = $3, written = $4, quarantined = $5, error = $6 WHERE run_id = $1`,
      [runId, status, counts.read, counts.written, counts.quarantined, error ?? null],
    );
  }

  async runs(limit = 50, model?: string): Promise<RunRecord[]> {
    return this.engine.queryJson<RunRecord>(
      `SELECT run_id, model, status, params, started_at::VARCHAR AS started_at, finished_at::VARCHAR AS finished_at,
              read::DOUBLE AS read, written::DOUBLE AS written, quarantined::DOUBLE AS quarantined, error
       FROM tributary.runs ${model ? `WHERE model = ${quoteLiteral(model)}` : ''}
       ORDER BY started_at DESC LIMIT ${Math.floor(limit)}`,
    );
  }

  /** Creates or updates a table's entry and its current columns, inside the caller's transaction. */
  async registerTable(
    tx: Transaction,
    table: { name: string; kind: TableKind; location?: string; format?: string; partitionBy?: string[]; description?: string; columns: ColumnInfo[] },
  ): Promise<void> {
    await tx.run(
      `INSERT INTO tributary.tables (name, kind, location, format, partition_by, description) VALUES ($1, $2, $3, $4, $5::VARCHAR[], $6)
       ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, location = excluded.location, format = excluded.format,
         partition_by = excluded.partition_by, description = excluded.description, updated_at = now()`,
      [table.name, table.kind, table.location ?? null, table.format ?? null, JSON.stringify(table.partitionBy ?? []), table.description ?? null],
    );
    await tx.run(`DELETE FROM tributary.columns WHERE table_name = $1`, [table.name]);
    for (const [position, column] of table.columns.entries()) {
      await tx.run(`INSERT INTO tributary.columns VALUES ($1, $2, $3, $4)`, [table.name, position, column.name, column.type]);
    }
  }

  /**
   * Records a schema version when the columns differ from the last one, and returns the
   * differences so a crawl can report drift between drops.
   */
  async recordSchemaVersion(tx: Transaction, table: string, columns: ColumnInfo[]): Promise<SchemaDrift | undefined> {
    const last = await tx.query<{ version: number; columns: string }>(
      `SELECT version, columns::VARCHAR AS columns FROM tributary.schema_versions WHERE table_name = $1 ORDER BY version DESC LIMIT 1`,
      [table],
    );
    const previous = last[0] ? (JSON.parse(last[0].columns) as ColumnInfo[]) : undefined;
    const drift = previous ? diffColumns(previous, columns) : undefined;
    if (!previous || (drift && !drift.unchanged)) {
      await tx.run(`INSERT INTO tributary.schema_versions (table_name, version, columns) VALUES ($1, $2, $3)`, [
        table,
        (last[0]?.version ?? 0) + 1,
        JSON.stringify(columns),
      ]);
    }
    return drift;
  }

  async schemaVersions(table: string): Promise<SchemaVersion[]> {
    const rows = await this.engine.queryJson<{ version: number; columns: string; detected_at: string }>(
      `SELECT version, columns::VARCHAR AS columns, detected_at::VARCHAR AS detected_at FROM tributary.schema_versions WHERE table_name = $1 ORDER BY version`,
      [table],
    );
    return rows.map((r) => ({ version: r.version, columns: JSON.parse(r.columns) as ColumnInfo[], detected_at: r.detected_at }));
  }

  /**
   * Makes a set of files the table's content for the partitions they cover (or for the whole table
   * when `replace` is 'all'), inside the caller's transaction. Returns the files it retired, which
   * the lake deletes once the transaction has committed.
   */
  async commitFiles(
    tx: Transaction,
    table: string,
    runId: string,
    files: CommittedFile[],
    replace: 'all' | 'partitions' | 'none',
  ): Promise<string[]> {
    let retired: { path: string }[] = [];
    if (replace === 'all') {
      retired = await tx.query(`UPDATE tributary.files SET removed_run = $2 WHERE table_name = $1 AND removed_run IS NULL RETURNING path`, [
        table,
        runId,
      ]);
    } else if (replace === 'partitions') {
      const partitions = [...new Set(files.map((f) => JSON.stringify(f.partition)))];
      for (const partition of partitions) {
        retired.push(
          ...(await tx.query<{ path: string }>(
            `UPDATE tributary.files SET removed_run = $3 WHERE table_name = $1 AND removed_run IS NULL AND partition_values::VARCHAR = $2 RETURNING path`,
            [table, partition, runId],
          )),
        );
      }
    }
    for (const file of files) {
      await tx.run(`INSERT INTO tributary.files (table_name, path, partition_values, rows, bytes, added_run) VALUES ($1, $2, $3, $4, $5, $6)`, [
        table,
        file.path,
        JSON.stringify(file.partition),
        file.rows,
        file.bytes,
        runId,
      ]);
    }
    return retired.map((r) => r.path);
  }

  async activeFiles(table: string): Promise<CommittedFile[]> {
    const rows = await this.engine.queryJson<{ path: string; partition_values: string; rows: number; bytes: number }>(
      `SELECT path, partition_values::VARCHAR AS partition_values, rows::DOUBLE AS rows, bytes::DOUBLE AS bytes
       FROM tributary.files WHERE table_name = $1 AND removed_run IS NULL ORDER BY path`,
      [table],
    );
    return rows.map((r) => ({ path: r.path, partition: JSON.parse(r.partition_values) as Record<string, string>, rows: r.rows, bytes: r.bytes }));
  }

  /** Every path the catalog still considers live, for all tables: what vacuum must keep. */
  async livePaths(): Promise<Set<string>> {
    const rows = await this.engine.query<{ path: string }>(`SELECT path FROM tributary.files WHERE removed_run IS NULL`);
    return new Set(rows.map((r) => r.path));
  }

  async partitions(table: string): Promise<{ partition: Record<string, string>; files: number; rows: number; bytes: number }[]> {
    const rows = await this.engine.queryJson<{ partition_values: string; files: number; rows: number; bytes: number }>(
      `SELECT partition_values::VARCHAR AS partition_values, count(*)::INTEGER AS files, sum(rows)::DOUBLE AS rows, sum(bytes)::DOUBLE AS bytes
       FROM tributary.files WHERE table_name = $1 AND removed_run IS NULL GROUP BY 1 ORDER BY 1`,
      [table],
    );
    return rows.map((r) => ({ partition: JSON.parse(r.partition_values) as Record<string, string>, files: r.files, rows: r.rows, bytes: r.bytes }));
  }

  async tables(): Promise<TableInfo[]> {
    // Serving tables count their rows in DuckDB itself; lake tables by their committed files.
    const rows = await this.engine.queryJson<TableInfo & { partition_by: string[] }>(
      `SELECT t.name, t.kind, t.location, t.format, t.partition_by, t.description,
              coalesce(f.rows, d.estimated_size::DOUBLE) AS rows, f.bytes, coalesce(f.files, 0)::INTEGER AS files, t.updated_at::VARCHAR AS updated_at
       FROM tributary.tables t
       LEFT JOIN (SELECT table_name, sum(rows)::DOUBLE AS rows, sum(bytes)::DOUBLE AS bytes, count(*) AS files
                  FROM tributary.files WHERE removed_run IS NULL GROUP BY 1) f ON f.table_name = t.name
       LEFT JOIN duckdb_tables() d ON d.table_name = t.name AND d.schema_name = 'main' AND NOT d.temporary
       ORDER BY t.name`,
    );
    return rows;
  }

  async table(name: string): Promise<(TableInfo & { columns: ColumnInfo[] }) | undefined> {
    const info = (await this.tables()).find((t) => t.name === name);
    if (!info) return undefined;
    const columns = await this.engine.queryJson<ColumnInfo>(
      `SELECT name, type FROM tributary.columns WHERE table_name = $1 ORDER BY position`,
      [name],
    );
    return { ...info, columns };
  }

  async setLineage(tx: Transaction, model: string, upstream: { name: string; kind: 'source' | 'model' | 'stream' }[]): Promise<void> {
    await tx.run(`DELETE FROM tributary.lineage WHERE model = $1`, [model]);
    for (const u of upstream) {
      await tx.run(`INSERT INTO tributary.lineage VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, [model, u.name, u.kind]);
    }
  }

  async lineage(): Promise<{ model: string; upstream: string; upstream_kind: string }[]> {
    return this.engine.queryJson(`SELECT model, upstream, upstream_kind FROM tributary.lineage ORDER BY model, upstream`);
  }

  async quarantine(options: { runId?: string; model?: string; limit?: number } = {}): Promise<QuarantineRecord[]> {
    const where = [
      options.runId && `run_id = ${quoteLiteral(options.runId)}`,
      options.model && `model = ${quoteLiteral(options.model)}`,
    ].filter(Boolean);
    return this.engine.queryJson(
      `SELECT run_id, model, source, file, line::DOUBLE AS line, column_name, reason, raw FROM tributary.quarantine
       ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY quarantined_at DESC, file, line LIMIT ${Math.floor(options.limit ?? 100)}`,
    );
  }
}

export interface SchemaDrift {
  unchanged: boolean;
  added: ColumnInfo[];
  removed: ColumnInfo[];
  retyped: { name: string; from: string; to: string }[];
}

export function diffColumns(before: ColumnInfo[], after: ColumnInfo[]): SchemaDrift {
  const old = new Map(before.map((c) => [c.name, c.type]));
  const now = new Map(after.map((c) => [c.name, c.type]));
  const added = after.filter((c) => !old.has(c.name));
  const removed = before.filter((c) => !now.has(c.name));
  const retyped = after
    .filter((c) => old.has(c.name) && old.get(c.name) !== c.type)
    .map((c) => ({ name: c.name, from: old.get(c.name)!, to: c.type }));
  return { unchanged: !added.length && !removed.length && !retyped.length, added, removed, retyped };
}
