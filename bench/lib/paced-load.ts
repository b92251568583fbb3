/**
 * A steady load on the HTTP collector, in a process of its own, that says when each event went
 * in: live-stamped sample events at RATE events/s for SECONDS, paced as `tributary produce
 * --rate` paces them (ticks of 50 ms, one request in flight, so the log holds them in the order
 * sent). Writes to OUT one JSON line per request: the cumulative count before and after it, and
 * Date.now() when it was sent and when the collector acknowledged it (the append happened
 * between the two). Prints one JSON summary line.
 *
 * node --import tsx bench/lib/paced-load.ts URL RATE SECONDS SAMPLE_CSV OUT
 */
import { writeFileSync } from 'node:fs';
import { readSample, stamp } from '../../examples/ecommerce-clickstream/replayers/sample.js';
import { MAX_EVENTS_PER_REQUEST } from '../../src/server/collector.js';
import { replay } from '../../src/stream/replay.js';

export interface Sent {
  from: number;
  to: number;
  sentAt: number;
  ackedAt: number;
}

const [url, rateText, secondsText, sampleFile, out] = process.argv.slice(2);
const rate = Number(rateText);
const sample = readSample(sampleFile!);
const requests: Sent[] = [];
let total = 0;
let cursor = 0;
const started = Date.now();
await replay({
  next: (count, now) => Array.from({ length: count }, () => stamp(sample[cursor++ % sample.length]!, now)),
  bursts: { minEvents: 1, maxEvents: 1, minMs: 0, maxMs: 0 },
  rate,
  count: rate * Number(secondsText),
  maxPerSend: MAX_EVENTS_PER_REQUEST,
  send: async (events) => {
    const sentAt = Date.now();
    const response = await fetch(url!, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: events.join('\n') });
    const body = (await response.json()) as { accepted?: number; error?: string };
    const ackedAt = Date.now();
    if (!response.ok || body.accepted !== events.length) throw new Error(`POST ${url}: ${response.status} ${JSON.stringify(body)}`);
    requests.push({ from: total, to: total + events.length, sentAt, ackedAt });
    total += events.length;
  },
});
writeFileSync(out!, requests.map((r) => JSON.stringify(r)).join('\n') + '\n');
console.log(JSON.stringify({ events: total, requests: requests.length, seconds: (Date.now() - started) / 1000 }));
