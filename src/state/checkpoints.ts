import { statSync } from 'node:fs';
import type { Engine } from '../engine/index.js';

/** Half of DuckDB's own threshold (`checkpoint_threshold`, 16 MB): room to checkpoint before it does. */
export const CHECKPOINT_AT_BYTES = 8 * 1024 * 1024;

/**
 * DuckDB writes its write-ahead log into the database file once the log passes its threshold,
 * inside the commit that crossed it: a stream's micro-batch then waited for that rewrite (200 to
 * 500 ms beside a 100 ms commit) once every fifty batches or so, which made the stream's p99.
 * This checkpoints on a connection of its own as soon as a commit leaves the log past half the
 * threshold, in the time between commits. A checkpoint that finds a transaction updating or
 * deleting fails (one that only appends runs beside it) and is tried again after the next commit;
 * DuckDB's own stays as the backstop. While one runs a stream's commit waits for it (at 10,000
 * events/s, without checkpoints the p99 was some 40 % lower), so their count and time are in
 * /metrics. More frequent, smaller ones cost more CPU and did not lower the p99.
 */
export class Checkpointer {
  private running = false;
  private readonly counts: CheckpointStats = { checkpoints: 0, seconds: 0, longestSeconds: 0, refused: 0 };

  constructor(
    /** A connection of its own: the checkpoint must not queue behind, or ahead of, anyone's statements. */
    private readonly engine: Engine,
    private readonly walFile: string,
  ) {}

  /** Called after every commit; returns at once. */
  afterCommit(): void {
    if (this.running || walBytes(this.walFile) < CHECKPOINT_AT_BYTES) return;
    this.running = true;
    const started = performance.now();
    void this.engine
      .run('CHECKPOINT')
      .then(
        () => {
          const seconds = (performance.now() - started) / 1000;
          this.counts.checkpoints++;
          this.counts.seconds += seconds;
          this.counts.longestSeconds = Math.max(this.counts.longestSeconds, seconds);
        },
        () => this.counts.refused++,
      )
      .finally(() => (this.running = false));
  }

  /**
   * What the checkpoints cost since the state opened. Commits wait while one runs: a stream's
   * latency spikes line up with them.
   */
  stats(): CheckpointStats {
    return { ...this.counts };
  }
}

export interface CheckpointStats {
  /** Checkpoints run. */
  checkpoints: number;
  /** Their seconds in all, and the longest. */
  seconds: number;
  longestSeconds: number;
  /** Checkpoints that did not run (a transaction was updating, or the checkpoint failed), tried again after a later commit. */
  refused: number;
}

function walBytes(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}
