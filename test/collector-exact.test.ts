import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Workspace } from '../src/state/workspace.js';
import { createServer } from '../src/server/app.js';
import { DashboardHub } from '../src/server/dashboards.js';
import { webPlugin } from '../src/server/web.js';
import { openLog, startStreams, type StreamRuntime } from '../src/stream/runtime.js';
import { stamp } from '../examples/ecommerce-clickstream/replayers/sample.js';
import { CLICKSTREAM, openProject, tempDir, writeTree } from './helpers.js';
import { sample } from './stream-helpers.js';

/**
 * Issue 7, items 6 and 7: the collector keeps every value as it was sent, in a JSON array as in
 * NDJSON; a value that is not of its declared type is a dead letter with its reason; one bad event
 * never costs a good one; and every refused event can be counted and read where the others are.
 */
interface Server {
  ws: Workspace;
  streams: StreamRuntime;
  app: FastifyInstance;
  base: string;
}

async function serve(dir: string): Promise<Server> {
  const ws = await openProject(dir, { dataDir: tempDir() });
  const streams = await startStreams(ws, openLog(ws), { start: false });
  const app = await createServer({ ws, streams }, { bodyLimitBytes: 4 * 1024 * 1024 }, [webPlugin(new DashboardHub(await ws.engine.fork(), new Map()))]);
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  return { ws, streams, app, base };
}

async function stop(server: Server): Promise<void> {
  await server.app.close();
  await server.streams.stop();
  server.streams.log.close();
  await server.ws.close();
}

let click: Server;
beforeAll(async () => {
  click = await serve(CLICKSTREAM);
});
afterAll(async () => {
  await stop(click);
});

type Format = 'json' | 'ndjson';
const FORMATS: Format[] = ['json', 'ndjson'];
const CONTENT_TYPE: Record<Format, string> = { json: 'application/json', ndjson: 'application/x-ndjson' };

/** A request body of events given as the exact text of each: never through JSON.parse. */
function body(events: string[], format: Format): string {
  return format === 'json' ? `[${events.join(',\n')}]` : events.join('\n');
}

async function post(server: Server, events: string[], format: Format, topic = 'clickstream') {
  const response = await fetch(`${server.base}/v1/topics/${topic}`, { method: 'POST', headers: { 'content-type': CONTENT_TYPE[format] }, body: body(events, format) });
  return { status: response.status, answer: (await response.json()) as { accepted: number; rejected: { index: number; reason: string }[] } };
}

const idOf = (event: string) => /"id":"([^"]+)"/.exec(event)![1]!;

/** A sample event with one field's JSON text replaced, as a producer with a bug would send it. */
function withField(index: number, field: string, jsonText: string): string {
  const event = stamp(sample[index]!);
  const replaced = event.replace(new RegExp(`"${field}":(null|"(?:[^"\\\\]|\\\\.)*"|[^,}]+)`), `"${field}":${jsonText}`);
  expect(replaced).not.toBe(event);
  return replaced;
}

describe('6. the collector changes no value', () => {
  it('a 64-bit category id arrives exactly in the committed tables, from a JSON array as from NDJSON', async () => {
    for (const format of FORMATS) {
      const event = withField(10, 'category_id', '2053013555631882655');
      const { status, answer } = await post(click, [event], format);
      expect(status).toBe(200);
      expect(answer.accepted).toBe(1);
      await click.streams.jobs[0]!.drain();
      expect(await click.ws.engine.queryJson(`SELECT category_id::VARCHAR AS category_id FROM events_raw WHERE id = '${idOf(event)}'`), format).toEqual([
        { category_id: '2053013555631882655' },
      ]);
    }
  });

  it('a value that is not of its declared type (true, 1.5, 1e400, 2^64 and more) is a dead letter with its reason, and the good event beside it commits, in both body formats', async () => {
    for (const format of FORMATS) {
      const good = stamp(sample[20]!);
      const bad = [
        { event: withField(21, 'price', 'true'), reason: /price: expected DECIMAL\(12,2\), got true/ },
        { event: withField(22, 'product_id', '1.5'), reason: /product_id: expected BIGINT, got 1\.5/ },
        { event: withField(23, 'price', '1e400'), reason: /price: expected DECIMAL\(12,2\), got 1e400/ },
        { event: withField(24, 'category_id', '20530135556318826550'), reason: /category_id: expected BIGINT, got 20530135556318826550/ },
      ];
      const { status, answer } = await post(click, [good, ...bad.map((b) => b.event)], format);
      expect(status).toBe(200);
      expect(answer.accepted).toBe(5);
      await click.streams.jobs[0]!.drain();
      expect(await click.ws.engine.queryJson(`SELECT count(*)::INTEGER AS n FROM events_raw WHERE id = '${idOf(good)}'`)).toEqual([{ n: 1 }]);
      const ids = bad.map((b) => `'${idOf(b.event)}'`).join(', ');
      expect(await click.ws.engine.queryJson(`SELECT count(*)::INTEGER AS n FROM events_raw WHERE id IN (${ids})`)).toEqual([{ n: 0 }]);
      const dead = await click.ws.metastore.deadLetters({ origin: 'job:clickstream_live', limit: 1000 });
      for (const { event, reason } of bad) {
        const letter = dead.find((d) => d.raw?.includes(idOf(event)));
        expect(letter, `${format}: ${event}`).toBeDefined();
        expect(letter!.reason).toMatch(reason);
        expect(letter!.raw).toBe(event);
      }
    }
  });

  it('a 10,000-level nested array, or object, beside a good event: 200, the good event committed, the deep one a dead letter, in both body formats', async () => {
    for (const format of FORMATS) {
      const good = stamp(sample[30]!);
      const nestedArray = `${'['.repeat(10_000)}${']'.repeat(10_000)}`;
      const before = (await click.ws.metastore.deadLetters({ origin: 'collector:clickstream', limit: 10_000 })).length;
      const { status, answer } = await post(click, [good, nestedArray], format);
      expect(status, format).toBe(200);
      expect(answer.accepted).toBe(1);
      expect(answer.rejected).toEqual([{ index: 2, reason: expect.stringMatching(/expected a JSON object|nested too deeply/) }]);
      expect((await click.ws.metastore.deadLetters({ origin: 'collector:clickstream', limit: 10_000 })).length).toBe(before + 1);

      const second = stamp(sample[31]!);
      const deepId = idOf(stamp(sample[32]!));
      const nestedObject = `{"id":"${deepId}","brand":${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}}`;
      expect((await post(click, [second, nestedObject], format)).status, format).toBe(200);
      await click.streams.jobs[0]!.drain();
      expect(await click.ws.engine.queryJson(`SELECT count(*)::INTEGER AS n FROM events_raw WHERE id IN ('${idOf(good)}', '${idOf(second)}')`)).toEqual([{ n: 2 }]);
      const dead = [
        ...(await click.ws.metastore.deadLetters({ origin: 'collector:clickstream', limit: 10_000 })),
        ...(await click.ws.metastore.deadLetters({ origin: 'job:clickstream_live', limit: 10_000 })),
      ];
      expect(dead.some((d) => d.raw?.includes(deepId))).toBe(true);
    }
  });

  it('1e400 for a DOUBLE column and for a DECIMAL column: dead letters naming the field, in both body formats', async () => {
    const dir = writeTree({
      'tributary.config.ts': `import { defineProject } from 'tributary';
export default defineProject({
  name: 'readings',
  sources: { readings: { format: 'jsonl', path: 'unused.jsonl' } },
  models: { all_readings: { sql: "SELECT * FROM {{ source('readings') }}", materialize: 'ephemeral' } },
  topics: { readings: { partitions: 1 } },
  streams: {
    readings_live: {
      input: { kind: 'log', topic: 'readings' },
      binds: 'readings',
      columns: { id: 'VARCHAR', value: 'DOUBLE', amount: 'DECIMAL(12,2)' },
      triggerMs: 0,
      sinks: { serving: { kind: 'duckdb', tables: { readings: { model: 'all_readings' } } } },
    },
  },
});
`,
    });
    const server = await serve(dir);
    try {
      for (const format of FORMATS) {
        const events = [`{"id":"good-${format}","value":2.5,"amount":12.34}`, `{"id":"double-${format}","value":1e400,"amount":1}`, `{"id":"decimal-${format}","value":1,"amount":1e400}`];
        const { status, answer } = await post(server, events, format, 'readings');
        expect(status).toBe(200);
        expect(answer.accepted).toBe(3);
      }
      await server.streams.jobs[0]!.drain();
      expect(await server.ws.engine.queryJson(`SELECT id, value, amount::VARCHAR AS amount FROM readings ORDER BY id`)).toEqual([
        { id: 'good-json', value: 2.5, amount: '12.34' },
        { id: 'good-ndjson', value: 2.5, amount: '12.34' },
      ]);
      const dead = await server.ws.metastore.deadLetters({ origin: 'job:readings_live' });
      expect(dead.map((d) => d.reason).sort()).toEqual([
        'amount: expected DECIMAL(12,2), got 1e400',
        'amount: expected DECIMAL(12,2), got 1e400',
        'value: expected DOUBLE, got 1e400',
        'value: expected DOUBLE, got 1e400',
      ]);
    } finally {
      await stop(server);
    }
  });
});

describe('7. refused events are countable and readable wherever dead letters are', () => {
  it('in tributary.dead_letters, /v1/status, /metrics and /api/quality, with the reason and the raw text capped at its full size', async () => {
    const huge = `{"id": "${'x'.repeat(50_000)}`; // cut short: not JSON
    const { status, answer } = await post(click, [stamp(sample[40]!), 'not json', '[1, 2]', huge], 'ndjson');
    expect(status).toBe(200);
    expect(answer.rejected.map((r) => r.index)).toEqual([2, 3, 4]);

    const letters = await click.ws.metastore.deadLetters({ origin: 'collector:clickstream', limit: 3 });
    const byRaw = (prefix: string) => letters.find((l) => l.raw?.startsWith(prefix))!;
    expect(byRaw('not json')).toMatchObject({ raw: 'not json', raw_bytes: 8, reason: expect.stringMatching(/event 2 .*not valid JSON/) });
    expect(byRaw('[1, 2]')).toMatchObject({ raw_bytes: 6, reason: expect.stringMatching(/event 3 .*expected a JSON object, got an array/) });
    const capped = byRaw('{"id": "xxx');
    expect(capped.raw_bytes).toBe(Buffer.byteLength(huge));
    expect(capped.raw!.length).toBeLessThan(11_000);
    expect(capped.raw).toMatch(/50,008 characters in all\)$/);
    expect(capped.reason.length).toBeLessThan(1_000);

    const counted = (await click.ws.metastore.qualityCounts()).deadLetters['collector:clickstream']!;
    expect(counted).toBeGreaterThanOrEqual(3);
    const statusBody = (await (await fetch(`${click.base}/v1/status`)).json()) as { deadLetters: Record<string, number> };
    expect(statusBody.deadLetters['collector:clickstream']).toBe(counted);
    const metrics = await (await fetch(`${click.base}/metrics`)).text();
    expect(metrics).toContain(`tributary_dead_letters{origin="collector:clickstream"} ${counted}`);
    const quality = (await (await fetch(`${click.base}/api/quality`)).json()) as {
      deadLetters: { origin: string; reason: string; raw: string; raw_bytes: number }[];
      counts: { byOrigin: Record<string, number> };
    };
    expect(quality.counts.byOrigin['collector:clickstream']).toBe(counted);
    expect(quality.deadLetters.find((d) => d.origin === 'collector:clickstream' && d.raw === 'not json')).toMatchObject({ reason: expect.stringMatching(/not valid JSON/), raw_bytes: 8 });
  });
});
