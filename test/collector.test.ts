import type { FastifyInstance } from 'fastify';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryableTables, type Workspace } from '../src/state/workspace.js';
import { createServer, assertSafeBinding } from '../src/server/app.js';
import { openLog, startStreams, type StreamRuntime } from '../src/stream/runtime.js';
import { stamp } from '../examples/ecommerce-clickstream/replayers/sample.js';
import { CLICKSTREAM, openProject, tempDir } from './helpers.js';
import { sample } from './stream-helpers.js';

let ws: Workspace;
let streams: StreamRuntime;
let app: FastifyInstance;
let base: string;

beforeAll(async () => {
  ws = await openProject(CLICKSTREAM, { dataDir: tempDir() });
  streams = await startStreams(ws, openLog(ws), { start: false });
  app = await createServer({ ws, streams }, { bodyLimitBytes: 1024 * 1024 });
  base = await app.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  await app.close();
  await streams.stop();
  streams.log.close();
  await ws.close();
});

const idOf = (event: string) => (JSON.parse(event) as { id: string }).id;

const post = (body: string, type = 'application/x-ndjson', topic = 'clickstream') =>
  fetch(`${base}/v1/topics/${topic}`, { method: 'POST', headers: { 'content-type': type }, body });

describe('collector', () => {
  it('appends an NDJSON batch durably and replies after the append; the stream job then commits it', async () => {
    const events = Array.from({ length: 250 }, (_, i) => stamp(sample[i]!));
    const response = await post(events.join('\n'));
    expect(response.status).toBe(200);
    const body = (await response.json()) as { accepted: number; rejected: unknown[]; partitions: Record<string, { count: number }> };
    expect(body.accepted).toBe(250);
    expect(body.rejected).toEqual([]);
    expect(Object.values(body.partitions).reduce((s, p) => s + p.count, 0)).toBe(250);
    expect(streams.log.topic('clickstream').endOffsets().reduce((a, b) => a + b, 0)).toBe(250);
    await streams.jobs[0]!.drain();
    const kpis = await ws.engine.queryJson('SELECT operations FROM live_kpis');
    expect(kpis).toEqual([{ operations: '250' }]);
    // The job's batch tables (its schema's, its batch's) are none of the project's tables people may query.
    const internal = await ws.engine.query<{ name: string }>(`SELECT table_name AS name FROM duckdb_tables() WHERE database_name = 'tributary_stream'`);
    expect(internal.length).toBe(2);
    const queryable = await queryableTables(ws.engine);
    expect(internal.filter(({ name }) => queryable.has(name.toLowerCase()))).toEqual([]);
    expect(queryable.has('live_kpis')).toBe(true);
  });

  it('a JSON array works too', async () => {
    const response = await post(JSON.stringify([JSON.parse(stamp(sample[0]!)), JSON.parse(stamp(sample[1]!))]), 'application/json');
    expect(((await response.json()) as { accepted: number }).accepted).toBe(2);
  });

  it('malformed events get a reason each and a dead-letter record; good ones in the same batch are kept', async () => {
    const before = (await ws.metastore.deadLetters({ origin: 'collector:clickstream' })).length;
    const response = await post([stamp(sample[2]!), 'not json', '[1, 2]', stamp(sample[3]!)].join('\n'));
    const body = (await response.json()) as { accepted: number; rejected: { index: number; reason: string }[] };
    expect(response.status).toBe(200);
    expect(body.accepted).toBe(2);
    expect(body.rejected).toEqual([
      { index: 2, reason: expect.stringMatching(/^not valid JSON/) },
      { index: 3, reason: 'expected a JSON object, got an array' },
    ]);
    // Refused events are dead letters like any other: in the metastore, with the reason and the text as sent.
    const dead = (await ws.metastore.deadLetters({ origin: 'collector:clickstream' })).slice(0, 2).reverse();
    expect(dead.map((d) => d.raw)).toEqual(['not json', '[1, 2]']);
    expect(dead.map((d) => d.reason)).toEqual([expect.stringMatching(/event 2 .*not valid JSON/), expect.stringMatching(/event 3 .*expected a JSON object/)]);
    expect((await ws.metastore.deadLetters({ origin: 'collector:clickstream' })).length).toBe(before + 2);
  });

  it('an event holding a NUL byte is refused with its reason, and the good events of its request are acknowledged', async () => {
    // The answer comes after the append: a 500 here would have the client send the good events again.
    const before = (await ws.metastore.deadLetters({ origin: 'collector:clickstream' })).length;
    const response = await post([stamp(sample[4]!), '{"bad": "a\0b"}'].join('\n'));
    expect(response.status).toBe(200);
    const body = (await response.json()) as { accepted: number; rejected: { index: number; reason: string }[] };
    expect(body.accepted).toBe(1);
    expect(body.rejected).toEqual([{ index: 2, reason: expect.stringMatching(/^not valid JSON/) }]);
    const letters = await ws.metastore.deadLetters({ origin: 'collector:clickstream' });
    expect(letters.length).toBe(before + 1);
    // Neither a SQL text nor PostgreSQL's text can hold a NUL: the catalog shows it as its picture.
    expect(letters[0]!.raw).toBe('{"bad": "a␀b"}');
  });

  it('a batch with nothing usable is a 400 that says why', async () => {
    const response = await post('nope\n{"unterminated": ');
    expect(response.status).toBe(400);
    const body = (await response.json()) as { rejected: unknown[] };
    expect(body.rejected).toHaveLength(2);
  });

  it('refuses bodies over the size limit and unknown topics, with what to do', async () => {
    const big = await post('x'.repeat(2 * 1024 * 1024));
    expect(big.status).toBe(413);
    expect(((await big.json()) as { hint: string }).hint).toMatch(/split the batch/);
    const unknown = await post('{}', 'application/x-ndjson', 'nope');
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { hint: string }).hint).toMatch(/clickstream/);
  });

  it('status and Prometheus metrics report the job', async () => {
    const status = (await (await fetch(`${base}/v1/status`)).json()) as { jobs: { job: string; events: number; lastBatch: { durationMs: { sinks: Record<string, number> } } }[] };
    expect(status.jobs[0]).toMatchObject({ job: 'clickstream_live', events: 250 });
    // Where the last batch's time went: reading, staging, loading, then every sink by name.
    expect(Object.keys(status.jobs[0]!.lastBatch.durationMs.sinks)).toEqual(['__dead_letters', 'lake', 'serving']);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/tributary_stream_events_total\{job="clickstream_live"\} 250/);
    expect(metrics).toMatch(/tributary_stream_latency_ms\{job="clickstream_live",quantile="0.99"\} \d+/);
    expect(metrics).toMatch(/tributary_stream_last_batch_phase_ms\{job="clickstream_live",phase="sink:serving"\} \d+/);
    expect(metrics).toMatch(/tributary_stream_last_batch_phase_ms\{job="clickstream_live",phase="commit"\} \d+/);
    // Every committed event is in the event-to-commit histogram, whose buckets are cumulative.
    const buckets = [...metrics.matchAll(/tributary_stream_event_to_commit_seconds_bucket\{job="clickstream_live",le="([^"]+)"\} (\d+)/g)].map((m) => ({ le: m[1], count: Number(m[2]) }));
    expect(buckets.at(-1)).toEqual({ le: '+Inf', count: 250 });
    expect(buckets.map((b) => b.count)).toEqual(buckets.map((b) => b.count).sort((a, b) => a - b));
    expect(metrics).toMatch(/tributary_stream_event_to_commit_seconds_count\{job="clickstream_live"\} 250\n/);
    expect(metrics).toMatch(/# TYPE tributary_stream_event_to_commit_seconds histogram/);
    // The warehouse's checkpoints, which commits wait for: what lines up with a latency spike.
    expect(metrics).toMatch(/\ntributary_warehouse_checkpoints_total \d+\n/);
    expect(metrics).toMatch(/\ntributary_warehouse_checkpoint_seconds_total [\d.e-]+\n/);
    expect(metrics).toMatch(/\ntributary_warehouse_checkpoint_longest_seconds [\d.e-]+\n/);
    expect(metrics).toMatch(/\ntributary_warehouse_checkpoints_refused_total \d+\n/);
    // The main thread's time running and waiting: counters, so a scrape that ran on it adds to the first.
    const eventLoop = (text: string) => ({
      active: Number(/\ntributary_event_loop_active_seconds_total ([\d.e+-]+)\n/.exec(text)?.[1]),
      idle: Number(/\ntributary_event_loop_idle_seconds_total ([\d.e+-]+)\n/.exec(text)?.[1]),
    });
    expect(metrics).toMatch(/# TYPE tributary_event_loop_active_seconds_total counter/);
    const before = eventLoop(metrics);
    expect(before.active).toBeGreaterThan(0);
    const after = eventLoop(await (await fetch(`${base}/metrics`)).text());
    expect(after.active).toBeGreaterThan(before.active);
    expect(after.idle).toBeGreaterThanOrEqual(before.idle);
  });

  it('takes bodies compressed as SDKs send them (gzip, x-gzip, deflate, br), and the job commits their events', async () => {
    const events = Array.from({ length: 40 }, (_, i) => stamp(sample[100 + i]!));
    const ndjson = Buffer.from(events.slice(0, 10).join('\n'));
    const array = Buffer.from(JSON.stringify(events.slice(10, 20).map((e) => JSON.parse(e))));
    const sent = [
      { encoding: 'gzip', type: 'application/x-ndjson', body: gzipSync(ndjson) },
      { encoding: 'X-GZIP', type: 'application/x-ndjson', body: gzipSync(Buffer.from(events.slice(20, 30).join('\n'))) },
      { encoding: 'deflate', type: 'application/json', body: deflateSync(array) },
      { encoding: 'br', type: 'application/x-ndjson', body: brotliCompressSync(Buffer.from(events.slice(30).join('\n'))) },
    ];
    for (const { encoding, type, body } of sent) {
      const response = await fetch(`${base}/v1/topics/clickstream`, { method: 'POST', headers: { 'content-type': type, 'content-encoding': encoding }, body });
      expect({ encoding, status: response.status, body: await response.json() }).toMatchObject({ encoding, status: 200, body: { accepted: 10, rejected: [] } });
    }
    await streams.jobs[0]!.drain();
    const ids = events.map(idOf);
    const committed = await ws.engine.query<{ n: bigint }>(`SELECT count(DISTINCT id) AS n FROM live_operations WHERE id::VARCHAR IN (${ids.map((id) => `'${id}'`).join(', ')})`);
    expect(Number(committed[0]!.n)).toBe(40);
  });

  it('a compressed body it cannot read is refused whole with what to do: a coding it does not know, a cut-off stream, a bomb past the size limit', async () => {
    const endOffsets = () => streams.log.topic('clickstream').endOffsets().reduce((a, b) => a + b, 0);
    const before = endOffsets();
    const send = (encoding: string, body: Uint8Array<ArrayBuffer>) =>
      fetch(`${base}/v1/topics/clickstream`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson', 'content-encoding': encoding }, body });
    const packed = gzipSync(Buffer.from(stamp(sample[0]!)));
    const unknown = await send('zstd', packed);
    expect(unknown.status).toBe(415);
    expect(await unknown.json()).toEqual({ error: "Content-Encoding 'zstd' is not one this server decompresses", hint: 'send the body uncompressed or as gzip, deflate, br' });
    const cut = await send('gzip', new Uint8Array(packed.subarray(0, packed.length - 12)));
    expect(cut.status).toBe(400);
    expect(await cut.json()).toMatchObject({ error: expect.stringMatching(/^the body is not valid gzip data \(.+\); nothing of it was appended$/), hint: expect.stringMatching(/uncompressed/) });
    // 4 MB of zeros packs into a few kilobytes; the limit (1 MB here) counts what it unpacks to.
    const bomb = gzipSync(Buffer.alloc(4 * 1024 * 1024));
    expect(bomb.length).toBeLessThan(1024 * 1024);
    const big = await send('gzip', bomb);
    expect(big.status).toBe(413);
    expect(((await big.json()) as { hint: string }).hint).toMatch(/split the batch/);
    expect(endOffsets()).toBe(before);
  });
});

describe('server security', () => {
  it('NDJSON bytes go to the log as sent: CRLF endings, blank and padded lines, a byte-order mark; text that is not UTF-8 reaches the job and is its dead letter, never rewritten', async () => {
    const [a, b, c, d] = [0, 1, 2, 3].map((i) => stamp(sample[40 + i]!));
    // A brand of `caf` and one byte 0xE9 (Latin-1 é), as a producer in the wrong encoding sends it.
    const broken = Buffer.concat([Buffer.from(`{"id":"${idOf(d!)}","event_time":"2026-11-25 10:00:00","event_type":"view","brand":"caf`), Buffer.from([0xe9]), Buffer.from('","price":1}')]);
    const body = Buffer.concat([Buffer.from(`\ufeff${a}\r\n\r\n   ${b}  \r\n\u00a0\n${c}\n`), broken, Buffer.from('\n')]);
    const response = await fetch(`${base}/v1/topics/clickstream`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { accepted: number; rejected: unknown[] }).rejected).toEqual([]);
    await streams.jobs[0]!.drain();
    const ids = [a, b, c].map((e) => `'${idOf(e!)}'`).join(', ');
    expect(await ws.engine.queryJson(`SELECT count(*)::INTEGER AS n FROM events_raw WHERE id IN (${ids})`)).toEqual([{ n: 3 }]);
    const letter = (await ws.metastore.deadLetters({ origin: 'job:clickstream_live', limit: 1000 })).find((l) => l.raw?.includes(idOf(d!)));
    expect(letter?.reason).toMatch(/not UTF-8 text/);
    expect(letter?.raw).toContain('caf\ufffd');
  });

  it('will not listen beyond loopback without a token', () => {
    expect(() => assertSafeBinding('0.0.0.0', undefined)).toThrow(/refusing to listen on 0.0.0.0 without a token/);
    expect(() => assertSafeBinding('0.0.0.0', 'secret-0d4c7b19e2a8')).not.toThrow();
    expect(() => assertSafeBinding('0.0.0.0', 'secret')).toThrow('TRIBUTARY_TOKEN is too short to keep anyone out: 6 characters, at least 16 needed');
    expect(() => assertSafeBinding('127.0.0.1', undefined)).not.toThrow();
  });

  it('with a token, every request must carry it', async () => {
    const secured = await createServer({ ws, streams }, { token: 's3cret-token-7d41c09e' });
    const url = await secured.listen({ host: '127.0.0.1', port: 0 });
    try {
      expect((await fetch(`${url}/v1/status`)).status).toBe(401);
      expect((await fetch(`${url}/v1/status`, { headers: { authorization: 'Bearer wrong!' } })).status).toBe(401);
      expect((await fetch(`${url}/v1/status`, { headers: { authorization: 'Bearer s3cret-token-7d41c09e' } })).status).toBe(200);
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      // A browser opens the UI once with the token and then carries it in an HttpOnly cookie.
      const opened = await fetch(`${url}/v1/status?token=s3cret-token-7d41c09e`);
      expect(opened.status).toBe(200);
      const setCookie = opened.headers.get('set-cookie')!;
      expect(setCookie).toMatch(/^tributary_token=s3cret-token-7d41c09e; HttpOnly; SameSite=Strict/);
      expect((await fetch(`${url}/v1/status`, { headers: { cookie: setCookie.split(';')[0]! } })).status).toBe(200);
      expect((await fetch(`${url}/v1/status?token=nope`)).status).toBe(401);
      const cors = await fetch(`${url}/v1/status`, { headers: { authorization: 'Bearer s3cret-token-7d41c09e', origin: 'https://evil.example' } });
      expect(cors.status).toBe(403);
      expect(cors.headers.get('access-control-allow-origin')).toBeNull();
    } finally {
      await secured.close();
    }
  });
});
