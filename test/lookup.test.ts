import type { FastifyInstance } from 'fastify';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withSources } from '../src/commands/project.js';
import { lookupCommand } from '../src/commands/lookup.js';
import type { CommandIO } from '../src/commands/types.js';
import { runModels } from '../src/models/index.js';
import type { Workspace } from '../src/state/workspace.js';
import { Engine } from '../src/engine/index.js';
import { createServer } from '../src/server/app.js';
import { lookupPlugin } from '../src/server/lookup.js';
import { rowJsonSql, tableColumns } from '../src/state/lookup-index.js';
import { openLog, startStreams, type StreamRuntime } from '../src/stream/runtime.js';
import { ECOMMERCE_SAMPLE, LOYALTY_CUSTOMERS, openProject, tempDir, writeTree } from './helpers.js';

const CUSTOMERS = LOYALTY_CUSTOMERS;
const customerLines = readFileSync(CUSTOMERS, 'utf8').trimEnd().split('\n');
const customerIds = customerLines.map((line) => line.slice(0, line.indexOf(',')));

/** The loyalty shop's drinks and prices, as in the product brief. */
const MENU: [string, number][] = [
  ['espresso', 65],
  ['cappucino', 90],
  ['mocha', 80],
  ['latte', 70],
  ['chocolate', 60],
  ['greentea', 60],
];

const CONFIG = `import { defineProject } from 'tributary';
export default defineProject({
  name: 'lookups',
  sources: {
    customers: {
      format: 'csv',
      path: ${JSON.stringify(CUSTOMERS)},
      csv: { header: false },
      columns: { customer_id: 'BIGINT', home_store: 'INTEGER', full_name: 'VARCHAR', email: 'VARCHAR', customer_since: 'DATE', card: 'VARCHAR', birthdate: 'DATE', gender: 'VARCHAR', birth_year: 'INTEGER' },
    },
    clicks: {
      format: 'csv',
      path: ${JSON.stringify(ECOMMERCE_SAMPLE)},
      csv: { timestampFormat: '%Y-%m-%d %H:%M:%S UTC' },
      columns: { event_time: 'TIMESTAMP', event_type: 'VARCHAR', product_id: 'BIGINT', category_id: 'BIGINT', category_code: 'VARCHAR', brand: 'VARCHAR', price: 'DECIMAL(12,2)', user_id: 'BIGINT', user_session: 'VARCHAR' },
    },
  },
  models: {
    menu: { sql: 'models/menu.sql', materialize: 'table' },
    customers_cln: { sql: 'models/customers_cln.sql', materialize: 'table', lookup: { key: 'cust_id' } },
    customer_names: { sql: 'models/customer_names.sql', materialize: 'table', lookup: { key: 'cust_nm' } },
    click_events: { sql: "SELECT * FROM {{ source('clicks') }}", materialize: 'table' },
    categories: { sql: 'models/categories.sql', materialize: 'table', lookup: { key: 'category_id' } },
    points: { sql: 'models/points.sql', materialize: 'ephemeral' },
  },
  topics: { orders: { partitions: 2 } },
  streams: {
    orders_live: {
      input: { kind: 'log', topic: 'orders' },
      binds: 'orders',
      columns: { cust_id: 'BIGINT', menu: 'VARCHAR', ordered_at: 'TIMESTAMP' },
      triggerMs: 0,
      sinks: {
        serving: {
          kind: 'duckdb',
          tables: {
            customer_points: {
              model: 'points',
              materialize: { kind: 'merge', keys: ['cust_id'], merge: { spend: 'sum', points: 'sum', orders: 'sum', last_order_at: 'max' } },
              lookup: { key: 'cust_id' },
            },
          },
        },
      },
    },
  },
});
`;

const MODELS = {
  'models/menu.sql': `-- The shop's menu: drink and price (the product brief's list).
SELECT * FROM (VALUES ${MENU.map(([menu, price]) => `('${menu}', ${price})`).join(', ')}) AS m(menu, price)
`,
  'models/customers_cln.sql': `-- Customers, one row per id: the name's whitespace collapsed, the card without quotes, gender spelled out.
SELECT customer_id AS cust_id, trim(regexp_replace(full_name, '\\s+', ' ', 'g')) AS cust_nm, email AS cust_email,
       customer_since AS cust_strt_dt, replace(card, '"', '') AS cust_member_card_no, birthdate AS cust_birth_dt,
       CASE WHEN upper(trim(gender)) = 'M' THEN 'MALE' WHEN upper(trim(gender)) = 'F' THEN 'FEMALE' ELSE 'NA' END AS cust_gender, home_store
FROM {{ source('customers') }}
`,
  'models/customer_names.sql': `-- Customers by name: a name several customers share is not a usable lookup key (the API refuses it).
SELECT cust_nm, cust_id, home_store FROM {{ ref('customers_cln') }}
`,
  'models/categories.sql': `-- Each category of the clickstream sample: its 64-bit id, what was seen and bought.
SELECT category_id, any_value(category_code ORDER BY event_time) AS category_code,
       count(*) AS events, sum(price) FILTER (WHERE event_type = 'purchase') AS revenue,
       avg(price) AS avg_price, max(event_time) AS last_seen,
       list(DISTINCT product_id ORDER BY product_id)[1:3] AS first_products
FROM {{ ref('click_events') }}
GROUP BY category_id
`,
  'models/points.sql': `-- Per order: spend at menu price and loyalty points (one per 10 spent, rounded down).
SELECT o.cust_id, CAST(m.price AS DECIMAL(10,2)) AS spend, CAST(m.price // 10 AS BIGINT) AS points,
       CAST(1 AS BIGINT) AS orders, o.ordered_at AS last_order_at
FROM {{ source('orders') }} o JOIN {{ ref('menu') }} m USING (menu)
`,
};

/** Deterministic order lines over the real customer ids (mulberry32). */
function orders(seed: number, count: number, startSeconds: number): string[] {
  let a = seed >>> 0;
  const random = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return Array.from({ length: count }, (_, i) =>
    JSON.stringify({
      // A few customers order often: the merge updates rows already in the table.
      cust_id: Number(customerIds[Math.floor(random() ** 2 * customerIds.length)]),
      menu: MENU[Math.floor(random() * MENU.length)]![0],
      ordered_at: new Date((startSeconds + i * 7) * 1000).toISOString().replace('T', ' ').slice(0, 19),
    }),
  );
}

let dir: string;
let ws: Workspace;
let streams: StreamRuntime;
let app: FastifyInstance;
let base: string;

beforeAll(async () => {
  dir = writeTree({ 'tributary.config.ts': CONFIG, ...MODELS });
  ws = await openProject(dir, { dataDir: tempDir() });
  // The stream joins the menu, so it is built first; every lookup table appears after the server starts.
  await runModels(ws, { select: ['menu'], quiet: true, log: () => undefined });
  streams = await startStreams(ws, openLog(ws), { start: false });
  app = await createServer({ ws, streams }, {}, [lookupPlugin()]);
  base = await app.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  await app?.close();
  await streams?.stop();
  streams?.log.close();
  await ws?.close();
});

const lookup = (table: string, key: string) => fetch(`${base}/v1/lookup/${table}/${encodeURIComponent(key)}`);

/** Every row of the table, looked up by its key over HTTP, equals the row as DuckDB's JSON helpers give it. */
async function expectLookupsEqualTable(table: string, key: string): Promise<number> {
  const rows = await ws.engine.queryJson<Record<string, unknown>>(`SELECT * FROM ${table}`);
  for (let i = 0; i < rows.length; i += 20) {
    await Promise.all(
      rows.slice(i, i + 20).map(async (row) => {
        const response = await lookup(table, String(row[key]));
        expect(response.status, `${table} ${String(row[key])}`).toBe(200);
        expect(await response.json()).toEqual(row);
      }),
    );
  }
  const listed = ((await (await fetch(`${base}/v1/lookup`)).json()) as { tables: { table: string; rows: number }[] }).tables;
  // The index holds the table's keys and nothing else.
  expect(listed.find((t) => t.table === table)?.rows).toBe(rows.length);
  return rows.length;
}

describe('lookup API', () => {
  it('indexes models built after the server started; lookups equal the tables’ rows', async () => {
    expect((await lookup('customers_cln', '1')).status).toBe(404);
    await runModels(ws, { quiet: true, log: () => undefined });
    expect(await expectLookupsEqualTable('customers_cln', 'cust_id')).toBe(2246);
    expect(await expectLookupsEqualTable('categories', 'category_id')).toBeGreaterThan(100);
    const first = await lookup('customers_cln', '1');
    expect(first.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(Number(first.headers.get('x-tributary-snapshot'))).toBe(await ws.metastore.lastSnapshot());
    expect(await first.json()).toEqual({
      cust_id: '1',
      cust_nm: 'Kelly Key',
      cust_email: 'Venus@adipiscing.edu',
      cust_strt_dt: '2017-01-04',
      cust_member_card_no: '908-424-2890',
      cust_birth_dt: '1950-05-29',
      cust_gender: 'MALE',
      home_store: 3,
    });
  });

  it('follows a batch rebuild: removed keys are gone, changed rows are new', async () => {
    // The next export: the last 246 customers left, and customer 2 changed their name.
    const next = writeTree({
      'customers.csv': [customerLines[0], customerLines[1]!.replace('Clark Schroeder', 'Clark  Schröder '), ...customerLines.slice(2, 2000)].join('\n'),
    });
    await runModels(ws.withProject(withSources(ws.project, { customers: path.join(next, 'customers.csv') })), { quiet: true, log: () => undefined });
    expect(await expectLookupsEqualTable('customers_cln', 'cust_id')).toBe(2000);
    expect(((await (await lookup('customers_cln', '2')).json()) as { cust_nm: string }).cust_nm).toBe('Clark Schröder');
    const gone = await lookup('customers_cln', customerIds.at(-1)!);
    expect(gone.status).toBe(404);
    expect(await gone.json()).toEqual({
      error: `no row of 'customers_cln' has cust_id '${customerIds.at(-1)}'`,
      hint: 'keys are matched as text, exactly as CAST(cust_id AS VARCHAR) writes them',
    });
  });

  it('follows a stream merge table micro-batch by micro-batch', async () => {
    const topic = streams.log.topic('orders');
    const job = streams.jobs[0]!;
    let start = Date.parse('2024-03-01T08:00:00Z') / 1000;
    let points = 0;
    for (const [round, count] of [300, 500, 800].entries()) {
      const events = orders(round + 1, count, start);
      start += count * 7;
      points += events.reduce((sum, e) => sum + Math.floor(MENU.find(([m]) => m === (JSON.parse(e) as { menu: string }).menu)![1] / 10), 0);
      topic.append(events.map((value) => ({ value })));
      expect(await job.drain()).toBe(count);
      await expectLookupsEqualTable('customer_points', 'cust_id');
      // Every order's points are in the table (computed from the events themselves).
      const total = await ws.engine.queryJson<{ points: string }>('SELECT sum(points) AS points FROM customer_points');
      expect(Number(total[0]!.points)).toBe(points);
    }
  });

  it('never answers from before a commit that SQL already shows', async () => {
    const topic = streams.log.topic('orders');
    const job = streams.jobs[0]!;
    const reader = await ws.engine.fork();
    try {
      const present = new Set((await reader.queryJson<{ k: string }>('SELECT cust_id::VARCHAR AS k FROM customer_points')).map((r) => r.k));
      const newcomers = customerIds.filter((id) => !present.has(id)).slice(0, 12);
      expect(newcomers).toHaveLength(12);
      for (const id of newcomers) {
        topic.append([{ value: JSON.stringify({ cust_id: Number(id), menu: 'latte', ordered_at: '2024-04-01 09:00:00' }) }]);
        const drained = job.drain();
        // As soon as SQL on another connection sees the customer, a lookup must too.
        while (Number((await reader.queryJson<{ n: string }>(`SELECT count(*) AS n FROM customer_points WHERE cust_id = ${id}`))[0]!.n) === 0);
        const answer = await lookup('customer_points', id);
        expect(answer.status, `customer ${id}`).toBe(200);
        expect(((await answer.json()) as { points: string }).points).toBe('7');
        await drained;
      }
    } finally {
      reader.close();
    }
  });

  it('keeps 64-bit keys and numbers exact', async () => {
    const [category] = await ws.engine.query<{ id: bigint }>('SELECT category_id AS id FROM categories ORDER BY category_id DESC LIMIT 1');
    const id = category!.id.toString();
    expect(BigInt(id)).toBeGreaterThan(BigInt(Number.MAX_SAFE_INTEGER));
    const text = await (await lookup('categories', id)).text();
    expect(text).toContain(`"category_id":"${id}"`);
    // The neighbouring id is the same double: only an exact key finds the row.
    expect(Number(id)).toBe(Number((BigInt(id) + 1n).toString()));
    expect((await lookup('categories', (BigInt(id) + 1n).toString())).status).toBe(404);
  });

  it('answers 404 for tables that are not lookup tables, whatever their name, and decodes keys', async () => {
    for (const table of ['menu', 'nope', '__proto__', 'constructor', 'toString']) {
      const response = await fetch(`${base}/v1/lookup/${table}/1`);
      expect(response.status, table).toBe(404);
      const body = (await response.json()) as { error: string; hint: string };
      expect(body.error).toBe(`'${table}' is not a lookup table`);
      expect(body.hint).toMatch(/^lookup tables: .*categories \(key category_id\).*customer_points \(key cust_id\).*customers_cln \(key cust_id\)/);
    }
    for (const key of ['__proto__', 'constructor', 'hasOwnProperty', '', 'a/b', '1 OR 1=1']) {
      const response = await lookup('customers_cln', key);
      expect(response.status, key).toBe(404);
      expect(((await response.json()) as { error: string }).error).toBe(`no row of 'customers_cln' has cust_id '${key}'`);
    }
    // An unencoded slash is part of the key too.
    expect(((await (await fetch(`${base}/v1/lookup/customers_cln/a/b`)).json()) as { error: string }).error).toBe(`no row of 'customers_cln' has cust_id 'a/b'`);
    const named = await fetch(`${base}/v1/lookup/customer_names/Kelly%20Key`);
    expect(named.status).toBe(200);
    expect(await named.json()).toEqual({ cust_nm: 'Kelly Key', cust_id: '1', home_store: 3 });
  });

  it('refuses a key several rows share instead of answering one of them', async () => {
    const shared = await ws.engine.queryJson<{ cust_nm: string; n: string }>('SELECT cust_nm, count(*) AS n FROM customer_names GROUP BY 1 HAVING count(*) > 1 ORDER BY 1');
    expect(shared.length).toBeGreaterThan(0);
    const response = await lookup('customer_names', shared[0]!.cust_nm);
    expect(response.status).toBe(409);
    expect(((await response.json()) as { error: string }).error).toBe(`${shared[0]!.n} rows of 'customer_names' have cust_nm '${shared[0]!.cust_nm}'; a lookup answers one row per key`);
    const listed = ((await (await fetch(`${base}/v1/lookup`)).json()) as { tables: { table: string; rows: number; ambiguousKeys: number }[] }).tables;
    const unique = await ws.engine.queryJson<{ n: string }>('SELECT count(*) AS n FROM (SELECT cust_nm FROM customer_names GROUP BY 1 HAVING count(*) = 1)');
    expect(listed.find((t) => t.table === 'customer_names')).toMatchObject({ rows: Number(unique[0]!.n), ambiguousKeys: shared.length });
  });

  it('refuses lookups of a table it could not refresh, rather than answer stale rows, and recovers', async () => {
    // Changed behind Tributary's back, then a commit names it: the index cannot read the table.
    await ws.engine.run('ALTER TABLE customer_names DROP COLUMN cust_nm');
    await ws.metastore.commit(ws.engine, { operation: 'test' }, async (tx) => tx.changed('customer_names', 'rows'));
    const refused = await lookup('customer_names', 'Kelly Key');
    expect(refused.status).toBe(503);
    expect(await refused.json()).toEqual({
      error: `the lookup index of 'customer_names' is behind the table: it has no column 'cust_nm' (its columns: cust_id, home_store)`,
      hint: 'it is read again at the next commit; the server log has the cause',
    });
    // Other tables are unaffected; the next build of the model brings the table back.
    expect((await lookup('customers_cln', '1')).status).toBe(200);
    await runModels(ws, { select: ['customer_names'], quiet: true, log: () => undefined });
    expect((await lookup('customer_names', 'Kelly Key')).status).toBe(200);
  });

  it('needs the token when the server has one', async () => {
    const secured = await createServer({ ws, streams }, { token: 's3cret-token-7d41c09e' }, [lookupPlugin()]);
    const url = await secured.listen({ host: '127.0.0.1', port: 0 });
    try {
      expect((await fetch(`${url}/v1/lookup/customers_cln/1`)).status).toBe(401);
      expect((await fetch(`${url}/v1/lookup`)).status).toBe(401);
      expect((await fetch(`${url}/v1/lookup/customers_cln/1`, { headers: { authorization: 'Bearer wrong!' } })).status).toBe(401);
      const allowed = await fetch(`${url}/v1/lookup/customers_cln/1`, { headers: { authorization: 'Bearer s3cret-token-7d41c09e' } });
      expect(allowed.status).toBe(200);
      expect(((await allowed.json()) as { cust_nm: string }).cust_nm).toBe('Kelly Key');
    } finally {
      await secured.close();
    }
  });
});

describe('row JSON', () => {
  it('is what the rest of the API answers, type by type: exact numbers as strings, also inside lists and structs', async () => {
    const engine = await Engine.open();
    try {
      await engine.run(`CREATE TABLE t AS SELECT 9007199254740993::BIGINT AS b, 170141183460469231731687303715884105727::HUGEINT AS h,
        18446744073709551615::UBIGINT AS ub, 12.30::DECIMAL(12,2) AS d, 0.1::DOUBLE + 0.2::DOUBLE AS f, 'NaN'::DOUBLE AS nan, '-inf'::DOUBLE AS ninf,
        NULL::DOUBLE AS nd, 1.5::FLOAT AS fl, DATE '2019-11-05' AS dt, TIMESTAMP '2019-11-05 10:11:12.345' AS ts, TIME '10:11:12' AS tm, true AS bo,
        NULL::INTEGER AS n, -5::TINYINT AS ti, 'a"b\\c é 🍵' || chr(10) || chr(1) AS s, uuid '6a1f2b3c-1111-2222-3333-444455556666' AS u,
        [1, 2]::BIGINT[] AS l, {'x': 1::BIGINT, 'y': [1.5::DECIMAL(4,1)], 'z': 'q'} AS st, '\\xFF\\x00a'::BLOB AS bl`);
      const [row] = await engine.query<{ json: string }>(`SELECT ${rowJsonSql(await tableColumns(engine, 't'))} AS json FROM t`);
      expect(JSON.parse(row!.json)).toEqual((await engine.queryJson('SELECT * FROM t'))[0]);
      expect(row!.json).toContain('"b":"9007199254740993","h":"170141183460469231731687303715884105727"');
    } finally {
      engine.closeAll();
    }
  });
});

describe('lookup command', () => {
  function capture(): { io: CommandIO; out: string[] } {
    const out: string[] = [];
    const io: CommandIO = { tty: false, out: (text) => out.push(text), err: () => undefined, progress: () => ({ update: () => undefined, done: () => undefined }) };
    return { io, out };
  }
  const inServer = { status: () => [] };
  const served = async (table: string) =>
    ((await (await fetch(`${base}/v1/lookup`)).json()) as { tables: { table: string; lookups: number }[] }).tables.find((t) => t.table === table)!.lookups;

  it('answers the same JSON as the API, locally by a point query and in the server from its index', async () => {
    const [category] = await ws.engine.query<{ id: bigint }>('SELECT category_id AS id FROM categories ORDER BY category_id LIMIT 1');
    for (const [table, key] of [
      ['customers_cln', '2'],
      ['categories', category!.id.toString()],
      ['customer_points', customerIds[0]!],
    ] as const) {
      const input = { table, key, format: 'json' } as const;
      const api = await (await lookup(table, key)).text();
      const local = capture();
      await lookupCommand.run({ ws, io: local.io }, input);
      const before = await served(table);
      const server = capture();
      await lookupCommand.run({ ws, io: server.io, server: inServer }, input);
      expect(local.out).toEqual([api]);
      expect(server.out).toEqual([api]);
      // The in-server run was answered by the index.
      expect(await served(table)).toBe(before + 1);
    }
    const csv = capture();
    await lookupCommand.run({ ws, io: csv.io }, { table: 'customers_cln', key: '1', format: 'csv' });
    expect(csv.out).toEqual(['cust_id,cust_nm,cust_email,cust_strt_dt,cust_member_card_no,cust_birth_dt,cust_gender,home_store\n1,Kelly Key,Venus@adipiscing.edu,2017-01-04,908-424-2890,1950-05-29,MALE,3']);
  });

  it('says what is wrong the same way in both places', async () => {
    for (const server of [undefined, inServer]) {
      const run = (table: string, key: string) => lookupCommand.run({ ws, io: capture().io, server }, { table, key, format: 'json' });
      await expect(run('menu', '1')).rejects.toThrow(`'menu' is not a lookup table`);
      await expect(run('menu', '1')).rejects.toMatchObject({ hint: expect.stringMatching(/^lookup tables: categories \(key category_id\), customer_names \(key cust_nm\), customer_points \(key cust_id\), customers_cln \(key cust_id\);/) });
      await expect(run('customers_cln', '99999999999999999999')).rejects.toThrow(`no row of 'customers_cln' has cust_id '99999999999999999999'`);
      const shared = await ws.engine.queryJson<{ cust_nm: string }>('SELECT cust_nm FROM customer_names GROUP BY 1 HAVING count(*) > 1 ORDER BY 1 LIMIT 1');
      await expect(run('customer_names', shared[0]!.cust_nm)).rejects.toThrow(/rows of 'customer_names' have cust_nm .*; a lookup answers one row per key/);
    }
  });
});
