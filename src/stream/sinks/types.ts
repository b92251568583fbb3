import type { CatalogTransaction } from '../../catalog/index.js';
import type { MicroBatch } from '../microbatch.js';

export interface SinkCommit {
  /** Rows written per table. */
  rows: Record<string, number>;
  /** Rows that arrived after their window closed. */
  late: number;
}

/**
 * A micro-batch a sink has staged (its models evaluated, its files written) and not yet
 * committed. Sinks whose stores commit in the catalog's transaction commit a batch together: one
 * of them commits and carries the others' writes in its transaction, so the batch costs one
 * commit of the catalog, not one per sink.
 */
export interface StagedBatch {
  /** Its commit is a transaction of the catalog that can carry other writes (`commit(alongside)`). */
  readonly carries: boolean;
  /** Commits the batch in the store's own transaction, with `alongside` inside it when the store `carries`. */
  commit(alongside?: (tx: CatalogTransaction) => Promise<void>): Promise<SinkCommit>;
  /** Writes the batch inside another sink's catalog transaction; absent when the store's rows live elsewhere. */
  writeIn?(tx: CatalogTransaction): Promise<SinkCommit>;
  /** The transaction that held the batch is durable: the sink's offsets (and watermark) move on. */
  settle(): void;
  /** The batch will not commit: what it staged goes. */
  discard(): Promise<void>;
}

/**
 * A stream sink owns its progress: the batch's rows commit together with the offsets the sink
 * has now consumed, in one atomic step of its store (shared with other sinks when their stores
 * allow). After a crash the job restarts each sink from its own committed offsets.
 */
export interface StreamSink {
  readonly name: string;
  readonly kind: string;
  open(schemaBatch: MicroBatch): Promise<void>;
  /** Next offset to consume, per partition, as last committed. */
  committed(): Promise<Map<number, number>>;
  /** Reads its committed offsets (and state) again: another worker of the job may have moved them. */
  refresh(): Promise<void>;
  stage(batch: MicroBatch): Promise<StagedBatch>;
  close(): Promise<void>;
}
