import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Catalog, ColumnInfo, CommittedFile } from '../catalog/index.js';
import type { Engine, Transaction } from '../engine/index.js';
import { quoteIdent, quoteList, quoteLiteral } from '../engine/index.js';

/**
 * The Parquet lake: Hive-style folders (`<table>/dt=2019-11-01/part-<run>-<n>.parquet`) that Spark,
 * Trino, Athena and DuckDB read as they are. Writes land in a staging folder, move into place, and
 * become visible only when the catalog commits them, so a crash never exposes half a batch.
 */

export interface StagedWrite {
  table: string;
  runId: string;
  /** Files under the table folder, ready to commit. */
  files: CommittedFile[];
  /** Rows the write routed elsewhere, by the value of the `divertBy` column (e.g. rule verdicts). */
  diverted: Map<string, number>;
  /** Columns of the committed files plus partition columns, as the table's readers see them. */
  columns: ColumnInfo[];
  partitionBy: string[];
}

export interface WriteOptions {
  runId: string;
  /** Partition column → SQL expression over the query's columns. */
  partitionBy?: Record<string, string>;
  /** A column whose value 'ok' marks rows for the table; rows with other values are counted, not kept. */
  divertBy?: string;
}

const PARTITION_TYPE_FALLBACK = 'VARCHAR';

export class Lake {
  constructor(
    private readonly engine: Engine,
    private readonly catalog: Catalog,
    readonly root: string,
    private readonly format: { compression: string; parquetVersion: 'v1' | 'v2' } = { compression: 'snappy', parquetVersion: 'v1' },
  ) {}

  /** COPY options every lake file is written with. */
  private get parquetOptions(): string {
    return `FORMAT parquet, COMPRESSION ${this.format.compression}, PARQUET_VERSION ${this.format.parquetVersion.toUpperCase()}`;
  }

  tableDir(table: string): string {
    return path.join(this.root, table);
  }

  /**
   * Runs `query` once and writes its rows as Parquet into staging, then moves the kept files into
   * the table's folders. Nothing is visible until `commit`.
   */
  async stage(table: string, query: string, options: WriteOptions): Promise<StagedWrite> {
    const partitionExprs = options.partitionBy ?? {};
    const partitionNames = Object.keys(partitionExprs);
    const divert = options.divertBy;
    const projection = [
      '*',
      ...Object.entries(partitionExprs).map(([name, expr]) => `${expr} AS ${quoteIdent(name)}`),
    ].join(', ');
    const full = `SELECT ${projection} FROM (${query}) AS __model`;
    const described = await this.engine.describe(full);
    const dataColumns = described.filter((c) => c.name !== divert && !partitionNames.includes(c.name));
    const partitionColumns = partitionNames.map((name) => ({
      name,
      type: described.find((c) => c.name === name)?.type ?? PARTITION_TYPE_FALLBACK,
    }));
    const staging = path.join(this.root, '_staging', options.runId, table);
    rmSync(staging, { recursive: true, force: true });
    mkdirSync(staging, { recursive: true });
    const partitionKeys = [...(divert ? [divert] : []), ...partitionNames];
    const target = partitionKeys.length ? staging : path.join(staging, `part-${options.runId}-0.parquet`);
    const stats = await this.engine.queryJson<{ filename: string; count: string }>(
      `COPY (${full}) TO ${quoteLiteral(target)} (${this.parquetOptions}, ROW_GROUP_SIZE 122880,
        ${partitionKeys.length ? `PARTITION_BY (${partitionKeys.map(quoteIdent).join(', ')}), FILENAME_PATTERN 'part-${options.runId}-{i}',` : ''}
        RETURN_STATS)`,
    );
    const files: CommittedFile[] = [];
    const diverted = new Map<string, number>();
    for (const stat of stats) {
      const relative = path.relative(staging, stat.filename);
      const parts = relative.split(path.sep);
      const values = Object.fromEntries(
        parts.slice(0, -1).map((segment) => {
          const eq = segment.indexOf('=');
          return [segment.slice(0, eq), decodeURIComponent(segment.slice(eq + 1))];
        }),
      );
      const rows = Number(stat.count);
      if (rows === 0) {
        rmSync(stat.filename, { force: true });
        continue;
      }
      if (divert && values[divert] !== 'ok') {
        const verdict = values[divert] ?? 'unknown';
        diverted.set(verdict, (diverted.get(verdict) ?? 0) + rows);
        continue;
      }
      const partition = Object.fromEntries(partitionNames.map((name) => [name, values[name] ?? '']));
      const folder = partitionNames.map((name) => `${name}=${encodeURIComponent(partition[name]!)}`);
      const finalRelative = path.join(table, ...folder, parts[parts.length - 1]!);
      const finalPath = path.join(this.root, finalRelative);
      mkdirSync(path.dirname(finalPath), { recursive: true });
      renameSync(stat.filename, finalPath);
      files.push({ path: finalRelative, partition, rows, bytes: statSync(finalPath).size });
    }
    rmSync(path.join(this.root, '_staging', options.runId), { recursive: true, force: true });
    return { table, runId: options.runId, files, diverted, columns: [...dataColumns, ...partitionColumns], partitionBy: partitionNames };
  }

  /**
   * Makes staged files the table's content in one catalog transaction: replacing the partitions
   * they cover (or the whole table), registering the table and re-pointing its view. `alsoInside`
   * runs in the same transaction, for bookkeeping that must commit with the data.
   */
  async commit(
    writes: StagedWrite | StagedWrite[],
    replace: 'all' | 'partitions' | 'append',
    description?: string,
    alsoInside?: (tx: Transaction) => Promise<void>,
  ): Promise<void> {
    const list = Array.isArray(writes) ? writes : [writes];
    const retired = await this.engine.transaction(async (tx) => {
      const gone: string[] = [];
      for (const staged of list) {
        await this.catalog.registerTable(tx, {
          name: staged.table,
          kind: 'lake',
          location: this.tableDir(staged.table),
          format: 'parquet',
          partitionBy: staged.partitionBy,
          columns: staged.columns,
          description,
        });
        gone.push(...(await this.catalog.commitFiles(tx, staged.table, staged.runId, staged.files, replace === 'append' ? 'none' : replace)));
        await this.createView(tx, staged.table, staged.columns, staged.partitionBy);
      }
      if (alsoInside) await alsoInside(tx);
      return gone;
    });
    for (const file of retired) rmSync(path.join(this.root, file), { force: true });
    if (retired.length) for (const staged of list) this.removeEmptyFolders(this.tableDir(staged.table));
  }

  /** Deletes staged files that will not be committed; readers never saw them. */
  discard(staged: StagedWrite): void {
    for (const file of staged.files) rmSync(path.join(this.root, file.path), { force: true });
    this.removeEmptyFolders(this.tableDir(staged.table));
  }

  /** Points the table's view at exactly the committed files, typed as the catalog records them. */
  private async createView(tx: Transaction, table: string, columns: ColumnInfo[], partitionBy: string[]): Promise<void> {
    const live = await tx.query<{ path: string }>(
      `SELECT path FROM tributary.files WHERE table_name = $1 AND removed_run IS NULL ORDER BY path`,
      [table],
    );
    const body = live.length
      ? `SELECT ${columns.map((c) => quoteIdent(c.name)).join(', ')} FROM read_parquet(${quoteList(live.map((f) => path.join(this.root, f.path)))},
           hive_partitioning = ${partitionBy.length > 0}${
             partitionBy.length
               ? `, hive_types = {${partitionBy.map((p) => `${quoteLiteral(p)}: ${quoteLiteral(columns.find((c) => c.name === p)?.type ?? PARTITION_TYPE_FALLBACK)}`).join(', ')}}`
               : ''
           })`
      : `SELECT ${columns.map((c) => `CAST(NULL AS ${c.type}) AS ${quoteIdent(c.name)}`).join(', ')} WHERE false`;
    await tx.run(`CREATE OR REPLACE VIEW main.${quoteIdent(table)} AS ${body}`);
  }

  /**
   * Rewrites each partition's small files as one, committed like any other write: readers never
   * see a partition twice or not at all.
   */
  async compact(table: string, runId: string, minFiles = 2): Promise<{ partitions: number; filesBefore: number; filesAfter: number }> {
    const info = await this.catalog.table(table);
    if (!info) return { partitions: 0, filesBefore: 0, filesAfter: 0 };
    if (info.kind !== 'lake') throw new Error(`'${table}' is not a lake table`);
    const files = await this.catalog.activeFiles(table);
    const byPartition = new Map<string, CommittedFile[]>();
    for (const f of files) {
      const key = JSON.stringify(f.partition);
      byPartition.set(key, [...(byPartition.get(key) ?? []), f]);
    }
    const partitionBy = info.partition_by;
    const dataColumns = info.columns.filter((c) => !partitionBy.includes(c.name));
    let compacted = 0;
    let replaced = 0;
    const newFiles: CommittedFile[] = [];
    for (const group of byPartition.values()) {
      if (group.length < minFiles) continue;
      compacted++;
      replaced += group.length;
      const dir = path.dirname(path.join(this.root, group[0]!.path));
      const name = `part-${runId}-c.parquet`;
      const stats = await this.engine.queryJson<{ count: string }>(
        `COPY (SELECT ${dataColumns.map((c) => quoteIdent(c.name)).join(', ')} FROM read_parquet(${quoteList(group.map((f) => path.join(this.root, f.path)))}))
         TO ${quoteLiteral(path.join(dir, name))} (${this.parquetOptions}, RETURN_STATS)`,
      );
      const rows = stats.reduce((sum, s) => sum + Number(s.count), 0);
      const before = group.reduce((sum, f) => sum + f.rows, 0);
      if (rows !== before) throw new Error(`compaction of ${table} ${JSON.stringify(group[0]!.partition)} read ${before} rows but wrote ${rows}`);
      const relative = path.relative(this.root, path.join(dir, name));
      newFiles.push({ path: relative, partition: group[0]!.partition, rows, bytes: statSync(path.join(dir, name)).size });
    }
    if (newFiles.length) {
      await this.commit({ table, runId, files: newFiles, diverted: new Map(), columns: info.columns, partitionBy }, 'partitions', info.description ?? undefined);
    }
    return { partitions: compacted, filesBefore: files.length, filesAfter: files.length - replaced + newFiles.length };
  }

  /**
   * Deletes what a crashed run left behind: staging folders and Parquet files the catalog never
   * committed. Readers never saw them.
   */
  async vacuum(): Promise<number> {
    rmSync(path.join(this.root, '_staging'), { recursive: true, force: true });
    if (!existsSync(this.root)) return 0;
    const live = await this.catalog.livePaths();
    let removed = 0;
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(full);
        else if (entry.name.endsWith('.parquet') && !live.has(path.relative(this.root, full))) {
          rmSync(full, { force: true });
          removed++;
        }
      }
    };
    for (const entry of readdirSync(this.root, { withFileTypes: true })) {
      if (entry.isDirectory() && !entry.name.startsWith('_')) walk(path.join(this.root, entry.name));
    }
    return removed;
  }

  private removeEmptyFolders(dir: string): void {
    if (!existsSync(dir)) return;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) {
        const child = path.join(dir, entry.name);
        this.removeEmptyFolders(child);
        if (readdirSync(child).length === 0) rmSync(child, { recursive: true });
      }
    }
  }
}
