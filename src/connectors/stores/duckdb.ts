import { z } from 'zod';
import type { CatalogTransaction } from '../../catalog/index.js';
import { TributaryError } from '../../core/errors.js';
import type { Engine } from '../../engine/index.js';
import { quoteIdent } from '../../engine/index.js';
import { mergeAssignments, mergeProblem, reduceBatch } from './merge.js';
import { type CommitUnit, defineStore, scopeCondition, type Staged, type StageRequest, type Store, type StoreContext, type TableShape } from './types.js';

const schema = z.object({ kind: z.literal('duckdb') }).strict();

interface WarehouseStaged extends Staged {
  shape: TableShape;
  mode: StageRequest['mode'];
  /** Where the rows are: the request's relation, or a table the stage built. */
  source: string;
  /** A table the stage built, dropped after the commit. */
  built?: string;
}

const main = (table: string) => `main.${quoteIdent(table)}`;

/** Where the warehouse's own tables are: `main` of the state's database (the shared catalog's, when there is one). */
const IN_WAREHOUSE = `database_name = current_database() AND schema_name = 'main' AND NOT temporary`;

/**
 * Drops what the warehouse holds under `name`, a table or a view (a model that changed
 * materialisation), inside a commit; DuckDB refuses to drop one kind by the other's name.
 */
export async function dropFromWarehouse(tx: Pick<CatalogTransaction, 'query' | 'run'>, name: string): Promise<void> {
  const [found] = await tx.query<{ kind: string }>(
    `SELECT 'TABLE' AS kind FROM duckdb_tables() WHERE ${IN_WAREHOUSE} AND table_name = $1
     UNION ALL SELECT 'VIEW' FROM duckdb_views() WHERE ${IN_WAREHOUSE} AND view_name = $1`,
    [name],
  );
  if (found) await tx.run(`DROP ${found.kind} ${main(name)}`);
}

/**
 * Serving tables in the embedded warehouse. Rows, merges, offsets, run records and the catalog's
 * bookkeeping commit in one DuckDB transaction. A table rebuilt in full is built beside the live
 * one first and swapped in at commit, so readers and stream commits never wait on the build.
 */
class WarehouseStore implements Store {
  readonly kind = 'duckdb';
  readonly holdsRows = true;
  readonly readable = true;

  constructor(private readonly context: StoreContext) {}

  check(): void {}

  async prepare(engine: Engine, shapes: readonly TableShape[], options: { late?: { table: string; columns: TableShape['columns'] } }): Promise<void> {
    for (const shape of shapes) {
      const problem = shape.merge || shape.keys ? mergeProblem(shape) : undefined;
      if (problem) throw new TributaryError(`table '${shape.name}' cannot merge: ${problem}`, { place: { field: this.context.field } });
    }
    await this.context.metastore.commit(engine, { operation: 'prepare', makesTables: true }, async (tx) => {
      for (const shape of shapes) {
        await this.create(tx, shape);
        await tx.registerTable({ name: shape.name, kind: 'table', store: 'duckdb', columns: shape.columns, timeColumn: shape.timeColumn, lookupKey: shape.lookupKey, description: shape.description });
      }
      if (options.late) await tx.run(`CREATE TABLE IF NOT EXISTS ${main(options.late.table)} (${options.late.columns.map((c) => `${quoteIdent(c.name)} ${c.type}`).join(', ')})`);
    });
  }

  /** A merge table with keys gets them as its primary key; a keyless one is a single row of totals, starting at zero. */
  private async create(tx: CatalogTransaction, shape: TableShape): Promise<void> {
    const exists = await tx.query<{ n: bigint }>(`SELECT count(*) AS n FROM duckdb_tables() WHERE ${IN_WAREHOUSE} AND table_name = $1`, [shape.name]);
    if (Number(exists[0]!.n)) return;
    const keys = shape.keys ?? [];
    const pk = shape.merge && keys.length ? `, PRIMARY KEY (${keys.map(quoteIdent).join(', ')})` : '';
    await tx.run(`CREATE TABLE ${main(shape.name)} (${shape.columns.map((c) => `${quoteIdent(c.name)} ${c.type}`).join(', ')}${pk})`);
    if (shape.merge && !keys.length) {
      await tx.run(`INSERT INTO ${main(shape.name)} SELECT ${shape.columns.map((c) => `CAST(0 AS ${c.type})`).join(', ')}`);
    }
  }

  offsets(job: string, sink: string): Promise<Map<number, number>> {
    return this.context.metastore.offsets(job, sink);
  }

  state(job: string, sink: string, key: string): Promise<number | undefined> {
    return this.context.metastore.state(job, sink, key);
  }

  async stage(engine: Engine, request: StageRequest): Promise<WarehouseStaged> {
    const { shape, mode, divertBy } = request;
    const columns = shape.columns.map((c) => quoteIdent(c.name)).join(', ');
    const base = { table: shape.name, shape, mode, columns: shape.columns, diverted: new Map<string, number>() };
    if (!divertBy && !(mode.kind === 'replace' && !mode.scope)) return { ...base, rows: undefined, source: request.relation };
    // Built outside any transaction: a table rebuilt in full, or rows to sort by verdict first.
    const built = `__build_${shape.name}_${request.runId.replace(/\W/g, '_')}`;
    if (divertBy) {
      const judged = `__judged_${shape.name}_${request.runId.replace(/\W/g, '_')}`;
      await engine.run(`CREATE OR REPLACE TEMP TABLE ${judged} AS SELECT ${columns}, ${quoteIdent(divertBy)} FROM ${request.relation}`);
      const counts = await engine.query<{ v: string; n: bigint }>(`SELECT ${quoteIdent(divertBy)} AS v, count(*) AS n FROM ${judged} GROUP BY 1`);
      for (const c of counts) if (c.v !== 'ok') base.diverted.set(c.v, Number(c.n));
      await engine.run(`CREATE OR REPLACE TABLE ${main(built)} AS SELECT ${columns} FROM ${judged} WHERE ${quoteIdent(divertBy)} = 'ok'; DROP TABLE ${judged}`);
    } else {
      await engine.run(`CREATE OR REPLACE TABLE ${main(built)} AS SELECT ${columns} FROM ${request.relation}`);
    }
    const rows = Number(await engine.scalar<bigint>(`SELECT count(*) FROM ${main(built)}`));
    return { ...base, rows, source: main(built), built };
  }

  async commit(engine: Engine, staged: readonly Staged[], unit: CommitUnit): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    // A stream's commit only adds rows to tables its prepare made; a model's may make, replace or drop them.
    await this.context.metastore.commit(engine, { operation: unit.operation, runId: unit.runId, makesTables: !unit.progress }, async (tx) => {
      for (const s of staged as WarehouseStaged[]) {
        counts[s.table] = await this.write(tx, s);
        tx.changed(s.table, 'rows');
      }
      if (unit.late) {
        const n = await tx.run(`INSERT INTO ${main(unit.late.table)} SELECT ${unit.late.columns.map((c) => quoteIdent(c.name)).join(', ')} FROM ${unit.late.relation}`);
        if (n) tx.changed(unit.late.table, 'rows');
      }
      if (unit.progress) {
        await tx.writeOffsets(unit.progress.job, unit.progress.sink, unit.progress.move);
        for (const [key, value] of Object.entries(unit.progress.state ?? {})) await tx.writeState(unit.progress.job, unit.progress.sink, key, value);
      }
      if (unit.run) await tx.finishRun(unit.run.runId, 'success', { ...unit.run, written: counts[unit.run.target] ?? unit.run.written });
      if (unit.inside) await unit.inside(tx);
    });
    return counts;
  }

  private async write(tx: CatalogTransaction, s: WarehouseStaged): Promise<number> {
    const target = main(s.table);
    const columns = s.shape.columns.map((c) => quoteIdent(c.name)).join(', ');
    const keys = s.shape.keys ?? [];
    switch (s.mode.kind) {
      case 'append':
        // A stream's tables were made when it opened; a model's first append makes its table.
        if (await this.ensure(tx, s.shape)) await tx.registerTable({ name: s.table, kind: 'table', store: 'duckdb', columns: s.shape.columns, timeColumn: s.shape.timeColumn, lookupKey: s.shape.lookupKey, description: s.shape.description });
        return tx.run(`INSERT INTO ${target} (${columns}) SELECT ${columns} FROM ${s.source}`);
      case 'merge': {
        const reduced = reduceBatch(s.shape, s.source);
        const dialect = { quote: quoteIdent, stored: (c: string) => `${target}.${quoteIdent(c)}`, incoming: (c: string) => `b.${quoteIdent(c)}` };
        if (!keys.length) {
          return tx.run(`UPDATE ${target} SET ${mergeAssignments(s.shape, dialect).join(', ')} FROM (${reduced}) b`);
        }
        const upsert = { ...dialect, stored: (c: string) => `${target}.${quoteIdent(c)}`, incoming: (c: string) => `excluded.${quoteIdent(c)}` };
        return tx.run(
          `INSERT INTO ${target} (${columns}) SELECT ${columns} FROM (${reduced})
           ON CONFLICT (${keys.map(quoteIdent).join(', ')}) DO UPDATE SET ${mergeAssignments(s.shape, upsert).join(', ')}`,
        );
      }
      case 'upsert': {
        if (await this.ensure(tx, s.shape)) await tx.registerTable({ name: s.table, kind: 'table', store: 'duckdb', columns: s.shape.columns, timeColumn: s.shape.timeColumn, lookupKey: s.shape.lookupKey, description: s.shape.description });
        // The batch is read once into a temp table: the rows it replaces may be what it was computed from.
        const batch = `__upsert_${s.table}`;
        const keyList = s.mode.keys.map(quoteIdent).join(', ');
        await tx.run(`CREATE OR REPLACE TEMP TABLE ${quoteIdent(batch)} AS SELECT ${columns} FROM ${s.source}`);
        await tx.run(`DELETE FROM ${target} WHERE (${keyList}) IN (SELECT (${keyList}) FROM ${quoteIdent(batch)})`);
        const n = await tx.run(`INSERT INTO ${target} (${columns}) SELECT ${columns} FROM ${quoteIdent(batch)}`);
        await tx.run(`DROP TABLE ${quoteIdent(batch)}`);
        return n;
      }
      case 'replace': {
        await tx.registerTable({ name: s.table, kind: 'table', store: 'duckdb', columns: s.shape.columns, timeColumn: s.shape.timeColumn, lookupKey: s.shape.lookupKey, description: s.shape.description });
        if (!s.mode.scope) {
          // The build takes the table's place.
          await dropFromWarehouse(tx, s.table);
          await tx.run(`ALTER TABLE ${main(s.built!)} RENAME TO ${quoteIdent(s.table)}`);
          return s.rows!;
        }
        await this.ensure(tx, s.shape);
        await tx.run(`DELETE FROM ${target} WHERE ${scopeCondition(s.mode.scope, quoteIdent)}`);
        const n = await tx.run(`INSERT INTO ${target} (${columns}) SELECT ${columns} FROM ${s.source}`);
        if (s.built) await tx.run(`DROP TABLE ${main(s.built)}`);
        return n;
      }
    }
  }

  /** A table appended to, or replaced by scope, must exist first (its first write creates it); true when this made it. */
  private async ensure(tx: CatalogTransaction, shape: TableShape): Promise<boolean> {
    const exists = await tx.query<{ n: bigint }>(`SELECT count(*) AS n FROM duckdb_tables() WHERE ${IN_WAREHOUSE} AND table_name = $1`, [shape.name]);
    if (Number(exists[0]!.n)) return false;
    await tx.run(`CREATE TABLE ${main(shape.name)} (${shape.columns.map((c) => `${quoteIdent(c.name)} ${c.type}`).join(', ')})`);
    return true;
  }

  async discard(engine: Engine, staged: readonly Staged[]): Promise<void> {
    for (const s of staged as WarehouseStaged[]) if (s.built) await engine.run(`DROP TABLE IF EXISTS ${main(s.built)}`);
  }

  async close(): Promise<void> {}
}

export const duckdbStore = defineStore({
  kind: 'duckdb',
  description: 'serving tables in the embedded DuckDB warehouse, committed with the catalog',
  config: schema,
  create: (_config: z.output<typeof schema>, context: StoreContext): Store => new WarehouseStore(context),
});
