/**
 * Retail stream skew: the store orders stream of the retail example (sales lines keyed by store,
 * three flagship stores carrying most of them) through a stream job into the lake and a merged
 * serving table, once with the topic's keys hashed over its partitions and once with hot keys
 * learned from the catalog (`hotKeys: { from: { table: 'sales_lines', column: 'store_id' } }`:
 * each store above 5 % of yesterday's lines gets a partition of its own), as the original system
 * isolated its hot store ids with a custom partitioner.
 *
 * Measured per run: events/s over the drain, and per partition the records it holds and the
 * seconds until its backlog was committed (lag sampled after every micro-batch), from which: how
 * long the stores that are not hot waited for their last sale line. Both runs read the same
 * events, appended before the job starts; every line must be committed exactly once.
 *
 * The job runs in this process (the suite steps it batch by batch to sample each partition's
 * lag), on the same engine settings as `tributary drain`.
 * BENCH_RETAIL_EVENTS=N sets the events per run (default 2,000,000; results then go to
 * retail-stream-<N>.*).
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadProject } from '../../src/config/project.js';
import { runModels } from '../../src/models/index.js';
import { openWorkspace } from '../../src/state/workspace.js';
import { openLog, startStreams } from '../../src/stream/runtime.js';
import { storeLinesForDay } from '../../examples/retail-sales/generators/drops.js';
import { toEpochDay } from '../../examples/retail-sales/generators/format.js';
import { AliasTable, Rng, mixSeed } from '../../examples/retail-sales/generators/random.js';
import { DEFAULT_WORLD, buildWorld, type World } from '../../examples/retail-sales/generators/world.js';
import { barChartSvg } from '../lib/chart.js';
import { machineInfo } from '../lib/machine.js';
import { positiveIntegerEnv, type Suite } from '../lib/suite.js';

const SEED = 42;
const DAY = '2024-11-15';
export const PARTITIONS = 8;
const MAX_BATCH = 50_000;
const HOT_KEYS = "{ from: { table: 'sales_lines', column: 'store_id' }, share: 0.05, max: 4 }";

export interface PartitionResult {
  partition: number;
  records: number;
  /** Hot stores in the partition (the others are many). */
  hotStores: number[];
  coldStores: number;
  /** Seconds from the start of the drain until its lag was 0. */
  drainedAt: number;
}

export interface RunResult {
  label: string;
  events: number;
  seconds: number;
  eventsPerSecond: number;
  batches: number;
  hotKeys: string[];
  partitions: PartitionResult[];
  /** When the last sale line of a store that is not hot was committed. */
  coldDrainedAt: number;
  /** Per micro-batch: seconds since the start and each partition's lag. */
  lagSamples: { t: number; lag: number[] }[];
  exactlyOnce: boolean;
}

export const retailStreamSuite: Suite = {
  name: 'retail-stream',
  description: 'retail store orders stream, skewed by store: per-partition lag and events/s with and without hot-key partitions',
  async run(context) {
    const { dataDir, resultsDir, log } = context;
    const events = streamEvents();
    const suffix = process.env.BENCH_RETAIL_EVENTS ? `-${events}` : '';
    const { world, runs } = await skewedStreamRuns(dataDir, events, log);

    const machine = machineInfo();
    writeFileSync(join(resultsDir, `retail-stream${suffix}.json`), JSON.stringify({ machine, events, partitions: PARTITIONS, maxBatch: MAX_BATCH, runs }, null, 2));
    writeFileSync(
      join(resultsDir, `retail-stream${suffix}.svg`),
      barChartSvg({
        title: 'Store orders stream, skewed by store: seconds until each partition’s backlog is committed',
        subtitle: `${events.toLocaleString('en-US')} sales lines, ${PARTITIONS} partitions, ${machine.nproc} cores · ${runs.map((r) => `${r.label}: ${Math.round(r.eventsPerSecond).toLocaleString('en-US')} events/s`).join(' · ')}`,
        categories: [...Array.from({ length: PARTITIONS }, (_, p) => `partition ${p}`), 'cold stores done', 'whole stream'],
        series: runs.map((r) => ({ name: r.label, unit: 's', values: [...r.partitions.map((p) => p.drainedAt), r.coldDrainedAt, r.seconds] })),
      }),
    );
    const md = [
      '# Retail stream: store orders skewed by store, with and without hot-key partitions',
      '',
      `Machine: ${machine.nproc} cores (${machine.cpuModel}), ${(machine.memoryBytes / 2 ** 30).toFixed(1)} GiB; Node ${machine.node}. Commit ${machine.commit}, run at ${new Date().toISOString()}.`,
      `${events.toLocaleString('en-US')} sales lines of one day (${DAY}) from the retail generator's world (${DEFAULT_WORLD.stores.toLocaleString('en-US')} stores; flagships ${world.hotStoreIds.join(', ')}), keyed by store, in a topic of ${PARTITIONS} partitions; one stream job (micro-batches of up to ${MAX_BATCH.toLocaleString('en-US')}, read round-robin over the partitions) commits each batch to a lake table and a serving table merged by store, exactly once. The events are appended before the job starts; the job runs in the suite's process and its lag per partition is sampled after each batch.`,
      '',
      '| run | hot keys | events/s | seconds | batches | cold stores done at (s) | every line exactly once |',
      '|---|---|---:|---:|---:|---:|---|',
      ...runs.map(
        (r) =>
          `| ${r.label} | ${r.hotKeys.join(', ') || '—'} | ${Math.round(r.eventsPerSecond).toLocaleString('en-US')} | ${r.seconds.toFixed(1)} | ${r.batches} | ${r.coldDrainedAt.toFixed(1)} | ${r.exactlyOnce ? 'yes' : 'NO'} |`,
      ),
      '',
      ...runs.flatMap((r) => [
        `## ${r.label}`,
        '',
        '| partition | records | hot stores | other stores | backlog committed at (s) |',
        '|---:|---:|---|---:|---:|',
        ...r.partitions.map((p) => `| ${p.partition} | ${p.records.toLocaleString('en-US')} | ${p.hotStores.join(', ') || '—'} | ${p.coldStores} | ${p.drainedAt.toFixed(1)} |`),
        '',
      ]),
      `![retail stream chart](./retail-stream${suffix}.svg)`,
      '',
    ].join('\n');
    writeFileSync(join(resultsDir, `retail-stream${suffix}.md`), md);
    log(`retail-stream: wrote ${join(resultsDir, `retail-stream${suffix}.md`)}`);
  },
};

/** Events per run: BENCH_RETAIL_EVENTS, default 2,000,000. */
export function streamEvents(): number {
  return positiveIntegerEnv('BENCH_RETAIL_EVENTS', 2_000_000);
}

/**
 * The skewed store stream drained twice, keys hashed and then hot keys learned from the catalog,
 * on the same events: what this suite reports and the retail suite includes.
 */
export async function skewedStreamRuns(dataDir: string, events: number, log: (line: string) => void): Promise<{ world: World; runs: RunResult[] }> {
  const work = join(dataDir, 'work', 'retail-stream');
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  log(`retail-stream: building the retail world (${DEFAULT_WORLD.stores.toLocaleString('en-US')} stores) and ${events.toLocaleString('en-US')} store sales lines`);
  const world = buildWorld({ seed: SEED, ...DEFAULT_WORLD });
  const day = toEpochDay(DAY);
  // Yesterday's lines per store: the batch table hot keys are learned from.
  const history = storeLinesForDay(world, SEED, day - 1, events);
  const stream = storeOrders(world, day, events);
  const runs: RunResult[] = [];
  for (const hot of [false, true]) {
    const label = hot ? 'hot keys learned from sales_lines' : 'keys hashed';
    runs.push(await runOnce(join(work, hot ? 'hot' : 'hashed'), label, hot, world, history, stream, log));
  }
  return { world, runs };
}

/** The day's store sales lines in arrival order: each store's lines spread over the day at random. */
function storeOrders(world: World, day: number, events: number): { store: number; value: string }[] {
  const perStore = storeLinesForDay(world, SEED, day, events);
  const rng = new Rng(mixSeed(SEED, 77, day));
  const stores: number[] = [];
  perStore.forEach((n, i) => {
    for (let k = 0; k < n; k++) stores.push(world.stores[i]!.storeId);
  });
  rng.shuffle(stores);
  const products = new AliasTable(world.products.map((p) => p.popularity));
  const seconds = 9 * 3600;
  return stores.map((store, i) => {
    const product = world.products[products.sample(rng)]!;
    const at = new Date((day * 86_400 + seconds + Math.floor((i * 12 * 3600) / stores.length)) * 1000).toISOString();
    const value = `{"sale_id":"${store}-${i}","store_id":${store},"sold_at":"${at}","sku":"${product.sku}","quantity":${1 + rng.int(3)},"unit_price":${(product.listPriceCents / 100).toFixed(2)}}`;
    return { store, value };
  });
}

async function runOnce(
  dir: string,
  label: string,
  hot: boolean,
  world: World,
  history: Int32Array,
  stream: { store: number; value: string }[],
  log: (line: string) => void,
): Promise<RunResult> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'store_days.csv'), `store_id,lines\n${world.stores.map((s, i) => `${s.storeId},${history[i]}`).join('\n')}\n`);
  writeFileSync(
    join(dir, 'tributary.config.ts'),
    `import { defineProject } from 'tributary';
export default defineProject({
  name: 'retail_stream_bench',
  sources: { store_days: { format: 'csv', path: 'store_days.csv', columns: { store_id: 'INTEGER', lines: 'INTEGER' } } },
  models: {
    store_history: { sql: "SELECT store_id, lines FROM {{ source('store_days') }}", materialize: 'table' },
    sales_lines: { sql: "SELECT s.store_id FROM {{ ref('store_history') }} s, range(s.lines)", materialize: 'table' },
    store_order_lines: { sql: "SELECT * FROM {{ source('store_orders') }}", materialize: 'ephemeral' },
    sales_by_store: {
      sql: "SELECT store_id, count(*) AS lines, sum(quantity) AS units, sum(quantity * unit_price) AS revenue FROM {{ source('store_orders') }} GROUP BY 1",
      materialize: 'ephemeral',
    },
  },
  topics: { store_orders: { partitions: ${PARTITIONS}, keyField: 'store_id'${hot ? `, hotKeys: ${HOT_KEYS}` : ''} } },
  streams: {
    store_orders: {
      input: { kind: 'log', topic: 'store_orders' },
      binds: 'store_orders',
      columns: { sale_id: 'VARCHAR', store_id: 'INTEGER', sold_at: 'TIMESTAMP', sku: 'VARCHAR', quantity: 'INTEGER', unit_price: 'DECIMAL(10,2)' },
      triggerMs: 0,
      maxBatch: ${MAX_BATCH},
      sinks: {
        lake: { kind: 'lake', tables: { store_order_lines: { model: 'store_order_lines', partitionBy: { dt: 'CAST(sold_at AS DATE)' } } } },
        serving: { kind: 'duckdb', tables: { sales_by_store: { model: 'sales_by_store', materialize: { kind: 'merge', keys: ['store_id'] } } } },
      },
    },
  },
});
`,
  );
  const ws = await openWorkspace(await loadProject(dir));
  const eventLog = openLog(ws);
  try {
    await runModels(ws, { quiet: true, log: () => undefined });
    const runtime = await startStreams(ws, eventLog, { start: false, say: (m) => log(`  ${m}`) });
    try {
      const topic = eventLog.topic('store_orders');
      for (let i = 0; i < stream.length; i += 20_000) topic.append(stream.slice(i, i + 20_000).map((e) => ({ key: String(e.store), value: e.value })));
      const hotKeys = [...topic.hotKeys];
      const storesIn = Array.from({ length: PARTITIONS }, () => new Set<number>());
      // Where each store's lines went, from the partitioner itself: read back the keys.
      for (const p of topic.partitions) for (const r of topic.read(p.id, 0, 1 << 30)) storesIn[p.id]!.add(Number(r.key!.toString()));
      const job = runtime.jobs[0]!;
      const drainedAt = new Array<number | null>(PARTITIONS).fill(null);
      const lagSamples: RunResult['lagSamples'] = [];
      const started = performance.now();
      let committed = 0;
      let batches = 0;
      for (;;) {
        const n = await job.step();
        const t = (performance.now() - started) / 1000;
        const { partitions } = await job.groupOffsets();
        const lag = partitions.map((p) => p.lag);
        lagSamples.push({ t, lag });
        lag.forEach((l, p) => {
          if (l === 0 && drainedAt[p] === null) drainedAt[p] = t;
        });
        if (n === 0 && lag.every((l) => l === 0)) break;
        committed += n;
        if (n) batches++;
      }
      const seconds = Math.max(...drainedAt.map((d) => d ?? 0));
      const hotStores = world.hotStoreIds;
      const partitions = topic.partitions.map((p): PartitionResult => {
        const stores = [...storesIn[p.id]!];
        return { partition: p.id, records: p.endOffset, hotStores: stores.filter((s) => hotStores.includes(s)), coldStores: stores.filter((s) => !hotStores.includes(s)).length, drainedAt: drainedAt[p.id] ?? 0 };
      });
      const coldDrainedAt = Math.max(0, ...partitions.filter((p) => p.coldStores > 0).map((p) => p.drainedAt));
      const [check] = await ws.engine.query<{ lines: bigint; merged: bigint }>(
        `SELECT (SELECT count(*) FROM store_order_lines) AS lines, (SELECT sum(lines) FROM sales_by_store)::BIGINT AS merged`,
      );
      const exactlyOnce = Number(check!.lines) === stream.length && Number(check!.merged) === stream.length && committed === stream.length;
      const result: RunResult = { label, events: committed, seconds, eventsPerSecond: committed / seconds, batches, hotKeys, partitions, coldDrainedAt, lagSamples, exactlyOnce };
      log(
        `  ${label}: ${committed.toLocaleString('en-US')} events in ${seconds.toFixed(1)} s = ${Math.round(result.eventsPerSecond).toLocaleString('en-US')} events/s; ` +
          `partitions done at ${partitions.map((p) => p.drainedAt.toFixed(1)).join(' / ')} s; cold stores done at ${coldDrainedAt.toFixed(1)} s; exactly once: ${exactlyOnce}`,
      );
      return result;
    } finally {
      await runtime.stop();
    }
  } finally {
    eventLog.close();
    await ws.close();
  }
}
