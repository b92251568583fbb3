import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runModels, runProject, tempDir, type Workspace } from 'tributary/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isMissing, readSample } from './reference.js';

/**
 * System A's batch half on the real 10,034-row sample. Every expected figure is computed here
 * from the CSV text itself, independently of DuckDB.
 */
const CLICKSTREAM = fileURLToPath(new URL('..', import.meta.url));
const rows = readSample(path.join(CLICKSTREAM, 'data', '2019-Nov-sample.csv'));
const cents = (v: string) => Math.round(Number(v) * 100);

let ws: Workspace;
beforeAll(async () => {
  ({ ws } = await runProject(CLICKSTREAM, { dataDir: tempDir() }));
});
afterAll(() => ws.close());

const one = async <T = Record<string, unknown>>(sql: string) => (await ws.engine.queryJson(sql))[0] as T;

describe('clickstream batch on the real sample', () => {
  it('loads every row and counts each event type as the file does', async () => {
    const expected = { view: 0, cart: 0, purchase: 0 } as Record<string, number>;
    for (const r of rows) expected[r.event_type]!++;
    expect(rows.length).toBe(10_034);
    const kpis = await one<Record<string, string>>('SELECT * FROM kpis');
    expect(Number(kpis.operations)).toBe(10_034);
    expect(Number(kpis.views)).toBe(expected.view);
    expect(Number(kpis.carts)).toBe(expected.cart);
    expect(Number(kpis.purchases)).toBe(expected.purchase);
    expect(expected.purchase).toBe(151);
  });

  it('revenue is the price of purchases only, to the cent', async () => {
    const expected = rows.filter((r) => r.event_type === 'purchase').reduce((s, r) => s + r.price_cents, 0);
    const kpis = await one<{ revenue: string }>('SELECT revenue::VARCHAR AS revenue FROM kpis');
    expect(cents(kpis.revenue)).toBe(expected);
    const nonPurchaseRevenue = await one<{ n: string }>(`SELECT count(*) AS n FROM operations WHERE event_type <> 'purchase' AND revenue <> 0`);
    expect(Number(nonPurchaseRevenue.n)).toBe(0);
  });

  it('department is the first segment of category_code, product the last, other when missing', async () => {
    const expectedDept = new Map<string, number>();
    const expectedProduct = new Map<string, number>();
    for (const r of rows) {
      const code = r.category_code;
      const dept = isMissing(code) ? 'other' : code!.split('.')[0]!;
      const product = isMissing(code) ? 'other' : code!.split('.').at(-1)!;
      expectedDept.set(dept, (expectedDept.get(dept) ?? 0) + 1);
      expectedProduct.set(product, (expectedProduct.get(product) ?? 0) + 1);
    }
    const depts = await ws.engine.queryJson<{ department: string; n: string }>('SELECT department, count(*) AS n FROM operations GROUP BY 1');
    expect(new Map(depts.map((d) => [d.department, Number(d.n)]))).toEqual(expectedDept);
    const products = await ws.engine.queryJson<{ product: string; n: string }>(
      'SELECT product, (sum(purchases) + sum(views) + sum(carts))::BIGINT AS n FROM by_product GROUP BY 1',
    );
    expect(new Map(products.map((p) => [p.product, Number(p.n)]))).toEqual(expectedProduct);
    // About a third of the sample has no category_code.
    expect(expectedDept.get('other')! / rows.length).toBeGreaterThan(0.3);
  });

  it("a missing brand becomes 'other' whether null, empty or NaN, and real brands are never rewritten", async () => {
    const expectedOther = rows.filter((r) => isMissing(r.brand)).length;
    expect(rows.filter((r) => r.brand === 'nan')).toHaveLength(2);
    const other = await one<{ n: string }>(`SELECT count(*) AS n FROM operations WHERE brand = 'other'`);
    expect(Number(other.n)).toBe(expectedOther);
    const tognana = await one<{ n: string }>(`SELECT count(*) AS n FROM operations WHERE brand = 'tognana'`);
    expect(Number(tognana.n)).toBe(rows.filter((r) => r.brand === 'tognana').length);
    expect(Number(tognana.n)).toBeGreaterThan(0);
    // events keeps the source value as it was.
    const raw = await one<{ n: string }>(`SELECT count(*) AS n FROM events WHERE brand = 'nan'`);
    expect(Number(raw.n)).toBe(2);
  });

  it('keeps 64-bit category ids exact end to end', async () => {
    const ids = await ws.engine.queryJson<{ id: string }>('SELECT category_id::VARCHAR AS id FROM events');
    const expected = rows.map((r) => r.category_id).sort();
    expect(ids.map((r) => r.id).sort()).toEqual(expected);
    expect(expected.every((id) => BigInt(id) > 2n ** 53n)).toBe(true);
    const js = await ws.engine.query<{ id: bigint }>(`SELECT category_id AS id FROM events WHERE category_id = 2053013555631882655 LIMIT 1`);
    expect(js[0]!.id).toBe(2053013555631882655n);
  });

  it('partitions events by day as Hive-style Parquet, every row accounted for in the run record', async () => {
    const parts = await ws.metastore.partitions('events');
    expect(parts.length).toBe(new Set(rows.map((r) => r.event_time.slice(0, 10))).size);
    expect(parts.every((p) => /^2019-11-\d\d$/.test(p.partition.dt!))).toBe(true);
    const files = await ws.metastore.liveFiles('events');
    expect(files.every((f) => /^events\/dt=2019-11-\d\d\/part-.*\.parquet$/.test(f.path))).toBe(true);
    const [run] = await ws.metastore.runs({ limit: 1, target: 'events' });
    expect(run).toMatchObject({ status: 'success', read: 10_034, written: 10_034, quarantined: 0 });
    const lineage = await ws.metastore.lineage();
    expect(lineage).toContainEqual({ model: 'events', upstream: 'clickstream', upstream_kind: 'source' });
    expect(lineage).toContainEqual({ model: 'kpis', upstream: 'by_department_brand', upstream_kind: 'model' });
    expect(lineage).toContainEqual({ model: 'by_department_brand', upstream: 'events', upstream_kind: 'model' });
  });

  it('re-running a day replaces only that partition and gives identical tables', async () => {
    const fingerprint = async () =>
      one<{ h: string; n: string }>(
        `SELECT md5(string_agg(CAST(e AS VARCHAR), '|' ORDER BY CAST(e AS VARCHAR))) AS h, count(*) AS n FROM events e`,
      );
    const before = await fingerprint();
    const otherDays = (await ws.metastore.liveFiles('events')).filter((f) => f.partition.dt !== '2019-11-08').map((f) => f.path);
    const day = (await ws.metastore.liveFiles('events')).filter((f) => f.partition.dt === '2019-11-08');
    const results = await runModels(ws, { select: ['events'], date: '2019-11-08' });
    // Every row of the file is read and accounted for: the day's rows written, the others skipped as another day's.
    const dayRows = rows.filter((r) => r.event_time.startsWith('2019-11-08')).length;
    expect(results[0]).toMatchObject({ read: 10_034, written: dayRows, quarantined: 0, skipped: 10_034 - dayRows });
    const after = await fingerprint();
    expect(after).toEqual(before);
    const now = await ws.metastore.liveFiles('events');
    expect(now.filter((f) => f.partition.dt !== '2019-11-08').map((f) => f.path)).toEqual(otherDays);
    const newDay = now.filter((f) => f.partition.dt === '2019-11-08');
    expect(newDay.map((f) => f.path)).not.toEqual(day.map((f) => f.path));
    expect(newDay.reduce((s, f) => s + f.rows, 0)).toBe(day.reduce((s, f) => s + f.rows, 0));
    // A full re-run is just as repeatable.
    await runModels(ws);
    expect(await fingerprint()).toEqual(before);
  });
});
