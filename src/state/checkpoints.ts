import { statSync } from 'node:fs';
import type { Engine } from '../engine/index.js';

/** Half of DuckDB's own threshold (`checkpoint_threshold`, 16 MB): room to checkpoint before it does. */
const CHECKPOINT_AT_BYTES = 8 * 1024 * 1024;

/**
 * DuckDB writes its write-ahead log into the database file once the log passes its threshold,
 * inside the commit that crossed it: a stream's micro-batch then waited for that rewrite (200 to
 * 500 ms beside a 100 ms commit) once every fifty batches or so, which made the stream's p99.
 * This checkpoints on a connection of its own as soon as a commit leaves the log past half the
 * threshold, in the time between commits. A checkpoint that finds other transactions running
 * fails, and is tried again after the next commit; DuckDB's own stays as the backstop.
 */
export class Checkpointer {
  private running = false;

  constructor(
    /** A connection of its own: the checkpoint must not queue behind, or ahead of, anyone's statements. */
    private readonly engine: Engine,
    private readonly walFile: string,
  ) {}

  /** Called after every commit; returns at once. */
  afterCommit(): void {
    if (this.running || walBytes(this.walFile) < CHECKPOINT_AT_BYTES) return;
    this.running = true;
    void this.engine
      .run('CHECKPOINT')
      .catch(() => undefined)
      .finally(() => (this.running = false));
  }
}

function walBytes(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}
