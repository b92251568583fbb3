import type { StreamTableConfig } from '../../core/config.js';
import { TributaryError } from '../../core/errors.js';
import type { Project } from '../../core/project.js';
import type { Engine } from '../../engine/index.js';
import type { MicroBatch } from '../microbatch.js';
import { BatchModels } from './plan.js';
import type { SinkCommit, StreamSink } from './types.js';
import { advance, readOffsets, readState } from './warehouse-state.js';
import { lateCondition, sinkWindow, watermarkOf, type SinkWindow } from './window.js';

export interface TableShape {
  name: string;
  config: StreamTableConfig;
  columns: { name: string; type: string }[];
  /** Summed columns of a merge table. */
  measures: string[];
}

/** What one commit hands the store: where each table's new rows are, and the new progress. */
export interface PendingWrite {
  /** Temp table (in the engine) holding each target table's rows for this batch. */
  sources: Map<string, string>;
  /** Rows that came after their window closed, as a relation, when the sink has a window. */
  late?: string;
  next: Map<number, number>;
  watermark?: number;
}

/**
 * The part every table-writing sink shares: run the project's models over the rows the sink has
 * not committed, split late rows off by the watermark, and hand the store one pending write.
 * Stores (DuckDB, lake, PostgreSQL, MySQL) only decide how to make that write atomic.
 */
export abstract class ModelSink implements StreamSink {
  protected next = new Map<number, number>();
  protected watermark: number | undefined;
  protected readonly window: SinkWindow | undefined;
  protected shapes: TableShape[] = [];
  private readonly models: BatchModels;

  constructor(
    readonly job: string,
    readonly name: string,
    readonly kind: string,
    protected readonly engine: Engine,
    models: { project: Project; binds: string },
    protected readonly tables: Record<string, StreamTableConfig>,
  ) {
    this.window = sinkWindow(name, tables);
    this.models = new BatchModels(models.project, models.binds, `__sink_${job}_${name}`, tables);
  }

  /** Learns each table's columns from the models over an empty batch, then creates what is missing. */
  async open(schemaBatch?: MicroBatch): Promise<void> {
    if (!schemaBatch) throw new Error(`sink ${this.name} needs a schema batch to open`);
    const all = await this.models.evaluate(this.engine, schemaBatch, new Map());
    this.shapes = [];
    for (const [name, config] of Object.entries(this.tables)) {
      const described = await this.engine.describe(`SELECT * FROM ${all.get(config.model)!}`);
      const columns = described.filter((c) => !BatchModels.isInternal(c.name));
      const keys = config.keys ?? [];
      for (const key of keys) {
        if (!columns.some((c) => c.name === key)) {
          throw new TributaryError(`stream table '${name}' merges on key '${key}', which model '${config.model}' does not output`, {
            hint: `its columns: ${columns.map((c) => c.name).join(', ')}`,
          });
        }
      }
      const measures = config.mode === 'merge' ? columns.filter((c) => !keys.includes(c.name)).map((c) => c.name) : [];
      for (const measure of measures) {
        const type = columns.find((c) => c.name === measure)!.type;
        if (!/^(BIGINT|INTEGER|SMALLINT|TINYINT|HUGEINT|UBIGINT|UINTEGER|DOUBLE|FLOAT|DECIMAL)/.test(type)) {
          throw new TributaryError(`stream table '${name}' would add up column '${measure}' (${type}) on merge`, {
            place: { field: `streams.${this.job}.sinks.${this.name}.tables.${name}.keys` },
            hint: `merge adds up every column that is not a key: add '${measure}' to keys`,
          });
        }
      }
      this.shapes.push({ name, config, columns, measures });
    }
    await this.createTables(this.shapes);
    this.next = await this.readOffsets();
    this.watermark = this.window ? await this.readWatermark() : undefined;
  }

  async committed(): Promise<Map<number, number>> {
    return new Map(this.next);
  }

  async commit(batch: MicroBatch): Promise<SinkCommit> {
    const all = await this.models.evaluate(this.engine, batch, this.next);
    const base = this.models.baseView;
    let onTime = all;
    let late = 0;
    let watermark = this.watermark;
    let lateRelation: string | undefined;
    if (this.window) {
      if (this.watermark !== undefined) {
        const condition = lateCondition(this.window, this.watermark);
        late = Number(await this.engine.scalar<bigint>(`SELECT count(*) FROM ${base} WHERE ${condition}`));
        // Late rows are rare: only a batch that has some pays for the on-time pass.
        if (late) {
          lateRelation = `(SELECT * FROM ${base} WHERE ${condition})`;
          onTime = await this.models.evaluateOnTime(this.engine, `NOT (${condition})`);
        }
      }
      const seen = await this.engine.scalar<number | null>(watermarkOf(this.window, base));
      if (seen !== null && seen !== undefined) watermark = Math.max(watermark ?? -Infinity, Number(seen));
    }
    const sources = new Map(this.shapes.map((s) => [s.name, (s.config.window ? onTime : all).get(s.config.model)!]));
    const next = advance(this.next, batch.ranges);
    const rows = await this.write({ sources, late: lateRelation, next, watermark });
    this.next = next;
    this.watermark = watermark;
    return { rows, late };
  }

  protected abstract createTables(shapes: TableShape[]): Promise<void>;
  protected abstract readOffsets(): Promise<Map<number, number>>;
  protected abstract readWatermark(): Promise<number | undefined>;
  protected abstract write(pending: PendingWrite): Promise<Record<string, number>>;

  async close(): Promise<void> {}

  /** Columns of the late table: the event's own columns plus where it came from. */
  protected async lateColumns(): Promise<{ name: string; type: string }[]> {
    return this.engine.describe(`SELECT * EXCLUDE (__rule, __reason, __raw) FROM ${this.models.baseView}`);
  }
}

/** A sink whose tables live in the embedded warehouse: its offsets and watermark live there too. */
export abstract class WarehouseModelSink extends ModelSink {
  protected readOffsets(): Promise<Map<number, number>> {
    return readOffsets(this.engine, this.job, this.name);
  }

  protected readWatermark(): Promise<number | undefined> {
    return readState(this.engine, this.job, this.name, WATERMARK_KEY);
  }
}

/** The state key a sink keeps its event-time watermark under. */
export const WATERMARK_KEY = 'watermark';
