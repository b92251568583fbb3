import type { CatalogTransaction, Metastore } from '../../catalog/index.js';
import type { Engine } from '../../engine/index.js';
import { VERDICT } from '../../quality/index.js';
import { BATCH_COLUMNS, freshFor, type MicroBatch } from '../microbatch.js';
import { afterMove, offsetMove } from '../../core/offsets.js';
import type { SinkCommit, StagedBatch, StreamSink } from './types.js';

/**
 * Events that could not be used (not JSON, wrong types, failing a rule) with the reason, the text
 * as it came and their partition and offset, committed exactly once like any other sink. Its
 * offsets are the consumer group's, like every sink's of the job.
 */
export class DeadLetterSink implements StreamSink {
  readonly name = '__dead_letters';
  readonly kind = 'dead-letters';
  private next = new Map<number, number>();

  constructor(
    private readonly job: string,
    private readonly group: string,
    private readonly engine: Engine,
    private readonly metastore: Metastore,
  ) {}

  async open(): Promise<void> {
    await this.refresh();
  }

  async refresh(): Promise<void> {
    this.next = await this.metastore.offsets(this.group, this.name);
  }

  async committed(): Promise<Map<number, number>> {
    return new Map(this.next);
  }

  async stage(batch: MicroBatch): Promise<StagedBatch> {
    const { partition, offset, reason, raw } = BATCH_COLUMNS;
    const move = offsetMove(this.next, batch.ranges);
    const relation = `(SELECT ${partition} AS partition, ${offset} AS "offset", ${reason} AS reason, ${raw} AS raw FROM ${batch.table}
                       WHERE ${VERDICT} <> 'ok' AND ${freshFor(this.next, batch.ranges)})`;
    const writeIn = async (tx: CatalogTransaction): Promise<SinkCommit> => {
      // A clean batch has none to write: its commit is spared the statement.
      const count = batch.clean ? 0 : await tx.addDeadLettersFrom(`job:${this.job}`, relation);
      await tx.writeOffsets(this.group, this.name, move);
      return { rows: { dead_letters: count }, late: 0 };
    };
    return {
      carries: true,
      writeIn,
      commit: async (alongside) => {
        const { result } = await this.metastore.commit(this.engine, { operation: 'stream' }, async (tx) => {
          const written = await writeIn(tx);
          if (alongside) await alongside(tx);
          return written;
        });
        return result;
      },
      settle: () => {
        this.next = afterMove(this.next, move);
      },
      discard: async () => {},
    };
  }

  async close(): Promise<void> {}
}
