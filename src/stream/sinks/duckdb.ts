import type { Catalog } from '../../catalog/index.js';
import type { StreamTableConfig } from '../../core/config.js';
import type { Project } from '../../core/project.js';
import type { Engine } from '../../engine/index.js';
import { quoteIdent } from '../../engine/index.js';
import { WATERMARK_KEY, WarehouseModelSink, type PendingWrite, type TableShape } from './model-sink.js';
import { writeOffsets, writeState } from './warehouse-state.js';

/** Serving tables in the embedded warehouse: rows, merges and offsets in one DuckDB transaction. */
export class DuckDBSink extends WarehouseModelSink {
  constructor(
    job: string,
    name: string,
    engine: Engine,
    models: { project: Project; binds: string },
    tables: Record<string, StreamTableConfig>,
    private readonly catalog: Catalog,
  ) {
    super(job, name, 'duckdb', engine, models, tables);
  }

  protected async createTables(shapes: TableShape[]): Promise<void> {
    await this.engine.transaction(async (tx) => {
      for (const shape of shapes) {
        await this.catalog.registerTable(tx, {
          name: shape.name,
          kind: 'table',
          description: `kept up to date by stream job ${this.job} (${shape.config.mode} of model ${shape.config.model})`,
          columns: shape.columns,
        });
        await this.catalog.setLineage(tx, shape.name, [
          { name: shape.config.model, kind: 'model' },
          { name: this.job, kind: 'stream' },
        ]);
      }
    });
    for (const shape of shapes) {
      const keys = shape.config.keys ?? [];
      const pk = shape.config.mode === 'merge' && keys.length ? `, PRIMARY KEY (${keys.map(quoteIdent).join(', ')})` : '';
      const exists = await this.engine.scalar<bigint>(`SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'main' AND table_name = $1`, [shape.name]);
      if (Number(exists)) continue;
      await this.engine.run(
        `CREATE TABLE main.${quoteIdent(shape.name)} (${shape.columns.map((c) => `${quoteIdent(c.name)} ${c.type}`).join(', ')}${pk})`,
      );
      if (shape.config.mode === 'merge' && !keys.length) {
        // A single-row total (KPIs): it starts at zero and each batch adds to it.
        await this.engine.run(`INSERT INTO main.${quoteIdent(shape.name)} SELECT ${shape.columns.map((c) => `CAST(0 AS ${c.type})`).join(', ')}`);
      }
    }
    if (this.window) {
      const columns = await this.lateColumns();
      await this.engine.run(
        `CREATE TABLE IF NOT EXISTS main.${quoteIdent(`${this.job}_late`)} (${columns.map((c) => `${quoteIdent(c.name)} ${c.type}`).join(', ')})`,
      );
    }
  }

  protected async write(pending: PendingWrite): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    await this.engine.transaction(async (tx) => {
      for (const shape of this.shapes) {
        const source = pending.sources.get(shape.name)!;
        const target = `main.${quoteIdent(shape.name)}`;
        const cols = shape.columns.map((c) => quoteIdent(c.name)).join(', ');
        const keys = shape.config.keys ?? [];
        if (shape.config.mode === 'append') {
          counts[shape.name] = await tx.run(`INSERT INTO ${target} (${cols}) SELECT ${cols} FROM ${source}`);
        } else if (keys.length) {
          counts[shape.name] = await tx.run(
            `INSERT INTO ${target} (${cols}) SELECT ${cols} FROM ${source}
             ON CONFLICT (${keys.map(quoteIdent).join(', ')}) DO UPDATE SET ${shape.measures.map((m) => `${quoteIdent(m)} = ${quoteIdent(m)} + excluded.${quoteIdent(m)}`).join(', ')}`,
          );
        } else {
          counts[shape.name] = await tx.run(
            `UPDATE ${target} SET ${shape.measures.map((m) => `${quoteIdent(m)} = ${target}.${quoteIdent(m)} + coalesce(b.${quoteIdent(m)}, 0)`).join(', ')}
             FROM (SELECT ${shape.measures.map((m) => `sum(${quoteIdent(m)}) AS ${quoteIdent(m)}`).join(', ')} FROM ${source}) b`,
          );
        }
      }
      if (pending.late) {
        await tx.run(`INSERT INTO main.${quoteIdent(`${this.job}_late`)} SELECT * EXCLUDE (__rule, __reason, __raw) FROM ${pending.late}`);
      }
      await writeOffsets(tx, this.job, this.name, pending.next);
      if (pending.watermark !== undefined) await writeState(tx, this.job, this.name, WATERMARK_KEY, pending.watermark);
    });
    return counts;
  }
}
