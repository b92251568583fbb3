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

  constructor(capacity = 200_000) {
    this.samples = new Float64Array(capacity);
  }

  add(value: number): void {
    this.samples[this.next] = value;
    this.next = (this.next + 1) % this.samples.length;
    this.size = Math.min(this.size + 1, this.samples.length);
  }

  percentile(p: number): number | null {
    if (!this.size) return null;
    const sorted = Array.from(this.samples.subarray(0, this.size)).sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
  }
}
