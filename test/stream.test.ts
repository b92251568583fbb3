import { describe, expect, it } from 'vitest';
import { CLICKSTREAM, openProject, tempDir } from './helpers.js';
import { feed, runWorker } from './stream-helpers.js';

describe('clickstream stream job', () => {
  it('applies the batch rules, and its per-minute windows equal the batch model on the same events', async () => {
    const dataDir = tempDir();
    const start = Date.parse('2026-03-01T10:00:00Z');
    // 6,000 sample events spread over 10 minutes, in time order: none is late.
    feed(dataDir, 'clickstream', 4, 6000, { at: (i) => start + i * 100 });
    const run = runWorker(CLICKSTREAM, dataDir, { maxBatch: 1500 });
    expect(run.code, run.stderr).toBe(0);
    expect(run.output!.status[0]).toMatchObject({ events: 6000, late: 0, deadLetters: 0 });
    const ws = await openProject(CLICKSTREAM, { dataDir });
    try {
      // The batch path's own model SQL over the same events, read back from the raw lake table.
      const batchWindows = await ws.engine.queryJson(
        `WITH events AS (SELECT *, or_other(split_part(category_code, '.', 1)) AS department FROM events_raw)
         SELECT minute::VARCHAR AS minute, event_type, operations FROM (
           SELECT date_trunc('minute', event_time) AS minute, event_type, count(*) AS operations FROM events GROUP BY ALL)
         ORDER BY 1, 2`,
      );
      const streamWindows = await ws.engine.queryJson(
        `SELECT minute::VARCHAR AS minute, event_type, operations FROM live_operations_per_minute ORDER BY 1, 2`,
      );
      expect(streamWindows).toEqual(batchWindows);
      expect(streamWindows.length).toBeGreaterThanOrEqual(20); // 10 minutes × 2–3 event types
      const rules = await ws.engine.queryJson(
        `SELECT count(*) FILTER (WHERE brand = 'other') AS other_brand, count(*) FILTER (WHERE department = 'other') AS other_dept,
                count(*) FILTER (WHERE event_type <> 'purchase' AND revenue <> 0) AS bad_revenue FROM live_operations`,
      );
      const raw = await ws.engine.queryJson(
        `SELECT count(*) FILTER (WHERE is_missing(brand)) AS other_brand, count(*) FILTER (WHERE is_missing(category_code)) AS other_dept FROM events_raw`,
      );
      expect(rules[0]).toEqual({ ...raw[0], bad_revenue: '0' });
      // Raw events land in the lake by date and hour.
      const parts = await ws.metastore.partitions('events_raw');
      expect(parts.map((p) => p.partition)).toEqual([{ dt: '2026-03-01', hour: '10' }]);
    } finally {
      ws.close();
    }
  });

  it('late events are counted and routed to the late table, never silently dropped; malformed ones go to dead letters with a reason', async () => {
    const dataDir = tempDir();
    const now = Date.parse('2026-03-01T12:00:00Z');
    feed(dataDir, 'clickstream', 4, 1000, { at: (i) => now + i * 10 });
    expect(runWorker(CLICKSTREAM, dataDir).code).toBe(0);
    // Then 50 events from ten minutes earlier: their windows closed long ago.
    feed(dataDir, 'clickstream', 4, 50, {
      at: () => now - 600_000,
      extra: ['{"id": "not-a-uuid"}', 'garbage', '{"id":"00000000-0000-0000-0000-000000000001","event_time":"2026-03-01 12:00:00","event_type":"refund","price":1}'],
    });
    const run = runWorker(CLICKSTREAM, dataDir);
    expect(run.code, run.stderr).toBe(0);
    expect(run.output!.status[0]).toMatchObject({ late: 50, deadLetters: 3 });
    const ws = await openProject(CLICKSTREAM, { dataDir });
    try {
      const late = await ws.engine.queryJson(`SELECT count(*) AS n FROM clickstream_live_late`);
      expect(late).toEqual([{ n: '50' }]);
      const windows = await ws.engine.queryJson(`SELECT sum(operations) AS n FROM live_operations_per_minute`);
      expect(windows).toEqual([{ n: '1000' }]);
      // Late events still reach the raw lake and the processed table: only windows refuse them.
      expect(await ws.engine.queryJson(`SELECT count(*) AS n FROM live_operations`)).toEqual([{ n: '1050' }]);
      const dead = await ws.engine.queryJson<{ reason: string; raw: string }>(`SELECT reason, raw FROM tributary.dead_letters ORDER BY "offset"`);
      expect(dead.map((d) => d.reason)).toEqual([
        'id: expected UUID, got not-a-uuid',
        'not valid JSON: garbage',
        'event_type: expected one of view, cart, purchase, got refund',
      ]);
      expect(dead[1]!.raw).toBe('garbage');
    } finally {
      ws.close();
    }
  });
});
