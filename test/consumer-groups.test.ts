import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { globSync } from 'tinyglobby';
import { afterAll, describe, expect, it } from 'vitest';
import { Log } from '../src/log/index.js';
import { createServer } from '../src/server/app.js';
import type { GroupOffsets } from '../src/stream/job.js';
import { openLog, startStreams } from '../src/stream/runtime.js';
import { CLI, lastStaged, openProject, REPO, tempDir, writeTree } from './helpers.js';
import { requireService } from './services.js';
import { startKafkaMock } from './support/kafka-mock.js';
import { runWorker } from './stream-helpers.js';

/**
 * Two consumer groups on one topic, as the retail system's original had on its orders topic: the
 * lake archive and the live sales table each read every order, from offsets of their own. Both
 * jobs run in one `tributary drain` process that is killed with SIGKILL at failpoints and at
 * random moments; afterwards each group must hold every order exactly once, by count and by
 * checksums computed here from the orders that were produced (the retail example's generated
 * online orders), and its committed offsets must equal the topic's end offsets.
 */

/** mulberry32: a small seeded PRNG, so the kill moments are the same every run. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Order {
  order_id: string;
  channel: string;
  total: number;
  lines: { sku: string; quantity: number; unit_price: number }[];
}

const ORDER_TEXTS = globSync('examples/retail-sales/data/sample/streams/online_orders/**/orders.ndjson', { cwd: REPO, absolute: true })
  .sort()
  .flatMap((file) => readFileSync(file, 'utf8').split('\n').filter(Boolean));
const ORDERS = ORDER_TEXTS.map((text) => JSON.parse(text) as Order);
/** A broken producer's order: each group must dead-letter it once. */
const BAD_ORDER = '{"order_id":"O-broken","ordered_at":"yesterday","customer_id":null,"channel":"web","lines":[],"total":0}';

const cents = (amount: number) => Math.round(amount * 100);

/** What each group must hold, from the produced orders alone. */
function expected() {
  const lines = ORDERS.flatMap((o) => o.lines.map((l) => ({ ...l, channel: o.channel })));
  const byChannel: Record<string, { orders: number; units: number; revenue_cents: number }> = {};
  for (const o of ORDERS) {
    const c = (byChannel[o.channel] ??= { orders: 0, units: 0, revenue_cents: 0 });
    c.orders++;
    for (const l of o.lines) {
      c.units += l.quantity;
      c.revenue_cents += l.quantity * cents(l.unit_price);
    }
  }
  return {
    orders: ORDERS.length,
    totalCents: ORDERS.reduce((s, o) => s + cents(o.total), 0),
    // The order ids' digits, summed: a checksum of which orders arrived.
    idSum: ORDERS.reduce((s, o) => s + BigInt(o.order_id.slice(1)), 0n).toString(),
    lines: lines.length,
    units: lines.reduce((s, l) => s + l.quantity, 0),
    lineCents: lines.reduce((s, l) => s + l.quantity * cents(l.unit_price), 0),
    byChannel,
  };
}

function project(input: string, topics = '', liveGroup = 'live-sales'): string {
  return writeTree({
    'tributary.config.ts': `import { defineProject } from 'tributary';
export default defineProject({
  name: 'order_groups',
  ${topics}
  models: {
    order_archive: { sql: "SELECT order_id, ordered_at, customer_id, channel, total, lines FROM {{ source('orders') }}", materialize: 'ephemeral' },
    order_lines: {
      sql: \`SELECT order_id, channel, l.sku, l.quantity, l.unit_price
             FROM (SELECT order_id, channel, unnest(from_json(lines, '[{"sku":"VARCHAR","quantity":"INTEGER","unit_price":"DECIMAL(10,2)"}]')) AS l FROM {{ source('orders') }})\`,
      materialize: 'ephemeral',
    },
    sales_by_channel: {
      sql: \`SELECT channel, count(DISTINCT order_id) AS orders, sum(l.quantity) AS units, sum(l.quantity * l.unit_price) AS revenue
             FROM (SELECT order_id, channel, unnest(from_json(lines, '[{"quantity":"INTEGER","unit_price":"DECIMAL(10,2)"}]')) AS l FROM {{ source('orders') }})
             GROUP BY channel\`,
      materialize: 'ephemeral',
    },
  },
  streams: {
    orders_archive: {
      input: ${input},
      group: 'lake-archive',
      binds: 'orders',
      columns: { order_id: 'VARCHAR', ordered_at: 'TIMESTAMP', customer_id: 'BIGINT', channel: 'VARCHAR', total: 'DECIMAL(10,2)', lines: 'JSON' },
      rules: [{ column: 'order_id', notNull: true }],
      triggerMs: 0,
      sinks: { archive: { kind: 'lake', tables: { orders_archive: { model: 'order_archive', partitionBy: { dt: 'CAST(ordered_at AS DATE)' } } } } },
    },
    orders_live: {
      input: ${input},
      group: '${liveGroup}',
      binds: 'orders',
      columns: { order_id: 'VARCHAR', ordered_at: 'TIMESTAMP', customer_id: 'BIGINT', channel: 'VARCHAR', total: 'DECIMAL(10,2)', lines: 'JSON' },
      triggerMs: 0,
      sinks: {
        sales: {
          kind: 'duckdb',
          tables: {
            online_order_lines: { model: 'order_lines' },
            sales_by_channel: { model: 'sales_by_channel', materialize: { kind: 'merge', keys: ['channel'] } },
          },
        },
      },
    },
  },
});
`,
  });
}

/** What each group holds, by the same measures. */
async function assertEachGroupOnce(dir: string, dataDir: string): Promise<void> {
  const want = expected();
  const ws = await openProject(dir, { dataDir });
  try {
    const [archive] = await ws.engine.queryJson(
      `SELECT count(*) AS orders, count(DISTINCT order_id) AS distinct_orders, CAST(sum(total * 100) AS BIGINT) AS total_cents,
              CAST(sum(CAST(order_id[2:] AS HUGEINT)) AS VARCHAR) AS id_sum FROM orders_archive`,
    );
    expect(archive).toEqual({ orders: String(want.orders), distinct_orders: String(want.orders), total_cents: String(want.totalCents), id_sum: want.idSum });
    const [live] = await ws.engine.queryJson(
      `SELECT count(*) AS lines, count(DISTINCT order_id) AS orders, sum(quantity) AS units, CAST(sum(quantity * unit_price * 100) AS BIGINT) AS line_cents,
              CAST(sum(DISTINCT CAST(order_id[2:] AS HUGEINT)) AS VARCHAR) AS id_sum FROM online_order_lines`,
    );
    // Orders without lines have no row in the lines table; the sample has none.
    expect(ORDERS.every((o) => o.lines.length > 0)).toBe(true);
    expect(live).toEqual({ lines: String(want.lines), orders: String(want.orders), units: String(want.units), line_cents: String(want.lineCents), id_sum: want.idSum });
    const channels = await ws.engine.queryJson<{ channel: string; orders: string; units: string; revenue_cents: string }>(
      `SELECT channel, orders, units, CAST(revenue * 100 AS BIGINT) AS revenue_cents FROM sales_by_channel ORDER BY channel`,
    );
    expect(Object.fromEntries(channels.map((c) => [c.channel, { orders: Number(c.orders), units: Number(c.units), revenue_cents: Number(c.revenue_cents) }]))).toEqual(want.byChannel);
    // The broken order: refused once by each group.
    const dead = await ws.engine.queryJson(`SELECT origin, count(*) AS n FROM tributary.dead_letters GROUP BY origin ORDER BY origin`);
    expect(dead).toEqual([
      { origin: 'job:orders_archive', n: '1' },
      { origin: 'job:orders_live', n: '1' },
    ]);
  } finally {
    ws.close();
  }
}

/** Each group's offsets, as the status endpoint and /metrics show them, from a server on the project's state. */
async function groupStatus(dir: string, dataDir: string): Promise<{ groups: GroupOffsets[]; metrics: string }> {
  const ws = await openProject(dir, { dataDir });
  const streams = await startStreams(ws, openLog(ws), { start: false, say: () => undefined });
  const app = await createServer({ ws, streams });
  try {
    const base = await app.listen({ host: '127.0.0.1', port: 0 });
    const status = (await (await fetch(`${base}/v1/status`)).json()) as { jobs: { job: string; group: string }[]; groups: GroupOffsets[] };
    expect(status.jobs.map((j) => [j.job, j.group])).toEqual([
      ['orders_archive', 'lake-archive'],
      ['orders_live', 'live-sales'],
    ]);
    return { groups: status.groups, metrics: await (await fetch(`${base}/metrics`)).text() };
  } finally {
    await app.close();
    await streams.stop();
    streams.log.close();
    await ws.close();
  }
}

const committedOf = (group: GroupOffsets) => group.partitions.reduce((s, p) => s + (p.committed ?? 0), 0);
const lagOf = (group: GroupOffsets) => group.partitions.reduce((s, p) => s + p.lag, 0);

function feed(dataDir: string, texts: readonly string[]): void {
  const log = new Log(path.join(dataDir, 'state', 'log'));
  // Keyed by order id, as the collector would with keyField: order_id.
  log.topic('orders', { partitions: 3 }).append(texts.map((value) => ({ key: (JSON.parse(value) as { order_id: string }).order_id, value })));
  log.close();
}

/** Files of a folder and its subfolders (none when it does not exist yet). */
const filesUnder = (dir: string) => (existsSync(dir) ? readdirSync(dir, { recursive: true }).map(String) : []);

/**
 * `tributary drain` killed with SIGKILL at a moment set by what it has done, seen from outside:
 * `moment()` is asked until it holds. The drain may end first, with nothing more to read: then it
 * is not killed (the result says which).
 */
async function drainKilledWhen(dir: string, dataDir: string, moment: () => boolean): Promise<{ killed: boolean; code: number | null }> {
  const child = spawn(process.execPath, [CLI, 'drain', '--project', dir, '--data-dir', dataDir, '--max-batch', '20'], {
    cwd: REPO,
    stdio: 'ignore',
  });
  let exited = false;
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  void closed.then(() => (exited = true));
  // A deadline against hangs only: the moment is a condition.
  await expect.poll(() => exited || moment(), { interval: 5, timeout: 120_000 }).toBe(true);
  child.kill('SIGKILL');
  const { code, signal } = await closed;
  return { killed: signal === 'SIGKILL', code };
}

/** Counts the archive's new Parquet files: each a batch its lake sink committed. */
function archiveCommits(dataDir: string): () => number {
  const archive = path.join(dataDir, 'lake', 'orders_archive');
  const before = new Set(filesUnder(archive));
  return () => filesUnder(archive).filter((f) => f.endsWith('.parquet') && !before.has(f)).length;
}

/** Counts the batches the live job stages (its scratch file rewritten), as often as they are seen. */
function liveBatches(dataDir: string): () => number {
  const stamp = () => lastStaged(dataDir, 'orders_live');
  let last = stamp();
  let changes = 0;
  return () => {
    const now = stamp();
    if (now !== last) [last, changes] = [now, changes + 1];
    return changes;
  };
}

describe('consumer groups on the embedded log', () => {
  it('two groups on the orders topic each receive every order exactly once through kill -9 at failpoints and random moments', async () => {
    const dir = project("{ kind: 'log', topic: 'orders' }", "topics: { orders: { partitions: 3, keyField: 'order_id' } },");
    const dataDir = tempDir();
    const firstHalf = ORDER_TEXTS.slice(0, 200);
    feed(dataDir, [...firstHalf.slice(0, 50), BAD_ORDER, ...firstHalf.slice(50)]);

    // The archive dies after its third commit; the live group has not started (drain runs the jobs in turn).
    const first = runWorker(dir, dataDir, { failpoint: 'after-sink:archive@3', maxBatch: 20 });
    expect(first.signal, first.stderr).toBe('SIGKILL');
    const early = await groupStatus(dir, dataDir);
    const [archive, live] = early.groups;
    expect(archive!.group).toBe('lake-archive');
    expect(live!.group).toBe('live-sales');
    // Three batches of at most 20 committed by the archive, none by the live group: independent offsets.
    expect(committedOf(archive!)).toBeGreaterThan(0);
    expect(committedOf(archive!)).toBeLessThanOrEqual(60);
    expect(live!.partitions.every((p) => p.committed === null)).toBe(true);
    expect(lagOf(live!)).toBe(201);
    expect(lagOf(archive!)).toBe(201 - committedOf(archive!));
    for (const p of archive!.partitions) {
      expect(early.metrics).toContain(`tributary_consumer_group_lag_events{group="lake-archive",job="orders_archive",partition="${p.partition}"} ${p.lag}`);
      expect(early.metrics).toContain(`tributary_consumer_group_end_offset{group="lake-archive",job="orders_archive",partition="${p.partition}"} ${p.end}`);
    }

    for (const failpoint of ['before-sink:sales@2', 'after-sink:sales@4', 'after-sink:__dead_letters@5']) {
      const crashed = runWorker(dir, dataDir, { failpoint, maxBatch: 20 });
      expect(crashed.signal, `${failpoint}: ${crashed.stderr}`).toBe('SIGKILL');
    }
    // Orders that arrive while the groups are down, then kills at moments the seed picks among
    // the jobs' own progress: after some of the archive's commits (drain runs it first), or as the
    // live job stages one of its batches (the archive is done by then).
    feed(dataDir, ORDER_TEXTS.slice(200));
    const random = mulberry32(12);
    for (const watch of [archiveCommits, liveBatches, liveBatches]) {
      const seen = watch(dataDir);
      const at = 1 + Math.floor(random() * 3);
      const result = await drainKilledWhen(dir, dataDir, () => seen() >= at);
      if (!result.killed) expect(result.code).toBe(0);
    }
    const done = runWorker(dir, dataDir, { maxBatch: 20 });
    expect(done.code, done.stderr).toBe(0);

    await assertEachGroupOnce(dir, dataDir);
    const final = await groupStatus(dir, dataDir);
    for (const group of final.groups) {
      for (const p of group.partitions) expect(p).toEqual({ partition: p.partition, committed: p.end, end: p.end, lag: 0 });
      expect(committedOf(group)).toBe(ORDERS.length + 1);
      expect(final.metrics).toContain(`tributary_consumer_group_committed_offset{group="${group.group}",job="${group.job}",partition="0"} ${group.partitions[0]!.end}`);
    }
    // Eleven worker processes and their status checks: minutes on a slow, shared machine.
  }, 360_000);

  it('two jobs cannot read as one group', async () => {
    const dir = project("{ kind: 'log', topic: 'orders' }", "topics: { orders: { partitions: 3 } },", 'lake-archive');
    const run = runWorker(dir, tempDir());
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/stream jobs orders_archive and orders_live both read as consumer group 'lake-archive'/);
  });
});

let kafkaMock: Awaited<ReturnType<typeof startKafkaMock>> | undefined;
const kafkaUp = await requireService('Kafka (librdkafka mock cluster via kcat)', async () => {
  kafkaMock = await startKafkaMock();
});
afterAll(() => kafkaMock?.process.kill());

describe.runIf(kafkaUp)('consumer groups on Kafka', () => {
  it('two groups on one Kafka topic each receive every order exactly once through kill -9, with offsets of their own', async () => {
    const topic = `orders_${randomBytes(3).toString('hex')}`;
    const producer = new Kafka({ brokers: [kafkaMock!.bootstrap], logLevel: logLevel.NOTHING }).producer();
    await producer.connect();
    const texts = [...ORDER_TEXTS.slice(0, 50), BAD_ORDER, ...ORDER_TEXTS.slice(50)];
    for (let i = 0; i < texts.length; i += 100) {
      await producer.send({ topic, messages: texts.slice(i, i + 100).map((value) => ({ key: (JSON.parse(value) as { order_id: string }).order_id, value })) });
    }
    await producer.disconnect();
    const dir = project(`{ kind: 'kafka', brokers: ['${kafkaMock!.bootstrap}'], topic: '${topic}' }`);
    const dataDir = tempDir();
    for (const failpoint of ['after-sink:archive@2', 'before-sink:sales@3']) {
      const crashed = runWorker(dir, dataDir, { failpoint, maxBatch: 40 });
      expect(crashed.signal, `${failpoint}: ${crashed.stderr}`).toBe('SIGKILL');
    }
    const done = runWorker(dir, dataDir, { maxBatch: 40 });
    expect(done.code, done.stderr).toBe(0);
    await assertEachGroupOnce(dir, dataDir);
    const { groups } = await groupStatus(dir, dataDir);
    for (const group of groups) {
      expect(group.error).toBeNull();
      expect(group.partitions.length).toBeGreaterThan(0);
      expect(group.partitions.reduce((s, p) => s + p.end, 0)).toBe(texts.length);
      for (const p of group.partitions) expect(p.lag).toBe(0);
    }
  });
});
