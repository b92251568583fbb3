import type { TopicConfig } from '../core/config.js';
import type { Log, Topic } from '../stream/log/index.js';

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

export const MAX_EVENTS_PER_REQUEST = 50_000;

/** Where rejected events go: a topic beside the one they were sent to, so none is lost. */
export function deadLetterTopic(log: Log, topic: string): Topic {
  return log.topic(`${topic}.dead`, { partitions: 1 });
}

/**
 * Validates a batch of events and appends the good ones in one durable write; each bad one gets a
 * reason in the reply and a dead-letter record. The caller replies only after this returns.
 */
export function ingest(log: Log, topicName: string, config: TopicConfig, body: string, ndjson: boolean): IngestResult | { error: string; status: number } {
  const topic = log.topic(topicName);
  const rejected: Rejection[] = [];
  const good: { key: string | null; value: string }[] = [];
  const dead: { value: string }[] = [];
  const accept = (index: number, text: string, value: unknown) => {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      reject(index, text, 'expected a JSON object');
      return;
    }
    const keyValue = config.keyField ? (value as Record<string, unknown>)[config.keyField] : undefined;
    good.push({ key: keyValue === undefined || keyValue === null ? null : String(keyValue), value: text });
  };
  const reject = (index: number, raw: string, reason: string) => {
    rejected.push({ index, reason });
    dead.push({ value: JSON.stringify({ topic: topicName, index, reason, raw: raw.slice(0, 100_000), at: new Date().toISOString() }) });
  };
  if (ndjson) {
    const lines = body.split('\n');
    if (lines.length > MAX_EVENTS_PER_REQUEST + 1) return tooMany(lines.length);
    lines.forEach((line, i) => {
      const text = line.trim();
      if (!text) return;
      try {
        accept(i + 1, text, JSON.parse(text));
      } catch (error) {
        reject(i + 1, text, `not valid JSON: ${(error as Error).message}`);
      }
    });
  } else {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch (error) {
      return { status: 400, error: `the body is not valid JSON (${(error as Error).message}); send a JSON array of events or NDJSON with Content-Type application/x-ndjson` };
    }
    const events = Array.isArray(parsed) ? parsed : [parsed];
    if (events.length > MAX_EVENTS_PER_REQUEST) return tooMany(events.length);
    events.forEach((event, i) => accept(i + 1, JSON.stringify(event), event));
  }
  const appended = good.length ? topic.append(good) : { offsets: new Map<number, { first: number; count: number }>() };
  if (dead.length) deadLetterTopic(log, topicName).append(dead);
  return { topic: topicName, accepted: good.length, rejected, partitions: Object.fromEntries(appended.offsets) };
}

function tooMany(n: number): { error: string; status: number } {
  return { status: 413, error: `${n} events in one request; the limit is ${MAX_EVENTS_PER_REQUEST}. Split the batch.` };
}
