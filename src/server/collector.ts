import type { TopicConfig } from '../config/config.js';
import type { Log } from '../log/index.js';

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
  /** Refused events as they came, with their reasons, for the dead-letter table. */
  dead: { reason: string; raw: string }[];
}

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

/**
 * Validates a batch of events and appends the good ones in one durable write, exactly as they
 * were sent (a JSON array and NDJSON take the same path); each bad one gets a reason in the reply
 * and comes back for the dead-letter table. The caller replies only after this returns.
 */
export function ingest(log: Log, topicName: string, config: TopicConfig, body: string, ndjson: boolean): IngestResult | { error: string; hint?: string; status: number } {
  let texts: string[];
  if (ndjson) {
    texts = body.split('\n').map((line) => line.trim());
    // A trailing newline ends the last event; it does not start another.
    if (texts.length && texts.at(-1) === '') texts.pop();
  } else {
    const split = splitJsonArray(body);
    if ('error' in split) {
      return { status: 400, error: `the body is not a JSON array of events: ${split.error}`, hint: 'send a JSON array of objects, or NDJSON (one object a line) with Content-Type application/x-ndjson' };
    }
    texts = split.items;
  }
  if (texts.length > MAX_EVENTS_PER_REQUEST) {
    return { status: 413, error: `${texts.length} events in one request; the limit is ${MAX_EVENTS_PER_REQUEST}`, hint: 'split the batch' };
  }
  const rejected: Rejection[] = [];
  const dead: IngestResult['dead'] = [];
  const good: { key: string | null; value: string }[] = [];
  texts.forEach((text, i) => {
    if (ndjson && !text) return; // a blank line between events
    const problem = problemWith(text);
    if (problem) {
      rejected.push({ index: i + 1, reason: problem });
      dead.push({ reason: `event ${i + 1} of a request to ${topicName}: ${problem}`, raw: text });
    } else {
      good.push({ key: keyOf(text, config.keyField), value: text });
    }
  });
  const appended = good.length ? log.topic(topicName).append(good) : { offsets: new Map<number, { first: number; count: number }>() };
  return { topic: topicName, accepted: good.length, rejected, partitions: Object.fromEntries(appended.offsets), dead };
}
