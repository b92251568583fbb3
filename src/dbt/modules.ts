import { splitArgs } from './jinja.js';

/**
 * dbt's `modules` in a template: the parts of Python's `datetime`, `pytz` and `re` that dbt's
 * packages call (dbt_utils' `slugify` and `pretty_time`, dbt_date's `date` and `datetime`). Dates
 * print and format as Python's do; time zones are named and kept, not applied (Python's naive
 * arithmetic is not offered: compute dates in SQL).
 */

const pad = (n: number, width = 2) => String(n).padStart(width, '0');
const DAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

class TimeZone {
  constructor(readonly zone: string) {}
  toString() {
    return this.zone;
  }
}

/** Python's `datetime.date`: a calendar day. */
class PyDate {
  constructor(
    readonly year: number,
    readonly month: number,
    readonly day: number,
  ) {}
  /** Python's weekday(): Monday is 0. */
  weekday(): number {
    return (new Date(Date.UTC(this.year, this.month - 1, this.day)).getUTCDay() + 6) % 7;
  }
  isoformat(): string {
    return `${pad(this.year, 4)}-${pad(this.month)}-${pad(this.day)}`;
  }
  strftime(format: string): string {
    return strftime(format, this, { hour: 0, minute: 0, second: 0, microsecond: 0 });
  }
  toString() {
    return this.isoformat();
  }
}

/** Python's `datetime.datetime`. */
class PyDateTime extends PyDate {
  constructor(
    year: number,
    month: number,
    day: number,
    readonly hour = 0,
    readonly minute = 0,
    readonly second = 0,
    readonly microsecond = 0,
    readonly tzinfo: TimeZone | null = null,
  ) {
    super(year, month, day);
  }
  date(): PyDate {
    return new PyDate(this.year, this.month, this.day);
  }
  override isoformat(sep: unknown = 'T'): string {
    return `${super.isoformat()}${String(sep)}${pad(this.hour)}:${pad(this.minute)}:${pad(this.second)}${this.microsecond ? `.${pad(this.microsecond, 6)}` : ''}${this.offset()}`;
  }
  /** The zone's UTC offset at this wall time, as Python prints an aware datetime's (+00:00); none for a naive one. */
  private offset(): string {
    if (!this.tzinfo) return '';
    const instant = new Date(Date.UTC(this.year, this.month - 1, this.day, this.hour, this.minute, this.second));
    const name = new Intl.DateTimeFormat('en-US', { timeZone: this.tzinfo.zone, timeZoneName: 'longOffset' }).formatToParts(instant).find((p) => p.type === 'timeZoneName')?.value ?? 'GMT';
    return name === 'GMT' ? '+00:00' : name.replace('GMT', '');
  }
  override strftime(format: string): string {
    return strftime(format, this, this);
  }
  override toString() {
    return this.isoformat(' ');
  }
}

function strftime(format: string, date: PyDate, time: { hour: number; minute: number; second: number; microsecond: number }): string {
  const dayOfYear = Math.round((Date.UTC(date.year, date.month - 1, date.day) - Date.UTC(date.year, 0, 1)) / 86_400_000) + 1;
  const codes: Record<string, string> = {
    Y: pad(date.year, 4),
    y: pad(date.year % 100),
    m: pad(date.month),
    d: pad(date.day),
    H: pad(time.hour),
    I: pad(time.hour % 12 || 12),
    p: time.hour < 12 ? 'AM' : 'PM',
    M: pad(time.minute),
    S: pad(time.second),
    f: pad(time.microsecond, 6),
    j: pad(dayOfYear, 3),
    a: DAYS[date.weekday()]!.slice(0, 3),
    A: DAYS[date.weekday()]!,
    b: MONTHS[date.month - 1]!.slice(0, 3),
    B: MONTHS[date.month - 1]!,
    w: String((date.weekday() + 1) % 7),
    '%': '%',
  };
  return format.replace(/%(.)/g, (all, code: string) => codes[code] ?? all);
}

/** Positional or keyword arguments in Python's order. */
function named(args: unknown[], names: string[]): Record<string, unknown> {
  const { positional, keywords } = splitArgs(args);
  return Object.fromEntries(names.map((name, i) => [name, i < positional.length ? positional[i] : keywords[name]]));
}

const fromJs = (d: Date) => new PyDateTime(d.getFullYear(), d.getMonth() + 1, d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds(), d.getMilliseconds() * 1000);
const fromUtc = (d: Date) => new PyDateTime(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds() * 1000);

const datetimeClass = Object.assign(
  (...args: unknown[]) => {
    const a = named(args, ['year', 'month', 'day', 'hour', 'minute', 'second', 'microsecond', 'tzinfo']);
    const n = (key: string) => Number(a[key] ?? 0);
    return new PyDateTime(n('year'), n('month'), n('day'), n('hour'), n('minute'), n('second'), n('microsecond'), (a.tzinfo as TimeZone | undefined) ?? null);
  },
  {
    now: () => fromJs(new Date()),
    utcnow: () => fromUtc(new Date()),
    today: () => fromJs(new Date()),
  },
);

const dateClass = Object.assign(
  (...args: unknown[]) => {
    const a = named(args, ['year', 'month', 'day']);
    return new PyDate(Number(a.year), Number(a.month), Number(a.day));
  },
  { today: () => fromJs(new Date()).date() },
);

/** Python's regular expressions in JavaScript's: named groups spelled as JavaScript spells them. */
const jsRegExp = (pattern: unknown, flags = '') => new RegExp(String(pattern).replace(/\(\?P<(\w+)>/g, '(?<$1>'), flags);
const IGNORECASE = 2;
const flagsOf = (flags: unknown) => (Number(flags ?? 0) & IGNORECASE ? 'i' : '');

/** What a match object offers: `group()` and `groups()`. */
class PyMatch {
  constructor(private readonly found: RegExpExecArray) {}
  group(index: unknown = 0): string | null {
    return this.found[Number(index)] ?? null;
  }
  groups(): (string | null)[] {
    return this.found.slice(1).map((g) => g ?? null);
  }
  toString() {
    return `<re.Match object; match='${this.found[0]}'>`;
  }
}

export const DBT_MODULES = {
  datetime: { datetime: datetimeClass, date: dateClass },
  pytz: { timezone: (zone: unknown) => new TimeZone(String(zone)), utc: new TimeZone('UTC') },
  re: {
    IGNORECASE,
    I: IGNORECASE,
    sub: (...args: unknown[]) => {
      const a = named(args, ['pattern', 'repl', 'string', 'count', 'flags']);
      const count = Number(a.count ?? 0);
      let done = 0;
      return String(a.string).replace(jsRegExp(a.pattern, `g${flagsOf(a.flags)}`), (...m: unknown[]) => {
        if (count && done >= count) return String(m[0]);
        done++;
        const groups = typeof m.at(-1) === 'object' ? (m.at(-1) as Record<string, string | undefined> | undefined) : undefined;
        // Python's \1 and \g<name> (or \g<1>) in the replacement.
        return String(a.repl).replace(/\\(?:(\d+)|g<(\w+)>)/g, (_all, index?: string, name?: string) => {
          const key = index ?? name!;
          return String((/^\d+$/.test(key) ? m[Number(key)] : groups?.[key]) ?? '');
        });
      });
    },
    match: (...args: unknown[]) => {
      const a = named(args, ['pattern', 'string', 'flags']);
      const found = jsRegExp(`^(?:${String(a.pattern)})`, flagsOf(a.flags)).exec(String(a.string));
      return found ? new PyMatch(found) : null;
    },
    search: (...args: unknown[]) => {
      const a = named(args, ['pattern', 'string', 'flags']);
      const found = jsRegExp(a.pattern, flagsOf(a.flags)).exec(String(a.string));
      return found ? new PyMatch(found) : null;
    },
    findall: (...args: unknown[]) => {
      const a = named(args, ['pattern', 'string', 'flags']);
      return [...String(a.string).matchAll(jsRegExp(a.pattern, `g${flagsOf(a.flags)}`))].map((m) => (m.length > 2 ? m.slice(1) : (m[1] ?? m[0])));
    },
    escape: (text: unknown) => String(text).replace(/[.*+?^${}()|[\]\\-]/g, '\\$&'),
  },
};
