import { withFamily } from '../../core/component.js';
import { z } from 'zod';
import type { CatalogTransaction, ColumnInfo, Metastore, RunCounts } from '../../catalog/index.js';
import type { Component } from '../../core/component.js';
import { identifier } from '../../core/schemas.js';
import type { Engine } from '../../engine/index.js';
import { quoteIdent } from '../../engine/index.js';
import type { OffsetMove } from '../../core/offsets.js';
import type { Lake } from '../../lake/index.js';

/**
 * A store is where tables are written: the lake, the embedded warehouse, PostgreSQL, MySQL. Batch
 * materialisations and stream sinks write through the same stores, so a model lands in
 * PostgreSQL the same way whether a daily run or a micro-batch computed it.
 *
 * A write has two steps. `stage` does the heavy work without holding anything (Parquet files, a
 * build table, nothing at all for a store that reads the relation at commit); `commit` makes every
 * staged table and the progress that goes with it (stream offsets, a run record) visible in one
 * atomic step of the store.
 */

/** How a merged column combines the stored value with a batch's: added, the least, the greatest, counted, or the latest by a column. */
export const mergeFunction = z.union([z.enum(['sum', 'min', 'max', 'count']), z.object({ last: identifier }).strict()]);
export type MergeFunction = z.output<typeof mergeFunction>;

export interface TableShape {
  name: string;
  /** The model's output columns, DuckDB-typed. */
  columns: ColumnInfo[];
  /** Columns identifying a row: merge keys, or a serving table's lookup key. */
  keys?: string[];
  /** Merge tables: each non-key column's function. */
  merge?: Record<string, MergeFunction>;
  /** Lake tables: partition column → SQL expression. */
  partitionBy?: Record<string, string>;
  timeColumn?: string;
  lookupKey?: string;
  description?: string;
  /**
   * What a write into an existing table does when the model's columns changed since it was made
   * (dbt's on_schema_change): writes the columns they share (`ignore`), refuses (`fail`), adds the
   * new columns (`append_new_columns`), or also drops the removed ones and changes types (`sync_all_columns`).
   */
  onSchemaChange?: SchemaChange;
}

export type SchemaChange = 'ignore' | 'fail' | 'append_new_columns' | 'sync_all_columns';

/**
 * The rows a replace takes the place of: those whose column is one of some values (a day's date
 * partition), or falls in [from, to) (a data interval on a time column).
 */
export type ReplaceScope = { column: string; values: (string | null)[] } | { column: string; from: string; to: string };

/**
 * What a commit does to a table's existing rows: keeps them, merges into them (merge functions),
 * replaces them (all, or a scope), or replaces those sharing a key with a new row (upsert: dbt's
 * merge and delete+insert).
 */
export type WriteMode = { kind: 'append' } | { kind: 'merge' } | { kind: 'replace'; scope?: ReplaceScope } | { kind: 'upsert'; keys: string[] };

/** A scope as a SQL condition; literals are text, which every store casts to the column's type. */
export function scopeCondition(scope: ReplaceScope, quote: (name: string) => string): string {
  const column = quote(scope.column);
  if ('values' in scope) {
    const values = scope.values.filter((v): v is string => v !== null);
    const parts = [values.length ? `${column} IN (${values.map((v) => `'${v.replace(/'/g, "''")}'`).join(', ')})` : '', scope.values.includes(null) ? `${column} IS NULL` : ''];
    return `(${parts.filter(Boolean).join(' OR ') || 'false'})`;
  }
  const literal = (iso: string) => `'${iso.replace('T', ' ').replace('Z', '')}'`;
  return `(${column} >= ${literal(scope.from)} AND ${column} < ${literal(scope.to)})`;
}

export interface StageRequest {
  shape: TableShape;
  /** A relation (SQL) of the engine holding the rows. */
  relation: string;
  mode: WriteMode;
  runId: string;
  /** A column whose value 'ok' marks rows to keep; others are counted by value and dropped. */
  divertBy?: string;
  /**
   * With `divertBy`: a column whose value in each diverted row the stage hands back (`Staged.noted`)
   * unless it is NULL. Diverted rows are never written, so a load may put a note of its own in it
   * (the fingerprint of a failing record's text), and NULL in the diverted rows it needs none of.
   */
  noteIn?: string;
  /**
   * A relation of the same columns and types as `relation`, cheaper to bind (a source read over
   * one file of each layout where `relation` reads 90,000): a store learns the shape from it and
   * reads the rows from `relation`. A store may ignore it.
   */
  shapeOf?: string;
}

export interface Staged {
  table: string;
  /** Rows the commit will write, when known before it. */
  rows: number | undefined;
  diverted: Map<string, number>;
  /** The `noteIn` column of each diverted row where it is not NULL, with its verdict. */
  noted?: DivertedNote[];
  /** Columns as the table will have them (a lake table's partition columns come last). */
  columns: ColumnInfo[];
}

export interface DivertedNote {
  verdict: string;
  note: string;
}

/** Bookkeeping that commits with the rows, atomically. */
export interface CommitUnit {
  operation: string;
  runId?: string;
  /** A stream sink's offsets, moved only if they still stand where the batch started, and its state (watermark). */
  progress?: { job: string; sink: string; move: OffsetMove; state?: Record<string, number> };
  /** Rows that came after their window closed: written to `<job>_late`. */
  late?: { table: string; relation: string; columns: ColumnInfo[] };
  /** A batch run to record as finished with the rows. */
  run?: { runId: string; target: string } & RunCounts;
  /** Metastore writes that must commit with the rows (lineage, quarantine); the warehouse and the lake run them in the same transaction, other stores right after. */
  inside?: (tx: CatalogTransaction) => Promise<void>;
}

export interface Store {
  readonly kind: string;
  /** The engine reads its tables (the lake, the warehouse): other models may read them with ref(). */
  readonly readable: boolean;
  /** It keeps the rows a write stages (false for a view, computed when read): a load may divert bad rows on the way in. */
  readonly holdsRows: boolean;
  /**
   * Checks what it needs before a run writes anything (a database URL in the environment, a
   * connection to its database); throws with what to do.
   */
  check(): void | Promise<void>;
  /** Creates or evolves what the tables need (idempotent). */
  prepare(engine: Engine, shapes: readonly TableShape[], options: { late?: { table: string; columns: ColumnInfo[] } }): Promise<void>;
  offsets(job: string, sink: string): Promise<Map<number, number>>;
  state(job: string, sink: string, key: string): Promise<number | undefined>;
  stage(engine: Engine, request: StageRequest): Promise<Staged>;
  /** Commits staged tables and `unit` atomically; returns rows written per table. */
  commit(engine: Engine, staged: readonly Staged[], unit: CommitUnit): Promise<Record<string, number>>;
  /**
   * True when `commit` is one transaction of the catalog on the engine it is given, with
   * `unit.inside` in it: other writes of the catalog's database can ride in the same commit.
   */
  readonly commitsWithCatalog?: boolean;
  /**
   * The writes of `commit`, inside a catalog transaction another store's commit opened, for a
   * store whose rows live in the catalog's database (the warehouse): several stream sinks then
   * commit a micro-batch as one transaction instead of one each.
   */
  writeIn?(tx: CatalogTransaction, staged: readonly Staged[], unit: CommitUnit): Promise<Record<string, number>>;
  discard(engine: Engine, staged: readonly Staged[]): Promise<void>;
  close(): Promise<void>;
}

/** What a store is made with: the project's metastore, lake and warehouse, and who uses it (for messages). */
export interface StoreContext {
  metastore: Metastore;
  lake: Lake;
  /** Where the store is declared, e.g. `streams.live.sinks.serving` or `models.daily`. */
  field: string;
}

export type StoreComponent<Kind extends string = string, Config extends z.ZodType = z.ZodType> = Component<Kind, Config, StoreContext, Store>;

/** A store (Tributary's or a project's): `kind` names it in a target's stores or a stream's sinks. */
export function defineStore<const Kind extends string, Config extends z.ZodType>(component: StoreComponent<Kind, Config>) {
  return withFamily('store', 'kind', component);
}

/** Merge functions by column: declared ones, else a sum. */
export function mergeFunctions(shape: TableShape): Record<string, MergeFunction> {
  const keys = new Set(shape.keys ?? []);
  return Object.fromEntries(shape.columns.filter((c) => !keys.has(c.name)).map((c) => [c.name, shape.merge?.[c.name] ?? 'sum']));
}

/** The `noteIn` column of a judged table's diverted rows where it is not NULL (few: the failing ones), with their verdicts. */
export function divertedNotes(engine: Engine, judged: string, divertBy: string, noteIn: string): Promise<DivertedNote[]> {
  return engine.queryJson<DivertedNote>(
    `SELECT ${quoteIdent(divertBy)} AS verdict, ${quoteIdent(noteIn)}::VARCHAR AS note FROM ${judged} WHERE ${quoteIdent(divertBy)} <> 'ok' AND ${quoteIdent(noteIn)} IS NOT NULL`,
  );
}
