import { describe, expect, it } from 'vitest';
import { CLICKSTREAM, openProject, tempDir } from './helpers.js';
import { feed, runWorker } from './stream-helpers.js';

/**
 * The clickstream stream job killed with SIGKILL at each dangerous instant, then restarted:
 * every event id must be in the raw lake table and in the processed table exactly once, and the
 * incremental totals must equal a recount.
 */
async function assertExactlyOnce(dataDir: string, events: number) {
  const ws = await openProject(CLICKSTREAM, { dataDir });
  const one = async (sql: string) => (await ws.engine.queryJson(sql))[0] as Record<string, string>;
  try {
    expect(await one('SELECT count(*) AS n, count(DISTINCT id) AS ids FROM events_raw')).toEqual({ n: String(events), ids: String(events) });
    expect(await one('SELECT count(*) AS n, count(DISTINCT id) AS ids FROM live_operations')).toEqual({ n: String(events), ids: String(events) });
    const kpis = await one('SELECT operations, purchases, views, carts, revenue FROM live_kpis');
    const recount = await one(
      `SELECT count(*) AS operations, count(*) FILTER (WHERE event_type = 'purchase') AS purchases, count(*) FILTER (WHERE event_type = 'view') AS views,
              count(*) FILTER (WHERE event_type = 'cart') AS carts, sum(revenue) AS revenue FROM live_operations`,
    );
    expect(kpis).toEqual(recount);
    const products = await one('SELECT sum(purchases + views + carts) AS n FROM live_by_product');
    expect(Number(products.n)).toBe(events);
    const dead = await one('SELECT count(*) AS n FROM tributary.dead_letters');
    expect(dead.n).toBe('0');
  } finally {
    ws.close();
  }
}

describe('exactly-once stream commits under SIGKILL', () => {
  it('a job killed before a sink write, between the two sinks and after the commit leaves every event exactly once', async () => {
    const dataDir = tempDir();
    const events = 12_000;
    feed(dataDir, 'clickstream', 4, events);
    // Batches of 1,000 events; each run dies at the named instant of a later batch.
    for (const failpoint of ['before-sink:lake@3', 'after-sink:lake@2', 'before-sink:serving@2', 'after-sink:serving@3']) {
      const crashed = runWorker(CLICKSTREAM, dataDir, { failpoint, maxBatch: 1000 });
      expect(crashed.signal, `${failpoint}: ${crashed.stderr}`).toBe('SIGKILL');
    }
    const finished = runWorker(CLICKSTREAM, dataDir, { maxBatch: 1000 });
    expect(finished.code, finished.stderr).toBe(0);
    await assertExactlyOnce(dataDir, events);
  });

  it('events arriving while a job is down are picked up where each sink left off', async () => {
    const dataDir = tempDir();
    feed(dataDir, 'clickstream', 4, 3000);
    expect(runWorker(CLICKSTREAM, dataDir, { failpoint: 'after-sink:lake@1', maxBatch: 2000 }).signal).toBe('SIGKILL');
    feed(dataDir, 'clickstream', 4, 2000);
    expect(runWorker(CLICKSTREAM, dataDir, { maxBatch: 2000 }).code).toBe(0);
    await assertExactlyOnce(dataDir, 5000);
  });
});
