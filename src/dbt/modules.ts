import { splitArgs } from './jinja.js';

/**
 * dbt's `modules` in a template: the parts of Python's `datetime`, `pytz` and `re` that dbt's
 * packages call (dbt_utils' `slugify` and `pretty_time`, dbt_date's `date`, `datetime` and
 * `timedelta`). Dates print, format and add up as Python's do (operators through `__add__`,
 * `__sub__`, `__lt__`… that the template engine calls); time zones are named and kept, not applied.
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

const MICROS_A_DAY = 86_400_000_000;
/** Milliseconds since 1970 of a UTC wall time; Date.UTC would read the years 0 to 99 as 1900 to 1999. */
function utc(year: number, month: number, day: number, hour = 0, minute = 0, second = 0): number {
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, 0);
  return date.getTime();
}
/** Python's dates run from year 1 to 9999; past them its arithmetic raises, as here. */
const FIRST_DAY = utc(1, 1, 1);
const LAST_DAY = utc(9999, 12, 31, 23, 59, 59) + 999;

function inRange(micros: number): Date {
  const millis = Math.floor(micros / 1000);
  if (!Number.isFinite(millis) || millis < FIRST_DAY || millis > LAST_DAY) throw new Error('date value out of range (Python keeps dates from year 1 to 9999)');
  return new Date(millis);
}

/** Python's `datetime.timedelta`, kept as whole microseconds (Python's own resolution). */
class PyTimeDelta {
  constructor(readonly micros: number) {}
  get days(): number {
    return Math.floor(this.micros / MICROS_A_DAY);
  }
  get seconds(): number {
    return Math.floor((this.micros - this.days * MICROS_A_DAY) / 1_000_000);
  }
  get microseconds(): number {
    return this.micros - this.days * MICROS_A_DAY - this.seconds * 1_000_000;
  }
  total_seconds(): number {
    return this.micros / 1_000_000;
  }
  __add__(other: unknown): unknown {
    if (other instanceof PyTimeDelta) return new PyTimeDelta(this.micros + other.micros);
    return other instanceof PyDate ? other.__add__(this) : undefined;
  }
  __radd__(other: unknown): unknown {
    return this.__add__(other);
  }
  __sub__(other: unknown): unknown {
    return other instanceof PyTimeDelta ? new PyTimeDelta(this.micros - other.micros) : undefined;
  }
  __lt__(other: PyTimeDelta) {
    return this.micros < other.micros;
  }
  __le__(other: PyTimeDelta) {
    return this.micros <= other.micros;
  }
  __gt__(other: PyTimeDelta) {
    return this.micros > other.micros;
  }
  __ge__(other: PyTimeDelta) {
    return this.micros >= other.micros;
  }
  __eq__(other: unknown) {
    return other instanceof PyTimeDelta && other.micros === this.micros;
  }
  /** As Python prints one: `10 days, 0:00:00`, `-1 day, 23:00:00`, `0:00:00.000001`. */
  toString() {
    const { days, seconds, microseconds } = this;
    const clock = `${Math.floor(seconds / 3600)}:${pad(Math.floor(seconds / 60) % 60)}:${pad(seconds % 60)}${microseconds ? `.${pad(microseconds, 6)}` : ''}`;
    return days ? `${days} day${Math.abs(days) === 1 ? '' : 's'}, ${clock}` : clock;
  }
}

/** Python's `datetime.date`: a calendar day. */
class PyDate {
  constructor(
    readonly year: number,
    readonly month: number,
    readonly day: number,
  ) {}
  /** Microseconds since 1970 at its midnight (or its time): what its arithmetic counts in. */
  protected epochMicros(): number {
    return utc(this.year, this.month, this.day) * 1000;
  }
  /** The same kind of value at `micros` since 1970. */
  protected at(micros: number): PyDate {
    const d = inRange(micros);
    return new PyDate(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate());
  }
  /** A date moves by whole days (Python ignores a timedelta's seconds here); a datetime by all of it. */
  protected step(delta: PyTimeDelta): number {
    return delta.days * MICROS_A_DAY;
  }
  __add__(other: unknown): unknown {
    return other instanceof PyTimeDelta ? this.at(this.epochMicros() + this.step(other)) : undefined;
  }
  __radd__(other: unknown): unknown {
    return this.__add__(other);
  }
  __sub__(other: unknown): unknown {
    if (other instanceof PyTimeDelta) return this.at(this.epochMicros() - this.step(other));
    return other instanceof PyDate ? new PyTimeDelta(this.epochMicros() - other.epochMicros()) : undefined;
  }
  __lt__(other: PyDate) {
    return this.epochMicros() < other.epochMicros();
  }
  __le__(other: PyDate) {
    return this.epochMicros() <= other.epochMicros();
  }
  __gt__(other: PyDate) {
    return this.epochMicros() > other.epochMicros();
  }
  __ge__(other: PyDate) {
    return this.epochMicros() >= other.epochMicros();
  }
  __eq__(other: unknown) {
    return other instanceof PyDate && other.constructor === this.constructor && other.epochMicros() === this.epochMicros();
  }
  /** A copy with the fields given changed (Python's replace()). */
  replace(...args: unknown[]): PyDate {
    const a = named(args, ['year', 'month', 'day']);
    return new PyDate(Number(a.year ?? this.year), Number(a.month ?? this.month), Number(a.day ?? this.day));
  }
  /** Python's weekday(): Monday is 0. */
  weekday(): number {
    return (new Date(utc(this.year, this.month, this.day)).getUTCDay() + 6) % 7;
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
  protected override epochMicros(): number {
    return utc(this.year, this.month, this.day, this.hour, this.minute, this.second) * 1000 + this.microsecond;
  }
  protected override at(micros: number): PyDateTime {
    const d = inRange(micros);
    const microsecond = micros - Math.floor(micros / 1_000_000) * 1_000_000;
    return new PyDateTime(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), microsecond, this.tzinfo);
  }
  protected override step(delta: PyTimeDelta): number {
    return delta.micros;
  }
  override replace(...args: unknown[]): PyDateTime {
    const a = named(args, ['year', 'month', 'day', 'hour', 'minute', 'second', 'microsecond', 'tzinfo']);
    const n = (key: string, now: number) => Number(a[key] ?? now);
    return new PyDateTime(n('year', this.year), n('month', this.month), n('day', this.day), n('hour', this.hour), n('minute', this.minute), n('second', this.second), n('microsecond', this.microsecond), a.tzinfo === undefined ? this.tzinfo : (a.tzinfo as TimeZone | null));
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
  const dayOfYear = Math.round((utc(date.year, date.month, date.day) - utc(date.year, 1, 1)) / 86_400_000) + 1;
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

const timedelta = (...args: unknown[]) => {
  const a = named(args, ['days', 'seconds', 'microseconds', 'milliseconds', 'minutes', 'hours', 'weeks']);
  const n = (key: string) => Number(a[key] ?? 0);
  if (Math.abs(n('days') + 7 * n('weeks') + (n('hours') / 24)) > 999_999_999) throw new Error('timedelta of more than 999999999 days (Python refuses it too)');
  return new PyTimeDelta(Math.round(n('microseconds') + 1000 * n('milliseconds') + 1_000_000 * (n('seconds') + 60 * n('minutes') + 3600 * n('hours')) + MICROS_A_DAY * (n('days') + 7 * n('weeks'))));
};

export const DBT_MODULES = {
  datetime: { datetime: datetimeClass, date: dateClass, timedelta },
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
