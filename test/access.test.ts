import type { FastifyInstance } from 'fastify';
import { appendFileSync, readFileSync, readdirSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, REPO, openProject, tempDir, writeTree } from './helpers.js';
import { runModels } from '../src/models/index.js';
import type { ProjectScheduler } from '../src/commands/index.js';
import { openScheduler } from '../src/owner/scheduler.js';
import type { Workspace } from '../src/state/workspace.js';
import { createServer } from '../src/server/app.js';
import { commandsPlugin } from '../src/server/commands.js';
import { DashboardHub, loadDashboards, type LiveEvent, type TileData } from '../src/server/dashboards.js';
import { jobsPlugin } from '../src/server/jobs.js';
import { lookupPlugin } from '../src/server/lookup.js';
import { webPlugin } from '../src/server/web.js';
import { openLog, startStreams, type StreamRuntime } from '../src/stream/runtime.js';

/**
 * Issue 12: brand clients see only their own brand. A project built from the retail example's
 * committed sample (the flagship stores 17 and 54, all products and stores) serves three tokens:
 * the admin, LEGO and Mattel. Every answer the LEGO token receives, from every endpoint, passes
 * `assertNoLeak`: no other brand's name, SKU or canary value; its numbers are checked against
 * totals computed here from the raw CSV files.
 *
 * The canary: a Mattel product and sale added by the test (name and sale id contain CANARY, a
 * unit price of 12,345.67), so any path that lets a Mattel row through shows up as text.
 */
const SAMPLE = path.join(REPO, 'examples', 'retail-sales', 'data', 'sample');
const STORES_WITH_DROPS = ['17', '54'];
const ADMIN_TOKEN = 'admin-token-3c9e51a0b7d2';
const LEGO_TOKEN = 'lego-token-8b2f4d61c0e9';
const MATTEL_TOKEN = 'mattel-token-51d7a3e8f046';
const TOKENS = [ADMIN_TOKEN, LEGO_TOKEN, MATTEL_TOKEN];
const ENV = { LEGO_TOKEN, MATTEL_TOKEN };
const CANARY_SKU = 'SKU999999';
const CANARY_PRODUCT = `${CANARY_SKU},CANARY Barbie Dreamhouse (CANARY1),dolls,Mattel,Mattel,Barbie,5-7y,12345.67`;
const CANARY_SALE = `CANARY-0001,2024-12-07 12:00:00,17,${CANARY_SKU},7,12345.67,0.00,,card`;
const SALES_HEADER = 'sale_id,sold_at,store_id,sku,quantity,unit_price,discount,customer_id,payment_type';

const CONFIG = `export default {
  name: 'brands',
  sources: {
    products_csv: {
      format: 'csv',
      path: [${JSON.stringify(path.join(SAMPLE, 'reference', 'products.csv'))}, 'extra/products.csv'],
      columns: { sku: 'VARCHAR', name: 'VARCHAR', category: 'VARCHAR', brand: 'VARCHAR', manufacturer: 'VARCHAR', theme: 'VARCHAR', age_group: 'VARCHAR', list_price: 'DECIMAL(10,2)' },
    },
    stores_csv: {
      format: 'csv',
      path: ${JSON.stringify(path.join(SAMPLE, 'reference', 'stores.csv'))},
      columns: { store_id: 'INTEGER', name: 'VARCHAR', region: 'VARCHAR', state: 'VARCHAR', city: 'VARCHAR', format: 'VARCHAR', opened_on: 'DATE' },
    },
    sales_csv: {
      format: 'csv',
      path: [${STORES_WITH_DROPS.map((s) => JSON.stringify(path.join(SAMPLE, 'drops', 'dt=*', `store_${s}.csv`))).join(', ')}, 'extra/sales/*.csv'],
      columns: { sale_id: 'VARCHAR', sold_at: 'TIMESTAMP', store_id: 'INTEGER', sku: 'VARCHAR', quantity: 'INTEGER', unit_price: 'DECIMAL(10,2)', discount: 'DECIMAL(10,2)', customer_id: 'BIGINT', payment_type: 'VARCHAR' },
    },
  },
  models: {
    products: { sql: "SELECT * FROM {{ source('products_csv') }}", materialize: 'table' },
    stores: { sql: "SELECT * FROM {{ source('stores_csv') }}", materialize: 'table' },
    sales_enriched: { sql: 'models/sales_enriched.sql', materialize: 'lake', partitionBy: { dt: 'CAST(sold_at AS DATE)' } },
    brand_daily_sales: { sql: 'models/brand_daily_sales.sql', materialize: 'table' },
    product_sales: { sql: 'models/product_sales.sql', materialize: 'table', lookup: { key: 'sku' } },
    store_daily: { sql: 'models/store_daily.sql', materialize: 'table', lookup: { key: 'store_day' } },
  },
  topics: { events: { partitions: 1 } },
  dashboards: { brand: 'dashboards/brand.ts', retailer: 'dashboards/retailer.ts' },
  access: {
    clients: {
      lego: { tokenEnv: 'LEGO_TOKEN', rows: { brand: 'LEGO' }, public: ['stores'], dashboards: ['brand'] },
      mattel: { tokenEnv: 'MATTEL_TOKEN', rows: { brand: 'Mattel' }, public: ['stores'], dashboards: ['brand'] },
    },
  },
};
`;

const FILES: Record<string, string> = {
  'tributary.config.ts': CONFIG,
  'models/sales_enriched.sql': `-- Sales lines with their product's brand and category: net_sales = quantity × unit_price − discount.
SELECT l.sale_id, l.sold_at, l.store_id, l.sku, p.name AS product_name, p.category, p.brand, l.quantity, l.unit_price, l.discount,
       CAST(l.quantity * l.unit_price - l.discount AS DECIMAL(14, 2)) AS net_sales
FROM {{ source('sales_csv') }} AS l
LEFT JOIN {{ ref('products') }} AS p ON p.sku = l.sku
`,
  'models/brand_daily_sales.sql': `-- Per day and brand: lines, units and net sales (a brand client's report rows).
SELECT CAST(sold_at AS DATE) AS dt, brand, count(*) AS lines, sum(quantity) AS units, sum(net_sales) AS net_sales
FROM {{ ref('sales_enriched') }}
GROUP BY ALL
`,
  'models/product_sales.sql': `-- Per SKU sold: its brand, units and net sales; answers key lookups by sku.
SELECT sku, any_value(brand) AS brand, any_value(product_name) AS product_name, sum(quantity) AS units, sum(net_sales) AS net_sales
FROM {{ ref('sales_enriched') }}
GROUP BY sku
`,
  'models/store_daily.sql': `-- Per store and day over every brand: the retailer's own numbers (no brand column, so hidden from brand clients).
SELECT store_id || '-' || CAST(CAST(sold_at AS DATE) AS VARCHAR) AS store_day, store_id, CAST(sold_at AS DATE) AS dt, count(*) AS lines, sum(net_sales) AS net_sales
FROM {{ ref('sales_enriched') }}
GROUP BY ALL
`,
  'dashboards/brand.ts': `// The brand report: every tile is computed per scope, so a brand client sees its own numbers.
export default {
  title: 'Brand report',
  filters: [{ id: 'category', label: 'Category', kind: 'select', options: 'SELECT DISTINCT category FROM products ORDER BY 1' }],
  tabs: [
    {
      title: 'Sales',
      tiles: [
        { id: 'net_sales', title: 'Net sales', kind: 'kpi', sql: 'SELECT sum(net_sales) AS value FROM brand_daily_sales' },
        { id: 'by_brand', title: 'By brand', kind: 'table', sql: 'SELECT brand, sum(lines) AS lines, sum(net_sales) AS net_sales FROM brand_daily_sales GROUP BY brand ORDER BY brand' },
        { id: 'by_category', title: 'By category', kind: 'bar', sql: 'SELECT category AS label, sum(net_sales) AS value FROM sales_enriched WHERE $category IS NULL OR category = $category GROUP BY 1 ORDER BY 1' },
        { id: 'by_region', title: 'By region', kind: 'bar', sql: 'SELECT st.region AS label, sum(s.net_sales) AS value FROM sales_enriched s JOIN stores st USING (store_id) GROUP BY 1 ORDER BY 1' },
        { id: 'all_stores', title: 'Every store', kind: 'kpi', sql: 'SELECT sum(net_sales) AS value FROM store_daily' },
      ],
    },
  ],
};
`,
  'dashboards/retailer.ts': `// The retailer's own dashboard: not given to any client.
export default {
  title: 'Retailer',
  tabs: [{ title: 'Stores', tiles: [{ id: 'stores_total', title: 'Net sales', kind: 'kpi', sql: 'SELECT sum(net_sales) AS value FROM store_daily' }] }],
};
`,
  'extra/products.csv': `sku,name,category,brand,manufacturer,theme,age_group,list_price\n${CANARY_PRODUCT}\n`,
  'extra/sales/canary.csv': `${SALES_HEADER}\n${CANARY_SALE}\n`,
};

// ---- The numbers, computed from the raw files -------------------------------------------------

interface Product {
  sku: string;
  name: string;
  category: string;
  brand: string;
}
interface Line {
  sku: string;
  storeId: string;
  netCents: number;
}

function csvRows(text: string): string[][] {
  return text.trim().split('\n').slice(1).map((line) => line.split(','));
}
/** Money text ('12.99', '-3.00') as whole cents, so sums are exact. */
function cents(text: string): number {
  const [whole, fraction = ''] = text.replace('-', '').split('.');
  const value = Number(whole) * 100 + Number(fraction.padEnd(2, '0'));
  return text.startsWith('-') ? -value : value;
}
const money = (c: number) => `${c < 0 ? '-' : ''}${Math.floor(Math.abs(c) / 100)}.${String(Math.abs(c) % 100).padStart(2, '0')}`;

const products = new Map<string, Product>(
  [...csvRows(readFileSync(path.join(SAMPLE, 'reference', 'products.csv'), 'utf8')), CANARY_PRODUCT.split(',')].map(([sku, name, category, brand]) => [sku!, { sku: sku!, name: name!, category: category!, brand: brand! }]),
);
const regions = new Map(csvRows(readFileSync(path.join(SAMPLE, 'reference', 'stores.csv'), 'utf8')).map(([id, , region]) => [id!, region!]));
function salesLine(fields: string[]): Line {
  const [, , storeId, sku, quantity, unitPrice, discount] = fields;
  return { sku: sku!, storeId: storeId!, netCents: Number(quantity) * cents(unitPrice!) - cents(discount!) };
}
const baseLines: Line[] = readdirSync(path.join(SAMPLE, 'drops'))
  .filter((d) => d.startsWith('dt='))
  .flatMap((day) => STORES_WITH_DROPS.map((store) => path.join(SAMPLE, 'drops', day, `store_${store}.csv`)))
  .flatMap((file) => csvRows(readFileSync(file, 'utf8')).map(salesLine));
const allLines = (): Line[] => [...baseLines, ...extraLines];
let extraLines: Line[] = [salesLine(CANARY_SALE.split(','))];

const brandOf = (line: Line) => products.get(line.sku)?.brand;
const legoLines = () => allLines().filter((l) => brandOf(l) === 'LEGO');
const sumCents = (lines: Line[]) => lines.reduce((total, l) => total + l.netCents, 0);
const legoSkus = new Set([...products.values()].filter((p) => p.brand === 'LEGO').map((p) => p.sku));

/**
 * Texts that must never reach the LEGO token: other brands' names (those that do not occur in
 * LEGO's own products), the canary, and totals over every brand or over Mattel.
 */
function forbiddenTexts(): string[] {
  const legoText = [...products.values()].filter((p) => p.brand === 'LEGO').map((p) => `${p.name} ${p.category}`).join('\n');
  const brands = [...new Set([...products.values()].map((p) => p.brand))].filter((b) => b !== 'LEGO' && !legoText.includes(b));
  const mattel = allLines().filter((l) => brandOf(l) === 'Mattel');
  return [...brands, 'CANARY', '12345.67', money(sumCents(allLines())), money(sumCents(mattel))];
}

const legoSaw: string[] = [];

/**
 * Checks a text the LEGO token received: nothing of another brand in it. `sent` is what the
 * token itself sent (a key, the literals of its SQL): an answer may quote it back.
 */
function assertNoLeak(received: string, what: string, sent: readonly string[] = []): void {
  const text = sent.reduce((rest, echo) => rest.split(echo).join(''), received);
  legoSaw.push(text);
  for (const forbidden of forbiddenTexts()) {
    const pattern = new RegExp(`(^|[^A-Za-z0-9])${forbidden.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|[^A-Za-z0-9])`);
    expect(pattern.test(text), `${what}: '${forbidden}' reached the LEGO token in ${text.slice(0, 400)}`).toBe(false);
  }
  for (const sku of text.match(/SKU\d{6}/g) ?? []) expect(legoSkus.has(sku), `${what}: ${sku} is not a LEGO SKU`).toBe(true);
}

// ---- The server -------------------------------------------------------------------------------

let dir: string;
let ws: Workspace;
let streams: StreamRuntime;
let ps: ProjectScheduler;
let hub: DashboardHub;
let app: FastifyInstance;
let port: number;
const stderrSeen: string[] = [];
const writeStderr = process.stderr.write.bind(process.stderr);

interface Answer {
  status: number;
  text: string;
  headers: IncomingMessage['headers'];
  json: Record<string, unknown>;
}

function send(method: string, url: string, token: string | undefined, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method,
        path: url,
        headers: { host: `127.0.0.1:${port}`, ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          let json: Record<string, unknown> = {};
          try {
            json = JSON.parse(text) as Record<string, unknown>;
          } catch {
            // not every answer is JSON (NDJSON, metrics, pages)
          }
          resolve({ status: res.statusCode ?? 0, text, headers: res.headers, json });
        });
      },
    );
    req.on('error', reject);
    if (body !== undefined) req.write(typeof body === 'string' ? body : JSON.stringify(body));
    req.end();
  });
}

/** A request as the LEGO token, its answer checked for leaks; the path's last segment and the SQL's literals may come back. */
async function asLego(method: string, url: string, body?: unknown): Promise<Answer> {
  const answer = await send(method, url, LEGO_TOKEN, body);
  const sql = (body as { sql?: string } | undefined)?.sql ?? '';
  const key = url.startsWith('/v1/lookup/') ? [decodeURIComponent(url.split('/').pop()!)] : [];
  const sent = [...key, ...(sql.match(/'[^']*'/g) ?? []).map((literal) => literal.slice(1, -1))].filter(Boolean);
  assertNoLeak(`${JSON.stringify(answer.headers)}\n${answer.text}`, `${method} ${url} ${body === undefined ? '' : JSON.stringify(body)}`, sent);
  return answer;
}

const labAs = (token: string, sql: string) => send('POST', '/api/sql', token, { sql, limit: 10_000 });
const labLego = (sql: string) => asLego('POST', '/api/sql', { sql, limit: 10_000 });
const rowsOf = (answer: Answer) => (answer.json.rows ?? []) as Record<string, unknown>[];

/** Server-Sent Events of one viewer: each `tiles` event as it arrives. */
function openLive(url: string, token: string): Promise<{ next(): Promise<LiveEvent>; close(): void }> {
  return new Promise((resolve, reject) => {
    const events: LiveEvent[] = [];
    const waiting: ((event: LiveEvent) => void)[] = [];
    const req = httpRequest({ host: '127.0.0.1', port, path: url, headers: { host: `127.0.0.1:${port}`, authorization: `Bearer ${token}`, accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`live answered ${res.statusCode}`));
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (token === LEGO_TOKEN) assertNoLeak(frame, `SSE ${url}`);
          const data = /^data: (.*)$/m.exec(frame)?.[1];
          if (!frame.startsWith('event: tiles') || !data) continue;
          const event = JSON.parse(data) as LiveEvent;
          const waiter = waiting.shift();
          if (waiter) waiter(event);
          else events.push(event);
        }
      });
      resolve({
        next: () => new Promise<LiveEvent>((r) => (events.length ? r(events.shift()!) : waiting.push(r))),
        close: () => req.destroy(),
      });
    });
    req.on('error', () => undefined);
    req.end();
  });
}

const tile = (event: { tiles: TileData[] }, id: string) => event.tiles.find((t) => t.id === id)!;

beforeAll(async () => {
  // Everything the server writes to stderr is kept, to prove no token is ever logged.
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    stderrSeen.push(String(chunk));
    return (writeStderr as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stderr.write;
  dir = writeTree(FILES);
  ws = await openProject(dir, { dataDir: tempDir() });
  await runModels(ws, { quiet: true, log: () => undefined });
  streams = await startStreams(ws, openLog(ws), { start: false });
  ps = await openScheduler(ws, { log: () => undefined });
  hub = new DashboardHub(await ws.engine.fork(), await loadDashboards(ws.project), 50);
  app = await createServer({ ws, streams }, { token: ADMIN_TOKEN, env: ENV }, [
    webPlugin(hub),
    jobsPlugin(ps),
    commandsPlugin({ status: () => streams.jobs.map((j) => j.snapshot()), scheduler: ps }),
    lookupPlugin(),
  ]);
  port = Number(new URL(await app.listen({ host: '127.0.0.1', port: 0 })).port);
}, 120_000);

afterAll(async () => {
  process.stderr.write = writeStderr;
  await app?.close();
  await streams?.stop();
  streams?.log.close();
  await ws?.close();
});

describe('who may connect', () => {
  it('a wrong or absent token gets 401 everywhere but /healthz, and the answer echoes no token', async () => {
    for (const url of ['/api/project', '/api/sql', '/v1/lookup/product_sales/SKU100383', '/api/dashboards/brand/live', '/metrics']) {
      for (const token of [undefined, 'wrong-token', `${LEGO_TOKEN}x`, LEGO_TOKEN.slice(0, -1)]) {
        const answer = await send(url === '/api/sql' ? 'POST' : 'GET', url, token, url === '/api/sql' ? { sql: 'SELECT 1' } : undefined);
        expect(answer.status, `${url} with ${token}`).toBe(401);
        for (const t of TOKENS) expect(answer.text).not.toContain(t);
      }
    }
    expect((await send('GET', `/api/project?token=${LEGO_TOKEN}x`, undefined)).status).toBe(401);
    expect((await send('GET', '/healthz', undefined)).status).toBe(200);
  });

  it('a browser opens the UI with ?token= once; the cookie then carries the client token, not the admin', async () => {
    const first = await send('GET', `/?token=${LEGO_TOKEN}`, undefined);
    expect(first.status).toBe(200);
    const cookie = String(first.headers['set-cookie']).split(';')[0]!;
    const project = await send('GET', '/api/project', undefined, undefined, { cookie });
    expect(project.json).toMatchObject({ client: 'lego', dashboards: [{ name: 'brand', title: 'Brand report' }], streams: [], labExamples: [] });
    expect((await send('GET', '/v1/status', undefined, undefined, { cookie })).status).toBe(403);
  });

  it('the client token cannot use any admin endpoint (403); the admin can', async () => {
    const adminOnly: [string, string, unknown?][] = [
      ['GET', '/v1/status'],
      ['GET', '/metrics'],
      ['GET', '/api/quality'],
      ['GET', '/api/runs'],
      ['GET', '/api/hub'],
      ['GET', '/api/catalog/products'],
      ['GET', '/api/catalog/store_daily'],
      ['GET', '/api/jobs'],
      ['GET', '/api/jobs/live'],
      ['POST', '/api/jobs/nightly/trigger', {}],
      ['POST', '/v1/topics/events', { brand: 'LEGO' }],
      ['POST', '/api/commands', { command: 'sql', input: { query: 'SELECT count(*) FROM store_daily' } }],
      ['POST', '/api/commands', { command: 'catalog', input: {} }],
      ['POST', '/api/commands', { command: 'quarantine', input: {} }],
      ['POST', '/api/commands', { command: 'lookup', input: { table: 'product_sales', key: CANARY_SKU } }],
    ];
    for (const [method, url, body] of adminOnly) {
      const answer = await asLego(method, url, body);
      expect(answer.status, `${method} ${url}`).toBe(403);
      expect(answer.json.error).toBe('a client token cannot use this endpoint');
    }
    for (const url of ['/v1/status', '/metrics', '/api/quality', '/api/runs', '/api/hub', '/api/catalog/products', '/api/jobs']) {
      expect((await send('GET', url, ADMIN_TOKEN)).status, url).toBe(200);
    }
  });
});

describe('the command API checks what it is sent, as the CLI does', () => {
  const post = (command: string, input: unknown) => send('POST', '/api/commands', ADMIN_TOKEN, { command, input });

  it('an input a command does not take is refused with 400 naming the field, and nothing runs', async () => {
    const recorded = async () => (await ws.metastore.runs({ limit: 100_000 })).length;
    const before = await recorded();
    const refused: [string, unknown, RegExp][] = [
      ['run', { select: 'store_daily' }, /^run: select: expected an array, got 'store_daily'$/],
      ['run', { threads: 'many' }, /^run: threads: expected a number, got 'many'$/],
      ['run', { threads: 0 }, /^run: threads: expected at least 1, got 0$/],
      ['run', { date: '2024-02-30' }, /^run: date: expected a day of the calendar like 2019-11-05, got '2024-02-30'$/],
      ['run', { sources: { sales: 'data/elsewhere' } }, /^run: sources\.sales: expected an absolute path/],
      ['runs', { limit: '1; DROP TABLE x' }, /^runs: limit: expected a number, got '1; DROP TABLE x'$/],
      ['runs', { limit: 2.5 }, /^runs: limit: expected a whole number, got 2\.5$/],
      ['sql', { query: 'SELECT 1', fromat: 'json' }, /^sql: unknown key `fromat`: remove it or check the spelling$/],
      ['sql', { query: '   ' }, /^sql: query: expected a query/],
      ['catalog', { format: 'xml' }, /^catalog: format: expected one of 'table', 'csv', 'json', got 'xml'$/],
      ['compact', {}, /^compact: table: missing: expected a string$/],
      ['pause', { job: 'nightly' }, /^pause: paused: missing: expected a boolean$/],
      ['runs', [20], /^runs: expected an object/],
      ['run', { select: [''], exclude: 'x' }, /^the input of run has 2 problems:\n {4}select\.0: expected a non-empty string, got ''\n {4}exclude: expected an array, got 'x'$/],
    ];
    for (const [command, input, error] of refused) {
      const answer = await post(command, input);
      expect(answer.status, `${command} ${JSON.stringify(input)}`).toBe(400);
      expect(answer.json.error, `${command} ${JSON.stringify(input)}`).toMatch(error);
      expect(answer.json.hint).toMatch(/camelCase/);
    }
    expect(await recorded()).toBe(before);
  });

  it('a body that is no JSON object is a 400 for the command API and the lab alike (null was a 500)', async () => {
    for (const url of ['/api/commands', '/api/sql']) {
      for (const body of ['null', '[]', '"run"', '{"command": "runs"']) {
        const answer = await send('POST', url, ADMIN_TOKEN, body);
        expect(answer.status, `${url} ${body}`).toBe(400);
        expect(answer.json.error, `${url} ${body}`).toMatch(/^expected a JSON body \{"(command|sql)": "\.\.\."/);
      }
    }
    const attach = await send('POST', '/api/sql', ADMIN_TOKEN, { sql: "ATTACH 'x.duckdb'" });
    expect(attach.json.error).toBe('refused: an ATTACH statement would change data or settings, and SQL here is read-only');
  });

  it('what it leaves out takes the CLI’s defaults', async () => {
    const outOf = (text: string) => {
      const frames = text.trim().split('\n').map((line) => JSON.parse(line) as { out?: string; exit?: number });
      expect(frames.at(-1)).toEqual({ exit: 0 });
      return frames.filter((f) => f.out !== undefined).map((f) => f.out).join('\n');
    };
    const total = (await ws.metastore.runs({ limit: 100_000 })).length;
    const json = await post('runs', { format: 'json' });
    expect(json.status).toBe(200);
    // The CLI's --limit: the 20 newest.
    expect((JSON.parse(outOf(json.text)) as unknown[]).length).toBe(Math.min(20, total));
    const table = await post('runs', {});
    expect(outOf(table.text)).toMatch(/run +│ target +│ trigger/);
  });
});

describe('the SQL lab, as LEGO', () => {
  const lego = () => legoLines();
  const legoCount = () => String(lego().length);
  const legoNet = () => money(sumCents(lego()));

  it('a plain read, aggregates without GROUP BY and window functions see LEGO rows only', async () => {
    let answer = await labLego('SELECT count(*) AS n, sum(net_sales) AS s, min(brand) AS lo, max(brand) AS hi, count(DISTINCT brand) AS brands FROM sales_enriched');
    expect(rowsOf(answer)).toEqual([{ n: legoCount(), s: legoNet(), lo: 'LEGO', hi: 'LEGO', brands: '1' }]);
    answer = await labLego('SELECT DISTINCT brand FROM sales_enriched');
    expect(rowsOf(answer)).toEqual([{ brand: 'LEGO' }]);
    answer = await labLego('SELECT brand, net_sales, sum(net_sales) OVER () AS total, count(*) OVER () AS days FROM brand_daily_sales ORDER BY dt');
    expect(rowsOf(answer).every((r) => r.brand === 'LEGO' && r.total === legoNet())).toBe(true);
    answer = await labLego('SELECT count(*) AS n FROM products');
    expect(rowsOf(answer)).toEqual([{ n: String(legoSkus.size) }]);
    answer = await labLego('FROM sales_enriched SELECT sku');
    expect(new Set(rowsOf(answer).map((r) => r.sku))).toEqual(new Set(lego().map((l) => l.sku)));
    // The admin, for contrast, sees every brand and the canary.
    answer = await labAs(ADMIN_TOKEN, 'SELECT count(*) AS n, sum(net_sales) AS s FROM sales_enriched');
    expect(rowsOf(answer)).toEqual([{ n: String(allLines().length), s: money(sumCents(allLines())) }]);
  });

  it('joins, subqueries, correlated subqueries, LATERAL, UNION and public reference tables stay within LEGO', async () => {
    const byRegion = new Map<string, number>();
    for (const l of lego()) byRegion.set(regions.get(l.storeId)!, (byRegion.get(regions.get(l.storeId)!) ?? 0) + l.netCents);
    let answer = await labLego('SELECT st.region, sum(s.net_sales) AS net FROM sales_enriched s JOIN stores st USING (store_id) GROUP BY 1 ORDER BY 1');
    expect(rowsOf(answer)).toEqual([...byRegion].sort(([a], [b]) => (a < b ? -1 : 1)).map(([region, c]) => ({ region, net: money(c) })));
    answer = await labLego('SELECT p.brand, count(*) AS n FROM sales_enriched s JOIN products p ON p.sku = s.sku GROUP BY ALL');
    expect(rowsOf(answer)).toEqual([{ brand: 'LEGO', n: legoCount() }]);
    answer = await labLego('SELECT count(*) AS n FROM sales_enriched s LEFT JOIN products p ON p.sku = s.sku WHERE p.sku IS NULL');
    expect(rowsOf(answer)).toEqual([{ n: '0' }]);
    answer = await labLego('SELECT (SELECT sum(net_sales) FROM sales_enriched) AS s, (SELECT count(*) FROM products WHERE brand <> $$LEGO$$) AS others');
    expect(rowsOf(answer)).toEqual([{ s: legoNet(), others: '0' }]);
    answer = await labLego(`SELECT count(*) AS n FROM products p WHERE EXISTS (SELECT 1 FROM sales_enriched s WHERE s.sku = p.sku)`);
    expect(rowsOf(answer)).toEqual([{ n: String(new Set(lego().map((l) => l.sku)).size) }]);
    answer = await labLego(`SELECT p.sku, (SELECT sum(quantity) FROM sales_enriched s WHERE s.sku = p.sku) AS units FROM products p WHERE p.sku IN (SELECT sku FROM product_sales) ORDER BY 1`);
    expect(rowsOf(answer).map((r) => r.sku)).toEqual([...new Set(lego().map((l) => l.sku))].sort());
    answer = await labLego('SELECT st.store_id, x.n FROM stores st, LATERAL (SELECT count(*) AS n FROM sales_enriched s WHERE s.store_id = st.store_id) x WHERE x.n > 0 ORDER BY 1');
    expect(rowsOf(answer).map((r) => [r.store_id, r.n])).toEqual(STORES_WITH_DROPS.map((s) => [Number(s), String(lego().filter((l) => l.storeId === s).length)]));
    answer = await labLego('SELECT brand FROM products UNION SELECT brand FROM sales_enriched UNION ALL SELECT brand FROM product_sales EXCEPT SELECT NULL');
    expect(rowsOf(answer)).toEqual([{ brand: 'LEGO' }]);
    // A public table reads whole: every store, with no brand in it.
    answer = await labLego('SELECT count(*) AS n FROM stores');
    expect(rowsOf(answer)).toEqual([{ n: String(regions.size) }]);
  });

  it('a CTE shadowing a table name reads the scoped table inside, its own rows outside', async () => {
    let answer = await labLego("WITH sales_enriched AS (SELECT * FROM sales_enriched WHERE brand <> 'LEGO') SELECT count(*) AS n FROM sales_enriched");
    expect(rowsOf(answer)).toEqual([{ n: '0' }]);
    answer = await labLego("WITH products AS (SELECT 'mine' AS brand) SELECT brand FROM products");
    expect(rowsOf(answer)).toEqual([{ brand: 'mine' }]);
    answer = await labLego('WITH x AS MATERIALIZED (SELECT * FROM products), products AS (SELECT * FROM x) SELECT count(*) AS n, max(brand) AS b FROM products');
    expect(rowsOf(answer)).toEqual([{ n: String(legoSkus.size), b: 'LEGO' }]);
    answer = await labLego('SELECT count(*) AS n FROM products WHERE 1 = (WITH products AS (SELECT 1 AS a) SELECT a FROM products)');
    expect(rowsOf(answer)).toEqual([{ n: String(legoSkus.size) }]);
    answer = await labLego('WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < (SELECT count(DISTINCT brand) FROM products)) SELECT max(n) AS n FROM r');
    expect(rowsOf(answer)).toEqual([{ n: 1 }]);
  });

  it('time travel reads the past of the LEGO rows only', async () => {
    const before = await ws.metastore.lastSnapshot();
    const past = legoLines().length;
    // A new LEGO sale and a new Mattel sale arrive; the lake table gets a new snapshot.
    const legoSku = [...legoSkus][0]!;
    const mattelSku = [...products.values()].find((p) => p.brand === 'Mattel' && p.sku !== CANARY_SKU)!.sku;
    const added = [`0017-20241208-LATE01,2024-12-08 20:00:00,17,${legoSku},2,10.00,0.00,,card`, `0017-20241208-LATE02,2024-12-08 20:01:00,17,${mattelSku},3,20.00,0.00,,card`];
    appendFileSync(path.join(dir, 'extra', 'sales', 'canary.csv'), `${added.join('\n')}\n`);
    extraLines = [...extraLines, ...added.map((l) => salesLine(l.split(',')))];
    await runModels(ws, { quiet: true, log: () => undefined });
    let answer = await labLego(`SELECT count(*) AS n, max(brand) AS b FROM sales_enriched AT (VERSION => ${before})`);
    expect(rowsOf(answer)).toEqual([{ n: String(past), b: 'LEGO' }]);
    answer = await labLego('SELECT count(*) AS n FROM sales_enriched');
    expect(rowsOf(answer)).toEqual([{ n: String(past + 1) }]);
    answer = await labLego(`SELECT today.n - past.n AS d FROM (SELECT count(*) AS n FROM sales_enriched) today, (SELECT count(*) AS n FROM sales_enriched AT (VERSION => ${before})) past`);
    expect(rowsOf(answer)).toEqual([{ d: '1' }]);
  });

  it('DESCRIBE and SUMMARIZE describe and summarise LEGO rows', async () => {
    let answer = await labLego('DESCRIBE products');
    expect(rowsOf(answer).map((r) => r.column_name)).toEqual(['sku', 'name', 'category', 'brand', 'manufacturer', 'theme', 'age_group', 'list_price']);
    answer = await labLego('SUMMARIZE products');
    const brand = rowsOf(answer).find((r) => r.column_name === 'brand')!;
    expect(brand).toMatchObject({ min: 'LEGO', max: 'LEGO', count: String(legoSkus.size) });
    answer = await labLego('SUMMARIZE SELECT * FROM sales_enriched');
    expect(rowsOf(answer).find((r) => r.column_name === 'net_sales')).toMatchObject({ count: String(legoLines().length) });
  });

  it('the catalog is out of reach: information_schema, duckdb_*(), SHOW, EXPLAIN, stats() and catalog macros are refused', async () => {
    for (const sql of [
      'SELECT * FROM information_schema.tables',
      'SELECT * FROM information_schema.columns',
      'SELECT * FROM duckdb_tables()',
      'SELECT * FROM duckdb_columns()',
      'SELECT * FROM duckdb_views()',
      'SELECT * FROM duckdb_tables',
      'SELECT * FROM pg_catalog.pg_tables',
      'SELECT * FROM pg_tables',
      'SHOW TABLES',
      'SHOW ALL TABLES',
      'EXPLAIN SELECT * FROM sales_enriched',
      'EXPLAIN ANALYZE SELECT * FROM sales_enriched',
      'SELECT stats(net_sales) FROM sales_enriched',
      'SELECT stats(brand) FROM products',
      'SELECT pg_get_viewdef(0)',
      'SELECT format_type(1, 1)',
      "SELECT * FROM query_table('store_daily')",
      "SELECT * FROM read_csv('extra/products.csv')",
      'SELECT * FROM warehouse.main.store_daily',
      'SELECT * FROM warehouse.main.products',
      'SELECT error(brand) FROM products',
    ]) {
      const answer = await labLego(sql);
      expect(answer.status, sql).toBe(400);
      // The refusal names what the query named, never a table LEGO did not name.
      if (!sql.includes('store_daily')) expect(answer.text, sql).not.toContain('store_daily');
    }
  });

  it('a table without the brand column does not exist for LEGO: its refusal reads exactly like a missing table', async () => {
    const hidden = await labLego('SELECT * FROM store_daily');
    const missing = await labLego('SELECT * FROM no_such_tabl');
    expect(hidden.status).toBe(400);
    expect(hidden.text.replace('store_daily', 'X')).toBe(missing.text.replace('no_such_tabl', 'X'));
    for (const sql of ['SELECT count(*) FROM store_daily', 'SELECT 1 FROM products WHERE EXISTS (SELECT 1 FROM store_daily)', 'WITH x AS (SELECT * FROM store_daily) SELECT 1', 'DESCRIBE store_daily', 'SUMMARIZE store_daily', 'SELECT * FROM store_daily AT (VERSION => 1)']) {
      expect((await labLego(sql)).status, sql).toBe(400);
    }
    // The admin reads it.
    expect((await labAs(ADMIN_TOKEN, 'SELECT count(*) FROM store_daily')).status).toBe(200);
  });

  it('errors that quote values quote LEGO values, and no predicate order lets another row be seen', async () => {
    // Each fails on a LEGO row, or succeeds; the text is checked for leaks by labLego.
    for (const sql of [
      'SELECT CAST(brand AS INTEGER) FROM products',
      'SELECT * FROM products WHERE CAST(name AS INTEGER) = 1',
      'SELECT sum(CAST(sku AS INTEGER)) FROM sales_enriched',
      'SELECT * FROM sales_enriched s JOIN products p ON CAST(p.name AS INTEGER) = s.quantity',
      "SELECT strptime(product_name, '%d') FROM sales_enriched",
      'SELECT rowid FROM products',
      'SELECT * FROM products AS p(a, b, c) WHERE CAST(c AS INTEGER) > 0',
    ]) {
      const answer = await labLego(sql);
      expect(answer.status, sql).toBe(400);
    }
    // A predicate that would fail only on the canary row (Mattel): it never sees it, whatever the plan.
    for (const sql of [
      `SELECT count(*) AS n FROM sales_enriched WHERE CASE WHEN sku = '${CANARY_SKU}' THEN CAST(sale_id AS INTEGER) = 1 ELSE true END`,
      `SELECT count(*) AS n FROM sales_enriched WHERE CAST(CASE WHEN unit_price > 10000 THEN product_name ELSE '1' END AS INTEGER) = 1`,
      `SELECT count(*) AS n FROM sales_enriched s JOIN products p ON p.sku = s.sku AND CAST(CASE WHEN p.name LIKE 'CANARY%' THEN p.name ELSE '0' END AS INTEGER) = 0`,
    ]) {
      const answer = await labLego(sql);
      expect(answer.status, sql).toBe(200);
      expect(rowsOf(answer), sql).toEqual([{ n: String(legoLines().length) }]);
    }
  });

  it('table functions compute, but cannot reach around the scope', async () => {
    let answer = await labLego('SELECT unnest((SELECT list(DISTINCT brand) FROM products)) AS b');
    expect(rowsOf(answer)).toEqual([{ b: 'LEGO' }]);
    answer = await labLego('SELECT count(*) AS n FROM range(3)');
    expect(rowsOf(answer)).toEqual([{ n: '3' }]);
    answer = await labLego('SELECT count(*) AS n FROM generate_series(1, (SELECT count(*) FROM products))');
    expect(rowsOf(answer)).toEqual([{ n: String(legoSkus.size) }]);
    answer = await labLego('SELECT p FROM products p LIMIT 1');
    expect((rowsOf(answer)[0]!.p as { brand: string }).brand).toBe('LEGO');
  });

  it('PIVOT is refused (DuckDB cannot print it as a parse tree); sampling, by rows or percentage, samples LEGO rows', async () => {
    for (const sql of ['PIVOT products ON brand USING count(*)', 'SELECT * FROM (PIVOT products ON brand USING count(*))']) expect((await labLego(sql)).status, sql).toBe(400);
    const sampled = await labLego('SELECT count(*) AS n, max(brand) AS b FROM products USING SAMPLE 100000 ROWS');
    expect(rowsOf(sampled)).toEqual([{ n: String(legoSkus.size), b: 'LEGO' }]);
    // A percentage is a DOUBLE constant in the parse tree: it survives the rewrite, and the sample is of LEGO's rows.
    expect(rowsOf(await labLego('SELECT count(*) AS n, max(brand) AS b FROM products USING SAMPLE 100%'))).toEqual([{ n: String(legoSkus.size), b: 'LEGO' }]);
  });

  it('the catalog the lab completes from lists the tables LEGO can query, with no counts', async () => {
    const answer = await asLego('GET', '/api/catalog');
    expect(answer.status).toBe(200);
    expect((answer.json.tables as { name: string }[]).map((t) => t.name)).toEqual(['brand_daily_sales', 'product_sales', 'products', 'sales_enriched', 'stores']);
    expect(answer.json.lineage).toEqual([]);
    expect(answer.text).not.toMatch(/rows|bytes|files/);
  });

  it('a client cannot cancel the admin’s query', async () => {
    expect((await asLego('POST', '/api/sql/some-id/cancel', {})).json).toEqual({ cancelled: false });
  });
});

describe('dashboards and live pushes, per scope', () => {
  it('LEGO opens only its dashboard; another answers like one that does not exist, and the layout carries no SQL', async () => {
    const own = await asLego('GET', '/api/dashboards/brand');
    expect(own.status).toBe(200);
    expect(own.text).not.toMatch(/\bFROM\b/i);
    const categories = [...new Set([...products.values()].filter((p) => p.brand === 'LEGO').map((p) => p.category))].sort();
    expect(own.json.options).toEqual({ category: categories });
    const other = await asLego('GET', '/api/dashboards/retailer');
    const missing = await asLego('GET', '/api/dashboards/retailez');
    expect(other.status).toBe(missing.status);
    expect(other.text.replace('retailer', 'X')).toBe(missing.text.replace('retailez', 'X'));
    for (const url of ['/api/dashboards/retailer/tiles', '/api/dashboards/retailer/live']) expect((await asLego('GET', url)).status, url).toBe(other.status);
    expect((await send('GET', '/api/dashboards/retailer/tiles', ADMIN_TOKEN)).status).toBe(200);
  });

  it('tiles are computed over LEGO rows; a tile reading a hidden table says only that it is outside the access', async () => {
    const answer = await asLego('GET', '/api/dashboards/brand/tiles');
    const event = answer.json as unknown as LiveEvent;
    expect(tile(event, 'net_sales').rows).toEqual([{ value: money(sumCents(legoLines())) }]);
    expect(tile(event, 'by_brand').rows).toEqual([{ brand: 'LEGO', lines: String(legoLines().length), net_sales: money(sumCents(legoLines())) }]);
    expect(tile(event, 'all_stores')).toMatchObject({ rows: [], error: 'this tile reads data outside your access' });
    const filtered = await asLego('GET', '/api/dashboards/brand/tiles?category=dolls');
    expect(tile(filtered.json as unknown as LiveEvent, 'by_category').rows).toEqual([]);
    const admin = (await send('GET', '/api/dashboards/brand/tiles', ADMIN_TOKEN)).json as unknown as LiveEvent;
    expect(tile(admin, 'net_sales').rows).toEqual([{ value: money(sumCents(allLines())) }]);
    expect(tile(admin, 'by_brand').rows.length).toBeGreaterThan(2);
  });

  it('SSE pushes each viewer its scope’s tiles, computed once per scope per commit', async () => {
    const legoA = await openLive('/api/dashboards/brand/live', LEGO_TOKEN);
    const legoB = await openLive('/api/dashboards/brand/live', LEGO_TOKEN);
    const mattel = await openLive('/api/dashboards/brand/live', MATTEL_TOKEN);
    const admin = await openLive('/api/dashboards/brand/live', ADMIN_TOKEN);
    const mattelLines = () => allLines().filter((l) => brandOf(l) === 'Mattel');
    /** The viewer's pushes until its net sales tile shows `value` (pushes of earlier commits come first). */
    const until = async (viewer: typeof legoA, value: string) => {
      for (;;) {
        const event = await viewer.next();
        const kpi = event.tiles.find((t) => t.id === 'net_sales');
        if (kpi && (kpi.rows[0] as { value: string } | undefined)?.value === value) return event;
      }
    };
    try {
      for (const viewer of [legoA, legoB, mattel, admin]) await viewer.next();
      // New data: one more LEGO line and one more Mattel line, through the batch models (a commit per model).
      const legoSku = [...legoSkus][1]!;
      const mattelSku = [...products.values()].filter((p) => p.brand === 'Mattel')[1]!.sku;
      const added = [`0054-20241208-LATE03,2024-12-08 21:00:00,54,${legoSku},1,30.00,0.00,,card`, `0054-20241208-LATE04,2024-12-08 21:01:00,54,${mattelSku},1,40.00,0.00,,card`];
      appendFileSync(path.join(dir, 'extra', 'sales', 'canary.csv'), `${added.join('\n')}\n`);
      extraLines = [...extraLines, ...added.map((l) => salesLine(l.split(',')))];
      await runModels(ws, { quiet: true, log: () => undefined });
      const legoNow = money(sumCents(legoLines()));
      const [a, b, m, all] = await Promise.all([until(legoA, legoNow), until(legoB, legoNow), until(mattel, money(sumCents(mattelLines()))), until(admin, money(sumCents(allLines())))]);
      expect(tile(a, 'by_brand').rows).toEqual([{ brand: 'LEGO', lines: String(legoLines().length), net_sales: legoNow }]);
      expect(b.seq).toBe(a.seq);
      expect(tile(m, 'by_brand').rows).toEqual([{ brand: 'Mattel', lines: String(mattelLines().length), net_sales: money(sumCents(mattelLines())) }]);
      expect(tile(all, 'by_brand').rows.length).toBeGreaterThan(2);
      // One commit of the table two tiles read: three scopes watch (LEGO twice, Mattel, the admin), so six queries, not eight.
      await hub.settled();
      const queriesBefore = hub.queries;
      await runModels(ws, { select: ['brand_daily_sales'], quiet: true, log: () => undefined });
      await hub.settled();
      expect(hub.queries - queriesBefore).toBe(3 * 2);
      // The push of that commit: after everything viewers were sent before it (their later seq).
      const after = async (viewer: typeof legoA, seq: number) => {
        for (;;) {
          const event = await viewer.next();
          if (event.seq > seq && event.tiles.some((t) => t.id === 'net_sales')) return event;
        }
      };
      const [again] = await Promise.all([after(legoA, a.seq), after(legoB, b.seq), after(mattel, m.seq), after(admin, all.seq)]);
      expect(again.tiles.map((t) => t.id).sort()).toEqual(['by_brand', 'net_sales']);
      expect(tile(again, 'net_sales').rows).toEqual([{ value: legoNow }]);
    } finally {
      for (const viewer of [legoA, legoB, mattel, admin]) viewer.close();
    }
  });
});

describe('lookups, as LEGO', () => {
  const legoSold = () => [...new Set(legoLines().map((l) => l.sku))].sort();

  it('a LEGO key answers its row; another brand’s key answers exactly like a missing one', async () => {
    const own = await asLego('GET', `/v1/lookup/product_sales/${legoSold()[0]}`);
    expect(own.status).toBe(200);
    expect(JSON.parse(own.text)).toMatchObject({ sku: legoSold()[0], brand: 'LEGO' });
    const adminCanary = await send('GET', `/v1/lookup/product_sales/${CANARY_SKU}`, ADMIN_TOKEN);
    expect(adminCanary.status).toBe(200);
    const canary = await asLego('GET', `/v1/lookup/product_sales/${CANARY_SKU}`);
    const missing = await asLego('GET', '/v1/lookup/product_sales/SKU000000');
    expect(canary.status).toBe(404);
    const strip = ({ date: _date, ...headers }: IncomingMessage['headers']) => headers;
    expect(strip(canary.headers)).toEqual(strip(missing.headers));
    expect(canary.text.replace(CANARY_SKU, 'K')).toBe(missing.text.replace('SKU000000', 'K'));
    // Every other brand's sold SKU: the same 404.
    const others = [...new Set(allLines().filter((l) => brandOf(l) !== 'LEGO').map((l) => l.sku))];
    for (const sku of others) expect((await asLego('GET', `/v1/lookup/product_sales/${sku}`)).status, sku).toBe(404);
  });

  it('a lookup table without the brand column answers like no lookup table; the list shows no counts', async () => {
    const key = `17-2024-12-06`;
    expect((await send('GET', `/v1/lookup/store_daily/${key}`, ADMIN_TOKEN)).status).toBe(200);
    const hidden = await asLego('GET', `/v1/lookup/store_daily/${key}`);
    const missing = await asLego('GET', `/v1/lookup/store_dailx/${key}`);
    expect(hidden.status).toBe(404);
    expect(hidden.text.replace('store_daily', 'X')).toBe(missing.text.replace('store_dailx', 'X'));
    const list = await asLego('GET', '/v1/lookup');
    expect(list.json.tables).toEqual([{ table: 'product_sales', key: 'sku' }]);
  });
});

describe('starting a server with client tokens', () => {
  it('needs the admin token too, even on 127.0.0.1, and every client’s token, each its own', async () => {
    await expect(createServer({ ws, streams }, { env: ENV })).rejects.toThrow(/client tokens \(lego, mattel\), so the server needs an admin token/);
    await expect(createServer({ ws, streams }, { token: ADMIN_TOKEN, env: { LEGO_TOKEN } })).rejects.toThrow("client 'mattel' has no token: MATTEL_TOKEN is not set");
    await expect(createServer({ ws, streams }, { token: ADMIN_TOKEN, env: { LEGO_TOKEN, MATTEL_TOKEN: LEGO_TOKEN } })).rejects.toThrow("client 'mattel' has the same token as LEGO_TOKEN");
    await expect(createServer({ ws, streams }, { token: LEGO_TOKEN, env: ENV })).rejects.toThrow("client 'lego' has the same token as TRIBUTARY_TOKEN");
  });

  it('`tributary up` refuses to start without TRIBUTARY_TOKEN, naming what is missing and no secret', () => {
    const result = cli(['up', '--project', dir, '--port', '0'], REPO, { TRIBUTARY_TOKEN: '', ...ENV });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/TRIBUTARY_TOKEN/);
    for (const token of TOKENS) expect(result.stderr + result.stdout).not.toContain(token);
  });

  it('no token appears in the server’s log or in /metrics', async () => {
    const metrics = await send('GET', '/metrics', ADMIN_TOKEN);
    expect(metrics.status).toBe(200);
    for (const token of TOKENS) {
      expect(metrics.text).not.toContain(token);
      expect(stderrSeen.join('')).not.toContain(token);
    }
    expect(legoSaw.length).toBeGreaterThan(100);
  });
});
