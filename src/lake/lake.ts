import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { CatalogTransaction, ColumnInfo, Committed, DataFile, LiveFile, Metastore, RetiredFiles, TableExport } from '../catalog/index.js';
import { TributaryError, type ErrorPlace } from '../core/errors.js';
import { groupBy } from '../core/collections.js';
import { failpoint } from '../core/failpoints.js';
import type { Engine } from '../engine/index.js';
import { quoteIdent, quoteList, quoteLiteral } from '../engine/index.js';
import { exportTable, type ExportOptions } from './export.js';
import type { LakeStorage } from './storage.js';

/**
 * The Parquet lake: Hive-style folders (`<table>/dt=2019-11-01/part-<run>-0.parquet`) that Spark,
 * Trino, Athena and DuckDB read as they are.
 *
 * A write has three steps. Stage: the engine writes the files into a staging folder outside every
 * table folder, so a write cut short leaves no partial file where readers look. Publish: complete
 * files move to their keys (unique names, never over another file). Commit: one metastore
 * transaction records them and retires what they replace; the table's view follows the commit.
 * The catalog thus never names a file that is not in its place, for this process or any other;
 * a crash before the commit leaves complete files no commit references, which vacuum removes.
 * Retired files then move to history (or go); with readers in other processes (a shared catalog)
 * they stay where they are, for whoever still reads them, until vacuum expires them.
 */

export interface StageOptions {
  runId: string;
  /** Partition column → SQL expression over the query's columns (may be the column itself). */
  partitionBy?: Record<string, string>;
  /** A column whose value 'ok' marks rows for the table; rows with other values are counted, not kept. */
  divertBy?: string;
  /** A data column whose value in each diverted row is handed back (see StageRequest.noteIn). */
  noteIn?: string;
  /** A query of the same columns and types, cheaper to bind: what the write learns its columns from (see StageRequest.shapeOf). */
  shapeOf?: string;
}

/**
 * A partition key whose expression the engine cannot compute over the rows written (a column
 * misspelt, a function unknown). The lake does not know where the key is declared: `placed`
 * names it for the caller that does.
 */
export class PartitionKeyError extends TributaryError {
  constructor(
    readonly key: string,
    private readonly detail: { expression: string; problem: string; columns: readonly string[] },
    place: ErrorPlace = {},
  ) {
    super(`partition key '${key}' cannot be computed from ${detail.expression}: ${detail.problem}`, {
      place,
      hint: `a partition expression reads the table's own columns (${detail.columns.join(', ')}): correct it in partitionBy`,
    });
  }

  placed(place: ErrorPlace): PartitionKeyError {
    return new PartitionKeyError(this.key, this.detail, place);
  }
}

/** The first of `partitionBy`'s expressions the engine cannot compute over `query`'s rows, as an error; none when all can. */
export async function partitionKeyProblem(engine: Engine, query: string, partitionBy: Readonly<Record<string, string>>): Promise<PartitionKeyError | undefined> {
  for (const [key, expression] of Object.entries(partitionBy)) {
    const problem = await engine.describe(`SELECT ${expression} FROM (${query}) AS __model`).then(
      () => undefined,
      // The engine's first line (and its candidates, when it has some); its LINE 1 shows SQL of Tributary's.
      (error: Error) => error.message.split(/\n\s*LINE \d+:/)[0]!.trim().replace(/\s*\n\s*/g, ' '),
    );
    if (problem) return new PartitionKeyError(key, { expression, problem, columns: (await engine.describe(query)).map((c) => c.name).filter((name) => !name.startsWith('__')) });
  }
  return undefined;
}

export interface StagedWrite {
  table: string;
  runId: string;
  files: DataFile[];
  rows: number;
  /** Rows the write routed elsewhere, by the value of the `divertBy` column (e.g. rule verdicts). */
  diverted: Map<string, number>;
  /** The `noteIn` column of each diverted row where it is not NULL, with its verdict. */
  noted?: { verdict: string; note: string }[];
  /** Data columns then partition columns, as the table's readers see them. */
  columns: ColumnInfo[];
  partitionBy: string[];
}

/** What a write replaces of its table: nothing (append), everything, or the files `select` picks. */
export type Replace = 'append' | 'all' | ((file: LiveFile) => boolean);

export interface LakeWrite {
  staged: StagedWrite;
  replace: Replace;
  /**
   * A rewrite of these files (a compaction): its new files hold exactly their rows, so all of them
   * must still be live when it commits. If another process retired any since they were read (its
   * own compaction of them), the commit is refused: committing would add their rows twice.
   */
  rewrites?: ReadonlySet<number>;
}

/** A rewrite whose files another process replaced first; nothing of it was committed. */
export class RewriteRaced extends TributaryError {
  constructor(table: string, missing: number) {
    super(`${missing} file(s) of ${table} that this rewrite replaces were replaced by another process first; nothing of it was committed`, {
      hint: 'nothing to do: the other process rewrote them; a later rewrite reads the files live then',
    });
  }
}

export interface LakeFormat {
  compression: string;
  parquetVersion: 'v1' | 'v2';
  /** Hours a replaced file stays in history, where time travel reads it. */
  historyHours: number;
  /** Other processes read the lake (a shared catalog): files a commit retires stay in place until vacuum. */
  sharedReaders?: boolean;
}

const HISTORY = '_history';
/** Where each table's schema files are, outside its folder. */
const SCHEMAS = '_schema';

export class Lake {
  private readonly staging = new Set<string>();
  /** Schema files known to exist. */
  private readonly schemaFiles = new Set<string>();
  /** Retired files waiting for the statements that may read them (see removeWhenUnread). */
  private readonly removals = new Set<Promise<void>>();

  constructor(
    private readonly metastore: Metastore,
    readonly storage: LakeStorage,
    private readonly format: LakeFormat,
  ) {}

  /** COPY options every lake file is written with. */
  private get parquetOptions(): string {
    return `FORMAT parquet, COMPRESSION ${this.format.compression}, PARQUET_VERSION ${this.format.parquetVersion.toUpperCase()}`;
  }

  /**
   * Runs `query` once on `engine` and writes its rows as Parquet into staging. Nothing is visible
   * until `commit`.
   */
  async stage(engine: Engine, table: string, query: string, options: StageOptions): Promise<StagedWrite> {
    const partitionExprs = options.partitionBy ?? {};
    const partitionNames = Object.keys(partitionExprs);
    const divert = options.divertBy;
    const shapeOf = options.shapeOf ?? query;
    // The rows that pass (nearly all) carry the verdict as NULL, not 'ok': a text partition key made
    // DuckDB's partitioned write build a string value for every row, 3 of the 79 CPU-seconds of
    // the clickstream month's load; a NULL key costs nothing measurable.
    const divertKey = divert ? ` REPLACE (CASE WHEN ${quoteIdent(divert)} = 'ok' THEN NULL ELSE coalesce(${quoteIdent(divert)}, 'unknown') END AS ${quoteIdent(divert)})` : '';
    const projectionWithout = (replaced: readonly string[]) =>
      [`*${replaced.length ? ` EXCLUDE (${replaced.map(quoteIdent).join(', ')})` : ''}${divertKey}`, ...Object.entries(partitionExprs).map(([name, expr]) => `${expr} AS ${quoteIdent(name)}`)].join(', ');
    const describe = (projection: string) =>
      engine.describe(`SELECT ${projection} FROM (${shapeOf}) AS __model`).catch(async (error: unknown) => {
        // The model's own error, if it has one, before a partition key's.
        await engine.describe(`SELECT * FROM (${shapeOf})`);
        throw (await partitionKeyProblem(engine, shapeOf, partitionExprs)) ?? error;
      });
    // One look at the write's shape (each costs a stream's micro-batch a few ms): its partition
    // keys are new columns, after the model's, unless one is named like a model column, which it
    // then replaces (Spark's partitionBy('year')).
    let projection = projectionWithout([]);
    let described = await describe(projection);
    const modelColumns = described.slice(0, described.length - partitionNames.length);
    const replaced = partitionNames.filter((name) => modelColumns.some((c) => c.name === name));
    if (replaced.length) {
      projection = projectionWithout(replaced);
      described = await describe(projection);
    }
    const full = `SELECT ${projection} FROM (${query}) AS __model`;
    const dataColumns = described.filter((c) => c.name !== divert && !partitionNames.includes(c.name));
    const partitionColumns = partitionNames.map((name) => ({ name, type: described.find((c) => c.name === name)!.type }));
    this.staging.add(options.runId);
    const tableDir = this.storage.join(await this.storage.stagingLocation(options.runId), table);
    const keys = [...(divert ? [divert] : []), ...partitionNames];
    const target = keys.length ? tableDir : this.storage.join(tableDir, `part-${options.runId}-0.parquet`);
    if (!keys.length) await this.storage.prepareFolder(tableDir);
    const stats = await engine
      .queryJson<CopyStats>(
        `COPY (${full}) TO ${quoteLiteral(target)} (${this.parquetOptions}, ROW_GROUP_SIZE 122880,
        ${keys.length ? `PARTITION_BY (${keys.map(quoteIdent).join(', ')}), FILENAME_PATTERN 'part-${options.runId}-{i}',` : ''}
        RETURN_STATS)`,
      )
      .catch(async (error: unknown) => {
        // What a failed write left (a full disk keeps its partial files) goes now, not at the next
        // start: the run's other staged writes are discarded with it anyway.
        await this.endStaging(options.runId).catch(() => undefined);
        throw error;
      });
    const files: DataFile[] = [];
    const diverted = new Map<string, number>();
    const unwanted: string[] = [];
    /** Files of diverted rows, by verdict: read for their notes before they go. */
    const divertedFiles = new Map<string, string>();
    for (const stat of stats) {
      const rows = Number(stat.count);
      const values = Object.fromEntries((stat.partition_keys ?? []).map((kv) => [kv.key, kv.value]));
      if (divert && values[divert] !== null) {
        const verdict = String(values[divert] ?? 'unknown');
        if (rows) diverted.set(verdict, (diverted.get(verdict) ?? 0) + rows);
        if (rows && options.noteIn) divertedFiles.set(stat.filename, verdict);
        unwanted.push(stat.filename);
        continue;
      }
      if (rows === 0) {
        unwanted.push(stat.filename);
        continue;
      }
      // DuckDB names the folders itself (escaping values, __HIVE_DEFAULT_PARTITION__ for NULL);
      // the key keeps its naming, without the verdict folder, so its own reader decodes it.
      const relative = stat.filename.slice(tableDir.length).split(/[\\/]/).filter((segment) => segment && (!divert || !segment.startsWith(`${divert}=`)));
      files.push({
        path: [table, ...relative].join('/'),
        rows,
        bytes: Number(stat.file_size_bytes),
        partition: Object.fromEntries(partitionNames.map((name) => [name, values[name] ?? null])),
        stats: columnStats(stat.column_statistics),
        stagedPath: stat.filename,
      });
    }
    const noted = options.noteIn ? await this.notes(engine, divertedFiles, options.noteIn) : undefined;
    await this.storage.removeStaged(unwanted);
    return {
      table,
      runId: options.runId,
      files,
      rows: files.reduce((s, f) => s + f.rows, 0),
      diverted,
      noted,
      columns: [...dataColumns, ...partitionColumns],
      partitionBy: partitionNames,
    };
  }

  /**
   * The `column` of the rows of diverted files where it is not NULL (few: the failing ones), with
   * each file's verdict; a file of rows with no note is skipped by its statistics.
   */
  private async notes(engine: Engine, files: ReadonlyMap<string, string>, column: string): Promise<{ verdict: string; note: string }[]> {
    if (!files.size) return [];
    const rows = await engine.queryJson<{ file: string; note: string }>(
      `SELECT filename AS file, ${quoteIdent(column)}::VARCHAR AS note FROM read_parquet(${quoteList([...files.keys()])}, filename = true, hive_partitioning = false)
       WHERE ${quoteIdent(column)} IS NOT NULL`,
    );
    return rows.map((r) => ({ verdict: files.get(r.file)!, note: r.note }));
  }

  /**
   * Makes staged files the table's content in one metastore commit, replacing what `replace`
   * names, with the table's registration and view. `inside` runs in the same transaction, for
   * bookkeeping that must commit with the data (offsets, run records, quarantined rows).
   */
  async commit(
    engine: Engine,
    writes: readonly LakeWrite[],
    options: { operation: string; runId?: string; description?: string; timeColumn?: string; inside?: (tx: CatalogTransaction) => Promise<void> },
  ): Promise<Committed> {
    const retired: LiveFile[] = [];
    const keep: RetiredFiles = this.format.sharedReaders ? 'in place' : this.format.historyHours > 0 ? { prefix: HISTORY } : 'delete';
    const published: string[] = [];
    for (const { staged } of writes) {
      for (const file of staged.files) {
        if (!file.stagedPath) continue;
        await this.storage.publish(file.stagedPath, file.path);
        published.push(file.path);
        failpoint('lake:published-file');
      }
    }
    const files = (staged: StagedWrite) => staged.files.map(({ stagedPath: _published, ...file }) => file);
    let committed: Committed;
    let durable = false;
    try {
      ({ committed } = await this.metastore.commit(
        engine,
        {
          operation: options.operation,
          runId: options.runId,
          // Retired files are in history once the commit is durable (time travel reads them
          // there); they leave the table's folders when no query can still read them there.
          after: async (_result, snapshot) => {
            durable = true;
            failpoint('lake:committed');
            if (typeof keep === 'object') for (const file of retired) await this.storage.copy(file.path, `${keep.prefix}/${snapshot}/${file.path}`);
          },
        },
        async (tx) => {
          for (const { staged, replace, rewrites } of writes) {
            if (replace !== 'append') {
              const gone = await tx.retireFiles(staged.table, replace, keep);
              if (rewrites && gone.length !== rewrites.size) throw new RewriteRaced(staged.table, rewrites.size - gone.length);
              retired.push(...gone);
            }
            // Registered first: its files record the schema version this registration settles.
            await tx.registerTable({
              name: staged.table,
              kind: 'lake',
              store: 'lake',
              location: this.storage.readPath(staged.table),
              format: 'parquet',
              partitionBy: staged.partitionBy,
              timeColumn: options.timeColumn,
              description: options.description,
              columns: staged.columns,
            });
            await tx.addFiles(staged.table, files(staged), staged.runId);
          }
          if (options.inside) await options.inside(tx);
        },
      ));
    } catch (error) {
      // A transaction that did not commit references none of them: gone now, or (if this fails too) by vacuum.
      if (!durable) await this.storage.delete(published).catch(() => undefined);
      throw error;
    } finally {
      for (const { staged } of writes) await this.endStaging(staged.runId);
    }
    if (keep !== 'in place' && retired.length) await this.removeWhenUnread(engine, retired.map((f) => f.path));
    return committed;
  }

  /**
   * Removes retired files from the table's folders once no statement that may read them runs. A
   * query of this process that bound the table's view before the commit (a dashboard's, a
   * model's, the SQL lab's) opens the view's files as it reaches them, and failed with "Cannot
   * open file" when a compaction or a replace moved them away meanwhile. With none running they
   * go now; otherwise when those end, in the background. A crash before leaves them to `recover`
   * (moved into history) or to the clean-up of files no commit knows (deleted).
   */
  private async removeWhenUnread(engine: Engine, keys: string[]): Promise<void> {
    if (!engine.runningStatements) return this.storage.delete(keys);
    const removal: Promise<void> = engine
      .runningStatementsEnded()
      .then(() => this.storage.delete(keys))
      .catch(() => undefined)
      .finally(() => this.removals.delete(removal));
    this.removals.add(removal);
  }

  /** Resolves when retired files waiting for their readers have left the table's folders. */
  async removalsDone(): Promise<void> {
    await Promise.all([...this.removals]);
  }

  /** Points a table's view at exactly its live files, as the catalog lists them (`partitionBy` as it records it). */
  async refreshView(engine: Engine, table: string, partitionBy: readonly string[]): Promise<void> {
    const relation = await this.relation(engine, table, await this.metastore.liveFilePaths(table), await this.metastore.columns(table), partitionBy);
    await this.metastore.write(() => engine.defineView(table, relation));
  }

  /** Deletes staged files that will not be committed; readers never saw them. */
  async discard(staged: StagedWrite): Promise<void> {
    await this.endStaging(staged.runId);
  }

  private async endStaging(runId: string): Promise<void> {
    this.staging.delete(runId);
    await this.storage.discardStaging(runId);
  }

  /**
   * The SQL relation of a table's files, typed as the catalog records them. Files are read in
   * groups, one per schema version they were written with, and each group opens through its
   * version's empty schema file: DuckDB reads a group's first file to learn its columns, so a
   * query that prunes by partition opens only the files of its partitions (on object storage,
   * requests for other days' objects would cost as much as reading them). Files of releases that
   * recorded no version are read by name, as one group.
   */
  async relation(engine: Engine, table: string, files: readonly Pick<LiveFile, 'path' | 'schemaVersion'>[], columns: readonly ColumnInfo[], partitionBy: readonly string[]): Promise<string> {
    const typed = (present: ReadonlySet<string>) =>
      columns.map((c) => (present.has(c.name) ? quoteIdent(c.name) : `CAST(NULL AS ${c.type}) AS ${quoteIdent(c.name)}`)).join(', ');
    if (!files.length) return `SELECT ${typed(new Set())} WHERE false`;
    const hive = partitionBy.length
      ? `hive_partitioning = true, hive_types = {${partitionBy.map((p) => `${quoteLiteral(p)}: ${quoteLiteral(columns.find((c) => c.name === p)!.type)}`).join(', ')}}`
      : 'hive_partitioning = false';
    const groups = new Map([...groupBy(files, (file) => file.schemaVersion)].map(([version, group]) => [version, group.map((file) => this.storage.readPath(file.path))]));
    const versions = await this.metastore.versionColumns(table);
    const parts: string[] = [];
    for (const [version, paths] of groups) {
      const versionColumns = version === null ? undefined : versions.get(version);
      if (!versionColumns) {
        parts.push(`SELECT ${columns.map((c) => quoteIdent(c.name)).join(', ')} FROM read_parquet(${quoteList(paths)}, union_by_name = true, ${hive})`);
        continue;
      }
      const schemaFile = await this.schemaFile(engine, table, version!, versionColumns, partitionBy);
      parts.push(`SELECT ${typed(new Set(versionColumns.map((c) => c.name)))} FROM read_parquet(${quoteList([schemaFile, ...paths])}, ${hive})`);
    }
    return parts.join('\nUNION ALL\n');
  }

  /**
   * The empty Parquet file that carries a schema version's data columns, under `_schema/` (outside
   * every table folder), its partition keys in its path with NULL values: made once, then kept.
   */
  private async schemaFile(engine: Engine, table: string, version: number, columns: readonly ColumnInfo[], partitionBy: readonly string[]): Promise<string> {
    const folder = [SCHEMAS, table, `v${version}`, ...partitionBy.map((p) => `${p}=__HIVE_DEFAULT_PARTITION__`)].join('/');
    const key = `${folder}/schema.parquet`;
    const location = this.storage.readPath(key);
    if (this.schemaFiles.has(location) || (await this.storage.exists(key))) {
      this.schemaFiles.add(location);
      return location;
    }
    const data = columns.filter((c) => !partitionBy.includes(c.name));
    await this.storage.prepareFolder(this.storage.readPath(folder));
    // Written aside and moved into place: another process (a worker of the same stream job) that
    // finds the file reads it whole; it read one still being written ("too small to be a Parquet file").
    const aside = `${folder}/schema.${randomUUID()}.tmp`;
    await engine.run(`COPY (SELECT ${data.map((c) => `CAST(NULL AS ${c.type}) AS ${quoteIdent(c.name)}`).join(', ')} WHERE false) TO ${quoteLiteral(this.storage.readPath(aside))} (${this.parquetOptions})`);
    await this.storage.move(aside, key);
    this.schemaFiles.add(location);
    return location;
  }

  /** A table as it was at a snapshot, while its files are kept in history. */
  async relationAt(engine: Engine, table: string, snapshot: number): Promise<string> {
    const info = await this.metastore.table(table);
    if (!info || info.kind !== 'lake') throw new Error(`'${table}' is not a lake table; only lake tables keep their history`);
    // A snapshot the catalog never had, or one from before the table, would read as a table of no rows.
    if (!(await this.metastore.snapshot(snapshot))) {
      const newest = (await this.metastore.snapshots(1))[0]?.snapshot_id;
      throw new Error(`there is no snapshot ${snapshot}: ${newest === undefined ? 'the catalog has none yet' : `the newest is ${newest}`}`);
    }
    const first = await this.metastore.firstChange(table);
    if (first !== undefined && snapshot < first) throw new Error(`'${table}' did not exist yet at snapshot ${snapshot}: its first is snapshot ${first}`);
    const { files, missing } = await this.metastore.snapshotFiles(table, snapshot);
    if (missing) {
      throw new Error(`snapshot ${snapshot} of '${table}' is no longer kept (${missing} of its files left history after lakeHistoryHours); pick a later snapshot`);
    }
    return this.relation(engine, table, files, info.columns, info.partition_by);
  }

  /** Writes what another engine needs to read a table's files at a snapshot without Tributary (export.ts). */
  async export(table: string, options: ExportOptions): Promise<TableExport> {
    return exportTable(this.metastore, this.storage, table, options);
  }

  /**
   * Rewrites each partition's small files as one, committed like any other write: readers never
   * see a partition twice or not at all.
   */
  async compact(
    engine: Engine,
    table: string,
    runId: string,
    minFiles = 2,
  ): Promise<{ partitions: number; filesBefore: number; filesAfter: number; raced?: boolean }> {
    const info = await this.metastore.table(table);
    if (!info) return { partitions: 0, filesBefore: 0, filesAfter: 0 };
    if (info.kind !== 'lake') throw new Error(`'${table}' is a ${info.kind}, not a lake table: only lake tables have files to compact`);
    const files = await this.metastore.liveFiles(table);
    const groups = groupBy(files, (f) => JSON.stringify(f.partition));
    const dataColumns = info.columns.filter((c) => !info.partition_by.includes(c.name));
    this.staging.add(runId);
    const dir = await this.storage.stagingLocation(runId);
    const newFiles: DataFile[] = [];
    const replaced: number[] = [];
    let n = 0;
    try {
      for (const group of groups.values()) {
        if (group.length < minFiles) continue;
        const folder = path.posix.dirname(group[0]!.path);
        const name = `part-${runId}-c${n++}.parquet`;
        const staged = this.storage.join(dir, name);
        const stats = await engine.queryJson<CopyStats>(
          `COPY (SELECT ${dataColumns.map((c) => quoteIdent(c.name)).join(', ')} FROM read_parquet(${quoteList(group.map((f) => this.storage.readPath(f.path)))}, union_by_name = true))
           TO ${quoteLiteral(staged)} (${this.parquetOptions}, RETURN_STATS)`,
        );
        const rows = stats.reduce((sum, s) => sum + Number(s.count), 0);
        const before = group.reduce((sum, f) => sum + f.rows, 0);
        if (rows !== before) throw new Error(`compaction of ${table} ${JSON.stringify(group[0]!.partition)} read ${before} rows but wrote ${rows}; nothing was committed`);
        newFiles.push({ path: `${folder}/${name}`, rows, bytes: Number(stats[0]?.file_size_bytes ?? 0), partition: group[0]!.partition, stats: columnStats(stats[0]?.column_statistics), stagedPath: staged });
        replaced.push(...group.map((f) => f.fileId));
      }
    } catch (error) {
      await this.endStaging(runId).catch(() => undefined);
      // Another process committed its compaction of these files while this one read them, and
      // their files went to history (or were deleted): that is the same race the commit refuses.
      const live = new Set((await this.metastore.liveFiles(table)).map((f) => f.fileId));
      if (files.some((f) => !live.has(f.fileId))) return { partitions: 0, filesBefore: files.length, filesAfter: files.length, raced: true };
      throw error;
    }
    if (newFiles.length) {
      const retire = new Set(replaced);
      const staged = { table, runId, files: newFiles, rows: 0, diverted: new Map<string, number>(), columns: info.columns, partitionBy: info.partition_by };
      try {
        await this.commit(engine, [{ staged, replace: (file) => retire.has(file.fileId), rewrites: retire }], {
          operation: 'compact',
          runId,
          description: info.description ?? undefined,
          timeColumn: info.time_column ?? undefined,
        });
      } catch (error) {
        // Another process (a worker of the same stream) compacted them first: its files stand.
        if (error instanceof RewriteRaced) return { partitions: 0, filesBefore: files.length, filesAfter: files.length, raced: true };
        throw error;
      }
    } else {
      await this.endStaging(runId);
    }
    return { partitions: newFiles.length, filesBefore: files.length, filesAfter: files.length - replaced.length + newFiles.length };
  }

  /**
   * Finishes what a crash interrupted, when a process opens the state: publishes committed files
   * still staged, moves retired ones to history. On a lake one process owns, it also vacuums
   * (staged files of dead runs, files no commit knows, expired history); on storage several
   * processes share, that is `vacuum`'s to do, past its grace period.
   */
  async recover(): Promise<{ published: number; removed: number }> {
    let published = 0;
    const done: string[] = [];
    for (const move of await this.metastore.pendingMoves()) {
      if (move.live && move.staged_path) {
        await this.storage.publish(move.staged_path, move.path);
        done.push(move.path);
        published++;
      } else if (!move.live && move.history_path && (await this.storage.exists(move.path))) {
        await this.storage.move(move.path, move.history_path);
      }
    }
    await this.metastore.clearPendingMoves(done);
    const removed = this.storage.graceMs === 0 ? (await this.vacuum()).removed : 0;
    return { published, removed };
  }

  /**
   * Removes what no commit references, once older than `graceMs` (the storage's grace period by
   * default): staged files of runs that died, files in table folders no commit knows, history past
   * lakeHistoryHours.
   */
  async vacuum(graceMs = this.storage.graceMs): Promise<{ removed: number; expired: number }> {
    for (const runId of await this.storage.staleStagedRuns(this.staging, graceMs)) await this.storage.discardStaging(runId);
    // Retired files other processes may still read are kept at least for the grace period.
    const expired = await this.metastore.expireHistory(this.format.sharedReaders ? Math.max(this.format.historyHours, graceMs / 3_600_000) : this.format.historyHours);
    await this.storage.delete(expired);
    const known = await this.metastore.knownPaths();
    const tables = (await this.metastore.tables()).filter((t) => t.kind === 'lake').map((t) => t.name);
    const strays: string[] = [];
    const before = Date.now() - graceMs;
    for (const prefix of [...tables, HISTORY]) {
      for (const { key, modifiedMs } of await this.storage.list(prefix)) if (key.endsWith('.parquet') && !known.has(key) && modifiedMs < before) strays.push(key);
    }
    await this.storage.delete(strays);
    return { removed: strays.length, expired: expired.length };
  }

}

interface CopyStats {
  filename: string;
  count: string;
  file_size_bytes?: string;
  column_statistics?: { key: string; value: { key: string; value: string | null }[] }[];
  partition_keys?: { key: string; value: string | null }[] | null;
}

function columnStats(raw: CopyStats['column_statistics']): Record<string, { min?: string | null; max?: string | null; nulls?: number | null }> {
  const out: Record<string, { min?: string | null; max?: string | null; nulls?: number | null }> = {};
  for (const entry of raw ?? []) {
    const name = entry.key.replace(/^"(.*)"$/, '$1').replace(/""/g, '"');
    const stat = Object.fromEntries(entry.value.map((kv) => [kv.key, kv.value]));
    // A bound holding a NUL is no bound: a catalog in PostgreSQL keeps it as ␀, which sorts elsewhere.
    const bound = (value: string | null | undefined) => (value === undefined || value === null || value.includes('\0') ? null : value);
    out[name] = { min: bound(stat.min), max: bound(stat.max), nulls: stat.null_count === undefined || stat.null_count === null ? null : Number(stat.null_count) };
  }
  return out;
}
