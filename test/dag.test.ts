import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { RunFailed, runModels } from '../src/models/index.js';
import { REPO, cli, openProject, tempDir, writeTree } from './helpers.js';

/**
 * Runs as a DAG (issue 19): independent models at the same time up to `threads`, a failed model
 * skips what reads it while the rest go on, a summary that says what committed; dbt's selector
 * language shared by `run`, `ls` and jobs; sources that models filter, join and aggregate, with
 * every source row accounted for by the load step.
 */

const ORDERS = `order_id,customer,amount
1,ada,19.90
2,grace,5.00
3,ada,42.10
4,linus,-3.00
5,grace,12.50
`;
const CUSTOMERS = `customer,country
ada,UK
grace,US
linus,FI
`;

/** A small graph: two sources, two loads, a join, an aggregate, a broken branch and its child. */
function project(extra = ''): string {
  return writeTree({
    'tributary.config.ts': `import { defineProject } from 'tributary';
export default defineProject({
  name: 'dag',
  threads: 2,
  sources: {
    orders: { format: 'csv', path: 'data/orders.csv', columns: { order_id: 'BIGINT', customer: 'VARCHAR', amount: 'DECIMAL(10,2)' }, rules: [{ column: 'amount', min: 0 }] },
    customers: { format: 'csv', path: 'data/customers.csv', columns: { customer: 'VARCHAR', country: 'VARCHAR' } },
  },
  models: {
    stg_orders: { sql: "SELECT * FROM {{ source('orders') }}", materialize: 'table', tags: ['staging'] },
    stg_customers: { sql: "SELECT * FROM {{ source('customers') }}", materialize: 'table', tags: ['staging'] },
    orders_by_country: { sql: "SELECT country, sum(amount) AS amount FROM {{ ref('stg_orders') }} JOIN {{ ref('stg_customers') }} USING (customer) GROUP BY country", materialize: 'table', tags: ['report'] },
    big_spenders: { sql: "SELECT customer, sum(amount) AS spent FROM {{ source('orders') }} JOIN {{ source('customers') }} USING (customer) GROUP BY customer HAVING sum(amount) > 15", materialize: 'view' },
    broken: { sql: "SELECT no_such_column FROM {{ ref('stg_orders') }}", materialize: 'table' },
    after_broken: { sql: "SELECT * FROM {{ ref('broken') }}", materialize: 'table' },
    ${extra}
  },
});
`,
    'data/orders.csv': ORDERS,
    'data/customers.csv': CUSTOMERS,
  });
}

describe('a run is a DAG', () => {
  it('a failed model skips what reads it, the others commit, and the run fails naming both', async () => {
    const ws = await openProject(project(), { dataDir: tempDir() });
    const log: string[] = [];
    try {
      const failure = await runModels(ws, { quiet: true, log: (m) => log.push(m) }).catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(RunFailed);
      const run = failure as RunFailed;
      expect(run.failed.map((f) => f.model)).toEqual(['broken']);
      expect(run.skipped).toEqual([{ model: 'after_broken', because: "it reads 'broken', which failed" }]);
      expect(run.results.map((r) => r.model).sort()).toEqual(['big_spenders', 'customers', 'orders', 'orders_by_country', 'stg_customers', 'stg_orders'].sort());
      expect(run.message).toMatch(/no_such_column/);
      expect(run.hint).toMatch(/this run committed 4 of 6 model\(s\); not run because of the failure: after_broken/);
      expect(log).toContain("⊘ after_broken skipped: it reads 'broken', which failed");
      // What committed is there; what failed or was skipped is not.
      expect(await ws.engine.queryJson('SELECT country, amount::VARCHAR AS amount FROM orders_by_country ORDER BY country')).toEqual([
        { country: 'UK', amount: '62.00' },
        { country: 'US', amount: '17.50' },
      ]);
      const tables = (await ws.engine.query<{ name: string }>("SELECT table_name AS name FROM duckdb_tables() WHERE schema_name = 'main'")).map((t) => t.name);
      expect(tables).not.toContain('broken');
      expect(tables).not.toContain('after_broken');
    } finally {
      await ws.close();
    }
  });

  it('sources read by several models, joined and aggregated in a view, are loaded once for the run: read = loaded + quarantined', async () => {
    const ws = await openProject(project(), { dataDir: tempDir() });
    try {
      const failure = (await runModels(ws, { quiet: true, log: () => undefined }).catch((e: unknown) => e)) as RunFailed;
      const loads = failure.results.filter((r) => r.materialize === 'source load');
      expect(loads.map((l) => [l.model, l.read, l.written, l.quarantined]).sort()).toEqual([
        ['customers', 3, 3, 0],
        ['orders', 5, 4, 1],
      ]);
      // The view joins and aggregates both sources' loaded rows; linus's refund was quarantined.
      expect(await ws.engine.queryJson('SELECT customer, spent::VARCHAR AS spent FROM big_spenders ORDER BY customer')).toEqual([
        { customer: 'ada', spent: '62.00' },
        { customer: 'grace', spent: '17.50' },
      ]);
      const quarantine = await ws.metastore.quarantine({});
      expect(quarantine.map((q) => [path.basename(q.file ?? ''), q.line, q.reason])).toEqual([['orders.csv', 5, expect.stringMatching(/amount/)]]);
      const runs = await ws.metastore.runs({ limit: 50 });
      expect(runs.filter((r) => r.kind === 'load').map((r) => r.target).sort()).toEqual(['customers', 'orders']);
    } finally {
      await ws.close();
    }
  });

  // Each CLI call starts a process: the selectors are split in two tests so a loaded machine stays within a test's time.
  const lister =
    (dir: string) =>
    (...args: string[]) => {
      const out = cli(['ls', ...args, '--project', dir, '--data-dir', tempDir(), '--format', 'json']);
      expect(out.code, out.stderr).toBe(0);
      return (JSON.parse(out.stdout) as { model: string }[]).map((m) => m.model);
    };

  it('graph selectors pick the same models for ls, run and jobs: name+, +name, n+name, name+n, @name', () => {
    const ls = lister(project());
    expect(ls('stg_orders+')).toEqual(['stg_orders', 'orders_by_country', 'broken', 'after_broken']);
    expect(ls('+orders_by_country')).toEqual(['stg_orders', 'stg_customers', 'orders_by_country']);
    expect(ls('1+after_broken')).toEqual(['broken', 'after_broken']);
    expect(ls('stg_orders+1')).toEqual(['stg_orders', 'orders_by_country', 'broken']);
    expect(ls('@stg_customers')).toEqual(['stg_orders', 'stg_customers', 'orders_by_country']);
  });

  it('method selectors pick the same models for ls, run and jobs: tag:, path:, source:, globs, unions, intersections, --exclude; a wrong name is named', () => {
    const dir = project();
    const ls = lister(dir);
    expect(ls('tag:staging')).toEqual(['stg_orders', 'stg_customers']);
    expect(ls('source:customers+')).toEqual(['stg_customers', 'orders_by_country', 'big_spenders']);
    expect(ls('stg_*')).toEqual(['stg_orders', 'stg_customers']);
    expect(ls('--select', 'tag:staging', 'tag:report')).toEqual(['stg_orders', 'stg_customers', 'orders_by_country']);
    expect(ls('tag:staging,stg_c*')).toEqual(['stg_customers']);
    expect(ls('stg_orders+', '--exclude', 'broken+')).toEqual(['stg_orders', 'orders_by_country']);
    expect(ls('path:models')).toEqual([]);
    const wrong = cli(['ls', 'stg_order', '--project', dir, '--data-dir', tempDir()]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/no model named 'stg_order'/);
    expect(wrong.stderr).toMatch(/models in this project: stg_orders, stg_customers/);
  });

  it('`tributary run stg_orders+` runs the selection in order with the same selectors (3ce1686 answered "no model named")', () => {
    const dir = project();
    const dataDir = tempDir();
    const run = cli(['run', 'stg_orders+', '--exclude', 'broken+', '--project', dir, '--data-dir', dataDir, '--quiet']);
    expect(run.code, run.stderr).toBe(1); // orders_by_country reads stg_customers, which this run did not build
    expect(run.stderr).toMatch(/✘ orders_by_country: .*stg_customers/);
    const both = cli(['run', '--select', 'tag:staging', 'orders_by_country', '--threads', '2', '--project', dir, '--data-dir', dataDir, '--quiet']);
    expect(both.code, both.stderr).toBe(0);
    expect(both.stderr).toMatch(/✔ orders_by_country \(table\)/);
    expect(both.stderr).not.toMatch(/broken/);
  });

  it('a plain run of customer-loyalty on a fresh data folder commits its batch models and says the stream must write first, and what it did not run', () => {
    const run = cli(['run', '--project', path.join(REPO, 'examples', 'customer-loyalty'), '--data-dir', tempDir(), '--quiet']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/✔ customers_cln \(lake\).*read 2,246, wrote 2,246, quarantined 0/);
    expect(run.stderr).toMatch(/✘ loyalty: model 'loyalty' reads 'transactions_cln', which stream job 'orders' keeps and has not written yet/);
    expect(run.stderr).toMatch(/⊘ customer_tiers skipped: it reads 'loyalty', which failed/);
    expect(run.stderr).toMatch(/start the stream first/);
    expect(run.stderr).toMatch(/this run committed 4 of 7 model\(s\); not run because of the failure: customer_tiers, customer_offers/);
    expect(run.stdout).toMatch(/customers_cln/);
    expect(run.stderr).not.toMatch(/nothing was committed\s*$/);
  });
});
