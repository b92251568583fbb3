import type { DataInterval } from '../core/interval.js';
import type { BatchPolicy } from '../materializations/index.js';

/** One batch of a microbatch model: UTC instants, start included, end excluded. */
export interface Batch {
  start: string;
  end: string;
}

/** What a run of a microbatch model does: rebuild one interval and record its complete batches, or nothing. */
export interface BatchPlan {
  /** The interval the run replaces (its rows only: the model's rows outside it stay). */
  interval: DataInterval;
  /** The batches the run completes (the one holding `now` is left out: more rows will come). */
  complete: Batch[];
  /** Every batch recorded before is forgotten: the run rebuilds the model whole. */
  whole: boolean;
  /** Why these batches, for the run's log. */
  why: string;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** Per batch size: the start of the batch that holds an instant, and the start of the batch after one. */
const SIZES: Record<BatchPolicy['size'], { floor(ms: number): number; next(ms: number): number }> = {
  hour: { floor: (ms) => ms - (ms % 3_600_000), next: (ms) => ms + 3_600_000 },
  day: { floor: (ms) => ms - (ms % 86_400_000), next: (ms) => ms + 86_400_000 },
  month: {
    floor: (ms) => Date.UTC(new Date(ms).getUTCFullYear(), new Date(ms).getUTCMonth(), 1),
    next: (ms) => Date.UTC(new Date(ms).getUTCFullYear(), new Date(ms).getUTCMonth() + 1, 1),
  },
  year: { floor: (ms) => Date.UTC(new Date(ms).getUTCFullYear(), 0, 1), next: (ms) => Date.UTC(new Date(ms).getUTCFullYear() + 1, 0, 1) },
};
const floor = (ms: number, size: BatchPolicy['size']) => SIZES[size].floor(ms);
const next = (ms: number, size: BatchPolicy['size']) => SIZES[size].next(ms);

/** Every batch from the one holding `from` to the one before `to`'s batch end. */
export function batchesBetween(from: number, to: number, size: BatchPolicy['size']): Batch[] {
  const out: Batch[] = [];
  for (let start = floor(from, size); start < to; start = next(start, size)) out.push({ start: iso(start), end: iso(next(start, size)) });
  return out;
}

/**
 * The batches a run of a microbatch model takes, from what the catalog says is processed (not a
 * guess from the clock, as dbt's "now minus lookback" is): every batch from `begin` up to the run's
 * end that was never processed (a skipped run's gap), and the `lookback` batches before the run's
 * own, whose late rows may have arrived since. They are run as one interval, from the first batch
 * needed to the run's end. A model with no batch recorded, run without an interval, is built whole.
 *
 * `asked` is the run's data interval (`--date`, a scheduled run's); without one the run goes up to
 * `now`. The batch holding `now` is built but not recorded, so the next run builds it again.
 */
export function planBatches(policy: BatchPolicy, processed: readonly Batch[], asked: DataInterval | undefined, now: number): BatchPlan | undefined {
  const begin = Date.parse(policy.begin);
  const end = asked ? Date.parse(asked.end) : next(floor(now, policy.size), policy.size);
  if (end <= begin) return undefined;
  const all = batchesBetween(begin, end, policy.size);
  const complete = (batches: Batch[]) => batches.filter((b) => Date.parse(b.end) <= now);
  const interval = (start: string): DataInterval => ({ start, end: iso(end), ds: start.slice(0, 10) });
  if (!processed.length && !asked) {
    return { interval: interval(all[0]!.start), complete: complete(all), whole: true, why: `a first build: every ${policy.size} from ${policy.begin}` };
  }
  const done = new Set(processed.map((b) => b.start));
  const own = asked ? Date.parse(asked.start) : floor(now, policy.size);
  // The run's own batches and the lookback before them: the first batch at or after `own`, less `lookback`.
  const ownIndex = all.findIndex((b) => Date.parse(b.end) > own);
  const from = Math.max(0, (ownIndex < 0 ? all.length : ownIndex) - policy.lookback);
  const gaps = all.slice(0, from).filter((b) => !done.has(b.start));
  const first = gaps[0] ?? all[from];
  if (!first) return undefined;
  const firstIndex = all.indexOf(first);
  const why = [
    gaps.length ? `${gaps.length} never processed (from ${gaps[0]!.start.slice(0, 16)})` : '',
    `${all.length - from} ${asked ? 'asked for' : 'up to now'}${policy.lookback ? ` with a lookback of ${policy.lookback}` : ''}`,
  ]
    .filter(Boolean)
    .join(', ');
  return { interval: interval(first.start), complete: complete(all.slice(firstIndex)), whole: false, why: `${policy.size} batches: ${why}` };
}
