import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { computeDashboard, runProject, tempDir, type Workspace } from 'tributary/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clickstreamReference, type Operation } from './reference.js';

/**
 * Every table of the batch path against the independent reference (test/reference.ts): the real
 * sample read by a plain TypeScript CSV parser, System A's rules applied row by row. And the
 * README's figures, read from the README itself, against the same reference.
 */
const CLICKSTREAM = fileURLToPath(new URL('..', import.meta.url));
const reference = clickstreamReference(path.join(CLICKSTREAM, 'data', '2019-Nov-sample.csv'));
const money = (cents: number) => (cents / 100).toFixed(2);

let ws: Workspace;
beforeAll(async () => {
  ({ ws } = await runProject(CLICKSTREAM, { dataDir: tempDir('tributary-clickstream-') }));
});
afterAll(() => ws.close());

const query = <T>(sql: string) => ws.engine.queryJson<T>(sql);

describe('ecommerce-clickstream: every table equals the reference', () => {
  it('operations: each event’s department, product, brand and revenue by the rules, and no ids', async () => {
    const columns = (await ws.engine.describe('SELECT * FROM operations')).map((c) => c.name);
    for (const dropped of ['product_id', 'category_id', 'user_id', 'user_session']) expect(columns).not.toContain(dropped);
    const rows = await query<{ key: string }>(
      `SELECT concat_ws('|', strftime(event_time, '%Y-%m-%d %H:%M:%S'), event_type, brand, department, product, price::VARCHAR, revenue::VARCHAR) AS key FROM operations`,
    );
    const key = (o: Operation) => [o.event_time, o.event_type, o.brand, o.department, o.product, money(o.price_cents), money(o.revenue_cents)].join('|');
    expect(rows.map((r) => r.key).sort()).toEqual(reference.operations.map(key).sort());
  });

  it('the rules on the rows that test them: missing category and brand, NaN brands, tognana, prices of 0', async () => {
    const count = async (where: string) => Number((await query<{ n: string }>(`SELECT count(*) AS n FROM operations WHERE ${where}`))[0]!.n);
    expect(await count(`department = 'other'`)).toBe(reference.facts.missingCategory);
    expect(await count(`product = 'other'`)).toBe(reference.facts.missingCategory);
    expect(await count(`brand = 'other'`)).toBe(reference.facts.missingBrand);
    // The two literal 'nan' brands are 'other'; the source table keeps them as written.
    expect(reference.facts.nanBrand).toBe(2);
    expect(Number((await query<{ n: string }>(`SELECT count(*) AS n FROM events WHERE brand = 'nan'`))[0]!.n)).toBe(2);
    expect(await count(`lower(brand) = 'nan'`)).toBe(0);
    // A brand that merely contains the letters is a brand.
    expect(await count(`brand = 'tognana'`)).toBe(reference.facts.tognana);
    expect(reference.facts.tognana).toBe(1);
    expect(await count(`price = 0`)).toBe(reference.facts.zeroPrice);
    expect(await count(`event_type <> 'purchase' AND revenue <> 0`)).toBe(0);
  });

  it('kpis', async () => {
    const [kpis] = await query<Record<string, string>>('SELECT operations::VARCHAR AS operations, revenue::VARCHAR AS revenue, purchases::VARCHAR AS purchases, views::VARCHAR AS views, carts::VARCHAR AS carts FROM kpis');
    const k = reference.kpis;
    expect(kpis).toEqual({ operations: String(k.operations), revenue: money(k.revenue_cents), purchases: String(k.purchases), views: String(k.views), carts: String(k.carts) });
  });

  it('by_department_brand: every day × department × brand', async () => {
    const rows = await query<{ key: string; revenue: string; purchases: string; views: string; carts: string }>(
      `SELECT concat_ws('|', dt::VARCHAR, department, brand) AS key, revenue::VARCHAR AS revenue, purchases::VARCHAR AS purchases, views::VARCHAR AS views, carts::VARCHAR AS carts FROM by_department_brand`,
    );
    expect(new Map(rows.map((r) => [r.key, { revenue_cents: Math.round(Number(r.revenue) * 100), purchases: Number(r.purchases), views: Number(r.views), carts: Number(r.carts) }]))).toEqual(
      reference.byDepartmentBrand,
    );
  });

  it('by_product', async () => {
    const rows = await query<{ product: string; revenue: string; purchases: string; views: string; carts: string }>(
      `SELECT product, revenue::VARCHAR AS revenue, purchases::VARCHAR AS purchases, views::VARCHAR AS views, carts::VARCHAR AS carts FROM by_product`,
    );
    expect(new Map(rows.map((r) => [r.product, { revenue_cents: Math.round(Number(r.revenue) * 100), purchases: Number(r.purchases), views: Number(r.views), carts: Number(r.carts) }]))).toEqual(
      reference.byProduct,
    );
  });

  it('operations_per_minute', async () => {
    const rows = await query<{ key: string; n: string }>(`SELECT strftime(minute, '%Y-%m-%d %H:%M') || '|' || event_type AS key, operations::VARCHAR AS n FROM operations_per_minute`);
    expect(new Map(rows.map((r) => [r.key, Number(r.n)]))).toEqual(reference.perMinute);
  });

  it('the dashboard’s batch tab shows the reference numbers', async () => {
    const tiles = new Map((await computeDashboard(ws, 'clickstream')).tiles.map((t) => [t.id, t]));
    const value = (id: string) => String(tiles.get(id)!.rows[0]!.value);
    expect(value('operations')).toBe(String(reference.kpis.operations));
    expect(value('revenue')).toBe(money(reference.kpis.revenue_cents));
    expect(value('purchases')).toBe(String(reference.kpis.purchases));
    expect(value('views')).toBe(String(reference.kpis.views));
    expect(value('carts')).toBe(String(reference.kpis.carts));
    const topByPurchases = [...reference.byProduct].sort((a, b) => b[1].purchases - a[1].purchases || a[0].localeCompare(b[0]))[0]!;
    expect(tiles.get('product_purchases')!.rows[0]).toMatchObject({ product: topByPurchases[0], value: String(topByPurchases[1].purchases) });
  });
});

describe('ecommerce-clickstream: the README’s figures are the reference’s', () => {
  it('each row of the README’s table of the sample’s numbers', () => {
    const readme = readFileSync(path.join(CLICKSTREAM, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## The numbers'));
    const figures = new Map([...section.matchAll(/^\| (.+?) \| ([\d,.]+) \|/gm)].map(([, label, value]) => [label!, value!.replaceAll(',', '')]));
    const departments = new Map<string, number>();
    for (const op of reference.operations) departments.set(op.department, (departments.get(op.department) ?? 0) + 1);
    const smartphone = reference.byProduct.get('smartphone')!;
    expect(Object.fromEntries(figures)).toEqual({
      'rows (events)': String(reference.rows.length),
      views: String(reference.kpis.views),
      'additions to cart': String(reference.kpis.carts),
      purchases: String(reference.kpis.purchases),
      'revenue (purchases only)': money(reference.kpis.revenue_cents),
      'days (partitions of `events`)': String(reference.facts.days.length),
      "events without a category (department and product `'other'`)": String(reference.facts.missingCategory),
      "events without a brand (`'other'`), the 2 `nan` included": String(reference.facts.missingBrand),
      'prices of 0': String(reference.facts.zeroPrice),
      'events of `electronics`, the largest department': String(departments.get('electronics')),
      'revenue of `smartphone`, the largest product': money(smartphone.revenue_cents),
    });
  });
});
