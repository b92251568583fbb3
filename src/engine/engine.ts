import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { basename } from 'node:path';
import type { DuckDBConnection, DuckDBInstance, DuckDBValue } from '@duckdb/node-api';
import { TributaryError } from '../core/errors.js';
import { shellWord } from '../core/shell.js';
import { EXTENSIONS, extensionDirectory, missingExtension, type ExtensionName } from './extensions.js';
import { quoteIdent, quoteLiteral } from './sql.js';

// The engine's API is CommonJS and is required as such: imported, Node first reads its thirty-odd
// files for their export names (alone, 95 ms against the require's 46).
const duckdb = createRequire(import.meta.url)('@duckdb/node-api') as typeof import('@duckdb/node-api');
const { StatementType, version } = duckdb;

/**
 * A list as one parameter, read as `$1::JSON::VARCHAR[]` (or `BIGINT[]`…): the parser takes
 * seconds over tens of thousands of literals (90,000 file names: about 3 s), and a bound value is
 * no text to parse. It is bound as JSON text, not as a DuckDB list: the client types a list by its
 * first item, so a list that starts with NULL bound every item as NULL (a file's statistics and
 * staged path were lost that way).
 */
export function listParameter(values: readonly (string | number | null)[]): DuckDBValue {
  return JSON.stringify(values);
}

/** Tuning that decides whether a full-size job fits the machine; every field has a safe default. */
export interface EngineOptions {
  /** Database file; ':memory:' (the default) keeps nothing. */
  path?: string;
  threads?: number;
  /** DuckDB size string such as '1.5GB'. Spills to `tempDirectory` beyond it. */
  memoryLimit?: string;
  tempDirectory?: string;
  /** Rows per row group in the database file, a multiple of 2048; default ROW_GROUP_SIZE. */
  rowGroupSize?: number;
}

/**
 * A quarter of DuckDB's 122,880. A checkpoint rewrites the row group that small appends (a
 * stream's serving table) left partly filled, and a stream's commits wait while one runs: rows
 * appended 1,500 at a time beside commits, checkpointed every 60,000, took 694 ms of checkpoints
 * in all, the longest 78 ms, against 1,033 and 125 ms with DuckDB's size. Bulk writes pay for it:
 * a 20 M-row table was built 10 % slower and scanned 5 % slower, its file 7 % larger.
 */
export const ROW_GROUP_SIZE = 30_720;

/** Names ATTACH refuses or takes already (DuckDB gives its own databases these): a file so named opens as DuckDB's default database, with its row groups. */
const RESERVED_DATABASES = new Set(['main', 'memory', 'system', 'temp']);

export interface QueryProgress {
  /** 0–100, or -1 when DuckDB cannot estimate. */
  percentage: number;
  rowsProcessed: number;
  totalRows: number;
}

export type Row = Record<string, unknown>;

/**
 * The one door to DuckDB. Every layer runs SQL through an Engine so that settings, error
 * wording and concurrency (one statement at a time per connection) live in one place.
 */
export class Engine {
  private queue: Promise<unknown> = Promise.resolve();
  /** Statements queued or running on this connection. */
  private pending = 0;
  /** Interrupted: no statement starts any more. */
  private halted = false;
  private reinterrupt: NodeJS.Timeout | undefined;

  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly connection: DuckDBConnection,
    readonly path: string,
    /**
     * Every open engine on the instance (the database's lock goes only when all are closed), the
     * settings each connection starts with (a default catalog, a search path), and whether the
     * instance is closing (no statement starts then).
     */
    private readonly family: Family = { engines: new Set(), session: [], views: 'main', closing: false, streaming: new StreamTurns(), running: new Set() },
    /** Background work (a model run, a compaction): its statements wait while a stream micro-batch works. */
    private readonly background = false,
  ) {
    this.family.engines.add(this);
  }

  /**
   * Where the views derived from the catalog live (a lake table's files, a model's view):
   * `main` of the state's own database, or a database of this process when the catalog is
   * shared, since every process derives its own.
   */
  get views(): string {
    return this.family.views;
  }

  /**
   * Makes, or re-points, a view derived from the catalog, where this process keeps such views.
   * `keepSame`: a view made before from this very SQL (its comment holds the SQL's digest) is left
   * as it is; binding a crawled table's view over tens of thousands of files takes seconds, which
   * every command opening the state would pay again.
   */
  async defineView(name: string, sql: string, options: { keepSame?: boolean } = {}): Promise<void> {
    const view = `${this.views}.${quoteIdent(name)}`;
    if (!options.keepSame) {
      await this.run(`CREATE OR REPLACE VIEW ${view} AS ${sql}`);
      return;
    }
    const digest = `tributary:${createHash('sha256').update(sql).digest('hex')}`;
    const [made] = await this.query<{ comment: string | null }>(`SELECT comment FROM duckdb_views() WHERE ${this.derivedView(name)}`);
    if (made?.comment === digest) return;
    await this.run(`CREATE OR REPLACE VIEW ${view} AS ${sql}; COMMENT ON VIEW ${view} IS ${quoteLiteral(digest)}`);
  }

  /** Drops a derived view of that name, if there is one (the table took another kind). */
  async dropView(name: string): Promise<void> {
    const found = await this.scalar<bigint>(`SELECT count(*) FROM duckdb_views() WHERE ${this.derivedView(name)}`);
    if (Number(found)) await this.run(`DROP VIEW ${this.views}.${quoteIdent(name)}`);
  }

  /** duckdb_views()'s condition for the derived view of that name. */
  private derivedView(name: string): string {
    const [database, schema] = this.views.includes('.') ? this.views.split('.') : [undefined, this.views];
    return `view_name = ${quoteLiteral(name)} AND schema_name = ${quoteLiteral(schema!)}
         AND database_name = ${database ? quoteLiteral(database) : 'current_database()'} AND NOT temporary`;
  }

  /**
   * Settings every connection of the instance starts with (this one and later forks): `USE` a
   * default database, a search path. `views` names where derived views go.
   */
  async setSession(statements: readonly string[], views: string): Promise<void> {
    this.family.session = [...statements];
    this.family.views = views;
    for (const statement of statements) await this.run(statement);
  }

  static async open(options: EngineOptions = {}): Promise<Engine> {
    const path = options.path ?? ':memory:';
    const config: Record<string, string> = {};
    if (options.threads) config.threads = String(options.threads);
    if (options.memoryLimit) config.memory_limit = options.memoryLimit;
    if (options.tempDirectory) config.temp_directory = options.tempDirectory;
    config.extension_directory = extensionDirectory();
    // The row group size is an option of ATTACH, kept in no file: a database file is attached to an
    // in-memory instance on every open, under the name DuckDB gives the file when it opens it
    // itself. With a stream at 10,000 events/s (30 s runs, 2-core Xeon, interleaved) the
    // warehouse's longest checkpoint was 124–219 ms this way (median 135, 11 runs) against
    // 245–357 ms opened as DuckDB's default database (17 runs), and the stream's p99
    // event-to-commit 265–334 ms (median 278) against 282–473 ms (median 324). In that job,
    // attaching with DuckDB's own size stated measured the same as this one, and attaching without
    // the option like the default database: the option counts there beyond the size, for a reason
    // not found (system calls and CPU profiles alike).
    const database = path === ':memory:' ? undefined : basename(path).split('.').find((part) => part !== '');
    const attach = database !== undefined && !RESERVED_DATABASES.has(database.toLowerCase());
    let instance: DuckDBInstance | undefined;
    let connection: DuckDBConnection;
    try {
      instance = await duckdb.DuckDBInstance.create(attach ? ':memory:' : path, config);
      connection = await instance.connect();
      if (attach) {
        await connection.run(`ATTACH ${quoteLiteral(path)} AS ${quoteIdent(database)} (ROW_GROUP_SIZE ${options.rowGroupSize ?? ROW_GROUP_SIZE})`);
        await connection.run(`USE ${quoteIdent(database)}`);
      }
    } catch (error) {
      instance?.closeSync();
      const message = (error as Error).message;
      if (/lock/i.test(message)) {
        throw new Error(
          `The database ${path} is in use by another Tributary process (${message.split('\n')[0]}). ` +
            'Stop that process (for example `tributary up`) or run this command against it.',
        );
      }
      // Cut short (a full disk, a copy stopped halfway) or overwritten: DuckDB says only what it could not read.
      if (/not a valid DuckDB database file|Could not read enough bytes|corrupt|checksum/i.test(message)) {
        throw new TributaryError(`the state database is damaged: ${message.split('\n')[0]}; nothing was changed`, {
          place: { file: path },
          hint: `restore it from a backup, or move it aside (mv ${shellWord(path)} ${shellWord(`${path}.damaged`)}) and run again: the sources load anew`,
        });
      }
      throw error;
    }
    const engine = new Engine(instance, connection, path);
    if (attach) engine.family.session = [`USE ${quoteIdent(database)}`];
    // Parallel writers need no global order; this is what lets COPY use every core.
    await engine.run('SET preserve_insertion_order = false');
    // Nothing can be downloaded here (and a server should not fetch code): a query naming an
    // extension that is not built in fails at once instead of waiting on a download.
    await engine.run('SET autoinstall_known_extensions = false; SET allow_community_extensions = false');
    await engine.run('SET enable_progress_bar = true; SET enable_progress_bar_print = false');
    // Times without an offset are UTC wherever Tributary runs, so a laptop in Paris and a server
    // in Virginia type the same text to the same instant.
    await engine.run("SET GLOBAL TimeZone = 'UTC'");
    return engine;
  }

  /**
   * Loads one of DuckDB's own extensions into the instance (every connection then has it), or
   * fails saying how to install it. Loading an extension that is loaded costs nothing.
   */
  async load(name: ExtensionName): Promise<void> {
    try {
      await this.run(`LOAD ${EXTENSIONS[name].file}`);
    } catch (error) {
      const platform = await this.scalar<string>('PRAGMA platform').catch(() => 'this platform');
      throw missingExtension(name, version(), String(platform), error);
    }
  }

  /** Downloads and installs DuckDB's signed build of an extension into the extension directory (`tributary extensions install`). */
  async install(name: ExtensionName): Promise<void> {
    await this.run(`INSTALL ${EXTENSIONS[name].file}`);
  }

  /**
   * Serialises statements on the connection: DuckDB runs one at a time per connection. A
   * background engine's statement first lets a running stream micro-batch finish (`yields`).
   */
  private enqueue<T>(task: () => Promise<T>, yields = this.background): Promise<T> {
    if (this.family.closing) return Promise.reject(new Error('the engine is closing: no statement starts now'));
    const start = () => {
      if (this.family.closing) return Promise.reject(new Error('the engine is closing: no statement starts now'));
      if (this.halted) return Promise.reject(new Error(INTERRUPTED));
      const running = task();
      const ended = running.then(
        () => void this.family.running.delete(ended),
        () => void this.family.running.delete(ended),
      );
      this.family.running.add(ended);
      return running;
    };
    const guarded = yields ? () => this.family.streaming.clear().then(start) : start;
    const next = this.queue.then(guarded, guarded);
    this.pending++;
    this.queue = next.catch(() => undefined).finally(() => this.pending--);
    return next;
  }

  /**
   * Resolves when every statement of this instance running now (on any of its connections) has
   * ended, or at once when none runs: what a statement already bound (a view's files) it may
   * still be reading until then.
   */
  async runningStatementsEnded(): Promise<void> {
    await Promise.all([...this.family.running]);
  }

  /** Statements of this instance under way now, on any of its connections. */
  get runningStatements(): number {
    return this.family.running.size;
  }

  /** Runs a statement; returns the rows it inserted, updated or deleted. */
  async run(sql: string, params?: DuckDBValue[] | Record<string, DuckDBValue>): Promise<number> {
    const result = await this.enqueue(() => this.connection.run(sql, params));
    return result.rowsChanged;
  }

  /** Rows as plain objects; BIGINT stays bigint so 64-bit ids survive. */
  async query<T = Row>(sql: string, params?: DuckDBValue[] | Record<string, DuckDBValue>): Promise<T[]> {
    return this.enqueue(async () => {
      const reader = await this.connection.runAndReadAll(sql, params);
      return reader.getRowObjectsJS() as T[];
    });
  }

  /** Rows with JSON-safe values: BIGINT and DECIMAL come back as strings, dates as ISO text. */
  async queryJson<T = Row>(sql: string, params?: DuckDBValue[] | Record<string, DuckDBValue>): Promise<T[]> {
    return this.enqueue(async () => {
      const reader = await this.connection.runAndReadAll(sql, params);
      return reader.getRowObjectsJson() as T[];
    });
  }

  /** Streams a query and keeps at most `limit` rows (JSON-safe), without materialising the rest. */
  async queryJsonUntil(sql: string, limit: number): Promise<{ columns: { name: string; type: string }[]; rows: Record<string, unknown>[] }> {
    return this.enqueue(async () => {
      const reader = await this.connection.streamAndReadUntil(sql, limit);
      const names = reader.columnNames();
      const types = reader.columnTypes().map((t) => t.toString());
      const rows = (reader.getRowObjectsJson() as Record<string, unknown>[]).slice(0, limit);
      return { columns: names.map((name, i) => ({ name, type: types[i]! })), rows };
    });
  }

  /**
   * Streams a query's rows (JSON-safe) to `onRows`, a chunk at a time, without holding the result:
   * for answers of any size. The connection is busy until the last chunk is handed over.
   */
  async stream(
    sql: string,
    onColumns: (columns: { name: string; type: string }[]) => void | Promise<void>,
    onRows: (rows: Record<string, unknown>[]) => void | Promise<void>,
  ): Promise<number> {
    return this.enqueue(async () => {
      const result = await this.connection.stream(sql);
      const names = result.deduplicatedColumnNames();
      await onColumns(names.map((name, i) => ({ name, type: result.columnType(i).toString() })));
      let count = 0;
      for await (const rows of result.yieldRowsJson()) {
        count += rows.length;
        await onRows(rows.map((row) => Object.fromEntries(names.map((name, i) => [name, row[i]]))));
      }
      return count;
    });
  }

  /** A result as columns of JSON-safe values (BIGINT and DECIMAL as strings): compact for bulk transfer. */
  async columnsJson(sql: string): Promise<{ names: string[]; columns: unknown[][] }> {
    return this.enqueue(async () => {
      const reader = await this.connection.runAndReadAll(sql);
      return { names: reader.columnNames(), columns: reader.getColumnsJson() as unknown[][] };
    });
  }

  /** The first of these declared columns whose type the engine does not know, with the engine's reason; nothing when it knows them all. */
  async unknownType(columns: readonly { name: string; type: string }[]): Promise<{ name: string; type: string; problem: string } | undefined> {
    const known = (types: readonly string[]) => this.describe(`SELECT ${types.map((type, i) => `CAST(NULL AS ${type}) AS c${i}`).join(', ')}`);
    if (!columns.length || (await known(columns.map((c) => c.type)).then(() => true, () => false))) return undefined;
    for (const column of columns) {
      const problem = await known([column.type]).then(() => undefined, (error: Error) => error.message.split('\n')[0]!);
      if (problem !== undefined) return { ...column, problem };
    }
    return undefined;
  }

  /** Column names and DuckDB types of a query's result, without running it to completion. */
  async describe(sql: string): Promise<{ name: string; type: string }[]> {
    // A bare DESCRIBE would list the database's tables, whose rows are no query's columns.
    if (!sql.trim()) throw new TributaryError('there is no query to describe (the SQL is empty)', { hint: 'give the query whose columns you want' });
    const rows = await this.query<{ column_name: string; column_type: string }>(`DESCRIBE ${sql}`);
    return rows.map((r) => ({ name: r.column_name, type: r.column_type }));
  }

  async scalar<T = unknown>(sql: string, params?: DuckDBValue[] | Record<string, DuckDBValue>): Promise<T> {
    const rows = await this.query(sql, params);
    const first = rows[0];
    return (first ? Object.values(first)[0] : undefined) as T;
  }

  /**
   * Runs `body` in one transaction: everything it writes commits together or not at all.
   * Statements from elsewhere wait, so nothing interleaves with the transaction.
   */
  async transaction<T>(body: (tx: Transaction) => Promise<T>): Promise<T> {
    // A transaction never waits on a stream batch: it may be a commit under the catalog's lock,
    // which the stream's own commit waits for.
    return this.enqueue(async () => {
      await this.connection.run('BEGIN TRANSACTION');
      const tx: Transaction = {
        run: async (sql, params) => (await this.connection.run(sql, params)).rowsChanged,
        query: async <R = Row>(sql: string, params?: DuckDBValue[] | Record<string, DuckDBValue>) =>
          (await this.connection.runAndReadAll(sql, params)).getRowObjectsJS() as R[],
      };
      try {
        const result = await body(tx);
        await this.connection.run('COMMIT');
        return result;
      } catch (error) {
        await this.connection.run('ROLLBACK').catch(() => undefined);
        throw error;
      }
    }, false);
  }

  /** The kind of each statement in `sql` (SELECT, INSERT, …), found by preparing, not running, them. */
  async statementTypes(sql: string): Promise<string[]> {
    return this.enqueue(async () => {
      const extracted = await this.connection.extractStatements(sql);
      const kinds: string[] = [];
      for (let i = 0; i < extracted.count; i++) {
        kinds.push(StatementType[(await extracted.prepare(i)).statementType] ?? 'UNKNOWN');
      }
      return kinds;
    });
  }

  /** Tables a query reads, as DuckDB's parser sees them (views are expanded). */
  tableNames(sql: string): string[] {
    return [...this.connection.getTableNames(sql, false)];
  }

  /** Progress of the statement running now; polled by progress reporters. */
  progress(): QueryProgress {
    const p = this.connection.progress;
    return { percentage: p.percentage, rowsProcessed: Number(p.rows_processed), totalRows: Number(p.total_rows_to_process) };
  }

  /**
   * Stops this engine's work: the running statement fails with an "Interrupted" error, and so does
   * every statement after it. DuckDB forgets an interrupt that comes before a statement reaches it
   * (between two statements of a model, say), so it is repeated while one is under way.
   */
  interrupt(): void {
    this.halted = true;
    this.connection.interrupt();
    if (this.reinterrupt) return;
    this.reinterrupt = setInterval(() => {
      if (this.pending) this.connection.interrupt();
      else this.stopReinterrupting();
    }, REINTERRUPT_MS);
    this.reinterrupt.unref();
  }

  private stopReinterrupting(): void {
    clearInterval(this.reinterrupt);
    this.reinterrupt = undefined;
  }

  /**
   * A second connection to the same database, for work that must run beside this one. A
   * `background` one (model runs, compactions) gives way to stream micro-batches: each of its
   * statements starts once none is working, or after waiting STREAM_FIRST_MS at most.
   */
  async fork(options: { background?: boolean } = {}): Promise<Engine> {
    const connection = await this.instance.connect();
    for (const statement of this.family.session) await connection.run(statement);
    return new Engine(this.instance, connection, this.path, this.family, options.background ?? false);
  }

  /**
   * Runs a stream micro-batch's engine work (its load and staging): background engines of the
   * instance start no statement meanwhile, so the batch has the cores to itself but for a
   * statement already running. Commits are not covered: they may wait on the catalog's lock.
   */
  async streamBatch<T>(work: () => Promise<T>): Promise<T> {
    const done = this.family.streaming.begin();
    try {
      return await work();
    } finally {
      done();
    }
  }

  close(): void {
    this.stopReinterrupting();
    this.family.engines.delete(this);
    this.connection.closeSync();
  }

  /**
   * Closes every connection and the database, releasing its file for another process. What still
   * runs (a view refresh a commit set off, a catalog sync) is interrupted and waited for first:
   * DuckDB closing a connection under a running statement deadlocks or crashes the process.
   */
  closeAll(): Promise<void> {
    this.family.closing = true;
    const engines = [...this.family.engines];
    const close = () => {
      for (const engine of engines) engine.connection.closeSync();
      this.family.engines.clear();
      this.instance.closeSync();
    };
    // Idle, it closes at once: a caller that does not wait still frees the database's file now.
    if (engines.every((engine) => engine.pending === 0)) return Promise.resolve(close());
    for (const engine of engines) if (engine.pending) engine.interrupt();
    return Promise.all(engines.map((engine) => engine.queue)).then(close);
  }
}

/** The connections of one database and what they share. */
interface Family {
  engines: Set<Engine>;
  session: string[];
  views: string;
  closing: boolean;
  streaming: StreamTurns;
  /** Statements under way on any connection, each as a promise that settles when it ends. */
  running: Set<Promise<void>>;
}

/** What a statement asked of an interrupted engine fails with: DuckDB's own words for one it interrupted. */
const INTERRUPTED = 'INTERRUPT Error: Interrupted! (its work was stopped before this statement)';
/** How often an interrupt is repeated while a statement is under way. */
const REINTERRUPT_MS = 50;

/** How long a background statement waits for stream micro-batches at most: batch work is slowed, never stopped. */
const STREAM_FIRST_MS = 1_000;

/** Stream micro-batches working now, and the background statements waiting for none to be. */
class StreamTurns {
  private working = 0;
  private waiting: (() => void)[] = [];

  begin(): () => void {
    this.working++;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      if (--this.working === 0) for (const wake of this.waiting.splice(0)) wake();
    };
  }

  /** Resolves when no micro-batch is working, or after STREAM_FIRST_MS. */
  clear(): Promise<void> {
    if (this.working === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting = this.waiting.filter((w) => w !== wake);
        resolve();
      }, STREAM_FIRST_MS);
      const wake = () => {
        clearTimeout(timer);
        resolve();
      };
      this.waiting.push(wake);
    });
  }
}

export interface Transaction {
  /** Returns the rows the statement inserted, updated or deleted. */
  run(sql: string, params?: DuckDBValue[] | Record<string, DuckDBValue>): Promise<number>;
  query<R = Row>(sql: string, params?: DuckDBValue[] | Record<string, DuckDBValue>): Promise<R[]>;
}
