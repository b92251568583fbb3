/**
 * The HTTP collector's load, in a process of its own: COUNT live-stamped sample events POSTed to
 * URL as NDJSON batches of BATCH, CONCURRENCY requests in flight on kept-alive connections. The
 * bodies are made (and encoded) before the clock starts, and sent with node:http, whose cost per
 * request is a fraction of fetch's: on two cores the load's own CPU is taken from the server's, so
 * the figure is the collector's, not this process's. Prints one JSON line: events sent, when the
 * first request went (epoch ms), seconds from it to the last acknowledgement, the acknowledgement
 * latency of the requests (p50, p99, in ms) and this process's CPU while sending.
 *
 * node --import tsx bench/lib/http-load.ts URL COUNT BATCH CONCURRENCY SAMPLE_CSV
 */
import { Agent, request } from 'node:http';
import { readSample, stamp } from '../../examples/ecommerce-clickstream/replayers/sample.js';

const [url, countText, batchText, concurrencyText, sampleFile] = process.argv.slice(2);
const count = Number(countText);
const batch = Number(batchText);
const concurrency = Number(concurrencyText);
const sample = readSample(sampleFile!);
const bodies: Buffer[] = [];
for (let i = 0; i < count; i += batch) {
  const lines: string[] = [];
  for (let k = i; k < Math.min(count, i + batch); k++) lines.push(stamp(sample[k % sample.length]!));
  bodies.push(Buffer.from(lines.join('\n')));
}

const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
const target = new URL(url!);
/** POSTs one body; resolves when the collector has answered 200 (it answers after the append). */
function post(body: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(
      { agent, host: target.hostname, port: target.port, path: target.pathname, method: 'POST', headers: { 'content-type': 'application/x-ndjson', 'content-length': body.length } },
      (response) => {
        let answer = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (answer += chunk));
        response.on('end', () => (response.statusCode === 200 ? resolve() : reject(new Error(`POST ${url}: ${response.statusCode} ${answer}`))));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const acks: number[] = [];
let next = 0;
const cpu = process.cpuUsage();
const startedAt = Date.now();
const started = performance.now();
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (next < bodies.length) {
      const body = bodies[next++]!;
      const sent = performance.now();
      await post(body);
      acks.push(performance.now() - sent);
    }
  }),
);
const seconds = (performance.now() - started) / 1000;
const used = process.cpuUsage(cpu);
agent.destroy();
acks.sort((a, b) => a - b);
const at = (p: number) => Math.round(acks[Math.min(acks.length - 1, Math.floor((acks.length * p) / 100))]!);
console.log(JSON.stringify({ events: count, startedAt, seconds, requests: acks.length, p50: at(50), p99: at(99), cpuSeconds: (used.user + used.system) / 1e6 }));
