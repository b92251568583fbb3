import type { Engine } from '../../engine/index.js';
import { VERDICT } from '../../quality/index.js';
import { BATCH_COLUMNS, freshFor, type MicroBatch } from '../microbatch.js';
import type { SinkCommit, StreamSink } from './types.js';
import { STATE_SCHEMA, advance, readOffsets, writeOffsets } from './warehouse-state.js';

/**
 * Events that could not be used (not JSON, wrong types, failing a rule) with the reason and their
 * partition and offset, committed exactly once like any other sink.
 */
export class DeadLetterSink implements StreamSink {
  readonly name = '__dead_letters';
  readonly kind = 'dead-letters';
  private next = new Map<number, number>();

  constructor(
    private readonly job: string,
    private readonly engine: Engine,
  ) {}

  async open(): Promise<void> {
    await this.engine.run(STATE_SCHEMA);
    this.next = await readOffsets(this.engine, this.job, this.name);
  }

  async committed(): Promise<Map<number, number>> {
    return new Map(this.next);
  }

  async commit(batch: MicroBatch): Promise<SinkCommit> {
    const { partition, offset, reason, raw } = BATCH_COLUMNS;
    const next = advance(this.next, batch.ranges);
    const where = `${VERDICT} <> 'ok' AND ${freshFor(this.next)}`;
    const count = Number(await this.engine.scalar<bigint>(`SELECT count(*) FROM ${batch.table} WHERE ${where}`));
    await this.engine.transaction(async (tx) => {
      if (count) {
        await tx.run(
          `INSERT INTO tributary.dead_letters (job, partition, "offset", reason, raw)
           SELECT $1, ${partition}, ${offset}, ${reason}, ${raw} FROM ${batch.table} WHERE ${where}`,
          [this.job],
        );
      }
      await writeOffsets(tx, this.job, this.name, next);
    });
    this.next = next;
    return { rows: { dead_letters: count }, late: 0 };
  }

  async close(): Promise<void> {}
}
