import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { globSync } from 'tinyglobby';
import { describe, expect, it } from 'vitest';
import { logInput } from '../src/connectors/inputs/log.js';
import type { RecordSink } from '../src/connectors/inputs/types.js';
import { Log, hashKey } from '../src/log/index.js';
import { openLog, startStreams } from '../src/stream/runtime.js';
import { runModels } from '../src/models/index.js';
import { REPO, openProject, runProject, tempDir, writeTree } from './helpers.js';
import { runWorker } from './stream-helpers.js';

/**
 * Hot keys: the retail system's custom partitioner (the busiest stores get partitions of their
 * own), with the keys learned from the catalog. On the retail example's generated daily drops,
 * whose three flagship stores carry most lines, the detector must pick exactly the stores an
 * independent count over the files says are above the share; a change of hot keys on a topic
 * that already holds records must keep every key's records in order for a reader, and a stream
 * job killed with SIGKILL across such a change must still commit every record exactly once.
 */

const DROPS = path.join(REPO, 'examples', 'retail-sales', 'data', 'sample', 'drops');
const MANIFEST = JSON.parse(readFileSync(path.join(DROPS, '_manifest.json'), 'utf8')) as {
  hotStoreIds: number[];
  totals: { rows: number; rowsByStoreTop: { storeId: number; rows: number }[] };
};

/** Every sales line of the sample drops as (store, sale id), counted from the files: one line after the header is one sale line. */
const SALES = globSync('dt=*/store_*.csv', { cwd: DROPS, absolute: true })
  .sort()
  .flatMap((file) => {
    const store = /store_(\d+)\.csv$/.exec(file)![1]!;
    const [, ...lines] = readFileSync(file, 'utf8').split('\n');
    return lines.filter((line) => line !== '').map((line) => ({ store, sale: line.split(/[,;]/)[0]! }));
  });

function rowsByStore(sales: readonly { store: string }[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const s of sales) counts.set(s.store, (counts.get(s.store) ?? 0) + 1);
  return counts;
}

/** The stores above `share` of all lines, most lines first: what the detector must choose. */
function storesAbove(sales: readonly { store: string }[], share: number, max: number): string[] {
  return [...rowsByStore(sales)]
    .filter(([, n]) => n / sales.length >= share)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, max)
    .map(([store]) => store);
}

/** Sales lines as events keyed by store, each with its place in its store's sequence. */
function events(sales: readonly { store: string; sale: string }[], from = new Map<string, number>()) {
  return sales.map((s) => {
    const seq = (from.get(s.store) ?? 0) + 1;
    from.set(s.store, seq);
    return { key: s.store, value: JSON.stringify({ store_id: Number(s.store), sale_id: s.sale, seq }) };
  });
}

function project(): string {
  return writeTree({
    'tributary.config.ts': `import { defineProject } from 'tributary';
export default defineProject({
  name: 'store_sales',
  sources: { sales: { format: 'csv', path: 'sales.csv', columns: { store_id: 'INTEGER', sale_id: 'VARCHAR' } } },
  models: {
    sales_lines: { sql: "SELECT store_id, sale_id FROM {{ source('sales') }}", materialize: 'table' },
    live_lines: { sql: "SELECT store_id, sale_id, seq FROM {{ source('store_sales') }}", materialize: 'ephemeral' },
  },
  topics: { store_sales: { partitions: 4, keyField: 'store_id', hotKeys: { from: { table: 'sales_lines', column: 'store_id' }, share: 0.05, max: 4 } } },
  streams: {
    store_sales: {
      input: { kind: 'log', topic: 'store_sales' },
      binds: 'store_sales',
      columns: { store_id: 'INTEGER', sale_id: 'VARCHAR', seq: 'INTEGER' },
      triggerMs: 0,
      sinks: { serving: { kind: 'duckdb', tables: { live_sales_lines: { model: 'live_lines' } } } },
    },
  },
});
`,
  });
}

const writeSales = (dir: string, sales: readonly { store: string; sale: string }[]) =>
  writeFileSync(path.join(dir, 'sales.csv'), `store_id,sale_id\n${sales.map((s) => `${s.store},${s.sale}`).join('\n')}\n`);

describe('hot keys learned from the catalog', () => {
  it('the drops are as skewed as their manifest says (the independent count agrees with it)', () => {
    expect(SALES.length).toBe(MANIFEST.totals.rows);
    const counts = rowsByStore(SALES);
    for (const { storeId, rows } of MANIFEST.totals.rowsByStoreTop) expect(counts.get(String(storeId))).toBe(rows);
    expect(storesAbove(SALES, 0.05, 4)).toEqual(MANIFEST.hotStoreIds.map(String));
  });

  it('at start the stores above the share get a partition each, the choice is logged and recorded, and it is learned again when the table changes', async () => {
    const dir = project();
    writeSales(dir, SALES);
    const dataDir = tempDir();
    const { ws } = await runProject(dir, { dataDir });
    const said: string[] = [];
    const streams = await startStreams(ws, openLog(ws), { start: false, say: (m) => said.push(m) });
    try {
      const topic = streams.log.topic('store_sales');
      const hot = storesAbove(SALES, 0.05, 4);
      expect(topic.hotKeys).toEqual(hot);
      expect(said).toHaveLength(1);
      const shares = hot.map((s) => `${s} (${((rowsByStore(SALES).get(s)! / SALES.length) * 100).toFixed(1)} %)`).join(', ');
      expect(said[0]).toContain(`topic store_sales: hot keys ${shares} from sales_lines.store_id`);
      // Records go where the keys say: each hot store alone in its partition, the rest hashed over the last.
      topic.append(events(SALES.slice(0, 2000)));
      for (let p = 0; p < 4; p++) {
        const stores = new Set(topic.read(p, 0, 64 << 20).map((r) => r.key!.toString()));
        if (p < hot.length) expect([...stores]).toEqual([hot[p]]);
        else expect([...stores].some((s) => hot.includes(s))).toBe(false);
      }

      // A new day where another store is busiest: the commit of sales_lines makes the detector learn again.
      const busy = SALES.filter((s) => s.store === '2235');
      const changed = [...SALES.filter((s) => s.store !== '17'), ...Array.from({ length: 4 }, () => busy).flat()];
      writeSales(dir, changed);
      await runModels(ws, { quiet: true, log: () => undefined });
      await streams.hotKeysSettled();
      const expectedNow = storesAbove(changed, 0.05, 3);
      expect(new Set(topic.hotKeys)).toEqual(new Set(expectedNow));
      expect(expectedNow).toContain('2235');
      expect(expectedNow).not.toContain('17');
      // Keys that stayed hot kept their partitions.
      for (const store of expectedNow.filter((s) => hot.includes(s))) expect(topic.hotKeys.indexOf(store)).toBe(hot.indexOf(store));
      expect(said.at(-1)).toContain('topic store_sales: hot keys');
      // Both choices are in topic.json, each with where it took effect.
      const meta = JSON.parse(readFileSync(path.join(dataDir, 'state', 'log', 'store_sales', 'topic.json'), 'utf8')) as { hotKeyEpochs: { from: number[]; hotKeys: string[] }[] };
      expect(meta.hotKeyEpochs.map((e) => e.hotKeys)).toEqual([hot, [...topic.hotKeys]]);
      expect(meta.hotKeyEpochs[1]!.from).toEqual(topic.endOffsets());
    } finally {
      await streams.stop();
      streams.log.close();
      await ws.close();
    }
  });
});

describe('changing the hot keys of a topic that holds records', () => {
  /** Reads a topic the way a stream job does, batch after batch, and returns the records in delivery order. */
  async function readAll(log: Log, topic: string, max: number): Promise<{ partition: number; offset: number; store: string; seq: number }[][]> {
    const input = await logInput.create(logInput.config.parse({ kind: 'log', topic }), { job: 'reader', log, baseDir: REPO, stateDir: tempDir() });
    const positions = new Map<number, number>();
    const batches: { partition: number; offset: number; store: string; seq: number }[][] = [];
    for (;;) {
      const batch: { partition: number; offset: number; store: string; seq: number }[] = [];
      const sink: RecordSink = {
        get count() {
          return batch.length;
        },
        add(partition, offset, _timestamp, source, start = 0, end = source.length) {
          const { store_id, seq } = JSON.parse(Buffer.from(source.subarray(start, end)).toString()) as { store_id: number; seq: number };
          batch.push({ partition, offset, store: String(store_id), seq });
        },
        reject: () => {
          throw new Error('no record is refused here');
        },
      };
      await input.read(positions, max, sink);
      if (!batch.length) break;
      for (const r of batch) positions.set(r.partition, Math.max(positions.get(r.partition) ?? 0, r.offset + 1));
      batches.push(batch);
    }
    expect(await input.lag(positions)).toBe(0);
    return batches;
  }

  /** Stores whose records a reader got out of their order. */
  const outOfOrder = (delivered: readonly { store: string; seq: number }[]) => {
    const last = new Map<string, number>();
    const stores = new Set<string>();
    for (const r of delivered) {
      if (r.seq <= (last.get(r.store) ?? 0)) stores.add(r.store);
      last.set(r.store, r.seq);
    }
    return [...stores];
  };

  it('a reader gets each key’s records in order across the change, and never mixes records from before and after it in a batch', async () => {
    const log = new Log(tempDir());
    try {
      const topic = log.topic('store_sales', { partitions: 4 });
      const sequence = new Map<string, number>();
      topic.append(events(SALES.slice(0, 3000), sequence));
      // Hashed, store 17 is in partition 1 and 54 in 0; given partitions of their own they move.
      expect([hashKey('17') % 4, hashKey('54') % 4]).toEqual([1, 0]);
      const before = topic.endOffsets();
      expect(topic.setHotKeys(['17', '31', '54'])).toBe(true);
      expect(topic.setHotKeys(['54', '17', '31'])).toBe(false);
      topic.append(events(SALES.slice(3000), sequence));

      const batches = await readAll(log, 'store_sales', 300);
      const delivered = batches.flat();
      expect(delivered).toHaveLength(SALES.length);
      expect(new Set(delivered.map((r) => `${r.partition}:${r.offset}`)).size).toBe(SALES.length);
      expect(outOfOrder(delivered)).toEqual([]);
      for (const batch of batches) {
        const sides = new Set(batch.map((r) => r.offset >= before[r.partition]!));
        expect(sides.size).toBe(1);
      }
      // The same records read without the change's limits: the moved stores come out of order.
      const naive: { store: string; seq: number }[] = [];
      const cursors = topic.partitions.map((p) => p.startOffset);
      while (naive.length < SALES.length) {
        for (let p = 0; p < 4; p++) {
          for (const r of topic.read(p, cursors[p]!, 64 << 20, 75)) {
            const { store_id, seq } = JSON.parse(r.value.toString()) as { store_id: number; seq: number };
            naive.push({ store: String(store_id), seq });
            cursors[p] = r.offset + 1;
          }
        }
      }
      expect(outOfOrder(naive)).toEqual(expect.arrayContaining(['17', '54']));
    } finally {
      log.close();
    }
  });

  it('the change is recorded with the topic: a process that opens it later (a producer) places records the same way', () => {
    const dir = tempDir();
    const first = new Log(dir);
    first.topic('store_sales', { partitions: 4 }).setHotKeys(['17', '31']);
    first.close();
    const producer = new Log(dir);
    try {
      const topic = producer.topic('store_sales', { partitions: 4 });
      expect(topic.hotKeys).toEqual(['17', '31']);
      const appended = topic.append(events(SALES.filter((s) => s.store === '31').slice(0, 10)));
      expect([...appended.offsets.keys()]).toEqual([1]);
      expect(() => topic.setHotKeys(['1', '2', '3', '4'])).toThrow(/4 partitions, too few for 4 hot keys/);
    } finally {
      producer.close();
    }
  });

  it('a stream job killed with SIGKILL across a change of hot keys commits every record exactly once', async () => {
    const dir = project();
    writeSales(dir, SALES);
    const dataDir = tempDir();
    // The batch table the keys are learned from.
    (await runProject(dir, { dataDir })).ws.close();
    // Records appended before any keys were learned: hashed.
    const sequence = new Map<string, number>();
    const log = new Log(path.join(dataDir, 'state', 'log'));
    log.topic('store_sales', { partitions: 4 }).append(events(SALES.slice(0, 2500), sequence));
    log.close();
    // The job learns the keys at start (a change on a topic with 2,500 records waiting), then dies.
    const crashed = runWorker(dir, dataDir, { failpoint: 'after-sink:serving@3', maxBatch: 400 });
    expect(crashed.signal, crashed.stderr).toBe('SIGKILL');
    expect(crashed.stderr).toContain('topic store_sales: hot keys 17');
    // A producer that knows nothing of the keys appends the rest; the topic places them.
    const producer = new Log(path.join(dataDir, 'state', 'log'));
    const topic = producer.topic('store_sales', { partitions: 4 });
    expect(topic.hotKeys).toEqual(storesAbove(SALES, 0.05, 3));
    topic.append(events(SALES.slice(2500), sequence));
    producer.close();
    for (const failpoint of ['before-sink:serving@2', 'after-sink:__dead_letters@3']) {
      expect(runWorker(dir, dataDir, { failpoint, maxBatch: 400 }).signal).toBe('SIGKILL');
    }
    const done = runWorker(dir, dataDir, { maxBatch: 400 });
    expect(done.code, done.stderr).toBe(0);
    const ws = await openProject(dir, { dataDir });
    try {
      const [totals] = await ws.engine.queryJson(`SELECT count(*) AS n, count(DISTINCT (store_id, seq)) AS distinct_lines FROM live_sales_lines`);
      expect(totals).toEqual({ n: String(SALES.length), distinct_lines: String(SALES.length) });
      const perStore = await ws.engine.queryJson<{ store_id: number; n: string }>(`SELECT store_id, count(*) AS n FROM live_sales_lines GROUP BY 1`);
      expect(new Map(perStore.map((r) => [String(r.store_id), Number(r.n)]))).toEqual(rowsByStore(SALES));
    } finally {
      ws.close();
    }
  });
});
