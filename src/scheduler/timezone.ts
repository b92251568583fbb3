/**
 * Time-zone arithmetic through Intl only (no tz database of our own): the wall clock of an instant in a
 * zone, and the instant of a wall-clock time in a zone. Cron ticks themselves come from croner.
 */

export interface WallTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  millisecond: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

export function isValidTimeZone(timeZone: string): boolean {
  try {
    formatterFor(timeZone);
    return true;
  } catch {
    return false;
  }
}

export function wallTimeIn(instant: Date, timeZone: string): WallTime {
  const parts: Record<string, number> = {};
  for (const part of formatterFor(timeZone).formatToParts(instant)) {
    if (part.type !== 'literal') parts[part.type] = Number(part.value);
  }
  return {
    year: parts.year ?? 0,
    month: parts.month ?? 1,
    day: parts.day ?? 1,
    hour: parts.hour ?? 0,
    minute: parts.minute ?? 0,
    second: parts.second ?? 0,
    millisecond: instant.getUTCMilliseconds(),
  };
}

function wallTimeAsUtcMs(wall: WallTime): number {
  return Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute, wall.second, wall.millisecond);
}

/** The zone's offset from UTC at an instant, in ms (positive east of Greenwich). */
function offsetMs(instant: Date, timeZone: string): number {
  return wallTimeAsUtcMs(wallTimeIn(instant, timeZone)) - instant.getTime();
}

/**
 * The instant at which the zone's clocks show `wall`. Two passes settle the offset across a DST change;
 * a wall time inside a spring-forward gap resolves to the instant just after the gap.
 */
export function instantOfWallTime(wall: WallTime, timeZone: string): Date {
  const asUtc = wallTimeAsUtcMs(wall);
  const firstGuess = asUtc - offsetMs(new Date(asUtc), timeZone);
  const secondGuess = asUtc - offsetMs(new Date(firstGuess), timeZone);
  return new Date(secondGuess);
}

const pad = (value: number, width = 2): string => String(value).padStart(width, '0');

/** 'YYYY-MM-DD' of an instant in a zone: Airflow's `ds`. */
export function dateInZone(instant: Date, timeZone: string): string {
  const wall = wallTimeIn(instant, timeZone);
  return `${pad(wall.year, 4)}-${pad(wall.month)}-${pad(wall.day)}`;
}

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
const LOCAL_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?$/;
const ZONED_DATE_TIME = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i;

/** True for 'YYYY-MM-DD', a local 'YYYY-MM-DDTHH:MM[:SS]' or an ISO instant with Z or an offset. */
export function isDateOrInstant(text: string): boolean {
  return parseDateOrInstant(text, 'UTC') !== undefined;
}

export function isDateOnly(text: string): boolean {
  return DATE_ONLY.test(text);
}

/**
 * Reads a config date: 'YYYY-MM-DD' is midnight in the zone, a date-time without offset is a wall time in
 * the zone, and an ISO string with Z or an offset is that instant.
 */
export function parseDateOrInstant(text: string, timeZone: string): Date | undefined {
  const dateOnly = DATE_ONLY.exec(text);
  const local = dateOnly ? null : LOCAL_DATE_TIME.exec(text);
  const fields = dateOnly ?? local;
  if (fields) {
    const wall: WallTime = {
      year: Number(fields[1]),
      month: Number(fields[2]),
      day: Number(fields[3]),
      hour: Number(fields[4] ?? 0),
      minute: Number(fields[5] ?? 0),
      second: Number(fields[6] ?? 0),
      millisecond: Number((fields[7] ?? '0').padEnd(3, '0')),
    };
    // Reject 2024-02-31 and friends instead of letting Date roll them into March.
    const check = new Date(Date.UTC(wall.year, wall.month - 1, wall.day));
    if (check.getUTCMonth() !== wall.month - 1 || check.getUTCDate() !== wall.day) return undefined;
    if (wall.hour > 23 || wall.minute > 59 || wall.second > 59) return undefined;
    return instantOfWallTime(wall, timeZone);
  }
  if (ZONED_DATE_TIME.test(text)) {
    const instant = new Date(text);
    return Number.isNaN(instant.getTime()) ? undefined : instant;
  }
  return undefined;
}

/** Midnight of the calendar day after `date` ('YYYY-MM-DD') in the zone. */
export function startOfNextDay(date: string, timeZone: string): Date {
  const [year, month, day] = date.split('-').map(Number) as [number, number, number];
  const next = new Date(Date.UTC(year, month - 1, day + 1));
  return instantOfWallTime(
    { year: next.getUTCFullYear(), month: next.getUTCMonth() + 1, day: next.getUTCDate(), hour: 0, minute: 0, second: 0, millisecond: 0 },
    timeZone,
  );
}
