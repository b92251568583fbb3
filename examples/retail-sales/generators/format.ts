/** Calendar and number formatting shared by the generators. Dates are UTC calendar days counted from 1970-01-01 ("epoch days"). */

const MS_PER_DAY = 86_400_000;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

export function toEpochDay(isoDate: string): number {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(isoDate);
  if (!match) throw new Error(`expected a YYYY-MM-DD date, got '${isoDate}'`);
  return Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])) / MS_PER_DAY;
}

/** 'YYYY-MM-DD'. */
export function isoDate(epochDay: number): string {
  return new Date(epochDay * MS_PER_DAY).toISOString().slice(0, 10);
}

/**
 * The date parts of timestamps, remembered for the last day asked: streams format millions of
 * timestamps of one day, and a Date per timestamp made formatting their slowest step.
 */
let memoDay = Number.NaN;
let memoIso = '';
let memoApache = '';
function rememberDay(epochDay: number): void {
  if (epochDay === memoDay) return;
  const date = new Date(epochDay * MS_PER_DAY);
  memoDay = epochDay;
  memoIso = isoDate(epochDay);
  memoApache = `${pad2(date.getUTCDate())}/${MONTHS[date.getUTCMonth()]}/${date.getUTCFullYear()}`;
}

/** 0 = Monday … 6 = Sunday. */
export function weekday(epochDay: number): number {
  // 1970-01-01 was a Thursday.
  return (epochDay + 3) % 7;
}

const pad2 = (n: number) => (n < 10 ? `0${n}` : `${n}`);

/** 'HH:MM:SS' for every second of a day, built once: formatting dominates a CSV writer's time otherwise. */
const CLOCK: readonly string[] = Array.from({ length: 86_400 }, (_, s) => `${pad2(Math.floor(s / 3600))}:${pad2(Math.floor(s / 60) % 60)}:${pad2(s % 60)}`);

export function clock(secondOfDay: number): string {
  return CLOCK[secondOfDay] as string;
}

/** ISO 8601 in UTC with a Z, to the second: '2024-11-28T19:22:05Z'. */
export function isoInstant(epochSecond: number): string {
  rememberDay(Math.floor(epochSecond / 86_400));
  return `${memoIso}T${clock(epochSecond % 86_400)}Z`;
}

/** Apache's %t: '28/Nov/2024:19:22:05 +0000'. */
export function apacheTime(epochSecond: number): string {
  rememberDay(Math.floor(epochSecond / 86_400));
  return `${memoApache}:${clock(epochSecond % 86_400)} +0000`;
}

/** A price in cents as '12.99'. */
export function formatCents(cents: number): string {
  const sign = cents < 0 ? '-' : '';
  const abs = Math.abs(cents);
  const rest = abs % 100;
  return `${sign}${Math.floor(abs / 100)}.${rest < 10 ? '0' : ''}${rest}`;
}
