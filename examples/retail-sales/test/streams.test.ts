import { readFileSync } from 'node:fs';
import path from 'node:path';
import { globSync } from 'tinyglobby';
import { openProject, openStreams, runCli, serve, type GroupOffsets } from 'tributary/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RETAIL, SAMPLE, buildExample, reference, type Built } from './harness.js';

/**
 * The example's streams as shipped, on the embedded log and the spool folder: the sample's online
 * orders appended to `online_orders` are read by the two consumer groups (lake-archive,
 * live-sales), each exactly once; the access log is parsed with every malformed line
 * dead-lettered at its file and line; till events keyed by store land in partitions chosen by
 * the hot keys learned from `sales_lines`. `tributary drain` (a child process) runs every job.
 */

interface Order {
  order_id: string;
  channel: string;
  total: number;
  lines: { sku: string; quantity: number; unit_price: number }[];
}
const ORDER_TEXTS = globSync('streams/online_orders/dt=*/orders.ndjson', { cwd: SAMPLE, absolute: true })
  .sort()
  .flatMap((file) => readFileSync(file, 'utf8').split('\n').filter(Boolean));
const ORDERS = ORDER_TEXTS.map((t) => JSON.parse(t) as Order);
const cents = (amount: number) => Math.round(amount * 100);

const ACCESS_LOG = path.join(SAMPLE, 'streams', 'access_log', 'dt=2024-12-06', 'access_log');

/** The stores above 5 % of the valid lines, busiest first (at most 4): the hot keys the topic must learn. */
const HOT_STORES = Object.entries(reference.rowsByStore)
  .filter(([, n]) => n / reference.validRows >= 0.05)
  .sort((a, b) => b[1] - a[1])
  .slice(0, 4)
  .map(([store]) => store);

let built: Built;
let tillEvents: number;
const said: string[] = [];

beforeAll(async () => {
  built = await buildExample();
  // At start the streams learn the hot keys from sales_lines; records appended after go by them.
  const streams = await openStreams(built.ws, { say: (m) => said.push(m) });
  try {
    streams.log.topic('online_orders').append(ORDER_TEXTS.map((value) => ({ key: (JSON.parse(value) as Order).order_id, value })));
    const lines = await built.ws.engine.queryJson<{ store_id: number; sale_id: string; sku: string; quantity: number; net_sales: string }>(
      `SELECT store_id, sale_id, sku, quantity, CAST(quantity * unit_price - discount AS VARCHAR) AS net_sales FROM sales_lines ORDER BY sale_id, sku`,
    );
    tillEvents = lines.length;
    streams.log.topic('till_sales').append(lines.map((l) => ({ key: String(l.store_id), value: JSON.stringify(l) })));
  } finally {
    await streams.close();
    await built.ws.close();
  }
  // `tributary drain` in a child process, killed (SIGKILL, by the failpoint TRIBUTARY_FAILPOINT
  // names) after the archive's first commit and before the live table's second, then run to the
  // end: each group resumes from its own committed offsets.
  const drain = (failpoint = '') => runCli(['drain', '--project', RETAIL, '--data-dir', built.dataDir, '--max-batch', '100'], { env: { TRIBUTARY_FAILPOINT: failpoint } });
  for (const failpoint of ['after-sink:archive@1', 'before-sink:sales@2']) {
    const crashed = await drain(failpoint);
    expect(crashed.signal, `${failpoint}: ${crashed.stderr}`).toBe('SIGKILL');
  }
  const drained = await drain();
  expect(drained.code, drained.stderr).toBe(0);
  built.ws = await openProject(RETAIL, { dataDir: built.dataDir });
}, 240_000);
afterAll(async () => built?.ws.close());

const query = <T>(sql: string) => built.ws.engine.queryJson<T>(sql);

describe('online orders: two consumer groups, each receives every order exactly once, through kill -9', () => {
  it('the lake archive holds every produced order once', async () => {
    const [archive] = await query(
      `SELECT count(*) AS orders, count(DISTINCT order_id) AS distinct_orders, CAST(sum(total * 100) AS BIGINT) AS total_cents FROM online_orders_archive`,
    );
    expect(archive).toEqual({ orders: String(ORDERS.length), distinct_orders: String(ORDERS.length), total_cents: String(ORDERS.reduce((s, o) => s + cents(o.total), 0)) });
    const ids = await query<{ order_id: string }>(`SELECT order_id FROM online_orders_archive ORDER BY order_id`);
    expect(ids.map((r) => r.order_id)).toEqual(ORDERS.map((o) => o.order_id).sort());
  });

  it('the live sales table holds every order line once', async () => {
    const lines = ORDERS.flatMap((o) => o.lines);
    const [live] = await query(
      `SELECT count(*) AS lines, count(DISTINCT order_id) AS orders, count(DISTINCT (order_id, sku)) AS distinct_lines, sum(quantity) AS units,
              CAST(sum(quantity * unit_price * 100) AS BIGINT) AS line_cents FROM online_order_lines`,
    );
    expect(live).toEqual({
      lines: String(lines.length),
      orders: String(ORDERS.length),
      distinct_lines: String(lines.length),
      units: String(lines.reduce((s, l) => s + l.quantity, 0)),
      line_cents: String(lines.reduce((s, l) => s + l.quantity * cents(l.unit_price), 0)),
    });
  });

  it('each group has committed offsets of its own, at the end of every partition', async () => {
    // The example declares a brand client, so the server wants an admin token and the client's.
    const admin = 'admin-token-streams-5c1e';
    const server = await serve(built.ws, { token: admin, env: { LEGO_TOKEN: 'lego-token-streams-9a4b' } });
    try {
      const base = server.url;
      const status = (await (await fetch(`${base}/v1/status`, { headers: { authorization: `Bearer ${admin}` } })).json()) as { groups: GroupOffsets[] };
      const orderGroups = status.groups.filter((g) => g.group === 'lake-archive' || g.group === 'live-sales');
      expect(orderGroups.map((g) => [g.group, g.job])).toEqual([
        ['lake-archive', 'orders_archive'],
        ['live-sales', 'orders_live'],
      ]);
      for (const g of orderGroups) {
        expect(g.partitions.reduce((n, p) => n + (p.committed ?? 0), 0), g.group).toBe(ORDERS.length);
        for (const p of g.partitions) expect(p, `${g.group} partition ${p.partition}`).toEqual({ partition: p.partition, committed: p.end, end: p.end, lag: 0 });
      }
    } finally {
      await server.close();
    }
  });
});

describe('the access log from the spool folder', () => {
  it('every line is a request row or a dead letter naming the file and line', async () => {
    const lines = readFileSync(ACCESS_LOG, 'utf8').split('\n').filter(Boolean);
    expect(lines.length).toBe(reference.streams.logLines);
    const [{ rows }] = (await query<{ rows: string }>(`SELECT count(*) AS rows FROM web_requests`)) as [{ rows: string }];
    const dead = await query<{ reason: string; raw: string }>(`SELECT reason, raw FROM tributary.dead_letters WHERE origin = 'job:access_log' ORDER BY reason`);
    expect(dead.length).toBe(reference.streams.malformedLines);
    expect(Number(rows) + dead.length).toBe(lines.length);
    for (const d of dead) {
      const [, line] = /^access_log:(\d+): /.exec(d.reason) ?? [];
      expect(line, d.reason).toBeDefined();
      expect(lines[Number(line) - 1], d.reason).toBe(d.raw);
    }
    // The logged-in shopper's id is the remote user; '-' is NULL.
    const [users] = await query<{ known: string; anonymous: string }>(`SELECT count(remote_user) AS known, count(*) - count(remote_user) AS anonymous FROM web_requests`);
    const parsed = lines.filter((l) => !dead.some((d) => d.raw === l));
    expect(users).toEqual({ known: String(parsed.filter((l) => /^\S+ \S+ \d+ \[/.test(l)).length), anonymous: String(parsed.filter((l) => /^\S+ \S+ - \[/.test(l)).length) });
  });
});

describe('till events on the store-keyed topic: hot stores get partitions of their own', () => {
  it('the hot keys learned from sales_lines are the stores above 5 % of the lines, the flagships', () => {
    expect(HOT_STORES).toEqual(['17', '31', '54']);
    expect(said.find((m) => m.startsWith('topic till_sales: hot keys'))).toMatch(new RegExp(`^topic till_sales: hot keys ${HOT_STORES.map((s) => `${s} \\(`).join('.*')}`));
  });

  it('each hot store alone in its partition, the others hashed over the rest; every event read once', async () => {
    const streams = await openStreams(built.ws);
    try {
      const topic = streams.log.topic('till_sales');
      expect([...topic.hotKeys]).toEqual(HOT_STORES);
      for (let p = 0; p < 8; p++) {
        const stores = new Set(topic.read(p, 0, 64 << 20).map((r) => r.key!.toString()));
        if (p < HOT_STORES.length) expect([...stores], `partition ${p}`).toEqual([HOT_STORES[p]]);
        else expect([...stores].filter((s) => HOT_STORES.includes(s)), `partition ${p}`).toEqual([]);
      }
    } finally {
      await streams.close();
    }
    const [live] = await query<{ n: string; distinct_lines: string }>(`SELECT count(*) AS n, count(DISTINCT (sale_id, sku)) AS distinct_lines FROM live_till_lines`);
    expect(live).toEqual({ n: String(tillEvents), distinct_lines: String(tillEvents) });
    expect(tillEvents).toBe(reference.validRows);
  });
});
