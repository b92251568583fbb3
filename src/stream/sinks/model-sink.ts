import { randomUUID } from 'node:crypto';
import type { ColumnInfo } from '../../catalog/index.js';
import { partitionKeyProblem, type CommitUnit, type Staged, type Store, type TableShape } from '../../connectors/index.js';
import type { StreamSinkConfig, StreamTableConfig } from '../../config/config.js';
import type { Engine } from '../../engine/index.js';
import { TributaryError } from '../../core/errors.js';
import type { Materialization } from '../../materializations/index.js';
import { compileProject, materializationComponent, materializationContext } from '../../models/index.js';
import type { Workspace } from '../../state/workspace.js';
import type { MicroBatch } from '../microbatch.js';
import { BatchModels } from './plan.js';
import { afterMove, offsetMove } from '../../core/offsets.js';
import type { StagedBatch, StreamSink } from './types.js';
import { lateCondition, sinkWindow, windowScan, type SinkWindow } from './window.js';

/** The state key a sink keeps its event-time watermark under. */
const WATERMARK = 'watermark';

/**
 * A sink: the project's models run over each micro-batch, written to one store (the lake, the
 * warehouse, PostgreSQL, MySQL: the same stores batch models write to) with the sink's offsets in
 * the same atomic commit. Late rows are split off by the watermark first.
 */
export class ModelSink implements StreamSink {
  readonly kind: string;
  private next = new Map<number, number>();
  private watermark: number | undefined;
  private readonly window: SinkWindow | undefined;
  private shapes: { shape: TableShape; config: StreamTableConfig; materialization: Materialization }[] = [];
  private lateColumns: ColumnInfo[] = [];
  private readonly models: BatchModels;
  private readonly store: Store;
  /** Where the sink is declared, for messages. */
  private readonly field: string;
  private batchNumber = 0;
  /**
   * Names this sink's batches apart from another worker's of the same job: a batch's files are
   * named by its run id, and two workers whose batches shared one (same job, same millisecond, same
   * batch number) wrote the same keys in a shared lake, one's files replacing the other's.
   */
  private readonly instance = randomUUID().slice(0, 8);

  /** `group` is the job's consumer group: the offsets committed with the rows are its own. */
  constructor(
    readonly job: string,
    private readonly group: string,
    readonly name: string,
    private readonly config: StreamSinkConfig,
    private readonly engine: Engine,
    private readonly ws: Workspace,
    binds: string,
  ) {
    const { tables, ...store } = config;
    this.kind = config.kind;
    this.window = sinkWindow(name, tables);
    this.models = new BatchModels(compileProject(ws.project, ws), binds, `__sink_${job}_${name}`, tables);
    this.field = `streams.${job}.sinks.${name}`;
    this.store = ws.store(store, this.field);
  }

  get lateTable(): string {
    return `${this.job}_late`;
  }

  /** Batch tables the stream's models join, for lineage. */
  get staticRefs(): ReadonlySet<string> {
    return this.models.staticRefs;
  }

  /** Learns each table's columns from the models over an empty batch, then has the store create what is missing. */
  async open(schemaBatch: MicroBatch): Promise<void> {
    const all = await this.models.evaluate(this.engine, schemaBatch, new Map());
    this.shapes = [];
    for (const [name, config] of Object.entries(this.config.tables)) {
      const columns = (await this.engine.describe(`SELECT * FROM ${all.get(config.model)!}`)).filter((c) => !BatchModels.isInternal(c.name));
      const field = `${this.field}.tables.${name}.materialize`;
      const materialization = materializationComponent(this.ws.project, config.materialize.kind).create(
        config.materialize,
        materializationContext(this.ws.project, this.ws, field, () => this.store),
      );
      if (config.partitionBy && !materialization.partitions) {
        throw new TributaryError(`stream table '${name}' has partitionBy, but a ${materialization.label} table has no partitions`, {
          place: { file: this.ws.project.configFile, field: `${this.field}.tables.${name}.partitionBy` },
          hint: 'append to a lake sink to partition, or drop partitionBy',
        });
      }
      // Refused at the start, not at the first event that arrives.
      const partitionProblem = config.partitionBy && (await partitionKeyProblem(this.engine, `SELECT * FROM ${all.get(config.model)!}`, config.partitionBy));
      if (partitionProblem) throw partitionProblem.placed({ file: this.ws.project.configFile, field: `${this.field}.tables.${name}.partitionBy.${partitionProblem.key}` });
      this.shapes.push({
        config,
        materialization,
        shape: materialization.shape({
          name,
          columns,
          keys: config.lookup ? [config.lookup.key] : undefined,
          partitionBy: config.partitionBy,
          lookupKey: config.lookup?.key,
          description: `kept up to date by stream job ${this.job} (${materialization.label} of model ${config.model})`,
        }),
      });
    }
    if (this.window) {
      this.lateColumns = await this.engine.describe(`SELECT * EXCLUDE (__rule, __reason, __raw) FROM ${this.models.baseView}`);
    }
    await this.store.prepare(
      this.engine,
      this.shapes.map((s) => s.shape),
      { late: this.window ? { table: this.lateTable, columns: this.lateColumns } : undefined },
    );
    await this.refresh();
  }

  async refresh(): Promise<void> {
    this.next = await this.store.offsets(this.group, this.name);
    this.watermark = this.window ? await this.store.state(this.group, this.name, WATERMARK) : undefined;
  }

  async committed(): Promise<Map<number, number>> {
    return new Map(this.next);
  }

  async stage(batch: MicroBatch): Promise<StagedBatch> {
    const all = await this.models.evaluate(this.engine, batch, this.next);
    const base = this.models.baseView;
    let onTime = all;
    let late = 0;
    let watermark = this.watermark;
    let lateRelation: string | undefined;
    if (this.window) {
      // The late rows and the newest event time in one pass: each statement costs the batch's latency.
      const [scan] = await this.engine.query<{ late: bigint | number; w: number | bigint | null }>(windowScan(this.window, this.watermark, base));
      late = Number(scan!.late);
      // Late rows are rare: only a batch that has some pays for the on-time pass.
      if (late && this.watermark !== undefined) {
        const condition = lateCondition(this.window, this.watermark);
        lateRelation = `(SELECT * EXCLUDE (__rule, __reason, __raw) FROM ${base} WHERE ${condition})`;
        onTime = await this.models.evaluateOnTime(this.engine, `NOT (${condition})`);
      }
      if (scan!.w !== null) watermark = Math.max(watermark ?? -Infinity, Number(scan!.w));
    }
    const move = offsetMove(this.next, batch.ranges);
    const runId = `${this.job}-${Date.now()}-${this.instance}-${this.batchNumber++}`;
    const staged: Staged[] = [];
    try {
      for (const { shape, config, materialization } of this.shapes) {
        const relation = (config.window ? onTime : all).get(config.model)!;
        staged.push(await this.store.stage(this.engine, { shape, relation, mode: materialization.writeMode(undefined), runId }));
      }
    } catch (error) {
      await this.store.discard(this.engine, staged).catch(() => undefined);
      throw error;
    }
    const unit: CommitUnit = {
      operation: 'stream',
      runId,
      progress: { job: this.group, sink: this.name, move, state: watermark !== undefined ? { [WATERMARK]: watermark } : undefined },
      late: lateRelation ? { table: this.lateTable, relation: lateRelation, columns: this.lateColumns } : undefined,
    };
    const store = this.store;
    return {
      carries: Boolean(store.commitsWithCatalog),
      writeIn: store.writeIn ? async (tx) => ({ rows: await store.writeIn!(tx, staged, unit), late }) : undefined,
      commit: async (alongside) => ({ rows: await store.commit(this.engine, staged, { ...unit, inside: alongside }), late }),
      settle: () => {
        this.next = afterMove(this.next, move);
        this.watermark = watermark;
      },
      discard: () => store.discard(this.engine, staged),
    };
  }

  async close(): Promise<void> {}
}
