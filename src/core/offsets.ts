import { TributaryError } from './errors.js';

/**
 * What committing a micro-batch does to a stream sink's offsets: each partition the batch holds
 * moves from the offset the sink had committed (absent: none yet) to the one after its last
 * record. A store commits the move only if its offsets still stand at `from`, checked inside the
 * commit's transaction (compare-and-set): a worker that lost a partition to another, or raced one
 * for it, cannot commit those records a second time, whatever it read.
 */
export interface OffsetMove {
  from: ReadonlyMap<number, number>;
  to: ReadonlyMap<number, number>;
}

export function offsetMove(committed: ReadonlyMap<number, number>, ranges: ReadonlyMap<number, { first: number; last: number }>): OffsetMove {
  const from = new Map<number, number>();
  const to = new Map<number, number>();
  for (const [partition, range] of ranges) {
    const before = committed.get(partition);
    if (before !== undefined) from.set(partition, before);
    to.set(partition, Math.max(before ?? 0, range.last + 1));
  }
  return { from, to };
}

/** A sink's offsets once `move` has committed. */
export function afterMove(committed: ReadonlyMap<number, number>, move: OffsetMove): Map<number, number> {
  return new Map([...committed, ...move.to]);
}

/** The first partition whose committed offset is not where `move` expects it, if any. */
export function offsetMismatch(move: OffsetMove, found: ReadonlyMap<number, number>): { partition: number; expected?: number; found?: number } | undefined {
  for (const partition of move.to.keys()) {
    const expected = move.from.get(partition);
    if (found.get(partition) !== expected) return { partition, expected, found: found.get(partition) };
  }
  return undefined;
}

/**
 * A stream sink's offsets moved after its batch was read: another worker of the job committed
 * those records. Nothing of the batch was committed in that sink; the job reads its offsets again
 * and goes on from there.
 */
export class OffsetConflict extends TributaryError {
  constructor(job: string, sink: string, mismatch: { partition: number; expected?: number; found?: number }) {
    super(
      `sink ${sink} of ${job}: partition ${mismatch.partition} is committed up to ${mismatch.found ?? 'nothing'}, not ${mismatch.expected ?? 'nothing'} as this batch expected: another worker committed it`,
      { hint: 'nothing to do: the job reads its committed offsets again and goes on from them' },
    );
    this.name = 'OffsetConflict';
  }
}
