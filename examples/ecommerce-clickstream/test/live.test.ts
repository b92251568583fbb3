import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openProject, openStreams, tempDir } from 'tributary/testing';
import { describe, expect, it } from 'vitest';
import { readSample as readEvents, stamp } from '../replayers/sample.js';
import { aggregate, clickstreamReference, operationOf } from './reference.js';

/**
 * The live half: every row of the sample replayed once as a live event (stamped a second apart,
 * as the original producer stamped its rows with the current time), through the embedded log and
 * the stream job `clickstream_live`, and the live tables compared with the reference applied to
 * the same events.
 */
const CLICKSTREAM = fileURLToPath(new URL('..', import.meta.url));
const SAMPLE = path.join(CLICKSTREAM, 'data', '2019-Nov-sample.csv');
const reference = clickstreamReference(SAMPLE);
const START = Date.parse('2024-06-01T22:00:00Z');
const at = (i: number) => START + i * 1000;
const money = (cents: number) => (cents / 100).toFixed(2);

describe('ecommerce-clickstream: the stream job’s live tables equal the reference over the same events', () => {
  it('a stamped event is its sample row with a fresh id and the moment given, however often the row is sent', () => {
    const [first, second] = readEvents(SAMPLE);
    const sent = [stamp(first!, at(0)), stamp(first!, at(1)), stamp(second!, at(1)), stamp(first!, at(0))].map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(sent.map((e) => e.event_time)).toEqual(['2024-06-01 22:00:00.000', '2024-06-01 22:00:01.000', '2024-06-01 22:00:01.000', '2024-06-01 22:00:00.000']);
    expect(new Set(sent.map((e) => e.id)).size).toBe(4);
    const row = ({ id: _id, event_time: _time, ...rest }: Record<string, unknown>) => rest;
    expect(row(sent[1]!)).toEqual(row(sent[0]!));
    expect(row(sent[0]!)).toEqual({ ...first, product_id: Number(first!.product_id), category_id: Number(first!.category_id), user_id: Number(first!.user_id) });
    expect(row(sent[2]!).user_session).toBe(second!.user_session);
    // Ids past 2^53 are written from their text, not through a JS number.
    expect(stamp(first!, at(0))).toContain(`"category_id":${first!.category_id}`);
    // A row is kept as its JSON: changing it after a stamp is refused, never sent stale.
    expect(() => Object.assign(first!, { price: 1 })).toThrow(TypeError);
  });

  it('live_kpis, live_by_department_brand, live_by_product, live_operations_per_minute and live_operations', async () => {
    const ws = await openProject(CLICKSTREAM, { dataDir: tempDir('tributary-clickstream-live-') });
    try {
      // As the producer sends them: each sample row stamped with its moment, into the topic.
      const streams = await openStreams(ws);
      try {
        const events = readEvents(SAMPLE);
        streams.log.topic('clickstream').append(events.map((event, i) => ({ value: stamp(event, at(i)) })));
        expect(await streams.drain()).toEqual({ clickstream_live: reference.rows.length });
        expect(streams.jobs[0]!.snapshot()).toMatchObject({ late: 0, deadLetters: 0 });
      } finally {
        await streams.close();
      }

      const live = aggregate(reference.rows.map((row, i) => operationOf({ ...row, event_time: new Date(at(i)).toISOString().slice(0, 19).replace('T', ' ') })));
      const query = <T>(sql: string) => ws.engine.queryJson<T>(sql);
      const [kpis] = await query<Record<string, string>>('SELECT operations::VARCHAR AS operations, revenue::VARCHAR AS revenue, purchases::VARCHAR AS purchases, views::VARCHAR AS views, carts::VARCHAR AS carts FROM live_kpis');
      expect(kpis).toEqual({
        operations: String(live.kpis.operations),
        revenue: money(live.kpis.revenue_cents),
        purchases: String(live.kpis.purchases),
        views: String(live.kpis.views),
        carts: String(live.kpis.carts),
      });
      // The same events as the batch's, at other times: the totals are the batch's.
      expect(live.kpis).toEqual(reference.kpis);

      const totals = (r: { revenue: string; purchases: string; views: string; carts: string }) => ({
        revenue_cents: Math.round(Number(r.revenue) * 100),
        purchases: Number(r.purchases),
        views: Number(r.views),
        carts: Number(r.carts),
      });
      const measures = 'revenue::VARCHAR AS revenue, purchases::VARCHAR AS purchases, views::VARCHAR AS views, carts::VARCHAR AS carts';
      const byDepartmentBrand = await query<{ key: string; revenue: string; purchases: string; views: string; carts: string }>(
        `SELECT concat_ws('|', dt::VARCHAR, department, brand) AS key, ${measures} FROM live_by_department_brand`,
      );
      expect(new Map(byDepartmentBrand.map((r) => [r.key, totals(r)]))).toEqual(live.byDepartmentBrand);
      const byProduct = await query<{ product: string; revenue: string; purchases: string; views: string; carts: string }>(`SELECT product, ${measures} FROM live_by_product`);
      expect(new Map(byProduct.map((r) => [r.product, totals(r)]))).toEqual(live.byProduct);
      const perMinute = await query<{ key: string; n: string }>(
        `SELECT strftime(minute, '%Y-%m-%d %H:%M') || '|' || event_type AS key, operations::VARCHAR AS n FROM live_operations_per_minute`,
      );
      expect(new Map(perMinute.map((r) => [r.key, Number(r.n)]))).toEqual(live.perMinute);
      const [operations] = await query<{ n: string; other_brand: string; ids: string }>(
        `SELECT count(*)::VARCHAR AS n, count(*) FILTER (WHERE brand = 'other')::VARCHAR AS other_brand, count(DISTINCT id)::VARCHAR AS ids FROM live_operations`,
      );
      expect(operations).toEqual({ n: String(reference.rows.length), other_brand: String(reference.facts.missingBrand), ids: String(reference.rows.length) });
    } finally {
      await ws.close();
    }
  });
});
