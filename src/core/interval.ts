import { TributaryError } from './errors.js';

/**
 * A run's data interval, as Airflow and dbt mean it: the slice of time the run is about, start
 * included, end excluded. `ds` is the start's date. A daily run of 2019-11-08 has
 * [2019-11-08T00:00Z, 2019-11-09T00:00Z).
 */
export interface DataInterval {
  start: string;
  end: string;
  ds: string;
}

const DAY_MS = 86_400_000;

export function isoDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** The UTC day `ds` as an interval. */
export function dayInterval(ds: string): DataInterval {
  const start = Date.parse(`${ds}T00:00:00Z`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(ds) || Number.isNaN(start)) {
    throw new TributaryError(`expected a date like 2019-11-05, got '${ds}'`, { hint: 'dates are YYYY-MM-DD' });
  }
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

/** The UTC days an interval covers (a run for several days covers each of them). */
export function intervalDays(interval: DataInterval): string[] {
  const out: string[] = [];
  for (let ms = Date.parse(interval.start); ms < Date.parse(interval.end); ms += DAY_MS) out.push(isoDay(ms));
  return out.length ? out : [interval.ds];
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
