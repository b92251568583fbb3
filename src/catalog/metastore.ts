import { isAlive } from '../core/folder-lock.js';
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Engine, Transaction } from '../engine/index.js';
import { listParameter, quoteLiteral } from '../engine/index.js';
import { OffsetConflict, offsetMismatch, type OffsetMove } from '../core/offsets.js';
import { openSchema, type MigrateOptions, type OpenedSchema } from './migrations.js';
import type { SharedCatalog } from './shared.js';

/**
 * The metastore: the one surface through which every layer reads and writes Tributary's own state
 * (tables, columns, schema versions, committed files, partitions, runs, lineage, quarantine, dead
 * letters, stream offsets and, through the scheduler store, schedule state). Nothing outside
 * `src/catalog/` writes SQL against `tributary.*`.
 *
 * Commits are serialised in this process (the owner of the state): each takes the commit lock,
 * runs in one DuckDB transaction on the caller's connection (whose temp tables hold the rows to
 * write), and records a snapshot with a monotonic id. Heavy work (scans, Parquet writes) happens
 * before, outside the lock, so a batch run never holds a stream commit for longer than its own
 * short commit. With the catalog shared in PostgreSQL (shared.ts), commits of every process are
 * serialised there too, ids are read under that lock, and other processes' commits reach this
 * one's followers and listeners through `sync`.
 */

export type TableKind = 'lake' | 'table' | 'view' | 'external';

export interface ColumnInfo {
  name: string;
  type: string;
}

export interface TableRegistration {
  name: string;
  kind: TableKind;
  /** The store holding the rows: lake, duckdb, postgres, mysql. */
  store?: string;
  /** A view's SQL (`SELECT …`), from which each process makes the view. */
  definition?: string;
  location?: string;
  format?: string;
  partitionBy?: string[];
  timeColumn?: string;
  lookupKey?: string;
  description?: string;
  columns: ColumnInfo[];
}

/** A table's row of the catalog, as registerTable compares it. */
type RegisteredRow = Pick<TableInfo, 'kind' | 'store' | 'location' | 'format' | 'partition_by' | 'time_column' | 'lookup_key' | 'description' | 'definition'>;

/**
 * What the catalog holds of a table (its row, columns and schema versions) as a commit of this
 * process left it. A stream registers its tables with every micro-batch and its views are made
 * again after each: reading this back each time cost a small batch a sixth of its time.
 */
interface Registered {
  /** Undefined: not registered (never, or dropped; its schema history stays). */
  row: RegisteredRow | undefined;
  columns: ColumnInfo[];
  /** Oldest first. */
  versions: { version: number; columns: ColumnInfo[] }[];
  /** A lake table's live files as its view lists them (by path), once read; undefined before. */
  files?: Pick<LiveFile, 'path' | 'schemaVersion'>[];
}

export interface TableInfo {
  name: string;
  kind: TableKind;
  store: string | null;
  location: string | null;
  format: string | null;
  partition_by: string[];
  time_column: string | null;
  lookup_key: string | null;
  description: string | null;
  rows: number | null;
  bytes: number | null;
  files: number;
  updated_at: string;
  updated_snapshot: number | null;
  definition: string | null;
}

export interface ColumnStats {
  min?: string | null;
  max?: string | null;
  nulls?: number | null;
}

/** A Parquet file of a lake table. `path` is its key under the lake root. */
export interface DataFile {
  path: string;
  rows: number;
  bytes: number;
  /** Partition values in partition order; null for a NULL partition value. */
  partition: Record<string, string | null>;
  stats?: Record<string, ColumnStats>;
  /** Where the file waits until the commit that adds it has published it. */
  stagedPath?: string;
}

export interface LiveFile extends DataFile {
  fileId: number;
  beginSnapshot: number;
  /** The table's schema version the file was written with; null for files of releases that did not record it. */
  schemaVersion: number | null;
}

/** What started a run: a command, the server, a job's schedule, a job run by `trigger`, a backfill, a job on changed tables, a stream. */
export type RunTrigger = 'cli' | 'server' | 'schedule' | 'trigger' | 'backfill' | 'tables' | 'stream';

export interface RunStart {
  target: string;
  /** model: a model's run; load: a source's rows loaded for the models of a run that read them. */
  kind: 'model' | 'load' | 'compact' | 'crawl' | 'task';
  trigger: RunTrigger;
  /** Runs started together (one `tributary run`, one scheduled job run) share a group. */
  group?: string;
  attempt?: number;
  params?: unknown;
}

export interface RunCounts {
  /** Source rows a load read; null for models that only transform other tables. */
  read: number | null;
  written: number;
  quarantined: number;
  /** Where the run's time went, phase by phase, in order (a load's: read and write, line count, …); the commit is what the run's span holds beyond them. */
  timing?: RunPhase[];
}

/** A phase of a run and its seconds (dbt's run results call these a node's timing). */
export interface RunPhase {
  name: string;
  seconds: number;
}

export interface RunRecord extends Omit<RunCounts, 'timing'> {
  run_id: string;
  run_group: string;
  attempt: number;
  trigger: RunTrigger;
  kind: string;
  target: string;
  status: 'running' | 'success' | 'failed';
  params: string | null;
  started_at: string;
  finished_at: string | null;
  error: string | null;
  snapshot_id: number | null;
  timing: RunPhase[] | null;
}

export interface QuarantineRow {
  file: string | null;
  /** Physical line in the file, for inputs with lines. */
  line: number | null;
  /** Record number within the file (1-based), for inputs whose records have no lines (JSON documents, Parquet). */
  record?: number | null;
  column: string | null;
  reason: string;
  raw: string | null;
  /** The row's full size when `raw` is only its start (the reader kept part of an overlong line). */
  rawBytes?: number;
}

export interface QuarantineRecord {
  run_id: string;
  model: string;
  source: string;
  file: string | null;
  line: number | null;
  record: number | null;
  column_name: string | null;
  reason: string;
  raw: string | null;
  raw_bytes: number | null;
}

export interface DeadLetterRecord {
  origin: string;
  partition: number | null;
  offset: number | null;
  reason: string;
  raw: string | null;
  raw_bytes: number | null;
  received_at: string;
}

export interface SchemaVersion {
  version: number;
  columns: ColumnInfo[];
  detected_at: string;
}

export interface SchemaDrift {
  unchanged: boolean;
  added: ColumnInfo[];
  removed: ColumnInfo[];
  retyped: { name: string; from: string; to: string }[];
}

export interface SnapshotInfo {
  snapshot_id: number;
  committed_at: string;
  /** committed_at in milliseconds since the epoch. */
  committed_ms: number;
  run_id: string | null;
  operation: string;
  summary: string | null;
  tables: string[];
}

/** What a commit changed, for whatever shows it (live dashboards) or reacts to it (schedules). */
export interface Committed {
  snapshot: number;
  operation: string;
  tables: string[];
}

/** Kept of a quarantined row or a dead letter: enough to see what it was, its full size stated. */
export const RAW_KEEP_CHARS = 10_000;
/** A reason is a sentence, not a copy of the row. */
export const REASON_KEEP_CHARS = 1_000;

export function capText(text: string, keep: number): string {
  const shown = withoutNul(text);
  return shown.length <= keep ? shown : `${shown.slice(0, keep)}… (${shown.length.toLocaleString('en-US')} characters in all)`;
}

/** A NUL ends a statement's text where DuckDB's parser meets it, and PostgreSQL's text cannot hold one: the catalog shows it as ␀ (U+2400). */
function withoutNul(text: string): string {
  return text.includes('\0') ? text.replaceAll('\0', '\u2400') : text;
}

/**
 * What becomes of the files a commit retires: deleted, moved into history under `prefix` (time
 * travel reads them there), or kept where they are as history (other processes may still read them).
 */
export type RetiredFiles = 'delete' | 'in place' | { prefix: string };

/** A partition's values as one comparable key. */
export function partitionKey(partition: Record<string, string | null>): string {
  return JSON.stringify(Object.entries(partition));
}

/**
 * Serialises commits. Re-entrant within one commit's asynchronous flow (what a commit's body or
 * `after` calls of the metastore runs at once), so catalog methods are safe to call from there.
 */
class Mutex {
  private tail: Promise<unknown> = Promise.resolve();
  private readonly holder = new AsyncLocalStorage<Mutex>();
  run<T>(body: () => Promise<T>): Promise<T> {
    if (this.holder.getStore() === this) return body();
    const held = () => this.holder.run(this, body);
    const next = this.tail.then(held, held);
    this.tail = next.catch(() => undefined);
    return next;
  }
}

export class Metastore {
  private readonly lock = new Mutex();
  private readonly listeners: ((committed: Committed) => void)[] = [];
  /** The commit under way, from its transaction's start until its followers have run. */
  private committing: { snapshot: number; done: Promise<void> } | undefined;
  private readonly followers: ((committed: Committed) => Promise<void>)[] = [];
  private runsInProcess = new Set<string>();
  /** Tables as the commit of snapshot `registeredAt` left them: valid while no other commit came after it. */
  private registered = new Map<string, Registered>();
  private registeredAt: number;

  private constructor(
    /** The metastore's own connection, for reads and small bookkeeping writes. */
    private readonly engine: Engine,
    /** The newest snapshot this process has committed or heard of: its followers have run for it. */
    private seen: number,
    /** The schema version found on open and the migrations run then. */
    readonly schema: OpenedSchema,
    /** The catalog in PostgreSQL, when it is shared by several processes. */
    readonly shared: SharedCatalog | undefined,
  ) {
    this.registeredAt = seen;
  }

  /**
   * Opens the metastore on the state's first connection, before anything else reads the state:
   * a new state is created at this release's schema version; an older one is migrated (one
   * transaction); a newer or unmigratable one is refused with what to do (see migrations.ts).
   */
  static async open(engine: Engine, options: MigrateOptions & { shared?: SharedCatalog } = {}): Promise<Metastore> {
    const { shared } = options;
    const schema = shared ? await shared.whileOpening(() => openSchema(engine, options)) : await openSchema(engine, options);
    const last = await engine.scalar<bigint | null>('SELECT max(snapshot_id) FROM tributary.snapshots');
    return new Metastore(engine, Number(last ?? 0n), schema, shared);
  }

  onCommit(listener: (committed: Committed) => void): () => void {
    this.listeners.push(listener);
    return () => this.listeners.splice(this.listeners.indexOf(listener), 1);
  }

  /**
   * Work that must be in step with every commit (an index of a serving table): it runs after the
   * commit is durable and before the committer continues or anyone hears of it, so whoever sees
   * the commit sees the follower's work too. Keep it short: the next commit waits for it.
   */
  followCommits(follower: (committed: Committed) => Promise<void>): () => void {
    this.followers.push(follower);
    return () => this.followers.splice(this.followers.indexOf(follower), 1);
  }

  /**
   * Brings this process up to date with commits other processes made (a shared catalog): their
   * followers and listeners run for each, in order, as for this process's own. Returns how many
   * there were. Nothing to do with a catalog of one process.
   */
  async sync(): Promise<number> {
    if (!this.shared) return 0;
    return this.lock.run(async () => {
      const last = Number((await this.engine.scalar<bigint | null>('SELECT max(snapshot_id) FROM tributary.snapshots')) ?? 0n);
      if (last <= this.seen) return 0;
      const from = this.seen;
      await this.followForeign(from, last);
      this.seen = last;
      return last - from;
    });
  }

  /** Followers and listeners for the snapshots (after, upTo] that other processes committed. */
  private async followForeign(after: number, upTo: number): Promise<void> {
    const rows = await this.engine.query<{ snapshot_id: bigint; operation: string; tables: string[] | null }>(
      `SELECT s.snapshot_id, s.operation, list_distinct(list(c.table_name) FILTER (WHERE c.table_name IS NOT NULL)) AS tables
       FROM tributary.snapshots s LEFT JOIN tributary.snapshot_changes c USING (snapshot_id)
       WHERE s.snapshot_id > $1 AND s.snapshot_id <= $2 GROUP BY ALL ORDER BY 1`,
      [after, upTo],
    );
    for (const row of rows) {
      const committed: Committed = { snapshot: Number(row.snapshot_id), operation: row.operation, tables: row.tables ?? [] };
      for (const follower of this.followers) await follower(committed);
      for (const listener of this.listeners) listener(committed);
    }
  }

  /**
   * One atomic commit on `engine` (the connection whose temp tables hold the rows): a snapshot,
   * whatever `body` writes through the transaction, and the changes it notes. `after` runs once
   * the commit is durable, still before the next commit; then listeners hear of it.
   */
  async commit<T>(
    engine: Engine,
    meta: CommitMeta<T>,
    body: (tx: CatalogTransaction) => Promise<T>,
  ): Promise<{ result: T; committed: Committed }> {
    const { result, committed } = await this.lock.run(async () => {
      const outer = this.committing;
      let finished!: () => void;
      // The next snapshot as far as this process knows; the commit learns its own under the lock.
      this.committing = { snapshot: this.seen + 1, done: new Promise<void>((resolve) => (finished = resolve)) };
      try {
        return await this.commitLocked(engine, meta, body);
      } finally {
        this.committing = outer;
        finished();
      }
    });
    for (const listener of this.listeners) listener(committed);
    return { result, committed };
  }

  /** The commit itself, under the lock: the transaction, then its `after` work and the followers. */
  private async commitLocked<T>(
    engine: Engine,
    meta: CommitMeta<T>,
    body: (tx: CatalogTransaction) => Promise<T>,
  ): Promise<{ result: T; committed: Committed }> {
    const changed = new Map<string, string[]>();
    let snapshot = 0;
    let registered = new Map<string, Registered>();
    const result = await engine.transaction(async (raw) => {
      if (this.shared) {
        await raw.query(this.shared.commitLock);
        // Another process (a worker of the same job) may have made these tables since this one
        // cached the shared database's tables: it looks again, under the lock.
        if (meta.makesTables) await raw.run('CALL pg_clear_cache()');
      }
      // Ids come from the catalog itself, under the lock: another process may have committed since.
      const [ids] = await raw.query<{ s: bigint | null; f: bigint | null }>(
        'SELECT (SELECT max(snapshot_id) FROM tributary.snapshots) AS s, (SELECT max(file_id) FROM tributary.data_files) AS f',
      );
      snapshot = Number(ids!.s ?? 0n) + 1;
      if (this.committing) this.committing.snapshot = snapshot;
      const fileIds = { next: Number(ids!.f ?? 0n) + 1 };
      await raw.run(`INSERT INTO tributary.snapshots (snapshot_id, run_id, operation, summary) VALUES ($1, $2, $3, $4)`, [
        snapshot,
        meta.runId ?? null,
        meta.operation,
        meta.summary ?? null,
      ]);
      // What this process knows of the tables holds if the last commit was its own.
      registered = snapshot - 1 === this.registeredAt ? new Map(this.registered) : new Map();
      const tx = new CatalogTransaction(raw, snapshot, fileIds, changed, registered);
      const value = await body(tx);
      await tx.writePendingOffsets();
      // Known before the commit ends, so that what follows it (the views) reads none of it again.
      // A shared catalog's views read the catalog itself (another process may have changed it).
      if (!this.shared) for (const table of changed.keys()) await tx.viewed(table);
      const rows = [...changed].flatMap(([table, changes]) => changes.map((c) => `(${snapshot}, ${quoteLiteral(table)}, ${quoteLiteral(c)})`));
      if (rows.length) await raw.run(`INSERT INTO tributary.snapshot_changes (snapshot_id, table_name, change) VALUES ${rows.join(', ')}`);
      if (this.shared) await raw.query(this.shared.notify(snapshot));
      return value;
    }).catch((error: unknown) => {
      // Whether the commit took effect is unknown here: what this process knew is read again.
      this.registered = new Map();
      throw error;
    });
    this.registered = registered;
    this.registeredAt = snapshot;
    // Commits of other processes before this one are this process's to follow first.
    if (snapshot > this.seen + 1) await this.followForeign(this.seen, snapshot - 1);
    this.seen = snapshot;
    // Work that must follow the commit before anyone hears of it (the lake publishing its files).
    if (meta.after) await meta.after(result, snapshot);
    const committed = { snapshot, operation: meta.operation, tables: [...changed.keys()] };
    for (const follower of this.followers) await follower(committed);
    return { result, committed };
  }

  // ── runs ────────────────────────────────────────────────────────────────────────────────

  newRunId(): string {
    const stamp = new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14);
    return `${stamp}-${randomUUID().slice(0, 8)}`;
  }

  async startRun(runId: string, start: RunStart): Promise<void> {
    this.runsInProcess.add(runId);
    await this.lock.run(() =>
      this.engine.run(
        `INSERT INTO tributary.runs (run_id, run_group, attempt, trigger, kind, target, status, params, pid, host) VALUES ($1, $2, $3, $4, $5, $6, 'running', $7, $8, $9)`,
        [runId, start.group ?? runId, start.attempt ?? 1, start.trigger, start.kind, start.target, start.params === undefined ? null : JSON.stringify(start.params), process.pid, hostname()],
      ),
    );
  }

  /** Ends a run outside a data commit (a failure, or a run whose data lives in another store). */
  async finishRun(runId: string, status: 'success' | 'failed', counts: RunCounts, error?: string): Promise<void> {
    this.runsInProcess.delete(runId);
    await this.lock.run(() => this.engine.run(FINISH_RUN, finishRunParams(runId, status, counts, error, null)));
  }

  /**
   * Runs left `running` by a process of this machine that is gone (killed, crashed): marked
   * failed, so nobody waits on them. Called when a process takes ownership of the state. Runs of
   * other machines (a shared catalog) are theirs to settle.
   */
  async failOrphanRuns(): Promise<number> {
    const running = await this.engine.query<{ run_id: string; pid: number | null }>(
      `SELECT run_id, pid FROM tributary.runs WHERE status = 'running' AND (host IS NULL OR host = $1)`,
      [hostname()],
    );
    const orphans = running.filter((r) => !this.runsInProcess.has(r.run_id) && !(r.pid !== null && r.pid !== process.pid && isAlive(r.pid)));
    for (const orphan of orphans) {
      await this.lock.run(() =>
        this.engine.run(`UPDATE tributary.runs SET status = 'failed', finished_at = now(), error = $2 WHERE run_id = $1 AND status = 'running'`, [
          orphan.run_id,
          `the process running it (pid ${orphan.pid ?? '?'}) ended without finishing it (killed or crashed); nothing it staged was committed`,
        ]),
      );
    }
    return orphans.length;
  }

  async runs(options: { limit?: number; target?: string; group?: string; runId?: string } = {}): Promise<RunRecord[]> {
    const where = [
      options.target && `target = ${quoteLiteral(options.target)}`,
      options.group && `run_group = ${quoteLiteral(options.group)}`,
      options.runId && `run_id = ${quoteLiteral(options.runId)}`,
    ].filter(Boolean);
    const runs = await this.engine.queryJson<Omit<RunRecord, 'timing'> & { timing: string | null }>(
      `SELECT run_id, run_group, attempt, trigger, kind, target, status, params, started_at::VARCHAR AS started_at, finished_at::VARCHAR AS finished_at,
              read::DOUBLE AS read, written::DOUBLE AS written, quarantined::DOUBLE AS quarantined, error, snapshot_id::DOUBLE AS snapshot_id, timing
       FROM tributary.runs ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY started_at DESC, run_id DESC LIMIT ${Math.floor(options.limit ?? 50)}`,
    );
    return runs.map((r) => ({ ...r, timing: r.timing === null ? null : (JSON.parse(r.timing) as RunPhase[]) }));
  }

  // ── tables, files, partitions ───────────────────────────────────────────────────────────

  async tables(): Promise<TableInfo[]> {
    // Serving tables count their rows in DuckDB itself; lake tables by their committed files.
    return this.engine.queryJson<TableInfo>(
      `SELECT t.name, t.kind, t.store, t.location, t.format, t.partition_by, t.time_column, t.lookup_key, t.description, t.definition,
              coalesce(f.rows, d.estimated_size::DOUBLE) AS rows, f.bytes, coalesce(f.files, 0)::INTEGER AS files,
              t.updated_at::VARCHAR AS updated_at, t.updated_snapshot::DOUBLE AS updated_snapshot
       FROM tributary.tables t
       LEFT JOIN (SELECT table_name, sum(rows)::DOUBLE AS rows, sum(bytes)::DOUBLE AS bytes, count(*) AS files
                  FROM tributary.data_files WHERE end_snapshot IS NULL GROUP BY 1) f ON f.table_name = t.name
       LEFT JOIN duckdb_tables() d ON d.table_name = t.name AND d.schema_name = 'main' AND NOT d.temporary
       ORDER BY t.name`,
    );
  }

  /**
   * What each process derives a table's view from (its kind, partitioning and SQL), for `names` or
   * every table: `tables()` without counting rows and files, which views follow after every commit.
   */
  async viewSources(names?: readonly string[]): Promise<Pick<TableInfo, 'name' | 'kind' | 'partition_by' | 'definition'>[]> {
    if (names && !names.length) return [];
    const known = names?.map((name) => ({ name, entry: this.committedEntry(name) }));
    if (known?.every((k) => k.entry)) {
      return known
        .flatMap(({ name, entry }) => (entry!.row ? [{ name, kind: entry!.row.kind, partition_by: [...entry!.row.partition_by], definition: entry!.row.definition }] : []))
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    }
    return this.engine.queryJson(
      `SELECT name, kind, partition_by, definition FROM tributary.tables ${names ? `WHERE name IN (${names.map(quoteLiteral).join(', ')})` : ''} ORDER BY name`,
    );
  }

  async table(name: string): Promise<(TableInfo & { columns: ColumnInfo[] }) | undefined> {
    const info = (await this.tables()).find((t) => t.name === name);
    if (!info) return undefined;
    return { ...info, columns: await this.columns(name) };
  }

  async columns(table: string): Promise<ColumnInfo[]> {
    const entry = this.committedEntry(table);
    if (entry) return entry.columns.map((c) => ({ ...c }));
    return this.engine.queryJson<ColumnInfo>(`SELECT name, type FROM tributary.columns WHERE table_name = $1 ORDER BY position`, [table]);
  }

  /** Every registered table's columns, for completion and the catalog page. */
  async allColumns(): Promise<{ table_name: string; name: string; type: string }[]> {
    return this.engine.queryJson(`SELECT table_name, name, type FROM tributary.columns ORDER BY table_name, position`);
  }

  /** The table's files live at `snapshot` (default: now). */
  async liveFiles(table: string, snapshot?: number): Promise<LiveFile[]> {
    return readFiles(this.engine, table, snapshot);
  }

  /**
   * The table's live files as its view reads them (path and schema version, in `liveFiles`'
   * order): without the partition values and statistics, whose join cost the view's refresh after
   * every stream commit more than the rest of it.
   */
  async liveFilePaths(table: string): Promise<Pick<LiveFile, 'path' | 'schemaVersion'>[]> {
    const files = this.committedEntry(table)?.files;
    if (files) return files.map((f) => ({ ...f }));
    const rows = await this.engine.query<{ path: string; schema_version: number | null }>(
      `SELECT path, schema_version FROM tributary.data_files WHERE table_name = $1 AND end_snapshot IS NULL ORDER BY path`,
      [table],
    );
    return rows.map((r) => ({ path: r.path, schemaVersion: r.schema_version === null ? null : Number(r.schema_version) }));
  }

  async partitions(table: string): Promise<{ partition: Record<string, string | null>; files: number; rows: number; bytes: number }[]> {
    const byKey = new Map<string, { partition: Record<string, string | null>; files: number; rows: number; bytes: number }>();
    for (const file of await this.liveFiles(table)) {
      const key = partitionKey(file.partition);
      const entry = byKey.get(key) ?? { partition: file.partition, files: 0, rows: 0, bytes: 0 };
      entry.files++;
      entry.rows += file.rows;
      entry.bytes += file.bytes;
      byKey.set(key, entry);
    }
    return [...byKey.values()].sort((a, b) => partitionKey(a.partition).localeCompare(partitionKey(b.partition)));
  }

  /** Files the lake must finish moving: committed but not yet published, or retired but not yet moved away. */
  async pendingMoves(): Promise<{ path: string; staged_path: string | null; history_path: string | null; live: boolean }[]> {
    return this.engine.queryJson(
      `SELECT path, staged_path, history_path, end_snapshot IS NULL AS live FROM tributary.data_files
       WHERE (end_snapshot IS NULL AND staged_path IS NOT NULL) OR (end_snapshot IS NOT NULL AND history_path IS NOT NULL AND history_path <> path)`,
    );
  }

  async clearPendingMoves(paths: string[]): Promise<void> {
    if (!paths.length) return;
    await this.lock.run(() =>
      this.engine.run(
        `UPDATE tributary.data_files SET staged_path = NULL WHERE end_snapshot IS NULL AND path IN (${paths.map(quoteLiteral).join(', ')})`,
      ),
    );
  }

  /** Every key the catalog holds live or in history, for the lake's clean-up of strays. */
  async knownPaths(): Promise<Set<string>> {
    const rows = await this.engine.query<{ path: string; history_path: string | null }>(
      `SELECT path, history_path FROM tributary.data_files WHERE end_snapshot IS NULL OR history_path IS NOT NULL`,
    );
    return new Set(rows.flatMap((r) => (r.history_path ? [r.history_path, r.path] : [r.path])));
  }

  /** History files older than `olderThanHours`, which time travel may then no longer reach. */
  async expireHistory(olderThanHours: number): Promise<string[]> {
    return this.lock.run(() =>
      this.engine.transaction(async (tx) => {
        const expired = `history_path IS NOT NULL AND end_snapshot IN (
           SELECT snapshot_id FROM tributary.snapshots WHERE committed_at < now() - INTERVAL (${Number(olderThanHours)}) HOUR)`;
        // Read, then cleared: PostgreSQL tables (a shared catalog) take no RETURNING through DuckDB.
        const rows = await tx.query<{ history_path: string }>(`SELECT history_path FROM tributary.data_files WHERE ${expired}`);
        if (rows.length) await tx.run(`UPDATE tributary.data_files SET history_path = NULL WHERE ${expired}`);
        return rows.map((r) => r.history_path);
      }),
    );
  }

  /** The earliest snapshot whose files are all still kept, per table: how far back time travel reaches. */
  async snapshotFiles(table: string, snapshot: number): Promise<{ files: LiveFile[]; missing: number }> {
    const files = await readFiles(this.engine, table, snapshot, true);
    return { files: files.filter((f) => f.path !== ''), missing: files.filter((f) => f.path === '').length };
  }

  async snapshots(limit = 50, id?: number): Promise<SnapshotInfo[]> {
    const rows = await this.engine.queryJson<SnapshotInfo>(
      `SELECT s.snapshot_id::DOUBLE AS snapshot_id, s.committed_at::VARCHAR AS committed_at, s.run_id, s.operation, s.summary,
              coalesce(list_distinct(list(c.table_name) FILTER (WHERE c.table_name IS NOT NULL)), []) AS tables,
              epoch_ms(s.committed_at)::DOUBLE AS committed_ms
       FROM tributary.snapshots s LEFT JOIN tributary.snapshot_changes c USING (snapshot_id)
       ${id === undefined ? '' : `WHERE s.snapshot_id = ${Math.floor(id)}`}
       GROUP BY ALL ORDER BY 1 DESC LIMIT ${Math.floor(limit)}`,
    );
    return rows;
  }

  /** One snapshot, if the catalog has it. */
  async snapshot(id: number): Promise<SnapshotInfo | undefined> {
    return (await this.snapshots(1, id))[0];
  }

  async lastSnapshot(): Promise<number> {
    return this.seen;
  }

  /** The newest snapshot that changed any of these tables (names compared case-insensitively), if one did. */
  lastChange(tables: readonly string[]): Promise<number | undefined> {
    return this.changedAt('max', tables);
  }

  /** The snapshot that first changed the table (created it), if one did. */
  firstChange(table: string): Promise<number | undefined> {
    return this.changedAt('min', [table]);
  }

  private async changedAt(which: 'min' | 'max', tables: readonly string[]): Promise<number | undefined> {
    if (tables.length === 0) return undefined;
    const found = await this.engine.scalar<bigint | null>(
      `SELECT ${which}(snapshot_id) FROM tributary.snapshot_changes WHERE lower(table_name) IN (${tables.map((_, i) => `lower($${i + 1})`).join(', ')})`,
      [...tables],
    );
    return found === null || found === undefined ? undefined : Number(found);
  }

  async schemaVersions(table: string): Promise<SchemaVersion[]> {
    const rows = await this.engine.queryJson<{ version: number; columns: string; detected_at: string }>(
      `SELECT version, columns::VARCHAR AS columns, detected_at::VARCHAR AS detected_at FROM tributary.schema_versions WHERE table_name = $1 ORDER BY version`,
      [table],
    );
    return rows.map((r) => ({ version: r.version, columns: JSON.parse(r.columns) as ColumnInfo[], detected_at: r.detected_at }));
  }

  /** The columns of each of the table's schema versions, by version: what its view reads its files as. */
  async versionColumns(table: string): Promise<Map<number, ColumnInfo[]>> {
    const entry = this.committedEntry(table);
    if (entry) return new Map(entry.versions.map((v) => [v.version, v.columns.map((c) => ({ ...c }))]));
    return new Map((await this.schemaVersions(table)).map((v) => [v.version, v.columns]));
  }

  /**
   * The table as this process's last commit left it, when no other process can have changed it
   * since (a catalog of one process, whose every commit is this one's); else undefined: read it.
   */
  private committedEntry(table: string): Registered | undefined {
    return !this.shared && this.registeredAt === this.seen ? this.registered.get(table) : undefined;
  }

  /** Per-file statistics of a column: what hot-key detection and pruning read. */
  async columnStats(table: string, column: string): Promise<{ path: string; rows: number; min: string | null; max: string | null }[]> {
    return this.engine.queryJson(
      `SELECT f.path, f.rows::DOUBLE AS rows, s.min_value AS min, s.max_value AS max
       FROM tributary.data_files f JOIN tributary.file_column_stats s USING (file_id)
       WHERE f.table_name = $1 AND f.end_snapshot IS NULL AND s.column_name = $2 ORDER BY f.path`,
      [table, column],
    );
  }

  // ── lineage, quarantine, dead letters ───────────────────────────────────────────────────

  /** The batches of a microbatch model processed so far (UTC instants, start included, end excluded), in order. */
  async processedBatches(model: string): Promise<{ start: string; end: string }[]> {
    return this.engine.queryJson(`SELECT batch_start AS start, batch_end AS "end" FROM tributary.model_batches WHERE model = $1 ORDER BY batch_start`, [model]);
  }

  async lineage(): Promise<{ model: string; upstream: string; upstream_kind: string }[]> {
    return this.engine.queryJson(`SELECT model, upstream, upstream_kind FROM tributary.lineage ORDER BY model, upstream`);
  }

  /**
   * Quarantined rows, newest first: every run's (a failed run's too), one run's (`runId`), or with
   * `current` the rows not loaded now: those of the successful runs whose data the tables hold (a
   * later successful run of the model with no interval, or with the same interval, replaced an
   * earlier run's), each input line once, as its latest run saw it.
   */
  async quarantine(options: { runId?: string; model?: string; limit?: number; current?: boolean } = {}): Promise<QuarantineRecord[]> {
    const where = [options.runId && `q.run_id = ${quoteLiteral(options.runId)}`, options.model && `q.model = ${quoteLiteral(options.model)}`].filter(Boolean);
    const columns = `q.run_id, q.model, q.source, q.file, q.line::DOUBLE AS line, q.record::DOUBLE AS record, q.column_name, q.reason, q.raw, q.raw_bytes::DOUBLE AS raw_bytes`;
    const limit = `LIMIT ${Math.floor(options.limit ?? 100)}`;
    if (options.runId || !options.current) {
      return this.engine.queryJson(`SELECT ${columns} FROM tributary.quarantine q ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY q.quarantined_at DESC, q.file, q.line ${limit}`);
    }
    const interval = (run: string) => `coalesce(json_extract_string(${run}.params, '$.interval.start') || '/' || json_extract_string(${run}.params, '$.interval.end'), '')`;
    return this.engine.queryJson(
      `SELECT ${columns}
       FROM tributary.quarantine q JOIN tributary.runs r ON r.run_id = q.run_id AND r.status = 'success'
       WHERE NOT EXISTS (SELECT 1 FROM tributary.runs later
                         WHERE later.target = q.model AND later.status = 'success' AND later.finished_at > r.finished_at
                           AND (${interval('later')} = '' OR ${interval('later')} = ${interval('r')}))
         ${where.length ? `AND ${where.join(' AND ')}` : ''}
       QUALIFY row_number() OVER (PARTITION BY q.model, q.file, q.line, q.record ORDER BY r.finished_at DESC) = 1
       ORDER BY r.finished_at DESC, q.file, q.line ${limit}`,
    );
  }

  async deadLetters(options: { origin?: string; limit?: number } = {}): Promise<DeadLetterRecord[]> {
    return this.engine.queryJson(
      `SELECT origin, partition, "offset"::DOUBLE AS "offset", reason, raw, raw_bytes::DOUBLE AS raw_bytes, received_at::VARCHAR AS received_at
       FROM tributary.dead_letters ${options.origin ? `WHERE origin = ${quoteLiteral(options.origin)}` : ''}
       ORDER BY received_at DESC, "offset" DESC NULLS LAST LIMIT ${Math.floor(options.limit ?? 100)}`,
    );
  }

  /** Counts for status pages and metrics: quarantined rows, and dead letters per origin. */
  async qualityCounts(): Promise<{ quarantined: number; deadLetters: Record<string, number> }> {
    const q = await this.engine.query<{ n: bigint }>('SELECT count(*) AS n FROM tributary.quarantine');
    const d = await this.engine.query<{ origin: string; n: bigint }>('SELECT origin, count(*) AS n FROM tributary.dead_letters GROUP BY 1 ORDER BY 1');
    return { quarantined: Number(q[0]!.n), deadLetters: Object.fromEntries(d.map((r) => [r.origin, Number(r.n)])) };
  }

  /** Dead letters that do not ride on a stream commit (events the collector refused). */
  async addDeadLetters(origin: string, rows: { reason: string; raw: string; partition?: number; offset?: number }[]): Promise<void> {
    if (!rows.length) return;
    await this.commit(this.engine, { operation: 'dead-letters' }, async (tx) => tx.addDeadLetters(origin, rows));
  }

  // ── stream progress ─────────────────────────────────────────────────────────────────────

  async offsets(job: string, sink: string): Promise<Map<number, number>> {
    const rows = await this.engine.query<{ partition: number; next_offset: bigint }>(
      `SELECT partition, next_offset FROM tributary.stream_offsets WHERE job = $1 AND sink = $2`,
      [job, sink],
    );
    return new Map(rows.map((r) => [r.partition, Number(r.next_offset)]));
  }

  async state(job: string, sink: string, key: string): Promise<number | undefined> {
    const rows = await this.engine.query<{ value: number }>(`SELECT value FROM tributary.stream_state WHERE job = $1 AND sink = $2 AND key = $3`, [job, sink, key]);
    return rows[0]?.value ?? undefined;
  }

  /** The connection the metastore reads on; given to the scheduler store and other catalog parts. */
  get connection(): Engine {
    return this.engine;
  }

  /**
   * The newest snapshot readers may see: a commit counts from the moment its transaction is sent
   * to commit (another connection can see its rows before this process hears back), until its
   * followers have run. An index following commits is behind while this is ahead of it.
   */
  get visibleSnapshot(): number {
    return this.committing?.snapshot ?? this.seen;
  }

  /** Settles once the commit in flight (if any, and if it is `snapshot` or later) has finished, followers included, or failed. */
  settled(snapshot: number): Promise<void> {
    return this.committing && this.committing.snapshot >= snapshot ? this.committing.done : Promise.resolve();
  }

  /** Runs `body` under the commit lock without a snapshot: small catalog writes of other catalog parts. */
  async write<T>(body: (engine: Engine) => Promise<T>): Promise<T> {
    return this.lock.run(() => body(this.engine));
  }
}

/** What a commit is, for the snapshot's record; `makesTables`: it makes, replaces or drops warehouse tables that other processes of a shared catalog may have changed too. */
interface CommitMeta<T> {
  operation: string;
  runId?: string;
  summary?: string;
  makesTables?: boolean;
  after?: (result: T, snapshot: number) => Promise<void>;
}

const FINISH_RUN = `UPDATE tributary.runs SET status = $2, finished_at = now(), read = $3, written = $4, quarantined = $5, error = $6,
  snapshot_id = coalesce($7, snapshot_id), timing = $8 WHERE run_id = $1`;

function finishRunParams(runId: string, status: string, counts: RunCounts, error: string | undefined, snapshot: number | null) {
  const timing = counts.timing?.length ? JSON.stringify(counts.timing) : null;
  return [runId, status, counts.read, counts.written, counts.quarantined, error === undefined ? null : capText(error, 4000), snapshot, timing];
}

async function readFiles(engine: Engine | Transaction, table: string, snapshot?: number, history = false): Promise<LiveFile[]> {
  const at =
    snapshot === undefined
      ? 'f.end_snapshot IS NULL'
      : `f.begin_snapshot <= ${Math.floor(snapshot)} AND (f.end_snapshot IS NULL OR f.end_snapshot > ${Math.floor(snapshot)})`;
  // A retired file is read from history; one whose history expired comes back with an empty path.
  const path = history ? `CASE WHEN f.end_snapshot IS NULL THEN f.path ELSE coalesce(f.history_path, '') END` : 'f.path';
  const rows = await engine.query<{ file_id: bigint; path: string; rows: bigint; bytes: bigint; begin_snapshot: bigint; schema_version: number | null; keys: string[] | null; vals: (string | null)[] | null }>(
    `SELECT f.file_id, ${path} AS path, f.rows, f.bytes, f.begin_snapshot, f.schema_version,
            list(p.key ORDER BY p.position) FILTER (WHERE p.key IS NOT NULL) AS keys,
            list(p.value ORDER BY p.position) FILTER (WHERE p.key IS NOT NULL) AS vals
     FROM tributary.data_files f LEFT JOIN tributary.file_partition_values p USING (file_id)
     WHERE f.table_name = $1 AND ${at}
     GROUP BY ALL ORDER BY 2`,
    [table],
  );
  return rows.map((r) => ({
    fileId: Number(r.file_id),
    path: r.path,
    rows: Number(r.rows),
    bytes: Number(r.bytes),
    beginSnapshot: Number(r.begin_snapshot),
    schemaVersion: r.schema_version === null ? null : Number(r.schema_version),
    partition: Object.fromEntries((r.keys ?? []).map((k, i) => [k, r.vals?.[i] ?? null])),
  }));
}

/**
 * What a commit may write. Writes to `tributary.*` go through its methods; the store's own tables
 * (serving tables in `main`) through `run`.
 */
export class CatalogTransaction {
  /** Offset moves checked and written together when the commit's body is done (`writeOffsets`). */
  private readonly offsetMoves: { job: string; sink: string; move: OffsetMove }[] = [];

  constructor(
    private readonly tx: Transaction,
    readonly snapshot: number,
    private readonly fileIds: { next: number },
    private readonly changes: Map<string, string[]>,
    /** The tables as the catalog holds them in this transaction, read once each (see Registered). */
    private readonly registered: Map<string, Registered>,
  ) {}

  /** SQL on the project's own tables (never `tributary.*`), inside this commit. */
  run(sql: string, params?: Parameters<Transaction['run']>[1]): Promise<number> {
    return this.tx.run(sql, params);
  }

  query<R = Record<string, unknown>>(sql: string, params?: Parameters<Transaction['query']>[1]): Promise<R[]> {
    return this.tx.query<R>(sql, params);
  }

  /** Notes that `table` changed in this snapshot; listeners hear of every noted table. */
  changed(table: string, change: string): void {
    const list = this.changes.get(table) ?? [];
    if (!list.includes(change)) list.push(change);
    this.changes.set(table, list);
  }

  async registerTable(table: TableRegistration): Promise<void> {
    const entry = await this.registration(table.name);
    const row = registeredRow(table);
    // A stream registers its lake table as it is with every micro-batch: then only the snapshot
    // that changed it moves.
    if (entry.row && sameRow(entry.row, row) && sameColumns(entry.columns, table.columns)) {
      await this.tx.run(`UPDATE tributary.tables SET updated_snapshot = $1, updated_at = now() WHERE name = $2`, [this.snapshot, table.name]);
      this.changed(table.name, 'registered');
      return;
    }
    await this.tx.run(
      // The defaulted columns are given: an upsert into the catalog in PostgreSQL, by a process that
      // did not create its tables, would write them NULL (DuckDB's postgres extension does not
      // learn a column's default from the database).
      `INSERT INTO tributary.tables (name, kind, store, location, format, partition_by, time_column, lookup_key, description, created_snapshot, updated_snapshot, definition, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6::VARCHAR[], $7, $8, $9, $10, $10, $11, now(), now())
       ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, store = excluded.store, location = excluded.location, format = excluded.format,
         partition_by = excluded.partition_by, time_column = excluded.time_column, lookup_key = excluded.lookup_key,
         description = excluded.description, updated_snapshot = excluded.updated_snapshot, updated_at = now(), definition = excluded.definition`,
      [
        table.name,
        row.kind,
        row.store,
        row.location,
        row.format,
        JSON.stringify(row.partition_by),
        row.time_column,
        row.lookup_key,
        row.description,
        this.snapshot,
        row.definition,
      ],
    );
    if (!sameColumns(entry.columns, table.columns)) {
      await this.tx.run(`DELETE FROM tributary.columns WHERE table_name = $1`, [table.name]);
      if (table.columns.length) {
        await this.tx.run(
          `INSERT INTO tributary.columns VALUES ${table.columns.map((c, i) => `(${quoteLiteral(table.name)}, ${i}, ${quoteLiteral(c.name)}, ${quoteLiteral(c.type)})`).join(', ')}`,
        );
      }
      await this.recordSchemaVersion(table.name, table.columns);
    }
    this.registered.set(table.name, { ...this.registered.get(table.name)!, row, columns: table.columns.map((c) => ({ name: c.name, type: c.type })) });
    this.changed(table.name, 'registered');
  }

  /**
   * Forgets a table the warehouse no longer holds (a dbt hook dropped it): its registration and
   * columns go, so no process makes its view again or lists it; its schema history stays. A table
   * with files (lake, crawled) is refused: its files are the lake's to retire.
   */
  async dropTable(table: string): Promise<void> {
    const entry = await this.registration(table);
    if (!entry.row) return;
    if (entry.row.kind !== 'view' && entry.row.kind !== 'table') throw new Error(`dropTable: '${table}' is a ${entry.row.kind} table, whose files are retired through the lake`);
    await this.tx.run(`DELETE FROM tributary.columns WHERE table_name = $1`, [table]);
    await this.tx.run(`DELETE FROM tributary.tables WHERE name = $1`, [table]);
    this.registered.set(table, { ...entry, row: undefined, columns: [] });
    this.changed(table, 'dropped');
  }

  /** The table as the catalog holds it in this transaction: read the first time it is asked for, then kept as this transaction changes it. */
  async registration(table: string): Promise<Registered> {
    const known = this.registered.get(table);
    if (known) return known;
    const [row] = await this.tx.query<RegisteredRow>(`SELECT kind, store, location, format, partition_by, time_column, lookup_key, description, definition FROM tributary.tables WHERE name = $1`, [table]);
    // Read apart: a correlated list of the columns in the query above took longer than both.
    const columns = await this.tx.query<ColumnInfo>(`SELECT name, type FROM tributary.columns WHERE table_name = $1 ORDER BY position`, [table]);
    const versions = await this.tx.query<{ version: number; columns: string }>(
      `SELECT version, columns::VARCHAR AS columns FROM tributary.schema_versions WHERE table_name = $1 ORDER BY version`,
      [table],
    );
    const entry: Registered = { row, columns, versions: versions.map((v) => ({ version: v.version, columns: JSON.parse(v.columns) as ColumnInfo[] })) };
    this.registered.set(table, entry);
    return entry;
  }

  /** The table as its view is made from it: for a lake table, its live files too. */
  async viewed(table: string): Promise<Registered> {
    const entry = await this.registration(table);
    if (entry.row?.kind !== 'lake' || entry.files) return entry;
    const files = await this.tx.query<{ path: string; schema_version: number | null }>(
      `SELECT path, schema_version FROM tributary.data_files WHERE table_name = $1 AND end_snapshot IS NULL ORDER BY path`,
      [table],
    );
    const viewed = { ...entry, files: files.map((f) => ({ path: f.path, schemaVersion: f.schema_version === null ? null : Number(f.schema_version) })) };
    this.registered.set(table, viewed);
    return viewed;
  }

  /** Keeps the live files this transaction knows of in step with a change to them. */
  private filesChanged(table: string, change: (files: Pick<LiveFile, 'path' | 'schemaVersion'>[]) => Pick<LiveFile, 'path' | 'schemaVersion'>[]): void {
    const entry = this.registered.get(table);
    if (entry?.files) this.registered.set(table, { ...entry, files: change(entry.files) });
  }

  /**
   * Records a schema version when the columns differ from the last one, and returns the
   * differences so a crawl can report drift between drops.
   */
  async recordSchemaVersion(table: string, columns: ColumnInfo[]): Promise<SchemaDrift | undefined> {
    const entry = await this.registration(table);
    const last = entry.versions.at(-1);
    const drift = last ? diffColumns(last.columns, columns) : undefined;
    if (!last || (drift && !drift.unchanged)) {
      const version = (last?.version ?? 0) + 1;
      const stored = JSON.stringify(columns);
      await this.tx.run(`INSERT INTO tributary.schema_versions (table_name, version, columns, snapshot_id) VALUES ($1, $2, $3, $4)`, [table, version, stored, this.snapshot]);
      this.registered.set(table, { ...entry, versions: [...entry.versions, { version, columns: JSON.parse(stored) as ColumnInfo[] }] });
    }
    return drift;
  }

  async liveFiles(table: string): Promise<LiveFile[]> {
    return readFiles(this.tx, table);
  }

  /** Adds files to a table in this snapshot, with their partition values, column statistics and the table's schema version (register the table first). */
  async addFiles(table: string, files: DataFile[], runId: string | null): Promise<void> {
    if (!files.length) return;
    const latest = (await this.registration(table)).versions.at(-1);
    const ids = files.map(() => this.fileIds.next++);
    // Columns bound as lists: a crawl registers tens of thousands of files, and as VALUES rows
    // the parser took 8 s over them.
    await this.tx.run(
      `INSERT INTO tributary.data_files (file_id, table_name, path, rows, bytes, run_id, begin_snapshot, staged_path, schema_version)
       SELECT unnest($1::JSON::BIGINT[]), $2::VARCHAR, unnest($3::JSON::VARCHAR[]), unnest($4::JSON::BIGINT[]), unnest($5::JSON::BIGINT[]), $6::VARCHAR, $7::BIGINT, unnest($8::JSON::VARCHAR[]), $9::INTEGER`,
      [
        listParameter(ids),
        table,
        listParameter(files.map((f) => f.path)),
        listParameter(files.map((f) => f.rows)),
        listParameter(files.map((f) => f.bytes)),
        runId,
        this.snapshot,
        listParameter(files.map((f) => f.stagedPath ?? null)),
        latest?.version ?? null,
      ],
    );
    this.filesChanged(table, (known) =>
      [...known, ...files.map((f) => ({ path: f.path, schemaVersion: latest?.version ?? null }))].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)),
    );
    const parts = files.flatMap((file, i) => Object.entries(file.partition).map(([key, value], position) => ({ id: ids[i]!, position, key, value })));
    if (parts.length) {
      await this.tx.run(`INSERT INTO tributary.file_partition_values SELECT unnest($1::JSON::BIGINT[]), unnest($2::JSON::INTEGER[]), unnest($3::JSON::VARCHAR[]), unnest($4::JSON::VARCHAR[])`, [
        listParameter(parts.map((p) => p.id)),
        listParameter(parts.map((p) => p.position)),
        listParameter(parts.map((p) => p.key)),
        listParameter(parts.map((p) => p.value ?? null)),
      ]);
    }
    const stats = files.flatMap((file, i) => Object.entries(file.stats ?? {}).map(([column, s]) => ({ id: ids[i]!, column, ...s })));
    if (stats.length) {
      await this.tx.run(`INSERT INTO tributary.file_column_stats SELECT unnest($1::JSON::BIGINT[]), unnest($2::JSON::VARCHAR[]), unnest($3::JSON::VARCHAR[]), unnest($4::JSON::VARCHAR[]), unnest($5::JSON::BIGINT[])`, [
        listParameter(stats.map((s) => s.id)),
        listParameter(stats.map((s) => s.column)),
        listParameter(stats.map((s) => s.min ?? null)),
        listParameter(stats.map((s) => s.max ?? null)),
        listParameter(stats.map((s) => s.nulls ?? null)),
      ]);
    }
    this.changed(table, 'added files');
  }

  /**
   * Retires a table's live files in this snapshot: all of them, or those `select` picks. Each retired file is given a place in history (for time travel) when `keep`
   * is set; the lake moves it there once the commit is durable.
   */
  async retireFiles(table: string, select: 'all' | ((file: LiveFile) => boolean), keep: RetiredFiles = 'delete'): Promise<LiveFile[]> {
    const live = await readFiles(this.tx, table);
    const retired = select === 'all' ? live : live.filter(select);
    if (!retired.length) return [];
    const history = keep === 'delete' ? 'NULL' : keep === 'in place' ? 'path' : `${quoteLiteral(`${keep.prefix}/${this.snapshot}/`)} || path`;
    await this.tx.run(
      `UPDATE tributary.data_files SET end_snapshot = ${this.snapshot}, history_path = ${history}
       WHERE file_id IN (${retired.map((f) => f.fileId).join(', ')})`,
    );
    const gone = new Set(retired.map((f) => f.path));
    this.filesChanged(table, (known) => known.filter((f) => !gone.has(f.path)));
    this.changed(table, 'removed files');
    return retired;
  }

  async setLineage(model: string, upstream: { name: string; kind: 'source' | 'model' | 'stream' | 'table' }[]): Promise<void> {
    await this.tx.run(`DELETE FROM tributary.lineage WHERE model = $1`, [model]);
    const unique = [...new Map(upstream.map((u) => [u.name, u])).values()];
    if (unique.length) {
      await this.tx.run(`INSERT INTO tributary.lineage VALUES ${unique.map((u) => `(${quoteLiteral(model)}, ${quoteLiteral(u.name)}, ${quoteLiteral(u.kind)})`).join(', ')}`);
    }
  }

  /**
   * Records `batches` of a microbatch model as processed by `runId`, in the commit of their rows;
   * `replaceAll` forgets every batch recorded before (a whole rebuild processed them again).
   */
  async recordBatches(model: string, batches: readonly { start: string; end: string }[], runId: string, replaceAll: boolean): Promise<void> {
    if (replaceAll) await this.tx.run(`DELETE FROM tributary.model_batches WHERE model = $1`, [model]);
    const CHUNK = 1000;
    for (let i = 0; i < batches.length; i += CHUNK) {
      const chunk = batches.slice(i, i + CHUNK);
      await this.tx.run(`DELETE FROM tributary.model_batches WHERE model = $1 AND batch_start IN (${chunk.map((b) => quoteLiteral(b.start)).join(', ')})`, [model]);
      await this.tx.run(
        `INSERT INTO tributary.model_batches (model, batch_start, batch_end, run_id) VALUES ${chunk.map((b) => `(${quoteLiteral(model)}, ${quoteLiteral(b.start)}, ${quoteLiteral(b.end)}, ${quoteLiteral(runId)})`).join(', ')}`,
      );
    }
  }

  async addQuarantine(runId: string, model: string, source: string, rows: readonly QuarantineRow[]): Promise<void> {
    const CHUNK = 500;
    for (let i = 0; i < rows.length; i += CHUNK) {
      const values = rows.slice(i, i + CHUNK).map((r) => {
        const rawBytes = r.raw === null ? null : Math.max(r.rawBytes ?? 0, Buffer.byteLength(r.raw));
        const kept = r.raw === null ? null : rawBytes! > Buffer.byteLength(r.raw) ? `${withoutNul(r.raw.slice(0, RAW_KEEP_CHARS))}… (${rawBytes!.toLocaleString('en-US')} bytes in all)` : capText(r.raw, RAW_KEEP_CHARS);
        const raw = kept === null ? 'NULL' : quoteLiteral(kept);
        return `(${quoteLiteral(runId)}, ${quoteLiteral(model)}, ${quoteLiteral(source)}, ${r.file === null ? 'NULL' : quoteLiteral(r.file)}, ${r.line ?? 'NULL'}, ${r.record ?? 'NULL'},
          ${r.column === null ? 'NULL' : quoteLiteral(withoutNul(r.column))}, ${quoteLiteral(capText(r.reason, REASON_KEEP_CHARS))}, ${raw}, ${rawBytes ?? 'NULL'})`;
      });
      await this.tx.run(`INSERT INTO tributary.quarantine (run_id, model, source, file, line, record, column_name, reason, raw, raw_bytes) VALUES ${values.join(', ')}`);
    }
  }

  async addDeadLetters(origin: string, rows: readonly { reason: string; raw: string; partition?: number; offset?: number }[]): Promise<void> {
    if (!rows.length) return;
    // A batch's letters are stamped a microsecond apart, in the order they came: newest-first
    // listings keep that order without a row id (a shared catalog's tables have none).
    const values = rows.map(
      (r, i) =>
        `(${quoteLiteral(origin)}, ${r.partition ?? 'NULL'}, ${r.offset ?? 'NULL'}, ${quoteLiteral(capText(r.reason, REASON_KEEP_CHARS))}, ${quoteLiteral(capText(r.raw, RAW_KEEP_CHARS))}, ${Buffer.byteLength(r.raw)}, now() + to_microseconds(${i}))`,
    );
    await this.tx.run(`INSERT INTO tributary.dead_letters (origin, partition, "offset", reason, raw, raw_bytes, received_at) VALUES ${values.join(', ')}`);
    this.changed('dead_letters', 'added');
  }

  /** Dead letters straight from a relation of the engine (a micro-batch): partition, offset, reason, raw. */
  async addDeadLettersFrom(origin: string, relation: string): Promise<number> {
    const n = await this.tx.run(
      `INSERT INTO tributary.dead_letters (origin, partition, "offset", reason, raw, raw_bytes)
       SELECT ${quoteLiteral(origin)}, partition, "offset", left(replace(reason, chr(0), '\u2400'), ${REASON_KEEP_CHARS}),
              CASE WHEN length(raw) > ${RAW_KEEP_CHARS} THEN left(shown, ${RAW_KEEP_CHARS}) || '… (' || length(raw) || ' characters in all)' ELSE shown END,
              octet_length(encode(raw))
       FROM (SELECT *, replace(raw, chr(0), '\u2400') AS shown FROM ${relation})`,
    );
    if (n) this.changed('dead_letters', 'added');
    return n;
  }

  /**
   * Moves a sink's offsets if they still stand where its batch started; else the commit throws
   * OffsetConflict and rolls back. The check and the write wait for the end of the commit's body:
   * a micro-batch moves the offsets of every sink it commits (three in the clickstream example),
   * and one read and one write for all of them cost a third of a read and a write each. They are
   * still inside the transaction, under the commit's lock (a shared catalog) or the process's own
   * (embedded), so no other commit moves them between the check and the write.
   */
  async writeOffsets(job: string, sink: string, move: OffsetMove): Promise<void> {
    if (!move.to.size) return;
    // A second move of one sink in a commit starts where the first ends: the first is written first.
    if (this.offsetMoves.some((m) => m.job === job && m.sink === sink)) await this.writePendingOffsets();
    this.offsetMoves.push({ job, sink, move });
  }

  /** Checks and writes the offset moves of `writeOffsets`; the commit calls it after its body. */
  async writePendingOffsets(): Promise<void> {
    const moves = this.offsetMoves.splice(0);
    if (!moves.length) return;
    const rows = await this.tx.query<{ job: string; sink: string; partition: number; next_offset: bigint }>(
      `SELECT job, sink, partition, next_offset FROM tributary.stream_offsets
       WHERE ${moves.map((m) => `(job = ${quoteLiteral(m.job)} AND sink = ${quoteLiteral(m.sink)} AND partition IN (${[...m.move.to.keys()].join(', ')}))`).join(' OR ')}`,
    );
    for (const { job, sink, move } of moves) {
      const found = new Map(rows.filter((r) => r.job === job && r.sink === sink).map((r) => [r.partition, Number(r.next_offset)]));
      const mismatch = offsetMismatch(move, found);
      if (mismatch) throw new OffsetConflict(job, sink, mismatch);
    }
    await this.tx.run(
      `INSERT INTO tributary.stream_offsets VALUES ${moves.flatMap(({ job, sink, move }) => [...move.to].map(([p, o]) => `(${quoteLiteral(job)}, ${quoteLiteral(sink)}, ${p}, ${o})`)).join(', ')}
       ON CONFLICT (job, sink, partition) DO UPDATE SET next_offset = excluded.next_offset`,
    );
  }

  /** A sink's state (a watermark) only grows: workers of one job each saw part of the events. */
  async writeState(job: string, sink: string, key: string, value: number): Promise<void> {
    // The row is there after a sink's first batch: an UPDATE costs a stream commit a third of the upsert.
    const updated = await this.tx.run(`UPDATE tributary.stream_state SET value = greatest(value, $4) WHERE job = $1 AND sink = $2 AND key = $3`, [job, sink, key, value]);
    if (updated) return;
    await this.tx.run(
      `INSERT INTO tributary.stream_state VALUES ($1, $2, $3, $4) ON CONFLICT (job, sink, key) DO UPDATE SET value = greatest(value, excluded.value)`,
      [job, sink, key, value],
    );
  }

  async finishRun(runId: string, status: 'success' | 'failed', counts: RunCounts, error?: string): Promise<void> {
    await this.tx.run(FINISH_RUN, finishRunParams(runId, status, counts, error, this.snapshot));
  }
}

function registeredRow(table: TableRegistration): RegisteredRow {
  return {
    kind: table.kind,
    store: table.store ?? null,
    location: table.location ?? null,
    format: table.format ?? null,
    partition_by: [...(table.partitionBy ?? [])],
    time_column: table.timeColumn ?? null,
    lookup_key: table.lookupKey ?? null,
    description: table.description ?? null,
    definition: table.definition ?? null,
  };
}

function sameRow(a: RegisteredRow, b: RegisteredRow): boolean {
  return (
    a.kind === b.kind &&
    a.store === b.store &&
    a.location === b.location &&
    a.format === b.format &&
    a.partition_by.length === b.partition_by.length &&
    a.partition_by.every((p, i) => p === b.partition_by[i]) &&
    a.time_column === b.time_column &&
    a.lookup_key === b.lookup_key &&
    a.description === b.description &&
    a.definition === b.definition
  );
}

/** The same columns in the same order. */
function sameColumns(a: readonly ColumnInfo[], b: readonly ColumnInfo[]): boolean {
  return a.length === b.length && a.every((c, i) => c.name === b[i]!.name && c.type === b[i]!.type);
}

export function diffColumns(before: ColumnInfo[], after: ColumnInfo[]): SchemaDrift {
  const old = new Map(before.map((c) => [c.name, c.type]));
  const now = new Map(after.map((c) => [c.name, c.type]));
  const added = after.filter((c) => !old.has(c.name));
  const removed = before.filter((c) => !now.has(c.name));
  const retyped = after.filter((c) => old.has(c.name) && old.get(c.name) !== c.type).map((c) => ({ name: c.name, from: old.get(c.name)!, to: c.type }));
  return { unchanged: !added.length && !removed.length && !retyped.length, added, removed, retyped };
}
