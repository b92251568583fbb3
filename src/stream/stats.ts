/** Rolling numbers for a running job: rate over a time window and latency percentiles. */
export class RollingRate {
  private readonly points: { at: number; count: number }[] = [];
  constructor(private readonly windowMs = 10_000) {}

  add(count: number, at = Date.now()): void {
    this.points.push({ at, count });
    while (this.points.length && this.points[0]!.at < at - this.windowMs) this.points.shift();
  }

  perSecond(at = Date.now()): number {
    const recent = this.points.filter((p) => p.at >= at - this.windowMs);
    if (!recent.length) return 0;
    const span = Math.max(at - recent[0]!.at, 1000);
    return (recent.reduce((s, p) => s + p.count, 0) * 1000) / span;
  }
}

/** Keeps the most recent samples (a ring) and answers percentiles over them. */
export class LatencyWindow {
  private readonly samples: Float64Array;
  private size = 0;
  private next = 0;
  /**
   * The samples in order, until the next one: a status asks for several percentiles at once, and
   * sorting a full window costs tens of milliseconds of the thread the job commits on.
   */
  private sorted: Float64Array | undefined;

  constructor(capacity = 200_000) {
    this.samples = new Float64Array(capacity);
  }

  add(value: number): void {
    this.samples[this.next] = value;
    this.next = (this.next + 1) % this.samples.length;
    this.size = Math.min(this.size + 1, this.samples.length);
    this.sorted = undefined;
  }

  percentile(p: number): number | null {
    if (!this.size) return null;
    // A typed array sorts by value, without a comparator call per pair.
    const sorted = (this.sorted ??= this.samples.slice(0, this.size).sort());
    return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
  }
}

/**
 * Upper bounds (seconds) of the event-to-commit histogram: fine steps around the micro-batch
 * trigger and the 1 s goal, where the percentiles that matter fall.
 */
export const EVENT_TO_COMMIT_BUCKETS = [
  0.01, 0.025, 0.05, 0.075, 0.1, 0.125, 0.15, 0.175, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 7.5, 10,
] as const;

/** A histogram as Prometheus exposes it: `cumulative[i]` counts the samples ≤ `bounds[i]`. */
export interface HistogramSnapshot {
  bounds: readonly number[];
  cumulative: number[];
  count: number;
  sum: number;
}

/**
 * Counts since the job started, never reset: a scraper takes the difference of two snapshots to
 * get the percentiles of any interval, which the recent-samples window cannot give.
 */
export class LatencyHistogram {
  private readonly perBucket: number[];
  private count = 0;
  private sum = 0;

  constructor(private readonly bounds: readonly number[] = EVENT_TO_COMMIT_BUCKETS) {
    this.perBucket = bounds.map(() => 0);
  }

  add(seconds: number): void {
    const bucket = this.bounds.findIndex((bound) => seconds <= bound);
    if (bucket >= 0) this.perBucket[bucket]!++;
    this.count++;
    this.sum += seconds;
  }

  snapshot(): HistogramSnapshot {
    let running = 0;
    return { bounds: this.bounds, cumulative: this.perBucket.map((n) => (running += n)), count: this.count, sum: this.sum };
  }
}
