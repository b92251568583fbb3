import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { TributaryError } from '../core/errors.js';

/** One row of the e-commerce sample, as the original producer sent it (without time and id). */
export type SampleEvent = Record<string, string | number | null>;

const NUMERIC = new Set(['product_id', 'category_id', 'user_id']);

/**
 * Reads the real sample once. Ids stay text (category ids exceed 2^53; the stream's declared
 * BIGINT types them exactly), prices become numbers, missing values null.
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
    const event: SampleEvent = {};
    names.forEach((name, i) => {
      const raw = (values[i] ?? '').replace(/^"(.*)"$/, '$1');
      if (raw === '') event[name] = null;
      else if (name === 'price') event[name] = Number(raw);
      else if (NUMERIC.has(name)) event[name] = raw;
      else event[name] = raw;
    });
    return event;
  });
}

function timestamp(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
}

/** A sample row made live: the current time and a fresh UUID, as the original producer did. */
export function stamp(event: SampleEvent, now = Date.now()): string {
  const ids = `"product_id":${event.product_id ?? 'null'},"category_id":${event.category_id ?? 'null'},"user_id":${event.user_id ?? 'null'}`;
  const rest = { event_type: event.event_type, category_code: event.category_code, brand: event.brand, price: event.price, user_session: event.user_session };
  // Ids are written as JSON numbers from their exact text, never through a JS number.
  return `{"id":"${randomUUID()}","event_time":"${timestamp(now)}",${ids},${JSON.stringify(rest).slice(1)}`;
}

export interface ReplayOptions {
  sample: SampleEvent[];
  /** Events per second; omitted, bursts of 1–10 events every 1–3 s like the original producer. */
  rate?: number;
  /** Stop after this many events. */
  count?: number;
  send: (events: string[]) => Promise<void>;
  signal?: AbortSignal;
  random?: () => number;
}

/** Replays random sample rows, stamped now, until count is reached or the signal aborts. */
export async function replay(options: ReplayOptions): Promise<number> {
  const random = options.random ?? Math.random;
  const pick = () => options.sample[Math.floor(random() * options.sample.length)]!;
  let sent = 0;
  const left = () => (options.count === undefined ? Infinity : options.count - sent);
  const started = Date.now();
  while (left() > 0 && !options.signal?.aborted) {
    let size: number;
    let wait: number;
    if (options.rate) {
      // Send in ticks of 50 ms, catching up to the schedule if a send ran long.
      const due = Math.floor(((Date.now() - started + 50) / 1000) * options.rate);
      size = Math.max(0, Math.min(due - sent, left()));
      wait = 50;
    } else {
      size = Math.min(1 + Math.floor(random() * 10), left());
      wait = 1000 + random() * 2000;
    }
    if (size > 0) {
      const now = Date.now();
      const events = Array.from({ length: size }, () => stamp(pick(), now));
      await options.send(events);
      sent += size;
    }
    if (left() > 0) await sleep(wait, options.signal);
  }
  return sent;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', stop);
      resolve();
    }, ms);
    signal?.addEventListener('abort', stop, { once: true });
  });
}
