import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { TributaryError, defineReplayer } from 'tributary';
import { SAMPLE } from '../generators/ecommerce.js';

/** One row of the e-commerce sample, as the original producer sent it (without time and id). */
export type SampleEvent = Readonly<Record<string, string | number | null>>;

const NUMERIC = new Set(['product_id', 'category_id', 'user_id']);

/**
 * Reads the real sample once. Ids stay text (category ids exceed 2^53; the stream's declared
 * BIGINT types them exactly), prices become numbers, missing values null. The rows are frozen:
 * `stamp` keeps each row's JSON, which a changed row would leave behind.
 */
export function readSample(file: string): SampleEvent[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new TributaryError(`cannot read the sample: ${(error as Error).message}`, { place: { file }, hint: 'pass --sample FILE' });
  }
  const [header, ...lines] = text.trim().split(/\r?\n/);
  const names = header!.split(',').filter((n) => n !== 'event_time');
  return lines.map((line) => {
    const values = line.split(',').slice(1);
    const event: Record<string, string | number | null> = {};
    names.forEach((name, i) => {
      const raw = (values[i] ?? '').replace(/^"(.*)"$/, '$1');
      if (raw === '') event[name] = null;
      else if (name === 'price') event[name] = Number(raw);
      else if (NUMERIC.has(name)) event[name] = raw;
      else event[name] = raw;
    });
    return Object.freeze(event);
  });
}

/** The last time stamped and its text: a batch stamps every event with the same `now`. */
let stamped = { ms: Number.NaN, text: '' };
function timestamp(ms: number): string {
  if (ms !== stamped.ms) stamped = { ms, text: new Date(ms).toISOString().replace('T', ' ').replace('Z', '') };
  return stamped.text;
}

/** Each sample row's fields after the time, as JSON: the same every time the row is sent. */
const tails = new WeakMap<SampleEvent, string>();
function tailOf(event: SampleEvent): string {
  let tail = tails.get(event);
  if (tail === undefined) {
    const ids = `"product_id":${event.product_id ?? 'null'},"category_id":${event.category_id ?? 'null'},"user_id":${event.user_id ?? 'null'}`;
    const rest = { event_type: event.event_type, category_code: event.category_code, brand: event.brand, price: event.price, user_session: event.user_session };
    // Ids are written as JSON numbers from their exact text, never through a JS number.
    tail = `${ids},${JSON.stringify(rest).slice(1)}`;
    tails.set(event, tail);
  }
  return tail;
}

/**
 * A sample row made live: the current time and a fresh UUID, as the original producer did. A load
 * generator stamps 100,000 events a second on the machine it measures: the rest of the line is
 * made once per row, and the time once per `now`.
 */
export function stamp(event: SampleEvent, now = Date.now()): string {
  return `{"id":"${randomUUID()}","event_time":"${timestamp(now)}",${tailOf(event)}`;
}

/**
 * The original system's producer: every 1–3 seconds, 1–10 random rows of the real sample, each
 * stamped with the current time and a fresh UUID.
 */
export default defineReplayer({
  description: 'replays random rows of the real November 2019 sample, stamped now, as the original producer did',
  bursts: { minEvents: 1, maxEvents: 10, minMs: 1000, maxMs: 3000 },
  async open(context) {
    const sample = readSample(path.resolve(context.projectDir, SAMPLE));
    return {
      next: (count, now) => Array.from({ length: count }, () => stamp(sample[Math.floor(Math.random() * sample.length)]!, now)),
    };
  },
});
