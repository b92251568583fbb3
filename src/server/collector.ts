import type { TopicConfig } from '../config/config.js';
import type { Log } from '../log/index.js';
import { jsonObjectSpans } from './json-bytes.js';

export interface Rejection {
  /** 1-based position of the event in the request (its line for NDJSON). */
  index: number;
  reason: string;
}

export interface IngestResult {
  topic: string;
  accepted: number;
  rejected: Rejection[];
  /** First offset and count written per partition. */
  partitions: Record<number, { first: number; count: number }>;
}

/** Refused events as they came, with their reasons, for the dead-letter table. */
export type DeadEvents = { reason: string; raw: string }[];

export const MAX_EVENTS_PER_REQUEST = 50_000;

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;

/**
 * The elements of a JSON array as the text they were sent as, found without parsing them: a
 * value is never turned into a JavaScript number and back (which would bend a 64-bit id or
 * `1e400`), and one bad element cannot spoil the others. Depth is a counter, so a deeply nested
 * element costs nothing here.
 */
export function splitJsonArray(body: string): { items: string[] } | { error: string } {
  let i = 0;
  const skipSpace = () => {
    while (i < body.length && /\s/.test(body[i]!)) i++;
  };
  skipSpace();
  if (body.charCodeAt(i) !== OPEN_BRACKET) return { error: 'expected a JSON array of events' };
  i++;
  const items: string[] = [];
  let start = i;
  let depth = 0;
  let inString = false;
  for (; i < body.length; i++) {
    const c = body.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
      continue;
    }
    if (c === QUOTE) inString = true;
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) depth++;
    else if (c === 0x7d || (c === CLOSE_BRACKET && depth > 0)) depth = Math.max(0, depth - 1);
    else if (depth === 0 && (c === COMMA || c === CLOSE_BRACKET)) {
      const text = body.slice(start, i).trim();
      if (text || c === COMMA) items.push(text);
      start = i + 1;
      if (c === CLOSE_BRACKET) {
        i++;
        skipSpace();
        return i === body.length ? { items } : { error: `unexpected text after the array at character ${i + 1}` };
      }
    }
  }
  return { error: 'the array never closes (the body was cut short?)' };
}

/** Why an event's text cannot go into the log, or nothing when it is a JSON object. */
function problemWith(text: string): string | undefined {
  if (!text) return 'an empty event';
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return error instanceof RangeError ? 'nested too deeply to read' : `not valid JSON: ${(error as Error).message}`;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return `expected a JSON object, got ${Array.isArray(value) ? 'an array' : value === null ? 'null' : `a ${typeof value}`}`;
  }
  return text.charCodeAt(0) === OPEN_BRACE ? undefined : 'expected a JSON object';
}

/** The event's key for partitioning, read from its text; a missing or non-scalar value is no key. */
function keyOf(text: string, field: string | undefined): string | null {
  if (!field) return null;
  const match = new RegExp(`"${field.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"\\s*:\\s*("(?:[^"\\\\]|\\\\.)*"|-?[0-9][0-9.eE+-]*|true|false)`).exec(text);
  if (!match) return null;
  return match[1]!.startsWith('"') ? (JSON.parse(match[1]!) as string) : match[1]!;
}

/** One event to append: its text as sent (bytes of the request, or a string after a closer look). */
interface Event {
  key: string | null;
  value: Buffer | string;
}

/**
 * Validates a batch of events and appends the good ones in one durable write, exactly as they
 * were sent (a JSON array and NDJSON take the same path); each bad one gets a reason in the reply
 * and goes to `keepDead` (the dead-letter table) first. The caller replies only after this
 * returns. In that order a request that fails part-way (a full disk) never leaves its good events
 * stored: its sender retries it whole, and they are stored once (its dead letters may be twice).
 *
 * NDJSON arrives as bytes and its events go to the log as slices of them: an event checked to be
 * a JSON object in place (jsonObjectSpans) is never decoded, parsed or encoded again. A line the
 * check cannot vouch for is read as text and judged as a JSON array's elements are, so its reason
 * is JSON.parse's.
 */
export async function ingest(
  log: Log,
  topicName: string,
  config: TopicConfig,
  body: string | Buffer,
  ndjson: boolean,
  keepDead: (dead: DeadEvents) => Promise<void>,
): Promise<IngestResult | { error: string; hint?: string; status: number }> {
  const rejected: Rejection[] = [];
  const dead: DeadEvents = [];
  const good: Event[] = [];
  const judge = (text: string, index: number) => {
    const problem = problemWith(text);
    if (problem) {
      rejected.push({ index, reason: problem });
      dead.push({ reason: `event ${index} of a request to ${topicName}: ${problem}`, raw: text });
    } else {
      good.push({ key: keyOf(text, config.keyField), value: text });
    }
  };
  if (ndjson) {
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;
    const lines = lineCount(bytes);
    if (lines > MAX_EVENTS_PER_REQUEST) return tooMany(lines);
    const isJsonObject = jsonObjectSpans(bytes);
    let index = 0;
    for (let start = 0; start < bytes.length; ) {
      let end = bytes.indexOf(NEWLINE, start);
      if (end === -1) end = bytes.length;
      const next = end + 1;
      index++;
      while (start < end && isSpace(bytes[start]!)) start++;
      while (end > start && isSpace(bytes[end - 1]!)) end--;
      if (start < end) {
        if (isJsonObject(start, end)) {
          good.push({ key: config.keyField ? keyOf(bytes.toString('utf8', start, end), config.keyField) : null, value: bytes.subarray(start, end) });
        } else {
          // What JSON.parse and String.trim say, as for every event before: a blank line of other whitespace is no event.
          const text = bytes.toString('utf8', start, end).trim();
          if (text) judge(text, index);
        }
      }
      start = next;
    }
  } else {
    const split = splitJsonArray(typeof body === 'string' ? body : body.toString('utf8'));
    if ('error' in split) {
      return { status: 400, error: `the body is not a JSON array of events: ${split.error}`, hint: 'send a JSON array of objects, or NDJSON (one object a line) with Content-Type application/x-ndjson' };
    }
    if (split.items.length > MAX_EVENTS_PER_REQUEST) return tooMany(split.items.length);
    split.items.forEach((text, i) => judge(text, i + 1));
  }
  if (dead.length) await keepDead(dead);
  const appended = good.length ? log.topic(topicName).append(good) : { offsets: new Map<number, { first: number; count: number }>() };
  return { topic: topicName, accepted: good.length, rejected, partitions: Object.fromEntries(appended.offsets) };
}

const NEWLINE = 0x0a;

/** ASCII whitespace around an NDJSON line (String.trim's others are seen on the slow path). */
function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0d;
}

/** Lines of an NDJSON body: a trailing newline ends the last event, it does not start another. */
function lineCount(bytes: Buffer): number {
  if (!bytes.length) return 0;
  let lines = 1;
  for (let at = bytes.indexOf(NEWLINE); at !== -1; at = bytes.indexOf(NEWLINE, at + 1)) lines++;
  return bytes[bytes.length - 1] === NEWLINE ? lines - 1 : lines;
}

function tooMany(events: number) {
  return { status: 413, error: `${events} events in one request; the limit is ${MAX_EVENTS_PER_REQUEST}`, hint: 'split the batch' };
}
