import { z } from 'zod';
import { defineComponent } from '../../core/component.js';
import { JSON_ESCAPE, JsonObjectWriter, fieldNames, located, writeEscape, type RecordReader } from './types.js';

const schema = z
  .object({
    kind: z.literal('combined-log'),
    /**
     * Apache writes '-' for a value it does not have. `bytes` '-' is always NULL (no body sent);
     * with `dashAsNull`, a '-' ident, remote_user, referrer or user_agent is NULL too, so a
     * remote_user that carries a customer id can be declared BIGINT.
     */
    dashAsNull: z.boolean().default(false),
  })
  .strict();

/**
 * Apache's combined log format, one request a line:
 *
 *   127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08"
 *
 * becomes the fields remote_host, ident, remote_user, time (the instant in UTC, 'YYYY-MM-DD
 * HH:MM:SS', for a TIMESTAMP column), method, path, protocol, status (a number), bytes (a number;
 * NULL for '-'), referrer, user_agent. Quoted fields follow Apache's escaping: `\"` is a quote and
 * `\\` a backslash inside the field; other escapes (`\x16`, Apache's spelling of bytes that are not
 * text) stay as written, since the bytes they stand for would not be text either. A path may hold
 * spaces (the protocol is the request's last word).
 *
 * A line that does not parse (a TLS handshake sent to the HTTP port, a line cut short, a quote
 * inside a field that was not escaped) is refused with what was expected at which character.
 */
const FIELDS = ['remote_host', 'ident', 'remote_user', 'time', 'method', 'path', 'protocol', 'status', 'bytes', 'referrer', 'user_agent'] as const;
const NAMES = fieldNames(FIELDS);
const NAME = Object.fromEntries(FIELDS.map((f, i) => [f, NAMES[i]!])) as Record<(typeof FIELDS)[number], Buffer>;
const NAMES_BYTES = NAMES.reduce((sum, n) => sum + n.length + 2, 0) + 32;
const NULL = Buffer.from('null');

const SPACE = 0x20;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const DASH = 0x2d;
const PLUS = 0x2b;
const ZERO = 0x30;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const RETURN = 0x0d;
const PROTOCOL_PREFIX = Buffer.from('HTTP/');

const MONTHS = new Map(['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'].map((m, i) => [(m.charCodeAt(0) << 16) | (m.charCodeAt(1) << 8) | m.charCodeAt(2), i + 1]));
/**
 * The time between the brackets, character by character: 0 a digit, A a letter, ± a sign, anything
 * else itself. 26 characters, then the closing bracket.
 */
const TIME_PATTERN = Buffer.from('00/AAA/0000:00:00:00 ±0000]', 'latin1');
const TIME_EXPECTED = "the time as [dd/Mon/yyyy:HH:MM:SS ±hhmm]";
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** RFC 9110 token characters: what a request method is made of. */
const TOKEN = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") TOKEN[c.charCodeAt(0)] = 1;

function isDigit(b: number): boolean {
  return b >= ZERO && b <= ZERO + 9;
}

function isLetter(b: number): boolean {
  return (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a);
}

function number2(source: Uint8Array, i: number): number {
  return (source[i]! - ZERO) * 10 + source[i + 1]! - ZERO;
}

/** The byte at `i`, or -1 past the record's end (the buffer may hold the next record there). */
function byteAt(source: Uint8Array, i: number, end: number): number {
  return i < end ? source[i]! : -1;
}

/** Where the next space is, or `end`. */
function spaceFrom(source: Uint8Array, i: number, end: number): number {
  while (i < end && source[i] !== SPACE) i++;
  return i;
}

/** The closing quote of a quoted field whose content starts at `i` (`\"` does not close it), or -1. */
function closingQuote(source: Uint8Array, i: number, end: number): number {
  for (; i < end; i++) {
    const b = source[i];
    if (b === BACKSLASH) i++;
    else if (b === QUOTE) return i;
  }
  return -1;
}

/** Days since 1970-01-01 of a civil date (proleptic Gregorian), after Howard Hinnant's algorithm. */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146097 + dayOfEra - 719468;
}

function isLeap(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

/** The failure a line is refused with: what was expected, at which byte. */
interface Failure {
  expected: string;
  at: number;
}

class CombinedLogReader {
  private readonly out = new JsonObjectWriter();
  private readonly failure: Failure = { expected: '', at: 0 };

  constructor(private readonly dashAsNull: boolean) {}

  read: RecordReader = (batch, partition, offset, timestamp, source, start, end, at) => {
    let last = end;
    if (last > start && source[last - 1] === RETURN) last--;
    if (this.parse(source, start, last)) {
      batch.add(partition, offset, timestamp, this.out.buffer, 0, this.out.at);
    } else {
      const { expected, at: byte } = this.failure;
      const reason = `expected ${expected} at character ${characterNumber(source, start, byte)}, found ${describe(source, byte, last)}`;
      batch.reject(partition, offset, timestamp, located(reason, at), source, start, end);
    }
  };

  private fail(expected: string, at: number): false {
    this.failure.expected = expected;
    this.failure.at = at;
    return false;
  }

  /** Writes the line's fields as a JSON object into `out`; false (with `failure` set) if it does not parse. */
  private parse(source: Uint8Array, start: number, end: number): boolean {
    const out = this.out;
    out.begin(end - start, NAMES_BYTES);

    // remote host, ident, remote user: words ended by a space.
    let i = start;
    const hostEnd = spaceFrom(source, i, end);
    if (hostEnd === i) return this.fail('the remote host', i);
    if (hostEnd === end) return this.fail("' ' after the remote host", end);
    out.raw(NAME.remote_host);
    this.text(source, i, hostEnd);
    i = hostEnd + 1;
    const identEnd = spaceFrom(source, i, end);
    if (identEnd === i) return this.fail("the ident ('-' when unknown)", i);
    if (identEnd === end) return this.fail("' ' after the ident", end);
    out.raw(NAME.ident);
    this.word(source, i, identEnd);
    i = identEnd + 1;
    const userEnd = spaceFrom(source, i, end);
    if (userEnd === i) return this.fail("the remote user ('-' when unknown)", i);
    if (userEnd === end) return this.fail("' ' after the remote user", end);
    out.raw(NAME.remote_user);
    this.word(source, i, userEnd);
    i = userEnd + 1;

    // [dd/Mon/yyyy:HH:MM:SS ±hhmm]
    if (byteAt(source, i, end) !== OPEN_BRACKET) return this.fail("'[' opening the time", i);
    i++;
    for (let k = 0; k < TIME_PATTERN.length; k++) {
      const b = byteAt(source, i + k, end);
      const want = TIME_PATTERN[k];
      const ok = want === ZERO ? isDigit(b) : want === 0x41 ? isLetter(b) : want === 0xb1 ? b === PLUS || b === DASH : b === want;
      if (!ok) return this.fail(TIME_EXPECTED, i + k);
    }
    const month = MONTHS.get((source[i + 3]! << 16) | (source[i + 4]! << 8) | source[i + 5]!);
    if (month === undefined) return this.fail(`${TIME_EXPECTED} with an English month (Jan … Dec)`, i + 3);
    const day = number2(source, i);
    const year = number2(source, i + 7) * 100 + number2(source, i + 9);
    const hour = number2(source, i + 12);
    const minute = number2(source, i + 15);
    const second = number2(source, i + 18);
    const offsetMinutes = (source[i + 21] === DASH ? -1 : 1) * (number2(source, i + 22) * 60 + number2(source, i + 24));
    if (day < 1 || day > (month === 2 && isLeap(year) ? 29 : DAYS_IN_MONTH[month - 1]!)) return this.fail(`${TIME_EXPECTED} with a day of the month`, i);
    if (hour > 23 || minute > 59 || second > 59) return this.fail(`${TIME_EXPECTED} with a time of day`, i + 12);
    if (number2(source, i + 24) > 59) return this.fail(`${TIME_EXPECTED} with an offset's minutes below 60`, i + 24);
    out.raw(NAME.time);
    this.instant(year, month, day, hour, minute, second, offsetMinutes);
    i += TIME_PATTERN.length;

    // "METHOD PATH PROTOCOL"
    if (byteAt(source, i, end) !== SPACE) return this.fail("' ' after the time", i);
    i++;
    if (byteAt(source, i, end) !== QUOTE) return this.fail('\'"\' opening the request', i);
    const requestStart = i + 1;
    const requestEnd = closingQuote(source, requestStart, end);
    if (requestEnd < 0) return this.fail('\'"\' closing the request', end);
    let methodEnd = requestStart;
    while (methodEnd < requestEnd && TOKEN[source[methodEnd]!]) methodEnd++;
    if (methodEnd === requestStart || (methodEnd < requestEnd && source[methodEnd] !== SPACE)) return this.fail('the request method (a word like GET)', methodEnd);
    if (methodEnd === requestEnd) return this.fail("' ' and the path after the request method", requestEnd);
    let protocolStart = requestEnd;
    while (protocolStart > methodEnd + 1 && source[protocolStart - 1] !== SPACE) protocolStart--;
    if (protocolStart === methodEnd + 1) return this.fail("' ' and the protocol after the path", requestEnd);
    if (protocolStart - 1 === methodEnd + 1) return this.fail('the path', methodEnd + 1);
    for (let k = 0; k < PROTOCOL_PREFIX.length; k++) {
      if (protocolStart + k >= requestEnd || source[protocolStart + k] !== PROTOCOL_PREFIX[k]) return this.fail('the protocol (HTTP/x.y)', protocolStart + k);
    }
    out.raw(NAME.method);
    this.text(source, requestStart, methodEnd);
    // Neither holds a space or an unescaped quote, so each ends where the request says.
    out.raw(NAME.path);
    this.quoted(source, methodEnd + 1, protocolStart - 1, false);
    out.raw(NAME.protocol);
    this.quoted(source, protocolStart, requestEnd, false);
    i = requestEnd + 1;

    // status (three digits) and bytes (digits, or '-')
    if (byteAt(source, i, end) !== SPACE) return this.fail("' ' after the request", i);
    i++;
    if (!isDigit(byteAt(source, i, end)) || !isDigit(byteAt(source, i + 1, end)) || !isDigit(byteAt(source, i + 2, end))) return this.fail('the status (three digits)', i);
    if (byteAt(source, i + 3, end) !== SPACE) return this.fail("' ' after the status", i + 3);
    out.raw(NAME.status);
    this.digits(source, i, i + 3);
    i += 4;
    out.raw(NAME.bytes);
    if (byteAt(source, i, end) === DASH && byteAt(source, i + 1, end) === SPACE) {
      out.raw(NULL);
      i++;
    } else {
      const bytesStart = i;
      while (isDigit(byteAt(source, i, end))) i++;
      if (i === bytesStart) return this.fail("the size in bytes (digits, or '-')", i);
      if (byteAt(source, i, end) !== SPACE) return this.fail("' ' after the size in bytes", i);
      this.digits(source, bytesStart, i);
    }
    i++;

    // "referrer" "user agent", then the end of the line.
    if (byteAt(source, i, end) !== QUOTE) return this.fail('\'"\' opening the referrer', i);
    out.raw(NAME.referrer);
    const referrerEnd = this.quoted(source, i + 1, end, this.dashAsNull);
    if (referrerEnd < 0) return this.fail('\'"\' closing the referrer', end);
    i = referrerEnd + 1;
    if (byteAt(source, i, end) !== SPACE) return this.fail("' ' after the referrer", i);
    i++;
    if (byteAt(source, i, end) !== QUOTE) return this.fail('\'"\' opening the user agent', i);
    out.raw(NAME.user_agent);
    const agentEnd = this.quoted(source, i + 1, end, this.dashAsNull);
    if (agentEnd < 0) return this.fail('\'"\' closing the user agent', end);
    if (agentEnd + 1 !== end) return this.fail('the end of the line after the user agent', agentEnd + 1);
    out.byte(CLOSE_BRACE);
    return true;
  }

  /** A value as a JSON string. */
  private text(source: Uint8Array, start: number, end: number): void {
    this.out.byte(QUOTE);
    this.out.escaped(source, start, end);
    this.out.byte(QUOTE);
  }

  /** A value Apache writes '-' for when it has none. */
  private word(source: Uint8Array, start: number, end: number): void {
    if (this.dashAsNull && end === start + 1 && source[start] === DASH) this.out.raw(NULL);
    else this.text(source, start, end);
  }

  /**
   * Writes a quoted field's content, from `start` up to its closing quote or `end`, as a JSON
   * string, in one pass; returns where the closing quote is, or -1 if the line ends first.
   * Apache's `\"` and `\\` mean in JSON what they mean in the log, so they are copied as they
   * are; any other backslash is a character. A '-' is NULL when `dashIsNull`.
   */
  private quoted(source: Uint8Array, start: number, end: number, dashIsNull: boolean): number {
    const out = this.out.buffer;
    let w = this.out.at;
    out[w++] = QUOTE;
    for (let i = start; i < end; i++) {
      const b = source[i]!;
      if (JSON_ESCAPE[b] === 0) {
        out[w++] = b;
      } else if (b === QUOTE) {
        if (dashIsNull && i === start + 1 && source[start] === DASH) {
          w -= 2;
          for (let k = 0; k < NULL.length; k++) out[w++] = NULL[k]!;
        } else {
          out[w++] = QUOTE;
        }
        this.out.at = w;
        return i;
      } else if (b === BACKSLASH && i + 1 < end && (source[i + 1] === QUOTE || source[i + 1] === BACKSLASH)) {
        out[w++] = BACKSLASH;
        out[w++] = source[++i]!;
      } else {
        w = writeEscape(out, w, b);
      }
    }
    // The request's path and protocol end at `end`, not at a quote.
    out[w++] = QUOTE;
    this.out.at = w;
    return -1;
  }

  private digits(source: Uint8Array, start: number, end: number): void {
    // A JSON number has no leading zeros; "0042" bytes is unusual enough to drop them.
    while (end - start > 1 && source[start] === ZERO) start++;
    const out = this.out;
    for (let i = start; i < end; i++) out.byte(source[i]!);
  }

  /** The local time minus its offset, as "YYYY-MM-DD HH:MM:SS" in UTC. */
  private instant(year: number, month: number, day: number, hour: number, minute: number, second: number, offsetMinutes: number): void {
    if (offsetMinutes !== 0) {
      const seconds = daysFromCivil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offsetMinutes * 60;
      const utc = new Date(seconds * 1000);
      year = utc.getUTCFullYear();
      month = utc.getUTCMonth() + 1;
      day = utc.getUTCDate();
      hour = utc.getUTCHours();
      minute = utc.getUTCMinutes();
      second = utc.getUTCSeconds();
    }
    const out = this.out;
    out.byte(QUOTE);
    this.pad(year, 4);
    out.byte(DASH);
    this.pad(month, 2);
    out.byte(DASH);
    this.pad(day, 2);
    out.byte(SPACE);
    this.pad(hour, 2);
    out.byte(0x3a);
    this.pad(minute, 2);
    out.byte(0x3a);
    this.pad(second, 2);
    out.byte(QUOTE);
  }

  private pad(value: number, width: number): void {
    const out = this.out;
    for (let k = width - 1, rest = value; k >= 0; k--, rest = Math.floor(rest / 10)) out.buffer[out.at + k] = ZERO + (rest % 10);
    out.at += width;
  }
}

/** The 1-based character (not byte) number of `byte` in the line, as an editor shows it. */
function characterNumber(source: Uint8Array, start: number, byte: number): number {
  let characters = 1;
  for (let i = start; i < byte; i++) if ((source[i]! & 0xc0) !== 0x80) characters++;
  return characters;
}

/** What is at `byte`, for a reason: the character quoted, or the end of the line. */
function describe(source: Uint8Array, byte: number, end: number): string {
  if (byte >= end) return 'the end of the line';
  let next = byte + 1;
  while (next < end && (source[next]! & 0xc0) === 0x80) next++;
  const code = source[byte]!;
  // A control character would not show: its code point does.
  if (code < 0x20 || code === 0x7f) return `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
  return `'${Buffer.from(source.buffer, source.byteOffset + byte, next - byte).toString('utf8')}'`;
}

export const combinedLogFormat = defineComponent({
  kind: 'combined-log',
  description: 'Apache/NGINX combined log lines: host, ident, user, time (UTC), method, path, protocol, status, bytes, referrer, user agent',
  config: schema,
  create: (config: z.output<typeof schema>): RecordReader => new CombinedLogReader(config.dashAsNull).read,
});
