import { spawn } from 'node:child_process';
import { cpSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, it, type ExpectStatic } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import { Log } from '../src/log/index.js';
import { CLI, tempDir, REPO } from './helpers.js';
import { requireService } from './services.js';
import { startKafkaMock } from './support/kafka-mock.js';
import { startCommand, type LiveCommand } from './support/live-command.js';
import { createCatalogDatabase, postgresCatalogCanRun, type CatalogDatabase } from './support/postgres.js';
import { s3TestsCanRun, startS3, type S3Server } from './support/s3.js';

/**
 * Issue 20: the clickstream and retail-sales examples, unedited, run on a lake in S3 (moto) and a
 * catalog in PostgreSQL by environment variables alone, with the numbers of a laptop run. Each
 * example is copied twice into a temporary folder; one copy runs embedded (no variable set), the
 * other with TRIBUTARY_LAKE=s3://…, the AWS variables and TRIBUTARY_CATALOG naming a fresh
 * database. Every step is the shipped CLI as the examples' READMEs give it, and the examples' own
 * headline tables are compared between the two, cell by cell.
 *
 * Workers. The clickstream's live job reads the embedded log on a laptop and, at scale, the
 * broker its CLICKSTREAM_INPUT names (`kafka://…/clickstream`, the original system's topic): two
 * `tributary worker` processes share its partitions through their group in the catalog, and both
 * must have committed events. retail-sales' `access_log` reads a spool folder
 * (RETAIL_ACCESS_LOGS), whose files its one reader registers and moves (a lock file refuses a
 * second reader): it runs at scale as one process (`tributary drain`) whose sinks are the shared
 * lake and catalog. Model runs of a scheduled job are shared by workers too
 * (test/batch-workers.test.ts backfills the clickstream's daily job on two).
 */

let kafka: Awaited<ReturnType<typeof startKafkaMock>> | undefined;
const canRun =
  (await s3TestsCanRun()) &&
  (await postgresCatalogCanRun()) &&
  (await requireService('Kafka (librdkafka mock cluster via kcat)', async () => {
    kafka = await startKafkaMock();
  }));
let s3: S3Server;
const catalogs: CatalogDatabase[] = [];
const workers: LiveCommand[] = [];

beforeAll(async () => {
  if (canRun) s3 = await startS3('examples');
});
afterAll(async () => {
  for (const worker of workers) await worker.stop();
  for (const catalog of catalogs) await catalog.drop();
  await s3?.stop();
  kafka?.process.kill();
});

type Env = Record<string, string | undefined>;

/** The shipped CLI in a child process, as a user's shell runs it; `undefined` unsets a variable. */
function tributary(args: string[], env: Env): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const merged: Env = { ...process.env, FORCE_COLOR: '0', ...env };
  for (const [name, value] of Object.entries(merged)) if (value === undefined) delete merged[name];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: REPO, env: merged as NodeJS.ProcessEnv });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Runs a command that must succeed; returns its output. */
async function ok(args: string[], env: Env): Promise<{ stdout: string; stderr: string }> {
  const result = await tributary(args, env);
  if (result.code !== 0) throw new Error(`tributary ${args.join(' ')} exited with ${result.code}:\n${result.stderr}`);
  return result;
}

/** One query's rows, as `tributary sql --format json` prints them. */
async function sql<T = Record<string, unknown>>(query: string, project: string, env: Env): Promise<T[]> {
  return JSON.parse((await ok(['sql', query, '--format', 'json', '--project', project], env)).stdout) as T[];
}

/** The example in a fresh folder of its own, as a user's copy (no state, no lake). */
function copyExample(name: string): string {
  const dir = path.join(tempDir(`tributary-${name}-`), name);
  cpSync(path.join(REPO, 'examples', name), dir, { recursive: true, filter: (source) => !/[/\\](\.tributary|lake|node_modules)$/.test(source) });
  return dir;
}

/** Nothing of the surroundings decides where the laptop run's lake and catalog are. */
const LAPTOP: Env = { TRIBUTARY_LAKE: undefined, TRIBUTARY_CATALOG: undefined, RETAIL_DATA: undefined, RETAIL_ACCESS_LOGS: undefined };

async function atScale(prefix: string): Promise<{ env: Env; catalog: CatalogDatabase }> {
  const catalog = await createCatalogDatabase();
  catalogs.push(catalog);
  return { catalog, env: { ...LAPTOP, ...s3.env, TRIBUTARY_LAKE: `s3://${s3.bucket}/${prefix}`, TRIBUTARY_CATALOG: catalog.url } };
}

/**
 * A table's rows as text lines, in a fixed order, measures cast to exact types: the laptop's
 * DuckDB file and PostgreSQL may store a sum as another type (a DOUBLE count, NUMERIC(38,2)).
 */
function lines(table: string, columns: string, order = 'ALL'): string {
  return `(SELECT coalesce(string_agg(line, chr(10) ORDER BY line), '') FROM (SELECT concat_ws('|', ${columns}) AS line FROM ${table} ORDER BY ${order}))`;
}

const money = (column: string) => `CAST(${column} AS DECIMAL(18,2))`;
const count = (column: string) => `CAST(${column} AS BIGINT)`;

/** The clickstream's headline tables, batch and live, each as text lines (one query, one CLI call). */
const CLICKSTREAM_NUMBERS = (() => {
  const measures = `${money('revenue')}, ${count('purchases')}, ${count('views')}, ${count('carts')}`;
  return `SELECT
    ${lines('kpis', `${count('operations')}, ${measures}`)} AS kpis,
    ${lines('(SELECT dt, count(*) AS n, sum(revenue) AS revenue FROM events GROUP BY dt)', `dt, n, ${money('revenue')}`)} AS events_per_day,
    ${lines('by_department_brand', `dt, department, brand, ${measures}`)} AS by_department_brand,
    ${lines('by_product', `product, ${measures}`)} AS by_product,
    ${lines('operations_per_minute', `minute, event_type, ${count('operations')}`)} AS operations_per_minute,
    ${lines('live_kpis', `${count('operations')}, ${measures}`)} AS live_kpis,
    ${lines('live_by_department_brand', `dt, department, brand, ${measures}`)} AS live_by_department_brand,
    ${lines('live_by_product', `product, ${measures}`)} AS live_by_product,
    ${lines('live_operations_per_minute', `minute, event_type, ${count('operations')}`)} AS live_operations_per_minute,
    (SELECT count(*) FROM events_raw)::VARCHAR AS events_raw,
    (SELECT count(DISTINCT id) FROM live_operations)::VARCHAR AS live_ids`;
})();

/**
 * retail-sales' headline tables. Of `rec_evaluation`, the popularity baseline's rows and the number
 * of customers evaluated: the item-item recommender's other metrics differ between two laptop runs
 * of the same data (its scores are floating-point sums, whose order changes near-ties in its top 10).
 */
const RETAIL_NUMBERS = `SELECT
  ${lines('(SELECT dt, count(*) AS n, sum(quantity) AS units, sum(quantity * unit_price - discount) AS net FROM sales_lines GROUP BY dt)', `dt, n, units, ${money('net')}`)} AS sales_lines_per_day,
  ${lines('daily_sales_by_store', `dt, store_id, ${count('sales')}, ${count('lines')}, ${count('units')}, ${count('returned_units')}, ${money('gross_sales')}, ${money('discounts')}, ${money('net_sales')}`)} AS daily_sales_by_store,
  ${lines('weekly_sales_by_region', `week, region, ${count('days_with_sales')}, ${count('stores_with_sales')}, ${count('sales')}, ${count('lines')}, ${count('units')}, ${money('net_sales')}`)} AS weekly_sales_by_region,
  ${lines('brand_daily_sales', `dt, brand, ${count('stores_selling')}, ${count('lines')}, ${count('units')}, ${money('net_sales')}`)} AS brand_daily_sales,
  ${lines('store_skew', `${count('rank')}, store_id, ${count('lines')}, round(share, 9), is_hot`)} AS store_skew,
  (SELECT ${money('sum(net_sales)')} FROM brand_daily_sales WHERE brand = 'LEGO')::VARCHAR AS lego,
  ${lines("(SELECT * FROM rec_evaluation WHERE model = 'popularity' OR metric = 'customers_evaluated')", 'model, metric, round(value, 9)')} AS rec_evaluation,
  ${lines('(SELECT status, count(*) AS n, sum(bytes) AS bytes, count(DISTINCT remote_user) AS shoppers, min(time) AS first, max(time) AS last FROM web_requests GROUP BY status)', 'status, n, bytes, shoppers, first, last')} AS web_requests,
  ${lines('(SELECT channel, count(DISTINCT order_id) AS orders, count(*) AS n, sum(quantity) AS units, sum(quantity * unit_price) AS revenue FROM online_order_lines GROUP BY channel)', `channel, orders, n, units, ${money('revenue')}`)} AS online_order_lines,
  ${lines('(SELECT dt, count(*) AS n, count(DISTINCT order_id) AS orders, sum(total) AS total FROM online_orders_archive GROUP BY dt)', `dt, n, orders, ${money('total')}`)} AS online_orders_archive`;

interface Letter {
  partition: number;
  offset: number;
  reason: string;
}

/** The access log's refused lines: where they are on the file's lane, and why. */
async function deadLetters(project: string, environment: Env): Promise<string[]> {
  const { stdout } = await ok(['dead-letters', '--format', 'json', '--limit', '1000', '--project', project], environment);
  return (JSON.parse(stdout) as Letter[]).map((l) => `${l.partition}:${l.offset} ${l.reason}`).sort();
}

/** The sum of one column of a `lines` answer. */
const total = (text: string, column: number) => text.split('\n').reduce((sum, line) => sum + Number(line.split('|')[column]), 0);

/** A topic on the Kafka mock, made on first use as a producer's first send makes it: four partitions. */
async function kafkaTopic(name: string): Promise<string> {
  const client = new Kafka({ brokers: [kafka!.bootstrap], logLevel: logLevel.NOTHING });
  const producer = client.producer();
  await producer.connect();
  await producer.send({ topic: name, messages: [] });
  await producer.disconnect();
  return name;
}

/**
 * Sends every record of an embedded log's topic to a Kafka topic, each to the partition it has
 * in the log, in order: a Kafka producer of the same events.
 */
async function publishLog(logDir: string, from: string, to: string): Promise<void> {
  const log = new Log(logDir);
  const producer = new Kafka({ brokers: [kafka!.bootstrap], logLevel: logLevel.NOTHING }).producer();
  try {
    const source = log.topic(from);
    await producer.connect();
    for (const { id } of source.partitions) {
      const records = source.read(id, 0, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
      if (records.length) await producer.send({ topic: to, messages: records.map((r) => ({ partition: id, value: r.value, timestamp: String(r.timestamp) })) });
    }
  } finally {
    await producer.disconnect();
    log.close();
  }
}

/**
 * Two `tributary worker` processes on a project. The events are published once each worker says
 * it reads its share of every job's partitions among the two, so both have work; the workers stop
 * once `done()` holds. Per job, the events each worker committed. (`expect` is the test's own: the tests run concurrently.)
 */
async function twoWorkers(expect: ExpectStatic, project: string, env: Env, jobs: string[], publish: () => Promise<void>, done: () => Promise<boolean>): Promise<Record<string, number[]>> {
  const pair = [0, 1].map(() => startCommand(process.execPath, [CLI, 'worker', '--project', project], { cwd: REPO, env }));
  workers.push(...pair);
  for (const worker of pair) for (const job of jobs) await worker.waitFor(new RegExp(`${job}: reads partitions? [0-9, ]+ of \\d+ \\(2 workers`));
  await publish();
  await expect.poll(done, { interval: 250, timeout: 120_000, message: pair.map((w) => w.output()).join('\n---\n') }).toBe(true);
  const committed: Record<string, number[]> = Object.fromEntries(jobs.map((job) => [job, []]));
  for (const worker of pair) {
    expect(await worker.stop(), worker.output()).toBe(0);
    for (const job of jobs) committed[job]!.push(Number(new RegExp(`${job}: (\\d+) events committed by this worker`).exec(worker.output())?.[1]));
  }
  return committed;
}

/** Whether every partition of a Kafka topic is committed up to its end by `sinks`, each a sink of the consumer group it names (`group/sink`). */
async function caughtUp(catalog: CatalogDatabase, topic: string, sinks: string[]): Promise<boolean> {
  const admin = new Kafka({ brokers: [kafka!.bootstrap], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  const ends = (await admin.fetchTopicOffsets(topic)).filter((o) => Number(o.high) > 0);
  await admin.disconnect();
  const rows = await catalog.query<{ at: string; partition: number; next: string }>(`SELECT job || '/' || sink AS at, partition, next_offset::TEXT AS next FROM tributary.stream_offsets`).catch(() => []);
  return sinks.every((sink) => ends.every((o) => rows.some((r) => r.at === sink && r.partition === o.partition && r.next === o.high)));
}

describe.runIf(canRun).concurrent('the examples at scale: S3 lake and PostgreSQL catalog by environment variables alone', () => {
  it('ecommerce-clickstream: the batch load, and the live job on Kafka shared by two workers, give the laptop’s tables on S3 + PostgreSQL', { timeout: 300_000 }, async ({ expect }) => {
    const laptop = copyExample('ecommerce-clickstream');
    // The live events: the example's own replayer (random sample rows, stamped now), once, into the
    // laptop copy's log; the same records, partition for partition, go to the Kafka topic the
    // at-scale copy reads.
    const produced = await ok(['produce', 'sample', '--into-log', '--count', '3000', '--rate', '100000', '--project', laptop], LAPTOP);
    expect(produced.stderr).toMatch(/done: 3,000 events appended to clickstream/);
    const topic = await kafkaTopic(`clickstream_${Date.now()}`);
    // The events as they are now, for the Kafka producer: the laptop's own drain takes its log.
    const events = tempDir('tributary-clickstream-events-');
    cpSync(path.join(laptop, '.tributary', 'log'), events, { recursive: true });
    const scaled = copyExample('ecommerce-clickstream');
    const { env: lakeAndCatalog, catalog } = await atScale('clickstream');
    const env = { ...lakeAndCatalog, CLICKSTREAM_INPUT: `kafka://${kafka!.bootstrap}/${topic}` };

    const onLaptop = (async () => {
      const run = await ok(['run', '--project', laptop], LAPTOP);
      expect(run.stderr).toMatch(/✔ events \(lake\).*read 10,034, wrote 10,034, quarantined 0/);
      const drained = await ok(['drain', '--project', laptop], LAPTOP);
      expect(drained.stderr).toMatch(/✔ clickstream_live: 3,000 events/);
      return (await sql<Record<string, string>>(CLICKSTREAM_NUMBERS, laptop, LAPTOP))[0]!;
    })();
    // At scale: the batch load by `run`, the live job by two workers at once until every
    // partition's offset is the topic's end in both sinks.
    const onS3 = (async () => {
      const run = await ok(['run', '--project', scaled], env);
      expect(run.stderr).toMatch(/✔ events \(lake\).*read 10,034, wrote 10,034, quarantined 0/);
      const committed = await twoWorkers(expect, scaled, env, ['clickstream_live'], () => publishLog(events, 'clickstream', topic), () => caughtUp(catalog, topic, ['clickstream_live/lake', 'clickstream_live/serving']));
      // The work was shared: each worker committed some of the events, together each once.
      expect(committed.clickstream_live!.every((n) => n > 0), String(committed.clickstream_live)).toBe(true);
      expect(committed.clickstream_live![0]! + committed.clickstream_live![1]!).toBe(3000);
      return (await sql<Record<string, string>>(CLICKSTREAM_NUMBERS, scaled, env))[0]!;
    })();
    const [lap, scale] = await Promise.all([onLaptop, onS3]);
    // Not two empty answers: the README's numbers of the real sample, and every live event once.
    expect(lap.kpis).toBe('10034|41989.74|151|9397|486');
    expect(lap.events_per_day!.split('\n')).toHaveLength(30);
    expect(lap.live_kpis).toMatch(/^3000\|/);
    expect([lap.events_raw, lap.live_ids]).toEqual(['3000', '3000']);
    for (const table of Object.keys(lap)) expect(scale[table], table).toEqual(lap[table]);

    // Where the at-scale copy's tables are: the lake's files in the bucket (a folder a day), the
    // warehouse's tables and the stream's offsets in the PostgreSQL database.
    const lake = await s3.keys('clickstream/');
    expect(new Set(lake.filter((k) => k.startsWith('clickstream/events/dt=')).map((k) => k.split('/')[2])).size).toBe(30);
    expect(lake.some((k) => /^clickstream\/events_raw\/dt=[^/]+\/hour=\d+\/[^/]+\.parquet$/.test(k))).toBe(true);
    expect(await catalog.query('SELECT operations::TEXT AS operations, revenue::TEXT AS revenue FROM main.kpis')).toEqual([{ operations: '10034', revenue: '41989.74' }]);
  });

  it('retail-sales: the drift-mapped load and its models, the orders on Kafka shared by two workers, and the access log read from a spool folder, give the laptop’s tables', { timeout: 300_000 }, async ({ expect }) => {
    const laptop = copyExample('retail-sales');
    const scaled = copyExample('retail-sales');
    // The online orders: the example's replayer, once, into the laptop copy's log; the same
    // records go to the Kafka topic the at-scale copy's two consumer groups read.
    const produced = await ok(['produce', 'online_orders', '--into-log', '--count', '600', '--rate', '100000', '--project', laptop], LAPTOP);
    expect(produced.stderr).toMatch(/done: 600 events appended to online_orders/);
    const orders = tempDir('tributary-retail-orders-');
    cpSync(path.join(laptop, '.tributary', 'log'), orders, { recursive: true });
    const topic = await kafkaTopic(`online_orders_${Date.now()}`);
    const { env: lakeAndCatalog, catalog } = await atScale('retail');
    const env = { ...lakeAndCatalog, RETAIL_ORDERS_INPUT: `kafka://${kafka!.bootstrap}/${topic}` };
    const day = path.join(laptop, 'data', 'sample', 'streams', 'access_log', 'dt=2024-12-06', 'access_log');
    expect(readFileSync(day, 'utf8').split('\n').filter((l) => l.trim())).toHaveLength(600);

    // The laptop: `run`, then the access log from the sample's folder, drained by one process.
    const onLaptop = (async () => {
      const run = await ok(['run', '--project', laptop], LAPTOP);
      expect(run.stderr).toMatch(/✔ sales_lines \(lake\).*read 5,175, wrote 5,169, quarantined 6/);
      const drained = await ok(['drain', '--project', laptop], LAPTOP);
      expect(drained.stderr).toMatch(/✔ access_log: 600 events/);
      expect(drained.stderr).toMatch(/✔ orders_live: 600 events/);
      return { numbers: (await sql<Record<string, string>>(RETAIL_NUMBERS, laptop, LAPTOP))[0]!, letters: await deadLetters(laptop, LAPTOP) };
    })();

    // At scale: `run`; then the access log from a spool folder RETAIL_ACCESS_LOGS names, the day's
    // file landing as a drop lands (written hidden, renamed into place); `drain` is the folder's one reader.
    const onS3 = (async () => {
      const run = await ok(['run', '--project', scaled], env);
      expect(run.stderr).toMatch(/✔ sales_lines \(lake\).*read 5,175, wrote 5,169, quarantined 6/);
      const jobs = ['orders_archive', 'orders_live'];
      const committed = await twoWorkers(expect, scaled, env, jobs, () => publishLog(orders, 'online_orders', topic), () => caughtUp(catalog, topic, ['lake-archive/archive', 'live-sales/sales']));
      // Each consumer group's orders were shared by the two workers, each order once.
      for (const job of jobs) {
        expect(committed[job]!.every((n) => n > 0), `${job}: ${committed[job]}`).toBe(true);
        expect(committed[job]![0]! + committed[job]![1]!).toBe(600);
      }
      const spool = tempDir('tributary-access-logs-');
      const spoolEnv = { ...env, RETAIL_ACCESS_LOGS: spool };
      writeFileSync(path.join(spool, '.access_log'), readFileSync(day));
      renameSync(path.join(spool, '.access_log'), path.join(spool, 'access_log'));
      const drained = await ok(['drain', '--project', scaled], spoolEnv);
      expect(drained.stderr).toMatch(/✔ access_log: 600 events/);
      const accessLog = (await catalog.query<{ sink: string; n: string }>("SELECT sink, next_offset::TEXT AS n FROM tributary.stream_offsets WHERE job LIKE 'access_log@%' ORDER BY sink")).map(
        (r) => `${r.sink}=${r.n}`,
      );
      expect(accessLog).toEqual(['__dead_letters=600', 'serving=600']);
      return { numbers: (await sql<Record<string, string>>(RETAIL_NUMBERS, scaled, env))[0]!, letters: await deadLetters(scaled, env) };
    })();

    const [lap, scale] = await Promise.all([onLaptop, onS3]);
    // Not two empty answers: the README's numbers (5,169 lines over 3 days, LEGO's 77,133.45).
    expect(total(lap.numbers.sales_lines_per_day!, 1)).toBe(5169);
    expect(lap.numbers.lego).toBe('77133.45');
    expect(lap.numbers.daily_sales_by_store!.split('\n')).toHaveLength(1404);
    expect(lap.numbers.rec_evaluation!.split('\n')).toHaveLength(7);
    expect(total(lap.numbers.online_orders_archive!, 1)).toBe(600);
    for (const table of Object.keys(lap.numbers)) expect(scale.numbers[table], table).toEqual(lap.numbers[table]);
    // The access log's lines: rows or dead letters, the same lines refused for the same reasons.
    expect(lap.letters.length).toBeGreaterThan(0);
    expect(lap.letters.length + total(lap.numbers.web_requests!, 1)).toBe(600);
    expect(scale.letters).toEqual(lap.letters);

    // The at-scale copy's lake is in the bucket, its tables in PostgreSQL.
    const lake = await s3.keys('retail/');
    expect(new Set(lake.filter((k) => k.startsWith('retail/sales_lines/dt=')).map((k) => k.split('/')[2]))).toEqual(new Set(['dt=2024-12-06', 'dt=2024-12-07', 'dt=2024-12-08']));
    expect(await catalog.query("SELECT sum(net_sales)::NUMERIC(18,2)::TEXT AS lego FROM main.brand_daily_sales WHERE brand = 'LEGO'")).toEqual([{ lego: '77133.45' }]);
  });
});
