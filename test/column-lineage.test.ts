import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createServer } from '../src/server/app.js';
import { DashboardHub } from '../src/server/dashboards.js';
import { webPlugin } from '../src/server/web.js';
import { openLog, startStreams } from '../src/stream/runtime.js';
import { REPO, cli, openProject, tempDir, writeTree } from './helpers.js';

/**
 * Issue 21: column-level lineage, read off DuckDB's parse tree of each compiled model. What each
 * column derives from is checked against the models' SQL as written, through the CLI a user runs
 * (`tributary ls --columns`) and the API the catalog page draws from.
 */

interface Row {
  model: string;
  column: string;
  derived_from: string[];
  how: string;
  description: string;
}

function lsColumns(dir: string, ...selectors: string[]): Row[] {
  const result = cli(['ls', '--columns', '--format', 'json', ...selectors], dir);
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as Row[];
}

/** model → column → { from, how }: one model's columns, in order. */
function byModel(rows: readonly Row[]): Record<string, [string, { from: string[]; how: string }][]> {
  const out: Record<string, [string, { from: string[]; how: string }][]> = {};
  for (const r of rows) (out[r.model] ??= []).push([r.column, { from: r.derived_from, how: r.how }]);
  return out;
}

const column = (rows: readonly Row[], model: string, name: string) => {
  const found = rows.find((r) => r.model === model && r.column === name);
  expect(found, `${model}.${name} in ${rows.filter((r) => r.model === model).map((r) => r.column).join(', ')}`).toBeDefined();
  return { from: found!.derived_from, how: found!.how };
};

describe('the dbt shop’s columns', () => {
  const dir = path.join(tempDir('tributary-lineage-'), 'shop');
  cpSync(path.join(REPO, 'test', 'fixtures', 'dbt', 'shop'), dir, { recursive: true, filter: (src) => !/(^|\/)(target|logs|\.tributary)$|\.duckdb(\.wal)?$/.test(src) });

  it('follows CTEs, renames, `*` over a model not built yet, joins with USING and aggregates', () => {
    const rows = lsColumns(dir);
    // stg_customers: `select * from renamed`, renamed selecting `id as customer_id` from a CTE that is `select *` of the seed.
    expect(column(rows, 'stg_customers', 'customer_id')).toEqual({ from: ['raw_customers.id'], how: 'copy' });
    expect(column(rows, 'stg_customers', 'email')).toEqual({ from: ['raw_customers.email'], how: 'transform' });
    expect(column(rows, 'stg_payments', 'amount')).toEqual({ from: ['raw_payments.amount'], how: 'transform' });
    // orders: `orders.*`-style columns through the CTE `orders` (select * of stg_orders, expanded from stg_orders' own SQL),
    // payment sums per method from a grouped CTE, joined USING (order_id).
    const orders = byModel(rows).orders!;
    expect(orders.map(([name]) => name)).toEqual(['order_id', 'customer_id', 'order_date', 'status', 'credit_card_amount', 'bank_transfer_amount', 'coupon_amount', 'gift_card_amount', 'amount', 'refunded']);
    expect(Object.fromEntries(orders)).toMatchObject({
      order_id: { from: ['stg_orders.order_id'], how: 'copy' },
      customer_id: { from: ['stg_orders.customer_id'], how: 'copy' },
      credit_card_amount: { from: ['stg_payments.payment_method', 'stg_payments.amount'], how: 'transform' },
      amount: { from: ['stg_payments.amount'], how: 'transform' },
      refunded: { from: ['stg_refunds.refund_amount'], how: 'transform' },
    });
    // schema.yml's column descriptions reach the columns.
    expect(rows.find((r) => r.model === 'orders' && r.column === 'amount')?.description).toBe('What the customer paid, less refunds, in dollars.');
    // stg_orders renames the seed's columns: orders' customer_id is raw_orders.user_id one hop further up.
    expect(column(rows, 'stg_orders', 'customer_id')).toEqual({ from: ['raw_orders.user_id'], how: 'copy' });
    // customers: a qualified column of a CTE, an aggregate of a CTE over another model, a macro's CASE, constants.
    expect(column(rows, 'customers', 'first_name')).toEqual({ from: ['stg_customers.first_name'], how: 'copy' });
    expect(column(rows, 'customers', 'number_of_orders')).toEqual({ from: ['orders.order_id'], how: 'transform' });
    expect(column(rows, 'customers', 'average_order_value')).toEqual({ from: ['orders.order_id', 'orders.amount'], how: 'transform' });
    expect(column(rows, 'customers', 'currency')).toEqual({ from: [], how: 'transform' });
    expect(column(rows, 'email_domains', 'domain')).toEqual({ from: ['customer_emails.email'], how: 'transform' });
    expect(column(rows, 'email_domains', 'customers')).toEqual({ from: [], how: 'transform' });
    // A relation the engine cannot describe without reading it (dbt's external source, a read_csv call): not guessed.
    expect(byModel(rows).stg_refunds).toEqual([
      ['order_id', { from: [], how: 'unknown' }],
      ['refund_amount', { from: [], how: 'unknown' }],
      ['refunded_on', { from: [], how: 'unknown' }],
    ]);
  });

  it('selects models as `ls` does, and prints a table of the same columns', () => {
    expect([...new Set(lsColumns(dir, 'orders', 'order_status').map((r) => r.model))]).toEqual(['orders', 'order_status']);
    const table = cli(['ls', '--columns', 'order_status'], dir);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/order_status\s*│\s*amount\s*│\s*orders\.amount\s*│\s*copy/);
    const csv = cli(['ls', '--columns', 'customers', '--format', 'csv'], dir);
    expect(csv.stdout.split('\n')).toContain('customers,average_order_value,"orders.order_id, orders.amount",transform,');
  });
});

const ORDERS = `order_id,customer,amount,ordered_at
1,ann,10.50,2024-03-01 09:00:00
2,bob,20.00,2024-03-01 10:00:00
3,ann,5.25,2024-03-02 11:00:00
`;
const CUSTOMERS = `customer,country
ann,NL
bob,DE
`;

/** A project of its own: a source with declared columns, one whose columns are inferred, and models that exercise the SQL forms. */
function project(): string {
  return writeTree({
    'tributary.config.ts': `import { defineProject } from 'tributary';
export default defineProject({
  name: 'lineage',
  sources: {
    orders: { format: 'csv', path: 'data/orders.csv', columns: { order_id: 'BIGINT', customer: 'VARCHAR', amount: 'DECIMAL(10,2)', ordered_at: 'TIMESTAMP' } },
    customers: { format: 'csv', path: 'data/customers.csv' },
  },
  models: {
    stg_orders: {
      sql: "SELECT * FROM {{ source('orders') }}",
      materialize: 'table',
      columns: { order_id: 'The order, as the shop numbers it', amount: 'What the customer paid, in euros' },
    },
    stg_customers: { sql: "SELECT * FROM {{ source('customers') }}", materialize: 'table' },
    order_facts: {
      sql: \`WITH totals AS (
          SELECT customer AS who, sum(amount) AS spent FROM {{ ref('stg_orders') }} GROUP BY customer
        )
        SELECT o.*, c.country, t.spent,
               row_number() OVER (PARTITION BY o.customer ORDER BY o.ordered_at) AS nth,
               amount * 100 AS cents, cents + 1 AS cents_plus_one
        FROM {{ ref('stg_orders') }} AS o
        JOIN {{ ref('stg_customers') }} c ON c.customer = o.customer
        LEFT JOIN (SELECT who, spent FROM totals) AS t ON t.who = o.customer\`,
      materialize: 'table',
    },
    all_amounts: {
      sql: "SELECT order_id AS id, amount FROM {{ ref('stg_orders') }} UNION ALL SELECT NULL, spent FROM {{ ref('order_facts') }}",
      materialize: 'view',
    },
    trimmed: { sql: "SELECT * EXCLUDE (ordered_at) REPLACE (round(amount) AS amount) FROM {{ ref('stg_orders') }}", materialize: 'view' },
    mystery: { sql: "SELECT COLUMNS('^cust'), order_id FROM {{ ref('stg_orders') }}", materialize: 'table' },
    daily: {
      sql: "SELECT customer, amount, ordered_at FROM {{ ref('stg_orders') }}",
      materialize: 'lake',
      partitionBy: { day: 'CAST(ordered_at AS DATE)' },
    },
  },
});
`,
    'data/orders.csv': ORDERS,
    'data/customers.csv': CUSTOMERS,
  });
}

describe('a project’s columns, before and after it is built', () => {
  const dir = project();

  it('expands `*`, `t.*`, EXCLUDE and REPLACE, follows joins, subqueries, windows, lateral aliases, UNION ALL and partition keys', () => {
    const rows = lsColumns(dir);
    const models = byModel(rows);
    expect(models.stg_orders).toEqual(['order_id', 'customer', 'amount', 'ordered_at'].map((c) => [c, { from: [`source:orders.${c}`], how: 'copy' }]));
    expect(rows.filter((r) => r.model === 'stg_orders').map((r) => r.description)).toEqual(['The order, as the shop numbers it', '', 'What the customer paid, in euros', '']);
    // The customers source's columns are inferred when it is read: before that, its `*` is all that is known.
    expect(models.stg_customers).toEqual([['*', { from: ['source:customers.*'], how: 'copy' }]]);
    expect(models.order_facts).toEqual([
      ['order_id', { from: ['stg_orders.order_id'], how: 'copy' }],
      ['customer', { from: ['stg_orders.customer'], how: 'copy' }],
      ['amount', { from: ['stg_orders.amount'], how: 'copy' }],
      ['ordered_at', { from: ['stg_orders.ordered_at'], how: 'copy' }],
      // stg_customers' columns are not known yet, but a qualified name says whose it is.
      ['country', { from: ['stg_customers.country'], how: 'copy' }],
      ['spent', { from: ['stg_orders.amount'], how: 'transform' }],
      ['nth', { from: ['stg_orders.customer', 'stg_orders.ordered_at'], how: 'transform' }],
      ['cents', { from: ['stg_orders.amount'], how: 'transform' }],
      ['cents_plus_one', { from: ['stg_orders.amount'], how: 'transform' }],
    ]);
    // By position; a NULL on one side computes, the other side copies.
    expect(models.all_amounts).toEqual([
      ['id', { from: ['stg_orders.order_id'], how: 'transform' }],
      ['amount', { from: ['stg_orders.amount', 'order_facts.spent'], how: 'copy' }],
    ]);
    expect(models.trimmed).toEqual([
      ['order_id', { from: ['stg_orders.order_id'], how: 'copy' }],
      ['customer', { from: ['stg_orders.customer'], how: 'copy' }],
      ['amount', { from: ['stg_orders.amount'], how: 'transform' }],
    ]);
    // COLUMNS(regex) is not followed: its place is marked unknown, the rest still known.
    expect(models.mystery).toEqual([
      ['*', { from: [], how: 'unknown' }],
      ['order_id', { from: ['stg_orders.order_id'], how: 'copy' }],
    ]);
    // The lake adds the partition key after the model's columns, computed from them.
    expect(models.daily).toEqual([
      ['customer', { from: ['stg_orders.customer'], how: 'copy' }],
      ['amount', { from: ['stg_orders.amount'], how: 'copy' }],
      ['ordered_at', { from: ['stg_orders.ordered_at'], how: 'copy' }],
      ['day', { from: ['stg_orders.ordered_at'], how: 'transform' }],
    ]);
  });

  it('once built, a `*` the SQL cannot expand takes the table’s columns; a model that does not parse is reported, the others listed', () => {
    const run = cli(['run'], dir);
    expect(run.code, run.stderr).toBe(0);
    const models = byModel(lsColumns(dir));
    expect(models.stg_customers).toEqual([
      ['customer', { from: ['source:customers.customer'], how: 'copy' }],
      ['country', { from: ['source:customers.country'], how: 'copy' }],
    ]);
    expect(models.mystery).toEqual([
      ['customer', { from: [], how: 'unknown' }],
      ['order_id', { from: ['stg_orders.order_id'], how: 'copy' }],
    ]);
    const config = path.join(dir, 'tributary.config.ts');
    writeFileSync(config, readFileSync(config, 'utf8').replace('  models: {', `  models: {\n    broken: { sql: 'SELEC customer FROM {{ ref("stg_orders") }}', materialize: 'view' },`));
    const result = cli(['ls', '--columns', '--format', 'json'], dir);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/model 'broken': its columns are not known: .*syntax error at or near "SELEC"/);
    const rows = JSON.parse(result.stdout) as Row[];
    expect(rows.some((r) => r.model === 'broken')).toBe(false);
    expect(column(rows, 'order_facts', 'spent')).toEqual({ from: ['stg_orders.amount'], how: 'transform' });
  });

  it('the catalog API gives each column of a model’s table its upstream columns, how and description', async () => {
    const ws = await openProject(dir);
    const streams = await startStreams(ws, openLog(ws), { start: false });
    const app = await createServer({ ws, streams }, {}, [webPlugin(new DashboardHub(await ws.engine.fork(), new Map()))]);
    try {
      const answer = await fetch(`${await app.listen({ host: '127.0.0.1', port: 0 })}/api/catalog`);
      expect(answer.status).toBe(200);
      const { tables } = (await answer.json()) as { tables: { name: string; columns: { name: string; type: string; description: string | null; derived_from: string[]; how: string | null }[] }[] };
      const columns = (table: string) => tables.find((t) => t.name === table)?.columns;
      expect(columns('stg_orders')?.find((c) => c.name === 'amount')).toEqual({ name: 'amount', type: 'DECIMAL(10,2)', description: 'What the customer paid, in euros', derived_from: ['source:orders.amount'], how: 'copy' });
      expect(columns('order_facts')?.map((c) => [c.name, c.derived_from.join(' + '), c.how])).toEqual([
        ['order_id', 'stg_orders.order_id', 'copy'],
        ['customer', 'stg_orders.customer', 'copy'],
        ['amount', 'stg_orders.amount', 'copy'],
        ['ordered_at', 'stg_orders.ordered_at', 'copy'],
        ['country', 'stg_customers.country', 'copy'],
        ['spent', 'stg_orders.amount', 'transform'],
        ['nth', 'stg_orders.customer + stg_orders.ordered_at', 'transform'],
        ['cents', 'stg_orders.amount', 'transform'],
        ['cents_plus_one', 'stg_orders.amount', 'transform'],
      ]);
      expect(columns('daily')?.find((c) => c.name === 'day')).toMatchObject({ derived_from: ['stg_orders.ordered_at'], how: 'transform' });
    } finally {
      await app.close();
      await streams.stop();
      streams.log.close();
      await ws.close();
    }
  });
});
