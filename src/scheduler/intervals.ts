/**
 * Schedule ticks and data intervals, Airflow's way: consecutive cron ticks a < b delimit the data
 * interval [a, b), and the run for that interval is due at b. Ticks come from croner, in the job's zone.
 */
import { Cron } from 'croner';
import { cronExpressionOf, type Schedule } from './definitions/schedule.js';
import { dateInZone, isDateOnly, parseDateOrInstant, startOfNextDay } from './timezone.js';

export interface DataInterval {
  start: Date;
  /** Exclusive. Equal to `start` for runs that are not about a period (event and ad-hoc manual runs). */
  end: Date;
}

export type ResolvedSchedule =
  | { kind: 'cron'; cron: string; timezone: string; label: string }
  | { kind: 'tables'; tables: string[] }
  | { kind: 'manual' };

export function resolveSchedule(schedule: Schedule | undefined, jobTimezone: string): ResolvedSchedule {
  if (schedule === undefined) return { kind: 'manual' };
  if (typeof schedule === 'string') return { kind: 'cron', cron: cronExpressionOf(schedule), timezone: jobTimezone, label: schedule };
  if ('cron' in schedule) {
    return { kind: 'cron', cron: cronExpressionOf(schedule.cron), timezone: schedule.timezone ?? jobTimezone, label: schedule.cron };
  }
  return { kind: 'tables', tables: schedule.onTablesChanged };
}

/** The ticks of one cron expression in one zone. */
export class Timetable {
  private readonly cron: Cron;

  constructor(
    readonly expression: string,
    readonly timezone: string,
  ) {
    this.cron = new Cron(cronExpressionOf(expression), { timezone, paused: true });
  }

  /** The first tick strictly after `instant`. */
  tickAfter(instant: Date): Date | undefined {
    return this.cron.nextRun(instant) ?? undefined;
  }

  tickAtOrAfter(instant: Date): Date | undefined {
    return this.tickAfter(new Date(instant.getTime() - 1));
  }

  /** The last tick strictly before `instant`. */
  tickBefore(instant: Date): Date | undefined {
    return this.cron.previousRuns(1, instant)[0];
  }

  tickAtOrBefore(instant: Date): Date | undefined {
    return this.tickBefore(new Date(instant.getTime() + 1));
  }

  /** The interval that starts at a tick. */
  intervalStartingAt(start: Date): DataInterval | undefined {
    const end = this.tickAfter(start);
    return end ? { start, end } : undefined;
  }

  /** The interval [tick ≤ instant, next tick). */
  intervalContaining(instant: Date): DataInterval | undefined {
    const start = this.tickAtOrBefore(instant);
    return start ? this.intervalStartingAt(start) : undefined;
  }

  /** The latest interval that is complete at `now` (its end ≤ now). */
  latestCompleteInterval(now: Date): DataInterval | undefined {
    const end = this.tickAtOrBefore(now);
    const start = end ? this.tickBefore(end) : undefined;
    return start && end ? { start, end } : undefined;
  }
}

/** Jobs without a cron schedule still take dates (manual triggers, backfills): they count in days. */
export function dateTimetable(schedule: ResolvedSchedule, timezone: string): Timetable {
  return schedule.kind === 'cron' ? new Timetable(schedule.cron, schedule.timezone) : new Timetable('@daily', timezone);
}

export interface ScheduleProgress {
  /** The first interval may start no earlier than this (the job's `start`, or when the scheduler started). */
  firstStart: Date;
  /** Start of the latest interval already given a scheduled run. */
  lastStart?: Date;
  /** The job's `end`: no interval starting after it. */
  endBound?: Date;
}

function firstPendingStart(timetable: Timetable, progress: ScheduleProgress): Date | undefined {
  const start = progress.lastStart ? timetable.tickAfter(progress.lastStart) : timetable.tickAtOrAfter(progress.firstStart);
  if (!start || (progress.endBound && start > progress.endBound)) return undefined;
  return start;
}

/**
 * The intervals due at `now` that have no scheduled run yet. With catchup every missed interval (oldest
 * first, at most `limit`; `more` says some were left for the next call), without it only the latest one.
 */
export function dueIntervals(
  timetable: Timetable,
  progress: ScheduleProgress,
  options: { now: Date; catchup: boolean; limit: number },
): { intervals: DataInterval[]; more: boolean } {
  const pendingStart = firstPendingStart(timetable, progress);
  if (!pendingStart) return { intervals: [], more: false };
  if (!options.catchup) {
    let latest = timetable.latestCompleteInterval(options.now);
    // Past the job's end, the latest interval is the one holding the end (complete, as it ends before `latest`).
    if (latest && progress.endBound && latest.start > progress.endBound) latest = timetable.intervalContaining(progress.endBound);
    return { intervals: latest && latest.start >= pendingStart ? [latest] : [], more: false };
  }
  const intervals: DataInterval[] = [];
  let interval = timetable.intervalStartingAt(pendingStart);
  while (interval && interval.end <= options.now && !(progress.endBound && interval.start > progress.endBound)) {
    if (intervals.length === options.limit) return { intervals, more: true };
    intervals.push(interval);
    interval = timetable.intervalStartingAt(interval.end);
  }
  return { intervals, more: false };
}

/** When the next scheduled run falls due (the end of the next pending interval), if ever. */
export function nextDueAt(timetable: Timetable, progress: ScheduleProgress): Date | undefined {
  const pendingStart = firstPendingStart(timetable, progress);
  return pendingStart ? timetable.tickAfter(pendingStart) : undefined;
}

/**
 * The interval of a manual trigger: the interval containing `date` when one is given; otherwise the latest
 * complete interval of a cron job, or the instant `now` for jobs that are not about periods.
 */
export function manualInterval(
  schedule: ResolvedSchedule,
  timezone: string,
  date: string | undefined,
  now: Date,
): DataInterval {
  const timetable = dateTimetable(schedule, timezone);
  if (date !== undefined) {
    const instant = parseDateOrInstant(date, timetable.timezone);
    if (!instant) throw new RangeError(`${JSON.stringify(date)} is not a date ('YYYY-MM-DD') or an ISO date-time`);
    const interval = timetable.intervalContaining(instant);
    if (!interval) throw new RangeError(`no schedule tick at or before ${date}`);
    return interval;
  }
  if (schedule.kind === 'cron') {
    const latest = timetable.latestCompleteInterval(now);
    if (latest) return latest;
  }
  return { start: now, end: now };
}

/**
 * One interval per tick whose start lies in [from, to]: a bare date as `to` covers that whole day.
 * Intervals that have not ended by `now` are left out (their data is not complete yet).
 */
export function backfillIntervals(
  timetable: Timetable,
  range: { from: string; to: string },
  options: { now: Date; limit: number },
): DataInterval[] {
  const from = parseDateOrInstant(range.from, timetable.timezone);
  const toExclusive = isDateOnly(range.to)
    ? startOfNextDay(range.to, timetable.timezone)
    : (() => {
        const to = parseDateOrInstant(range.to, timetable.timezone);
        return to ? new Date(to.getTime() + 1) : undefined;
      })();
  if (!from) throw new RangeError(`backfill start ${JSON.stringify(range.from)} is not a date or an ISO date-time`);
  if (!toExclusive) throw new RangeError(`backfill end ${JSON.stringify(range.to)} is not a date or an ISO date-time`);
  if (toExclusive <= from) throw new RangeError(`backfill range is empty: it starts at ${range.from}, after its end ${range.to}; give the earlier day first`);
  const intervals: DataInterval[] = [];
  let start = timetable.tickAtOrAfter(from);
  while (start && start < toExclusive) {
    const interval = timetable.intervalStartingAt(start);
    if (!interval || interval.end > options.now) break;
    if (intervals.length === options.limit) {
      throw new RangeError(`backfill ${range.from}..${range.to} spans more than ${options.limit} intervals; split it into backfills of at most ${options.limit} intervals each`);
    }
    intervals.push(interval);
    start = interval.end;
  }
  return intervals;
}

/** Airflow's `ds`: the interval start's calendar date in the job's zone. */
export function dsOf(interval: DataInterval, timezone: string): string {
  return dateInZone(interval.start, timezone);
}
