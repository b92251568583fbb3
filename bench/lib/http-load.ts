/**
 * The HTTP collector's load, in a process of its own: COUNT live-stamped sample events POSTed to
 * URL as NDJSON batches of BATCH, CONCURRENCY requests in flight. The bodies are made before the
 * clock starts, so the figure is the collector's, not this process's stamping. Prints one JSON
 * line: events sent, seconds from the first request to the last acknowledgement, and the
 * acknowledgement latency of the requests (p50, p99, in ms).
 *
 * node --import tsx bench/lib/http-load.ts URL COUNT BATCH CONCURRENCY SAMPLE_CSV
 */
import { readSample, stamp } from '../../examples/ecommerce-clickstream/replayers/sample.js';

const [url, countText, batchText, concurrencyText, sampleFile] = process.argv.slice(2);
const count = Number(countText);
const batch = Number(batchText);
const concurrency = Number(concurrencyText);
const sample = readSample(sampleFile!);
const bodies: string[] = [];
for (let i = 0; i < count; i += batch) {
  const lines: string[] = [];
  for (let k = i; k < Math.min(count, i + batch); k++) lines.push(stamp(sample[k % sample.length]!));
  bodies.push(lines.join('\n'));
}

const acks: number[] = [];
let next = 0;
const started = performance.now();
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (next < bodies.length) {
      const body = bodies[next++]!;
      const sent = performance.now();
      const response = await fetch(url!, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body });
      await response.arrayBuffer();
      if (!response.ok) throw new Error(`POST ${url}: ${response.status}`);
      acks.push(performance.now() - sent);
    }
  }),
);
const seconds = (performance.now() - started) / 1000;
acks.sort((a, b) => a - b);
const at = (p: number) => Math.round(acks[Math.min(acks.length - 1, Math.floor((acks.length * p) / 100))]!);
console.log(JSON.stringify({ events: count, seconds, requests: acks.length, p50: at(50), p99: at(99) }));
