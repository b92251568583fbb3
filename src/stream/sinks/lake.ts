import type { StreamTableConfig } from '../../core/config.js';
import type { Project } from '../../core/project.js';
import type { Engine } from '../../engine/index.js';
import { quoteIdent } from '../../engine/index.js';
import type { Catalog } from '../../catalog/index.js';
import type { Lake } from '../../lake/index.js';
import { WATERMARK_KEY, WarehouseModelSink, type PendingWrite, type TableShape } from './model-sink.js';
import { writeOffsets, writeState } from './warehouse-state.js';

/**
 * Lake tables: each batch writes batch-named Parquet files, and one catalog transaction makes
 * them visible together with the sink's offsets. Files of a batch that never committed are
 * invisible and removed by the next vacuum.
 */
/** Micro-batches write small files; partitions with this many are rewritten as one. */
const COMPACT_AT_FILES = 8;
const COMPACT_EVERY_MS = 30_000;

export class LakeSink extends WarehouseModelSink {
  private batchNumber = 0;
  private lastCompaction = Date.now();

  constructor(
    job: string,
    name: string,
    engine: Engine,
    models: { project: Project; binds: string },
    tables: Record<string, StreamTableConfig>,
    private readonly lake: Lake,
    private readonly catalog: Catalog,
  ) {
    super(job, name, 'lake', engine, models, tables);
  }

  protected async createTables(_shapes: TableShape[]): Promise<void> {
    // Lake tables come into being with their first committed files.
  }

  protected async write(pending: PendingWrite): Promise<Record<string, number>> {
    const runId = `${this.job}-${Date.now()}-${this.batchNumber++}`;
    const staged = [];
    const counts: Record<string, number> = {};
    for (const shape of this.shapes) {
      const cols = shape.columns.map((c) => quoteIdent(c.name)).join(', ');
      const write = await this.lake.stage(shape.name, `SELECT ${cols} FROM ${pending.sources.get(shape.name)!}`, {
        runId,
        partitionBy: shape.config.partitionBy,
      });
      counts[shape.name] = write.files.reduce((s, f) => s + f.rows, 0);
      staged.push(write);
    }
    await this.lake.commit(staged, 'append', `written by stream job ${this.job}`, async (tx) => {
      for (const shape of this.shapes) {
        await this.catalog.setLineage(tx, shape.name, [
          { name: shape.config.model, kind: 'model' },
          { name: this.job, kind: 'stream' },
        ]);
      }
      await writeOffsets(tx, this.job, this.name, pending.next);
      if (pending.watermark !== undefined) await writeState(tx, this.job, this.name, WATERMARK_KEY, pending.watermark);
    });
    if (Date.now() - this.lastCompaction > COMPACT_EVERY_MS) {
      // Its own commit: compaction changes files, never rows or offsets.
      for (const shape of this.shapes) await this.lake.compact(shape.name, `${runId}-compact`, COMPACT_AT_FILES);
      this.lastCompaction = Date.now();
    }
    return counts;
  }
}
