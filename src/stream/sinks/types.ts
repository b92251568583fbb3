import type { MicroBatch } from '../microbatch.js';

export interface SinkCommit {
  /** Rows written per table. */
  rows: Record<string, number>;
  /** Rows that arrived after their window closed. */
  late: number;
}

/**
 * A stream sink owns its progress: `commit` writes what the sink has not yet committed of a
 * micro-batch together with the offsets it has now consumed, in one atomic step of its store.
 * After a crash the job restarts each sink from its own committed offsets.
 */
export interface StreamSink {
  readonly name: string;
  readonly kind: string;
  open(schemaBatch: MicroBatch): Promise<void>;
  /** Next offset to consume, per partition, as last committed. */
  committed(): Promise<Map<number, number>>;
  /** Reads its committed offsets (and state) again: another worker of the job may have moved them. */
  refresh(): Promise<void>;
  commit(batch: MicroBatch): Promise<SinkCommit>;
  close(): Promise<void>;
}

