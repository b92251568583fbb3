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
  commit(batch: MicroBatch): Promise<SinkCommit>;
  close(): Promise<void>;
}

/** The offsets a sink will have consumed once this batch commits. */
export function advance(next: ReadonlyMap<number, number>, ranges: ReadonlyMap<number, { first: number; last: number }>): Map<number, number> {
  const out = new Map(next);
  for (const [p, r] of ranges) out.set(p, Math.max(out.get(p) ?? 0, r.last + 1));
  return out;
}
