import { TributaryError } from './errors.js';

/**
 * A run's data interval, as Airflow and dbt mean it: the slice of time the run is about, start
 * included, end excluded. `ds` is the start's date in the interval's zone. A daily run of
 * 2019-11-08 has [2019-11-08T00:00Z, 2019-11-09T00:00Z); in Europe/Paris, 2024-05-02 is
 * [2024-05-01T22:00Z, 2024-05-02T22:00Z), and a day when the clocks change lasts 23 or 25 hours.
 */
export interface DataInterval {
  start: string;
  end: string;
  ds: string;
  /** The zone whose calendar days the interval covers (a scheduled job's `timezone`); UTC when absent. */
  timezone?: string;
}

const DAY_MS = 86_400_000;

export function isoDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/**
 * Whether `text` is a day of the calendar written YYYY-MM-DD. Date.parse alone takes 2024-02-30 or
 * 2023-04-31 and rolls them into the next month.
 */
export function isCalendarDay(text: string): boolean {
  const ms = Date.parse(`${text}T00:00:00Z`);
  return /^\d{4}-\d{2}-\d{2}$/.test(text) && !Number.isNaN(ms) && isoDay(ms) === text;
}

/** The UTC day `ds` as an interval. */
export function dayInterval(ds: string): DataInterval {
  if (!isCalendarDay(ds)) {
    throw new TributaryError(`expected a day of the calendar like 2019-11-05, got '${ds}'`, { hint: 'dates are YYYY-MM-DD' });
  }
  const start = Date.parse(`${ds}T00:00:00Z`);
  return { start: new Date(start).toISOString(), end: new Date(start + DAY_MS).toISOString(), ds };
}

/** Every day from `from` to `to`, both included. */
export function daysBetween(from: string, to: string): string[] {
  const out: string[] = [];
  for (let d = dayInterval(from).start; d <= dayInterval(to).start; d = new Date(Date.parse(d) + DAY_MS).toISOString()) out.push(d.slice(0, 10));
  if (!out.length) throw new TributaryError(`--from ${from} is after --to ${to}`, { hint: 'swap them' });
  return out;
}

const PATH_PLACEHOLDER = /\{(ds|date|yyyy|mm|dd)\}/g;

/** Local midnights fall on a quarter hour in every zone, so a step this short sees every date change. */
const ZONE_STEP_MS = 15 * 60_000;

/**
 * The calendar days an interval covers in its zone (a run for several days covers each of them).
 * These name the date partitions a run rebuilds: a Paris run of 2024-05-02 rebuilds dt=2024-05-02,
 * though its instants start on the 1st in UTC.
 */
export function intervalDays(interval: DataInterval): string[] {
  const start = Date.parse(interval.start);
  const end = Date.parse(interval.end);
  if (!(end > start)) return [interval.ds];
  const dateOf = dateInZone(interval.timezone ?? 'UTC');
  const days = new Set<string>();
  for (let ms = start; ms < end; ms += ZONE_STEP_MS) days.add(dateOf(ms));
  days.add(dateOf(end - 1));
  return [...days];
}

/** 'YYYY-MM-DD' of an instant in a zone. */
function dateInZone(timeZone: string): (ms: number) => string {
  if (timeZone === 'UTC') return isoDay;
  const format = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
  return (ms) => format.format(ms);
}

/**
 * A path for each day of the interval with its date filled in (one path when the pattern names
 * no date), or a glob over every date when there is no interval.
 */
export function fillPaths(pattern: string, interval?: DataInterval): { day: string | undefined; path: string }[] {
  const fill = (ds: string | undefined) =>
    pattern.replace(PATH_PLACEHOLDER, (_all, name: string) => {
      if (!ds) return '*';
      const [yyyy, mm, dd] = ds.split('-');
      return { ds, date: ds, yyyy: yyyy!, mm: mm!, dd: dd! }[name as 'ds']!;
    });
  if (!interval || !new RegExp(PATH_PLACEHOLDER.source).test(pattern)) return [{ day: undefined, path: fill(interval?.ds) }];
  return intervalDays(interval).map((day) => ({ day, path: fill(day) }));
}

const SQL_VARIABLE = /\{\{\s*(ds|data_interval_start|data_interval_end)\s*\}\}/g;

export function usesInterval(sql: string): boolean {
  return new RegExp(SQL_VARIABLE.source).test(sql);
}

/** SQL with `{{ ds }}`, `{{ data_interval_start }}` and `{{ data_interval_end }}` as literals. */
export function fillSql(sql: string, interval: DataInterval | undefined, where: string): string {
  return sql.replace(SQL_VARIABLE, (_all, name: string) => {
    if (!interval) {
      throw new TributaryError(`${where} uses {{ ${name} }}, but this run has no data interval`, {
        hint: 'run it for a day (`tributary run --date 2019-11-08`, a backfill, or a scheduled job)',
      });
    }
    if (name === 'ds') return `DATE '${interval.ds}'`;
    const value = name === 'data_interval_start' ? interval.start : interval.end;
    return `TIMESTAMP '${value.replace('T', ' ').replace('Z', '')}'`;
  });
}
