import { readFileSync } from 'node:fs';
import path from 'node:path';
import { serve, type LiveEvent, type Served } from 'tributary/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE, buildExample, money, reference, type Built } from './harness.js';

/**
 * The LEGO brand client through the real HTTP server on the example as shipped (its `access`
 * block, its dashboards, its models built from the sample): every answer the LEGO token gets is
 * checked for other brands' names and for any total that includes them; its numbers equal the
 * reference's LEGO totals; tables without a brand column, other dashboards and the catalog are
 * refused. The admin token sees every brand.
 */
const ADMIN_TOKEN = 'admin-token-retail-7f3a91c2';
const LEGO_TOKEN = 'lego-token-retail-2d8e64b0';

const products = readFileSync(path.join(SAMPLE, 'reference', 'products.csv'), 'utf8')
  .trim()
  .split('\n')
  .slice(1)
  .map((line) => line.split(','))
  .map(([sku, name, category, brand, manufacturer, theme]) => ({ sku: sku!, text: `${name} ${category} ${manufacturer} ${theme}`, brand: brand! }));
const legoSkus = new Set(products.filter((p) => p.brand === 'LEGO').map((p) => p.sku));
const legoText = products.filter((p) => p.brand === 'LEGO').map((p) => p.text).join('\n');
const lego = reference.byBrand['LEGO']!;

/**
 * What must never reach the LEGO token: the names of other brands (those that never occur in
 * LEGO's own product texts), the retailer's total and each other brand's total net sales.
 */
const forbidden = [
  ...Object.keys(reference.byBrand).filter((b) => b !== 'LEGO' && !legoText.includes(b)),
  money(Object.values(reference.byBrand).reduce((n, t) => n + t.netSalesCents, 0)),
  ...Object.entries(reference.byBrand)
    .filter(([b]) => b !== 'LEGO')
    .map(([, t]) => money(t.netSalesCents)),
];

function assertNoLeak(text: string, what: string): void {
  for (const f of forbidden) {
    const pattern = new RegExp(`(^|[^A-Za-z0-9.])${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|[^A-Za-z0-9])`);
    expect(pattern.test(text), `${what}: '${f}' reached the LEGO token: ${text.slice(0, 300)}`).toBe(false);
  }
  for (const sku of text.match(/SKU\d{6}/g) ?? []) expect(legoSkus.has(sku), `${what}: ${sku} is not a LEGO SKU`).toBe(true);
}

let built: Built;
let server: Served;
let base: string;

interface Answer {
  status: number;
  text: string;
  json: Record<string, unknown>;
}

async function send(method: string, url: string, token: string, body?: unknown): Promise<Answer> {
  const response = await fetch(`${base}${url}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // pages and event streams are not JSON
  }
  return { status: response.status, text, json };
}

/** As the LEGO token; the answer is checked for leaks (the SQL's own literals may come back). */
async function asLego(method: string, url: string, body?: { sql: string; limit: number }): Promise<Answer> {
  const answer = await send(method, url, LEGO_TOKEN, body);
  const echoed = (body?.sql.match(/'[^']*'/g) ?? []).reduce((text, literal) => text.split(literal.slice(1, -1)).join(''), answer.text);
  assertNoLeak(echoed, `${method} ${url} ${body?.sql ?? ''}`);
  return answer;
}
const lab = (sql: string) => asLego('POST', '/api/sql', { sql, limit: 10_000 });
const rowsOf = (answer: Answer) => (answer.json.rows ?? []) as Record<string, unknown>[];
const tile = (event: LiveEvent, id: string) => event.tiles.find((t) => t.id === id)!;

beforeAll(async () => {
  built = await buildExample();
  server = await serve(built.ws, { token: ADMIN_TOKEN, env: { LEGO_TOKEN } });
  base = server.url;
}, 180_000);

afterAll(async () => {
  await server?.close();
  await built?.ws.close();
});

describe('the LEGO token on the brand dashboard', () => {
  it('every tile is computed over LEGO rows and equals the reference’s LEGO totals', async () => {
    const answer = await asLego('GET', '/api/dashboards/brand/tiles');
    expect(answer.status).toBe(200);
    const event = answer.json as unknown as LiveEvent;
    for (const t of event.tiles) expect(t.error, t.id).toBeUndefined();
    expect(tile(event, 'net_sales').rows).toEqual([{ value: money(lego.netSalesCents) }]);
    expect(tile(event, 'units').rows).toEqual([{ value: String(lego.units) }]);
    const days = tile(event, 'daily').rows as { dt: string; brand: string; net_sales: string }[];
    expect(days.map((d) => [d.dt, d.brand, d.net_sales])).toEqual(Object.entries(reference.byDayBrand).map(([dt, brands]) => [dt, 'LEGO', money(brands['LEGO']!.netSalesCents)]));
    for (const id of ['weekly', 'top_skus']) expect(new Set(tile(event, id).rows.map((r) => r['brand'])), id).toEqual(new Set(['LEGO']));
    // The brand filter offers LEGO alone.
    const layout = await asLego('GET', '/api/dashboards/brand');
    expect(layout.json['options']).toEqual({ brand: ['LEGO'] });
  });

  it('the retailer dashboard is refused like one that does not exist; the admin sees every brand on both', async () => {
    const other = await asLego('GET', '/api/dashboards/retailer/tiles');
    const missing = await asLego('GET', '/api/dashboards/retailez/tiles');
    expect(other.status).toBeGreaterThanOrEqual(400);
    expect(other.status).toBe(missing.status);
    const admin = (await send('GET', '/api/dashboards/brand/tiles', ADMIN_TOKEN)).json as unknown as LiveEvent;
    expect(tile(admin, 'net_sales').rows).toEqual([{ value: money(Object.values(reference.byBrand).reduce((n, t) => n + t.netSalesCents, 0)) }]);
    const retailer = await send('GET', '/api/dashboards/retailer/tiles', ADMIN_TOKEN);
    expect(retailer.status).toBe(200);
    for (const t of (retailer.json as unknown as LiveEvent).tiles) expect(t.error, `retailer tile ${t.id}`).toBeUndefined();
    expect(tile(retailer.json as unknown as LiveEvent, 'by_brand').rows.length).toBeGreaterThan(1);
    // The leak check is not blind: it catches the admin's answer.
    expect(forbidden.length).toBeGreaterThan(Object.keys(reference.byBrand).length);
    expect(() => assertNoLeak(retailer.text, 'the admin’s retailer tiles')).toThrow(/reached the LEGO token/);
  });
});

describe('the LEGO token on the live push (SSE)', () => {
  it('the first tiles event of the brand dashboard carries LEGO numbers only; the retailer’s live push is refused', async () => {
    const abort = new AbortController();
    const response = await fetch(`${base}/api/dashboards/brand/live`, { headers: { authorization: `Bearer ${LEGO_TOKEN}`, accept: 'text/event-stream' }, signal: abort.signal });
    expect(response.status).toBe(200);
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    let event: LiveEvent | undefined;
    while (!event) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      for (let end = buffer.indexOf('\n\n'); end >= 0 && !event; end = buffer.indexOf('\n\n')) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        assertNoLeak(frame, 'SSE /api/dashboards/brand/live');
        const data = /^data: (.*)$/m.exec(frame)?.[1];
        if (frame.startsWith('event: tiles') && data) event = JSON.parse(data) as LiveEvent;
      }
    }
    abort.abort();
    expect(tile(event!, 'net_sales').rows).toEqual([{ value: money(lego.netSalesCents) }]);
    expect((await asLego('GET', '/api/dashboards/retailer/live')).status).toBe((await asLego('GET', '/api/dashboards/retailez/live')).status);
  });
});

describe('the LEGO token in the SQL lab', () => {
  it('brand tables, the fact table and aggregates over them hold LEGO rows only', async () => {
    expect(rowsOf(await lab('SELECT DISTINCT brand FROM brand_daily_sales'))).toEqual([{ brand: 'LEGO' }]);
    expect(rowsOf(await lab('SELECT sum(net_sales)::VARCHAR AS net, sum(lines) AS lines FROM brand_daily_sales'))).toEqual([{ net: money(lego.netSalesCents), lines: String(lego.lines) }]);
    expect(rowsOf(await lab('SELECT count(*) AS n, count(DISTINCT brand) AS brands, sum(net_sales)::VARCHAR AS net FROM sales_enriched'))).toEqual([{ n: String(lego.lines), brands: '1', net: money(lego.netSalesCents) }]);
    expect(rowsOf(await lab('SELECT count(*) AS n FROM products WHERE brand <> $$LEGO$$'))).toEqual([{ n: '0' }]);
    expect(rowsOf(await lab('SELECT sum(net_sales) OVER () AS total FROM daily_sales_by_category_brand LIMIT 1'))).toEqual([{ total: money(lego.netSalesCents) }]);
  });

  it('joins to the fact table, subqueries and set operations stay within LEGO', async () => {
    const joined = rowsOf(await lab('SELECT p.brand, count(*) AS n FROM sales_enriched s JOIN products p ON p.sku = s.sku GROUP BY ALL'));
    expect(joined).toEqual([{ brand: 'LEGO', n: String(lego.lines) }]);
    const byRegion = rowsOf(await lab('SELECT st.region, sum(s.net_sales) AS net FROM sales_enriched s JOIN stores st USING (store_id) GROUP BY 1 ORDER BY 1'));
    expect(byRegion.length).toBeGreaterThan(0);
    const antiJoin = rowsOf(await lab('SELECT count(*) AS n FROM brand_top_skus t LEFT JOIN products p ON p.sku = t.sku WHERE p.sku IS NULL'));
    expect(antiJoin).toEqual([{ n: '0' }]);
    const union = rowsOf(await lab('SELECT brand FROM products UNION SELECT brand FROM sales_enriched UNION SELECT brand FROM brand_sales_by_region'));
    expect(union).toEqual([{ brand: 'LEGO' }]);
    const shadow = rowsOf(await lab("WITH sales_enriched AS (SELECT * FROM sales_enriched WHERE brand <> 'LEGO') SELECT count(*) AS n FROM sales_enriched"));
    expect(shadow).toEqual([{ n: '0' }]);
  });

  it('tables without a brand column, the catalog and raw files are refused', async () => {
    for (const sql of [
      'SELECT * FROM sales_lines',
      'SELECT sum(net_sales) FROM daily_sales_by_store',
      'SELECT * FROM weekly_sales_by_region',
      'SELECT * FROM store_skew',
      'SELECT * FROM rec_evaluation',
      'SELECT count(*) FROM online_order_lines',
      'SELECT count(*) FROM sales_enriched s JOIN daily_sales_by_store d USING (store_id)',
      'SELECT * FROM tributary.quarantine',
      'SELECT * FROM information_schema.tables',
      `SELECT * FROM read_csv('${path.join(SAMPLE, 'reference', 'products.csv')}')`,
      `SELECT count(*) FROM read_csv('${path.join(SAMPLE, 'drops', 'dt=2024-12-06', 'store_17.csv')}')`,
    ]) {
      expect((await lab(sql)).status, sql).toBe(400);
    }
    // The admin reads them.
    const admin = await send('POST', '/api/sql', ADMIN_TOKEN, { sql: 'SELECT count(*) AS n FROM sales_lines', limit: 10 });
    expect(admin.json.rows).toEqual([{ n: String(reference.validRows) }]);
  });

  it('the public store list is readable whole', async () => {
    const stores = readFileSync(path.join(SAMPLE, 'reference', 'stores.csv'), 'utf8').trim().split('\n').length - 1;
    expect(rowsOf(await lab('SELECT count(*) AS n FROM stores'))).toEqual([{ n: String(stores) }]);
  });
});
