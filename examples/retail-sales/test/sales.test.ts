import path from 'node:path';
import { runCommand, type CrawlReport } from 'tributary/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DROPS, buildExample, money, reference, type Built } from './harness.js';

/**
 * The example's batch side on the committed sample, real DuckDB: the drift-mapped load of the
 * store drops, the sales models and the recommender, each compared with `reference.ts` (plain
 * TypeScript over the raw files, its own CSV parser and its own reading of the mapping rules).
 */

let built: Built;
beforeAll(async () => {
  built = await buildExample();
}, 180_000);
afterAll(async () => built?.ws.close());

const query = <T>(sql: string) => built.ws.engine.queryJson<T>(sql);
const resultOf = (model: string) => built.results.find((r) => r.model === model)!;

describe('the drops: drift mapped, incomplete lines quarantined, counts reconciled', () => {
  it('every line read is loaded or quarantined, as the reference counts them', () => {
    expect(reference.rows).toBe(reference.validRows + reference.incomplete.length);
    expect(resultOf('sales_lines')).toMatchObject({ read: reference.rows, written: reference.validRows, quarantined: reference.incomplete.length, partitions: 3 });
    // The sample's documented figures, so a regenerated sample that changes them is noticed.
    expect([reference.rows, reference.validRows, reference.incomplete.length]).toEqual([5175, 5169, 6]);
  });

  it('each quarantined line names its file and line, with the reason the reference gives', async () => {
    const quarantined = await built.ws.metastore.quarantine({ model: 'sales_lines', limit: 100 });
    const found = quarantined.map((q) => `${path.relative(path.dirname(DROPS), q.file!)}:${q.line}`).sort();
    expect(found).toEqual(reference.incomplete.map((i) => `${i.path}:${i.line}`).sort());
    const reasonPattern = { missing_sku: /^sku: expected a value \(not null\)/, missing_quantity: /^quantity: expected a value \(not null\)/, too_few_fields: /^MISSING COLUMNS: 4 fields where 9 are expected/, invalid: /./ };
    for (const i of reference.incomplete) {
      const q = quarantined.find((x) => x.file!.endsWith(i.path) && x.line === i.line)!;
      expect(q.reason, `${i.path}:${i.line}`).toMatch(reasonPattern[i.reason]);
    }
  });

  it('the load logs every drifted file with the rule that mapped it', () => {
    const summary = built.log.find((l) => l.includes('schema drift mapped in'));
    expect(summary, built.log.join('\n')).toMatch(/^source 'store_drops': schema drift mapped in \d+ of 1404 file\(s\) by sources\.store_drops\.drift:/);
    const rules = [/qty read as quantity \(renames\)/, /promo_code ignored \(ignore\)/, /discount absent, set to 0\.00 \(defaults\)/, /unit_price with a decimal comma/, /quantity written as a decimal/, /delimiter ';' \(sniffed\)/];
    for (const rule of rules) expect(built.log.some((l) => rule.test(l)), String(rule)).toBe(true);
  });

  it('crawl reports the drift per store and day and registers a partition per day', async () => {
    const crawled = await runCommand(built.ws, 'crawl', { path: DROPS, table: 'sales_raw', format: 'json' });
    expect(crawled.err).toBe('');
    const report = JSON.parse(crawled.out) as CrawlReport;
    expect(report).toMatchObject({ files: reference.files, rows: reference.rows, partitions: 3, partitionBy: ['dt'] });
    const findings = report.storeDrift!.map((d) => `${d.partition} ${d.store} ${d.change} ${d.column ?? ''}`.trim());
    // Findings the reference detects in the files themselves: a renamed column, a ';' export, the
    // empty required values and the truncated line, each at its store and day.
    for (const i of reference.incomplete) {
      const [, dt, store] = /dt=([\d-]+)\/(store_\d+)\.csv$/.exec(i.path)!;
      const change = i.reason === 'too_few_fields' ? 'refused rows' : `empty values ${i.reason === 'missing_sku' ? 'sku' : 'quantity'}`;
      expect(findings, `${i.path}:${i.line}`).toContain(`dt=${dt} ${store} ${change}`);
    }
    expect(findings).toContain('dt=2024-12-07 store_2235 renamed quantity');
    expect(findings.filter((f) => f.endsWith('delimiter')).length).toBe(3);
    const renamed = report.storeDrift!.filter((d) => d.change === 'renamed').reduce((n, d) => n + d.rows, 0);
    expect(renamed).toBe(reference.driftRows.renamed_column);
    const parts = await built.ws.metastore.partitions('sales_raw');
    expect(parts.map((p) => [p.partition['dt'], p.rows])).toEqual(Object.keys(reference.byDay).map((dt) => [dt, expect.any(Number) as number]));
    expect(parts.reduce((n, p) => n + p.rows, 0)).toBe(reference.rows);
  });
});

describe('the sales models equal the reference', () => {
  it('sales_lines and daily_sales_by_store: lines, units and net sales per day', async () => {
    const byDay = await query<{ dt: string; lines: string; units: string; net: string }>(
      `SELECT dt::VARCHAR AS dt, sum(lines) AS lines, sum(units) AS units, sum(net_sales)::VARCHAR AS net FROM daily_sales_by_store GROUP BY dt ORDER BY dt`,
    );
    expect(byDay).toEqual(Object.entries(reference.byDay).map(([dt, t]) => ({ dt, lines: String(t.lines), units: String(t.units), net: money(t.netSalesCents) })));
  });

  it('daily_sales_by_category_brand: every day × brand cell', async () => {
    const cells = await query<{ dt: string; brand: string; lines: string; units: string; net: string }>(
      `SELECT dt::VARCHAR AS dt, brand, sum(lines) AS lines, sum(units) AS units, sum(net_sales)::VARCHAR AS net FROM daily_sales_by_category_brand GROUP BY ALL ORDER BY dt, brand`,
    );
    const expected = Object.entries(reference.byDayBrand)
      .flatMap(([dt, brands]) => Object.entries(brands).map(([brand, t]) => ({ dt, brand, lines: String(t.lines), units: String(t.units), net: money(t.netSalesCents) })))
      .sort((a, b) => a.dt.localeCompare(b.dt) || (a.brand < b.brand ? -1 : a.brand > b.brand ? 1 : 0));
    expect(cells).toEqual(expected);
  });

  it('the LEGO report: brand_daily_sales and brand_weekly_sales sum to the reference’s LEGO totals', async () => {
    const lego = reference.byBrand['LEGO']!;
    const [daily] = await query<{ lines: string; units: string; net: string }>(`SELECT sum(lines) AS lines, sum(units) AS units, sum(net_sales)::VARCHAR AS net FROM brand_daily_sales WHERE brand = 'LEGO'`);
    expect(daily).toEqual({ lines: String(lego.lines), units: String(lego.units), net: money(lego.netSalesCents) });
    const [weekly] = await query<{ net: string }>(`SELECT sum(net_sales)::VARCHAR AS net FROM brand_weekly_sales WHERE brand = 'LEGO'`);
    expect(weekly!.net).toBe(money(lego.netSalesCents));
    expect(money(lego.netSalesCents)).toBe('77133.45');
  });

  it('store_skew: lines per store equal the reference, and the hot stores are the flagships', async () => {
    const stores = await query<{ store_id: number; lines: string }>(`SELECT store_id, lines FROM store_skew ORDER BY store_id`);
    // rowsByStore counts the valid lines: what the models hold.
    const valid = new Map<string, number>(Object.entries(reference.rowsByStore));
    expect(Object.fromEntries(stores.map((s) => [String(s.store_id), Number(s.lines)]))).toEqual(Object.fromEntries(valid));
    const hot = await query<{ store_id: number }>(`SELECT store_id FROM store_skew WHERE is_hot ORDER BY rank`);
    const total = [...valid.values()].reduce((a, b) => a + b, 0);
    const expectedHot = [...valid].filter(([, n]) => n / total >= 0.05).sort((a, b) => b[1] - a[1]).map(([s]) => Number(s));
    expect(hot.map((h) => h.store_id)).toEqual(expectedHot);
    expect(expectedHot.sort((a, b) => a - b)).toEqual([17, 31, 54]);
  });
});

describe('the recommender', () => {
  it('the popularity baseline’s hold-out metrics equal the reference’s separate implementation', async () => {
    const rows = await query<{ model: string; metric: string; value: number }>(`SELECT model, metric, value::DOUBLE AS value FROM rec_evaluation ORDER BY model, metric`);
    const of = (model: string, metric: string) => rows.find((r) => r.model === model && r.metric === metric)!.value;
    const ref = reference.popularityHoldout;
    expect(of('popularity', 'customers_evaluated')).toBe(ref.customersEvaluated);
    expect(of('popularity', 'precision_at_10')).toBeCloseTo(ref.precisionAt10, 12);
    expect(of('popularity', 'recall_at_10')).toBeCloseTo(ref.recallAt10, 12);
    expect(of('popularity', 'hit_rate_at_10')).toBeCloseTo(ref.hitRateAt10, 12);
    expect(of('popularity', 'ndcg_at_10')).toBeCloseTo(ref.ndcgAt10, 12);
    expect(of('popularity', 'catalogue_coverage')).toBeCloseTo(ref.catalogueCoverage, 12);
  });

  it('item-item beats popularity on every hold-out metric, over the same customers', async () => {
    const rows = await query<{ metric: string; item_item: number; popularity: number }>(
      `SELECT metric, max(value::DOUBLE) FILTER (WHERE model = 'item_item') AS item_item, max(value::DOUBLE) FILTER (WHERE model = 'popularity') AS popularity
       FROM rec_evaluation GROUP BY metric ORDER BY metric`,
    );
    expect(rows.map((r) => r.metric)).toEqual(['catalogue_coverage', 'customers_evaluated', 'hit_rate_at_10', 'ndcg_at_10', 'precision_at_10', 'recall_at_10']);
    for (const r of rows) {
      if (r.metric === 'customers_evaluated') expect(r.item_item, r.metric).toBe(r.popularity);
      else expect(r.item_item, r.metric).toBeGreaterThan(r.popularity);
    }
  });

  it('serves 10 recommendations to every customer, none of them already purchased', async () => {
    const [served] = await query<{ customers: string; short: string; bought: string }>(
      `SELECT count(DISTINCT customer_id) AS customers,
              (SELECT count(*) FROM (SELECT customer_id FROM rec_recommendations WHERE training_set = 'full' GROUP BY 1 HAVING count(*) <> 10)) AS short,
              (SELECT count(*) FROM rec_recommendations r JOIN behaviour b ON b.customer_id = r.customer_id AND b.sku = r.sku AND b.action = 'purchase' WHERE r.training_set = 'full') AS bought
       FROM rec_recommendations WHERE training_set = 'full'`,
    );
    const [customers] = await query<{ n: string }>(`SELECT count(*) AS n FROM (SELECT customer_id FROM customers UNION SELECT customer_id FROM behaviour)`);
    expect(served).toEqual({ customers: customers!.n, short: '0', bought: '0' });
  });
});
