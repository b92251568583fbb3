import { z } from 'zod';
import { dropFromWarehouse, type CommitUnit, type Staged, type StageRequest, type Store } from '../connectors/index.js';
import type { Metastore } from '../catalog/index.js';
import type { Engine } from '../engine/index.js';
import { defineMaterialization } from './types.js';

const schema = z.object({ kind: z.literal('view') }).strict();

interface ViewStaged extends Staged {
  sql: string;
  description: string | undefined;
}

/**
 * A view of the embedded warehouse: the model's SQL, computed whenever it is read. Defining it is
 * its write; the definition, its columns and the run record commit in one catalog transaction.
 */
class ViewWriter implements Store {
  readonly kind = 'view';
  readonly readable = true;
  readonly holdsRows = false;
  readonly commitsWithCatalog = true;

  constructor(private readonly metastore: Metastore) {}

  check(): void {}

  async prepare(): Promise<void> {}

  async offsets(): Promise<Map<number, number>> {
    return new Map();
  }

  async state(): Promise<number | undefined> {
    return undefined;
  }

  async stage(engine: Engine, request: StageRequest): Promise<ViewStaged> {
    const sql = `SELECT * FROM ${request.relation}`;
    // Described as it will be read: a view that cannot bind fails its run here, before any commit.
    const columns = await engine.describe(sql);
    return { table: request.shape.name, rows: undefined, diverted: new Map(), columns, sql, description: request.shape.description };
  }

  async commit(engine: Engine, staged: readonly Staged[], unit: CommitUnit): Promise<Record<string, number>> {
    // The catalog keeps the view's SQL; each process makes the view from it once this commits.
    await this.metastore.commit(engine, { operation: 'view', runId: unit.runId, makesTables: true }, async (tx) => {
      for (const view of staged as ViewStaged[]) {
        await dropFromWarehouse(tx, view.table);
        await tx.registerTable({ name: view.table, kind: 'view', columns: view.columns, description: view.description, definition: view.sql });
      }
      if (unit.run) await tx.finishRun(unit.run.runId, 'success', unit.run);
      if (unit.inside) await unit.inside(tx);
    });
    return Object.fromEntries(staged.map((s) => [s.table, 0]));
  }

  async discard(): Promise<void> {}

  async close(): Promise<void> {}
}

export const viewMaterialization = defineMaterialization({
  kind: 'view',
  description: 'a view of the embedded warehouse: the SQL runs whenever the view is read',
  usedBy: ['model'],
  config: schema,
  create: (_config, context) => {
    let writer: ViewWriter | undefined;
    return {
      kind: 'view',
      label: 'view',
      reference: 'relation',
      partitions: false,
      intervals: false,
      get store() {
        writer ??= new ViewWriter(context.metastore);
        return writer;
      },
      shape: (base) => base,
      writeMode: () => ({ kind: 'replace' }),
    };
  },
});
