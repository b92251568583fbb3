import { z } from 'zod';
import type { LiveFile } from '../../catalog/index.js';
import { TributaryError } from '../../core/errors.js';
import type { Engine } from '../../engine/index.js';
import { quoteIdent } from '../../engine/index.js';
import type { LakeWrite, Replace, StagedWrite } from '../../lake/index.js';
import { type CommitUnit, defineStore, type ReplaceScope, scopeCondition, type Staged, type StageRequest, type Store, type StoreContext, type TableShape } from './types.js';

const schema = z.object({ kind: z.literal('lake') }).strict();

interface LakeStaged extends Staged {
  write: StagedWrite;
  replace: Replace;
  shape: TableShape;
}

/** Micro-batches write small files; partitions with this many are rewritten as one. */
const COMPACT_AT_FILES = 8;
const COMPACT_EVERY_MS = 30_000;

/**
 * Lake tables: Parquet files staged outside the table's folders and made visible by one catalog
 * commit, with whatever must commit with them. A replace retires whole partitions when its scope
 * is a partition column's values; when it is an interval of a time column in a table partitioned
 * more coarsely (a day's rows in a month's partition), the partitions it touches are rewritten
 * without that interval's old rows and with its new ones, in the same commit.
 */
class LakeStore implements Store {
  readonly kind = 'lake';
  readonly holdsRows = true;
  readonly readable = true;
  readonly commitsWithCatalog = true;
  private lastCompaction = Date.now();
  private compacting: Promise<void> | undefined;
  private compactionError: unknown;

  constructor(private readonly context: StoreContext) {}

  check(): void {}

  async prepare(_engine: Engine, shapes: readonly TableShape[]): Promise<void> {
    for (const shape of shapes) {
      if (shape.merge) {
        throw new TributaryError(`lake table '${shape.name}' cannot merge: lake files are written once`, {
          place: { field: this.context.field },
          hint: 'merge into a serving table (a duckdb, postgres or mysql sink), or append to the lake',
        });
      }
    }
  }

  offsets(job: string, sink: string): Promise<Map<number, number>> {
    return this.context.metastore.offsets(job, sink);
  }

  state(job: string, sink: string, key: string): Promise<number | undefined> {
    return this.context.metastore.state(job, sink, key);
  }

  async stage(engine: Engine, request: StageRequest): Promise<LakeStaged> {
    const { shape, mode } = request;
    if (mode.kind === 'upsert') throw new TributaryError(`lake table '${shape.name}' cannot replace rows by key (incremental merge, delete+insert)`, { place: { field: this.context.field }, hint: 'materialize it as an incremental table of the warehouse' });
    if (mode.kind === 'merge') throw new TributaryError(`lake table '${shape.name}' cannot merge`, { place: { field: this.context.field } });
    const partitions = Object.keys(shape.partitionBy ?? {});
    const columns = [...shape.columns.map((c) => quoteIdent(c.name)), ...(request.divertBy ? [quoteIdent(request.divertBy)] : [])].join(', ');
    let relation = `SELECT ${columns} FROM ${request.relation}`;
    // Rows kept around a replaced interval (below) come from the table's files: then the write's shape is the union's.
    let shapeOf = request.shapeOf && `SELECT ${columns} FROM ${request.shapeOf}`;
    let replace: Replace = mode.kind === 'append' ? 'append' : 'all';
    // A partition rewritten around a replaced interval carries rows it keeps: not this write's rows.
    let keptRows = 0;
    if (mode.kind === 'replace' && mode.scope) {
      const scope = mode.scope;
      if ('values' in scope && partitions.includes(scope.column)) {
        const values = new Set(scope.values);
        replace = (file) => values.has(file.partition[scope.column] ?? null);
      } else {
        const affected = await this.affectedFiles(shape.name, scope);
        if (affected.length) {
          const info = await this.context.metastore.table(shape.name);
          const kept = `SELECT ${shape.columns.map((c) => quoteIdent(c.name)).join(', ')}${request.divertBy ? `, 'ok' AS ${quoteIdent(request.divertBy)}` : ''}
            FROM (${await this.context.lake.relation(engine, shape.name, affected, info!.columns, info!.partition_by)}) WHERE NOT ${scopeCondition(scope, quoteIdent)}`;
          relation = `${relation} UNION ALL BY NAME ${kept}`;
          shapeOf = undefined;
          keptRows = Number(await engine.scalar<bigint>(`SELECT count(*) FROM (${kept})`));
        }
        const ids = new Set(affected.map((f) => f.fileId));
        replace = (file) => ids.has(file.fileId);
      }
    }
    const write = await this.context.lake.stage(engine, shape.name, relation, { runId: request.runId, partitionBy: shape.partitionBy, divertBy: request.divertBy, noteIn: request.noteIn, shapeOf });
    return { table: shape.name, rows: write.rows - keptRows, diverted: write.diverted, noted: write.noted, columns: write.columns, write, replace, shape };
  }

  /** Live files that may hold rows of the scope: by their column statistics, or all when they have none. */
  private async affectedFiles(table: string, scope: ReplaceScope): Promise<LiveFile[]> {
    const files = await this.context.metastore.liveFiles(table);
    if (!files.length) return [];
    const stats = new Map((await this.context.metastore.columnStats(table, scope.column)).map((s) => [s.path, s]));
    return files.filter((f) => {
      const s = stats.get(f.path);
      if (!s || s.min === null || s.max === null) return true;
      // Statistics are text ('2019-11-01' or '2019-11-01 08:14:53'): compared on the shorter
      // length, a file is kept in doubt, which is always safe (its rows outside the scope stay).
      const below = (a: string, b: string) => a.slice(0, Math.min(a.length, b.length)) < b.slice(0, Math.min(a.length, b.length));
      if ('values' in scope) return scope.values.some((v) => v === null || (!below(v, s.min!) && !below(s.max!, v)));
      const from = scope.from.replace('T', ' ').replace('Z', '');
      const to = scope.to.replace('T', ' ').replace('Z', '');
      return !below(s.max!, from) && (below(s.min!, to) || s.min!.length < to.length);
    });
  }

  async commit(engine: Engine, staged: readonly Staged[], unit: CommitUnit): Promise<Record<string, number>> {
    const writes: LakeWrite[] = (staged as LakeStaged[]).map((s) => ({ staged: s.write, replace: s.replace }));
    const shapes = (staged as LakeStaged[]).map((s) => s.shape);
    await this.context.lake.commit(engine, writes, {
      operation: unit.operation,
      runId: unit.runId,
      description: shapes[0]?.description,
      timeColumn: shapes[0]?.timeColumn,
      inside: async (tx) => {
        if (unit.progress) {
          await tx.writeOffsets(unit.progress.job, unit.progress.sink, unit.progress.move);
          for (const [key, value] of Object.entries(unit.progress.state ?? {})) await tx.writeState(unit.progress.job, unit.progress.sink, key, value);
        }
        if (unit.run) await tx.finishRun(unit.run.runId, 'success', unit.run);
        if (unit.inside) await unit.inside(tx);
      },
    });
    if (this.compactionError !== undefined) {
      const error = this.compactionError;
      this.compactionError = undefined;
      throw error;
    }
    if (unit.progress && !this.compacting && Date.now() - this.lastCompaction > COMPACT_EVERY_MS) {
      this.lastCompaction = Date.now();
      this.compacting = this.compactApart(engine, staged.map((s) => s.table), unit.runId)
        .catch((error: unknown) => void (this.compactionError = error))
        .finally(() => (this.compacting = undefined));
    }
    return Object.fromEntries(staged.map((s) => [s.table, s.rows ?? 0]));
  }

  /**
   * Streams write a file per partition per batch; compaction rewrites them as one, in a commit of
   * its own (files, never rows). It runs on a connection of its own while the stream goes on: a
   * batch waiting on it waited for a rewrite of whole partitions, and its events were late by as
   * much. A failure surfaces at the next commit.
   */
  private async compactApart(engine: Engine, tables: readonly string[], runId: string | undefined): Promise<void> {
    const own = await engine.fork({ background: true });
    try {
      for (const table of tables) await this.context.lake.compact(own, table, `${runId ?? table}-compact-${Date.now()}`, COMPACT_AT_FILES);
    } finally {
      own.close();
    }
  }

  async discard(_engine: Engine, staged: readonly Staged[]): Promise<void> {
    for (const s of staged as LakeStaged[]) await this.context.lake.discard(s.write);
  }

  async close(): Promise<void> {
    await this.compacting;
  }
}

export const lakeStore = defineStore({
  kind: 'lake',
  description: 'Hive-partitioned Parquet in the lake, committed through the catalog',
  config: schema,
  create: (_config: z.output<typeof schema>, context: StoreContext): Store => new LakeStore(context),
});

