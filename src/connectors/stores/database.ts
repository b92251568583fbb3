import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ColumnInfo } from '../../catalog/index.js';
import { TributaryError } from '../../core/errors.js';
import { isAlive } from '../../core/folder-lock.js';
import { OffsetConflict, offsetMismatch, type OffsetMove } from '../../core/offsets.js';
import type { Engine } from '../../engine/index.js';
import { quoteIdent, quoteLiteral } from '../../engine/index.js';
import { mergeAssignments, mergeProblem, reduceBatch, type MergeDialect } from './merge.js';
import { divertedNotes, scopeCondition, type CommitUnit, type Staged, type StageRequest, type Store, type StoreContext, type TableShape } from './types.js';

/**
 * What a relational database outside the warehouse must provide: its spelling of names, types and
 * statements, and a connection. PostgreSQL and MySQL each implement it in a file of their own;
 * the store below does the rest the same way for both.
 */
export interface DatabaseDialect {
  /** For messages: 'PostgreSQL', 'MySQL'. */
  readonly label: string;
  /** The connection URL (from the environment); throws, saying what to set, when it is missing. */
  url(): string;
  quote(name: string): string;
  /** The n-th statement parameter (1-based); with a DuckDB type, typed as that (a database may otherwise guess from context). */
  param(n: number, duckType?: string): string;
  /** A DuckDB type as this database spells it; explicit, so nothing is truncated or mistyped. `keyText` bounds a text key's length. */
  type(duckType: string, keyText: number | false): string;
  /** How a column of this DuckDB type travels from the engine (SQL over `expr`): exact text for what JSON would bend. */
  transport(duckType: string, expr: string): string;
  /** A text column for the bookkeeping tables' names and keys. */
  readonly keyTextType: string;
  /** The merge dialect of an upsert (stored and incoming values). */
  readonly upsert: MergeDialect;
  connect(): Promise<DatabaseConnection>;
  /** `INSERT … ON CONFLICT …` clause of an upsert on `keys`, given the assignments. */
  onConflict(keys: readonly string[], assignments: readonly string[]): string;
  /** A statement that inserts or overwrites a row identified by its first `keyColumns` columns. */
  upsertRow(table: string, columns: readonly string[], keyColumns: number): string;
  /** The columns a table has now (lower-cased names), to add what a newer model outputs. */
  existingColumns(db: DatabaseConnection, table: string): Promise<Set<string>>;
  /** The database's bulk loader (COPY, LOAD DATA), when it has one: rows then go as a file, not as statement parameters. */
  readonly bulk?: BulkFormat;
}

/**
 * A CSV file the engine writes and the database's bulk loader reads back value for value: NULL
 * and the empty string kept apart, text with quotes and line breaks whole, exact decimals.
 */
export interface BulkFormat {
  /** The engine's `COPY … TO` options that write the file. */
  readonly csv: string;
  /** How a column of this DuckDB type is written (SQL over `expr`); undefined when the loader cannot read it back exactly. */
  transport(duckType: string, expr: string): string | undefined;
}

export interface DatabaseConnection {
  query(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  begin(): Promise<void>;
  commit(): Promise<void>;
  rollback(): Promise<void>;
  /** Inserts rows given column by column; `suffix` follows the statement (an upsert clause). */
  insert(table: string, columns: readonly ColumnInfo[], data: readonly unknown[][], suffix?: string): Promise<void>;
  /** Loads a file written in the dialect's bulk format into the table's columns, in the open transaction; resolves to the rows loaded. */
  load?(table: string, columns: readonly ColumnInfo[], file: string): Promise<number>;
  close(): Promise<void>;
}

/** Rows moved per insert statement. */
const CHUNK_ROWS = 20_000;
/** Folder of bulk-load files under the engine's spill folder; each file is named after the process that writes it. */
const BULK_FOLDER = 'tributary-bulk';

interface DatabaseStaged extends Staged {
  shape: TableShape;
  mode: StageRequest['mode'];
  relation: string;
  /** The temp table a load's rows were judged into, dropped when done. */
  judged?: string;
}

/** A URL from the environment: secrets stay out of the config, and out of every message. */
export function databaseUrl(field: string, urlEnv: string | undefined, example: string, schemes: readonly string[]): string {
  const name = urlEnv ?? 'TRIBUTARY_DATABASE_URL';
  const url = process.env[name];
  if (!url) {
    throw new TributaryError(`${field} needs a database URL in the environment variable ${name}`, {
      hint: `export ${name}=${example} (it is read from the environment so that secrets stay out of the project)`,
    });
  }
  // The value is never shown: it may hold a password.
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
  if (!scheme || !schemes.includes(scheme) || !URL.canParse(url)) {
    throw new TributaryError(`${field}: the environment variable ${name} holds no ${schemes.map((s) => `${s}://`).join(' or ')} URL`, {
      hint: `set it to a URL such as ${example}, with the password percent-encoded if it has characters such as @ : / # ?`,
    });
  }
  return url;
}

/**
 * Tables in PostgreSQL or MySQL. Each commit is one transaction of that database holding the
 * rows, merges, late rows, and the progress that goes with them (a stream's offsets, a batch
 * run's record) in bookkeeping tables of its own, so its tables and its progress never disagree.
 * The rows go from the engine as a file the database bulk-loads (COPY, LOAD DATA), or else in
 * chunks of inserts: nothing the size of a table is held in memory.
 */
export class DatabaseStore implements Store {
  readonly holdsRows = true;
  readonly readable = false;
  /** Its rows commit in its database; the catalog's bookkeeping follows in a transaction of its own. */
  readonly commitsWithCatalog = false;
  private connection: DatabaseConnection | undefined;
  /** Tables this store has made (or checked) since it opened. */
  private readonly made = new Set<string>();

  constructor(
    readonly kind: string,
    private readonly dialect: DatabaseDialect,
    private readonly context: StoreContext,
  ) {}

  /** The URL and a connection, before a run's first model: a database that cannot be reached fails the run before anything else ran. */
  async check(): Promise<void> {
    this.dialect.url();
    await this.db();
  }

  private async db(): Promise<DatabaseConnection> {
    if (!this.connection) {
      try {
        this.connection = await this.dialect.connect();
      } catch (error) {
        throw new TributaryError(`cannot connect to ${this.dialect.label}: ${(error as Error).message}`, {
          place: { field: this.context.field },
          hint: `check that ${this.dialect.label} runs and that the URL in the environment is right`,
        });
      }
      const q = (n: string) => this.dialect.quote(n);
      const text = this.dialect.keyTextType;
      await this.connection.query(
        `CREATE TABLE IF NOT EXISTS tributary_stream_offsets (job ${text} NOT NULL, sink ${text} NOT NULL, ${q('partition')} INTEGER NOT NULL, next_offset BIGINT NOT NULL, PRIMARY KEY (job, sink, ${q('partition')}))`,
      );
      await this.connection.query(
        `CREATE TABLE IF NOT EXISTS tributary_stream_state (job ${text} NOT NULL, sink ${text} NOT NULL, ${q('key')} ${text} NOT NULL, value DOUBLE PRECISION, PRIMARY KEY (job, sink, ${q('key')}))`,
      );
      await this.connection.query(
        `CREATE TABLE IF NOT EXISTS tributary_runs (run_id ${text} NOT NULL PRIMARY KEY, target ${text} NOT NULL, status ${text} NOT NULL, ${q('read')} BIGINT, written BIGINT NOT NULL, quarantined BIGINT NOT NULL, finished_at ${this.dialect.type('TIMESTAMP', false)} NOT NULL)`,
      );
    }
    return this.connection;
  }

  async prepare(engine: Engine, shapes: readonly TableShape[], options: { late?: { table: string; columns: ColumnInfo[] } }): Promise<void> {
    const db = await this.db();
    for (const shape of shapes) {
      const problem = shape.merge || shape.keys ? mergeProblem(shape) : undefined;
      if (problem) throw new TributaryError(`table '${shape.name}' cannot merge: ${problem}`, { place: { field: this.context.field } });
      await this.createTable(db, shape);
    }
    if (options.late) await this.createTable(db, { name: options.late.table, columns: options.late.columns });
    await this.context.metastore.commit(engine, { operation: 'prepare' }, async (tx) => {
      for (const shape of shapes) {
        await tx.registerTable({ name: shape.name, kind: 'table', store: this.kind, location: this.dialect.label, columns: shape.columns, timeColumn: shape.timeColumn, description: shape.description });
      }
    });
  }

  private async createTable(db: DatabaseConnection, shape: Pick<TableShape, 'name' | 'columns' | 'keys' | 'merge'>): Promise<void> {
    this.made.add(shape.name);
    const q = (n: string) => this.dialect.quote(n);
    const keys = shape.merge ? (shape.keys ?? []) : [];
    const textKeys = shape.columns.filter((c) => keys.includes(c.name) && c.type === 'VARCHAR').length;
    // MySQL indexes at most 3,072 bytes of a key, 4 a character: room for every text key column.
    const keyText = Math.floor(740 / Math.max(1, textKeys));
    const columns = shape.columns.map((c) => `${q(c.name)} ${this.dialect.type(c.type, keys.includes(c.name) && keyText)}${keys.includes(c.name) ? ' NOT NULL' : ''}`);
    await db.query(`CREATE TABLE IF NOT EXISTS ${q(shape.name)} (${columns.join(', ')}${keys.length ? `, PRIMARY KEY (${keys.map(q).join(', ')})` : ''})`);
    // A table made by an earlier version of the model gains the columns the model now adds.
    const existing = await this.dialect.existingColumns(db, shape.name);
    for (const c of shape.columns) {
      if (!existing.has(c.name.toLowerCase())) await db.query(`ALTER TABLE ${q(shape.name)} ADD COLUMN ${q(c.name)} ${this.dialect.type(c.type, false)}`);
    }
    if (shape.merge && !keys.length) {
      const rows = await db.query(`SELECT count(*) AS n FROM ${q(shape.name)}`);
      if (Number(rows[0]!.n) === 0) await db.query(`INSERT INTO ${q(shape.name)} VALUES (${shape.columns.map(() => '0').join(', ')})`);
    }
  }

  /**
   * Moves a sink's offsets if they still stand where its batch started (OffsetConflict otherwise,
   * and the transaction rolls back): the rows are locked until the commit, and a partition's first
   * offset is a plain insert, so two workers that both found none cannot both commit it.
   */
  private async moveOffsets(db: DatabaseConnection, job: string, sink: string, move: OffsetMove): Promise<void> {
    if (!move.to.size) return;
    const q = (n: string) => this.dialect.quote(n);
    const p = (n: number) => this.dialect.param(n);
    const rows = await db.query(
      `SELECT ${q('partition')} AS p, next_offset AS o FROM tributary_stream_offsets WHERE job = ${p(1)} AND sink = ${p(2)} AND ${q('partition')} IN (${[...move.to.keys()].join(', ')}) FOR UPDATE`,
      [job, sink],
    );
    const mismatch = offsetMismatch(move, new Map(rows.map((r) => [Number(r.p), Number(r.o)])));
    if (mismatch) throw new OffsetConflict(job, sink, mismatch);
    for (const [partition, next] of move.to) {
      if (move.from.has(partition)) {
        await db.query(`UPDATE tributary_stream_offsets SET next_offset = ${p(1)} WHERE job = ${p(2)} AND sink = ${p(3)} AND ${q('partition')} = ${p(4)}`, [next, job, sink, partition]);
        continue;
      }
      try {
        await db.query(`INSERT INTO tributary_stream_offsets (job, sink, ${q('partition')}, next_offset) VALUES (${p(1)}, ${p(2)}, ${p(3)}, ${p(4)})`, [job, sink, partition, next]);
      } catch (error) {
        // Another worker inserted the partition's first offset since the check above.
        if (/duplicate|unique/i.test((error as Error).message)) throw new OffsetConflict(job, sink, { partition, found: undefined });
        throw error;
      }
    }
  }

  async offsets(job: string, sink: string): Promise<Map<number, number>> {
    const db = await this.db();
    const p = (n: number) => this.dialect.param(n);
    const rows = await db.query(`SELECT ${this.dialect.quote('partition')} AS p, next_offset AS o FROM tributary_stream_offsets WHERE job = ${p(1)} AND sink = ${p(2)}`, [job, sink]);
    return new Map(rows.map((r) => [Number(r.p), Number(r.o)]));
  }

  async state(job: string, sink: string, key: string): Promise<number | undefined> {
    const db = await this.db();
    const p = (n: number) => this.dialect.param(n);
    const rows = await db.query(`SELECT value FROM tributary_stream_state WHERE job = ${p(1)} AND sink = ${p(2)} AND ${this.dialect.quote('key')} = ${p(3)}`, [job, sink, key]);
    return rows[0] ? Number(rows[0].value) : undefined;
  }

  async stage(engine: Engine, request: StageRequest): Promise<DatabaseStaged> {
    if (request.mode.kind === 'upsert') {
      throw new TributaryError(`table '${request.shape.name}': ${this.dialect.label} does not take incremental merge or delete+insert yet`, { hint: 'keep the incremental model in the embedded warehouse, or use the append strategy' });
    }
    // A batch model's table is made (or given its new columns) before the transaction that fills it:
    // MySQL's DDL would end a transaction, and PostgreSQL's need not wait for the rows.
    // A model's table is made (or given the columns it now has) before every rebuild; any other
    // table once, before its first write (a stream's were made when it opened).
    if (request.mode.kind === 'replace' || !this.made.has(request.shape.name)) await this.createTable(await this.db(), request.shape);
    let relation = request.relation;
    const diverted = new Map<string, number>();
    let rows: number | undefined;
    let judged: string | undefined;
    if (request.divertBy) {
      // Judged once into a temp table: the verdicts are counted, the kept rows move at commit.
      judged = `__judged_${request.shape.name}_${request.runId.replace(/\W/g, '_')}`;
      await engine.run(`CREATE OR REPLACE TEMP TABLE ${judged} AS SELECT * FROM ${request.relation}`);
      for (const c of await engine.query<{ v: string; n: bigint }>(`SELECT ${quoteIdent(request.divertBy)} AS v, count(*) AS n FROM ${judged} GROUP BY 1`)) {
        if (c.v === 'ok') rows = Number(c.n);
        else diverted.set(c.v, Number(c.n));
      }
      rows ??= 0;
      relation = `(SELECT * FROM ${judged} WHERE ${quoteIdent(request.divertBy)} = 'ok')`;
    }
    const noted = judged && request.noteIn ? await divertedNotes(engine, judged, request.divertBy!, request.noteIn) : undefined;
    return { table: request.shape.name, rows, diverted, noted, columns: request.shape.columns, shape: request.shape, mode: request.mode, relation, judged };
  }

  async commit(engine: Engine, staged: readonly Staged[], unit: CommitUnit): Promise<Record<string, number>> {
    const db = await this.db();
    const q = (n: string) => this.dialect.quote(n);
    const counts: Record<string, number> = {};
    await db.begin();
    try {
      for (const s of staged as DatabaseStaged[]) {
        const keys = s.shape.keys ?? [];
        if (s.mode.kind === 'merge' && !keys.length) {
          // A single row of totals: the batch's totals are added to it.
          const reduced = await engine.query<Record<string, unknown>>(reduceBatch(s.shape, s.relation));
          const columns = Object.keys(reduced[0] ?? {});
          const typeOf = (c: string) => s.shape.columns.find((column) => column.name === c)?.type;
          const assignments = mergeAssignments(s.shape, { ...this.dialect.upsert, incoming: (c) => this.dialect.param(columns.indexOf(c) + 1, typeOf(c)) });
          await db.query(`UPDATE ${q(s.table)} AS t SET ${assignments.join(', ')}`, Object.values(reduced[0] ?? {}).map(plain));
          counts[s.table] = 1;
          continue;
        }
        if (s.mode.kind === 'replace') await db.query(`DELETE FROM ${q(s.table)}${s.mode.scope ? ` WHERE ${scopeCondition(s.mode.scope, q)}` : ''}`);
        const suffix = s.mode.kind === 'merge' ? this.dialect.onConflict(keys, mergeAssignments(s.shape, this.dialect.upsert)) : undefined;
        const source = s.mode.kind === 'merge' ? `(${reduceBatch(s.shape, s.relation)})` : s.relation;
        counts[s.table] = await this.move(engine, db, s.table, s.shape.columns, source, suffix);
      }
      if (unit.late) await this.move(engine, db, unit.late.table, unit.late.columns, unit.late.relation);
      if (unit.progress) await this.moveOffsets(db, unit.progress.job, unit.progress.sink, unit.progress.move);
      if (unit.progress) {
        for (const [key, value] of Object.entries(unit.progress.state ?? {})) {
          await db.query(this.dialect.upsertRow('tributary_stream_state', ['job', 'sink', 'key', 'value'], 3), [unit.progress.job, unit.progress.sink, key, value]);
        }
      }
      const run = unit.run && { ...unit.run, written: counts[unit.run.target] ?? unit.run.written };
      if (run) {
        await db.query(this.dialect.upsertRow('tributary_runs', ['run_id', 'target', 'status', 'read', 'written', 'quarantined', 'finished_at'], 1), [
          run.runId,
          run.target,
          'success',
          run.read,
          run.written,
          run.quarantined,
          new Date().toISOString().replace('T', ' ').replace('Z', ''),
        ]);
      }
      await db.commit();
    } catch (error) {
      await db.rollback().catch(() => undefined);
      throw error;
    } finally {
      await this.discard(engine, staged);
    }
    // The warehouse's own bookkeeping follows the database's commit (it cannot share its transaction).
    await this.context.metastore.commit(engine, { operation: unit.operation, runId: unit.runId }, async (tx) => {
      for (const s of staged as DatabaseStaged[]) {
        tx.changed(s.table, 'rows');
        if (s.mode.kind === 'replace') {
          await tx.registerTable({ name: s.table, kind: 'table', store: this.kind, location: this.dialect.label, columns: s.shape.columns, timeColumn: s.shape.timeColumn, description: s.shape.description });
        }
      }
      if (unit.run) await tx.finishRun(unit.run.runId, 'success', { ...unit.run, written: counts[unit.run.target] ?? unit.run.written });
      if (unit.inside) await unit.inside(tx);
    });
    return counts;
  }

  /**
   * Moves a relation's rows from the engine into a table. With a bulk loader (and no upsert
   * clause) the engine writes them as one CSV file, in parallel, and the database reads it (about
   * four times the rows per second of parameterised inserts, and no row ever becomes a JavaScript
   * value); otherwise they stream through inserts, a chunk at a time.
   */
  private async move(engine: Engine, db: DatabaseConnection, table: string, columns: readonly ColumnInfo[], relation: string, suffix?: string): Promise<number> {
    const { bulk } = this.dialect;
    const load = db.load;
    const fields = bulk && load && !suffix ? columns.map((c) => bulk.transport(c.type, quoteIdent(c.name))) : [];
    if (bulk && load && fields.length && fields.every((f): f is string => f !== undefined)) {
      const select = `SELECT ${fields.map((f, i) => `${f} AS ${quoteIdent(columns[i]!.name)}`).join(', ')} FROM ${relation}`;
      return this.bulkMove(engine, (file) => load(table, columns, file), table, select, bulk.csv);
    }
    return this.insertMove(engine, db, table, columns, relation, suffix);
  }

  /** The rows as a file the engine writes and the database loads; the counts each side reports must agree. */
  private async bulkMove(engine: Engine, load: (file: string) => Promise<number>, table: string, select: string, csv: string): Promise<number> {
    const file = await bulkFile(engine, table);
    try {
      const copied = await engine.query<{ Count: bigint }>(`COPY (${select}) TO ${quoteLiteral(file)} (${csv})`);
      const rows = Number(copied[0]?.Count ?? 0);
      const loaded = await load(file);
      if (loaded !== rows) throw new TributaryError(`${this.dialect.label} loaded ${loaded} rows of the ${rows} the engine wrote for table '${table}'; nothing was committed`);
      return rows;
    } finally {
      rmSync(file, { force: true });
    }
  }

  /** Streams a relation's rows from the engine into a table through inserts, a chunk at a time. */
  private async insertMove(engine: Engine, db: DatabaseConnection, table: string, columns: readonly ColumnInfo[], relation: string, suffix?: string): Promise<number> {
    const select = columns.map((c) => `${this.dialect.transport(c.type, quoteIdent(c.name))} AS ${quoteIdent(c.name)}`).join(', ');
    let pending: unknown[][] = columns.map(() => []);
    let count = 0;
    const flush = async () => {
      if (!pending[0]!.length) return;
      await db.insert(table, columns, pending, suffix);
      pending = columns.map(() => []);
    };
    await engine.stream(
      `SELECT ${select} FROM ${relation}`,
      () => undefined,
      async (rows) => {
        for (const row of rows) columns.forEach((c, i) => pending[i]!.push(row[c.name]));
        count += rows.length;
        if (pending[0]!.length >= CHUNK_ROWS) await flush();
      },
    );
    await flush();
    return count;
  }

  async discard(engine: Engine, staged: readonly Staged[]): Promise<void> {
    for (const s of staged as DatabaseStaged[]) if (s.judged) await engine.run(`DROP TABLE IF EXISTS ${s.judged}`);
  }

  async close(): Promise<void> {
    await this.connection?.close().catch(() => undefined);
    this.connection = undefined;
  }
}

/**
 * A fresh path for a bulk-load file, in the engine's spill folder (where the project keeps large
 * transient data), or the system's temporary folder when the engine has none. Files left by a
 * process that died mid-load are removed first: their names carry the process id.
 */
async function bulkFile(engine: Engine, table: string): Promise<string> {
  const spill = await engine.scalar<string>(`SELECT current_setting('temp_directory')`).catch(() => '');
  const folder = path.join(spill && path.isAbsolute(spill) ? spill : tmpdir(), BULK_FOLDER);
  mkdirSync(folder, { recursive: true });
  for (const name of readdirSync(folder)) {
    const pid = Number(/^(\d+)-/.exec(name)?.[1]);
    if (pid && pid !== process.pid && !isAlive(pid)) rmSync(path.join(folder, name), { force: true });
  }
  return path.join(folder, `${process.pid}-${randomBytes(6).toString('hex')}-${table.replace(/[^\w-]/g, '_')}.csv`);
}


/** JSON-safe values as a driver takes them. */
function plain(value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}
