import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { REPO, cli, tempDir } from './helpers.js';

/**
 * A dbt project folder used as a Tributary project, through the CLI a user runs in it: selection,
 * compiled SQL, seeds accounted for row by row, targets from profiles.yml, and a
 * tributary.config.ts beside dbt_project.yml. (test/dbt-oracle.test.ts compares the results with dbt's.)
 */

const FIXTURE = path.join(REPO, 'test', 'fixtures', 'dbt', 'shop');

function copyProject(): string {
  const dir = path.join(tempDir('tributary-dbt-'), 'shop');
  cpSync(FIXTURE, dir, { recursive: true, filter: (src) => !/(^|\/)(target|logs|\.tributary)$|\.duckdb(\.wal)?$/.test(src) });
  return dir;
}


/** Rows of a query over a warehouse file, read as an outside tool would (read-only, by DuckDB itself). */
async function readRows(file: string, sql: string): Promise<Record<string, unknown>[]> {
  const instance = await DuckDBInstance.create(file, { access_mode: 'READ_ONLY' });
  const connection = await instance.connect();
  try {
    return (await connection.runAndReadAll(sql)).getRowObjectsJson() as Record<string, unknown>[];
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

const readRelations = async (file: string) =>
  (await readRows(file, "SELECT table_schema || '.' || table_name || ' ' || table_type AS r FROM information_schema.tables ORDER BY 1")).map((row) => String(row.r));

const names = (stdout: string) => (JSON.parse(stdout) as { model: string }[]).map((m) => m.model);

describe('a dbt project folder', () => {
  it('lists its nodes in the folder itself, with dbt’s selectors over its tags and its DAG', () => {
    const dir = copyProject();
    const staging = cli(['ls', '--select', 'tag:staging', '--exclude', 'stg_refunds', '--format', 'json'], dir);
    expect(staging.code, staging.stderr).toBe(0);
    expect(names(staging.stdout)).toEqual(['stg_customers', 'stg_orders', 'stg_payments']);
    // Seeds are nodes of the DAG: what orders reads goes down to them.
    const upstream = cli(['ls', '+orders', '--format', 'json'], dir);
    expect(upstream.code, upstream.stderr).toBe(0);
    expect(names(upstream.stdout).sort()).toEqual(['orders', 'raw_orders', 'raw_payments', 'stg_orders', 'stg_payments', 'stg_refunds']);
    const ls = JSON.parse(cli(['ls', 'order_status', 'orders', '--format', 'json'], dir).stdout) as { model: string; materialize: string; tags: string; file: string }[];
    expect(ls).toEqual([
      { model: 'orders', materialize: 'table', runs: 'yes', reads: 'stg_orders, stg_payments, stg_refunds', tags: 'marts', file: 'models/marts/orders.sql' },
      // Before its first build an incremental model is built whole.
      { model: 'order_status', materialize: 'table', runs: 'yes', reads: 'orders', tags: 'marts', file: 'models/marts/order_status.sql' },
    ]);
  });

  it('compiles Jinja to the SQL the engine receives: loops, macros of the project and of a package, vars, env vars', () => {
    const dir = copyProject();
    const result = cli(['compile', '--project', dir, '--select', 'orders', 'customers', 'stg_payments', '--format', 'json', '--vars', '{payment_methods: [credit_card, paypal]}'], REPO, {
      SHOP_CURRENCY: 'EUR',
    });
    expect(result.code, result.stderr).toBe(0);
    const sql = Object.fromEntries((JSON.parse(result.stdout) as { model: string; sql: string }[]).map((c) => [c.model, c.sql]));
    expect(sql.orders).toContain(`sum(case when payment_method = 'paypal' then amount else 0 end) as paypal_amount,`);
    // loop.last: no comma after the last method's column.
    expect(sql.orders).toMatch(/coalesce\(order_payments\.paypal_amount, 0\) as paypal_amount\s*,\s*coalesce\(order_payments\.total_amount/);
    expect(sql.orders).not.toContain('bank_transfer');
    expect(sql.orders).toContain('from "stg_orders"');
    expect(sql.stg_payments).toContain('round(amount / 100.0, 2) as amount');
    expect(sql.customers).toContain('case when per_customer.number_of_orders = 0 then null else per_customer.customer_lifetime_value / per_customer.number_of_orders end');
    expect(sql.customers).toContain(`'EUR' as currency`);
    expect(sql.customers).toContain(`'dev' as built_for`);
    for (const text of Object.values(sql)) expect(text).not.toMatch(/\{\{|\{%|\{#/);
    // A selection that picks nothing prints nothing and says so.
    const none = cli(['compile', '--project', dir, '--select', 'tag:nosuch'], REPO);
    expect(none.code).toBe(0);
    expect(none.stdout.trim()).toBe('');
    expect(none.stderr).toContain('nothing selected: no model matches the selection');
  });

  it('loads seeds as any other load: a row that does not fit its column type fails the seed with its file and line, and nothing of it commits', () => {
    const dir = copyProject();
    const seed = path.join(dir, 'seeds', 'raw_orders.csv');
    const lines = readFileSync(seed, 'utf8').split('\n');
    lines[7] = lines[7]!.replace(/^7,\d+,/, '7,nineteen,');
    writeFileSync(seed, lines.join('\n'));
    const project = path.join(dir, 'dbt_project.yml');
    writeFileSync(project, readFileSync(project, 'utf8').replace('        status: varchar(20)', '        status: varchar(20)\n        user_id: integer'));
    const result = cli(['seed', '--project', dir, '--format', 'json']);
    expect(result.code).toBe(1);
    // The failure says where the seed's refused rows are, as a load's does.
    const run = /seed raw_orders: look at them with `tributary quarantine --run ([\w-]+)`/.exec(result.stderr)?.[1];
    expect(run, result.stderr).toBeDefined();
    // dbt gives a seed no limit of refused rows to raise: the advice is the seed's own.
    expect(result.stderr).toContain(`fix those rows in seeds/raw_orders.csv, or give the column the type its values have (the seed's column_types`);
    expect(result.stderr).not.toContain('maxQuarantined');
    expect((JSON.parse(cli(['quarantine', '--project', dir, '--run', run!, '--format', 'json']).stdout) as { line: number }[]).map((r) => r.line)).toEqual([8]);
    const outcome = Object.fromEntries((JSON.parse(result.stdout) as { node: string; type: string; status: string }[]).map((r) => [r.node, r.status]));
    // The project's on-run-start and on-run-end run around the seeds, as dbt runs them.
    expect(outcome).toEqual({ raw_customers: 'success', raw_orders: 'error', raw_payments: 'success', 'shop-on-run-start-0': 'success', 'shop-on-run-end-0': 'success' });
    const quarantine = cli(['quarantine', '--project', dir, '--all', '--format', 'json']);
    const rows = JSON.parse(quarantine.stdout) as { model: string; file: string; line: number; column_name: string }[];
    expect(rows.map((r) => ({ model: r.model, file: r.file, line: r.line, column: r.column_name }))).toEqual([{ model: 'raw_orders', file: seed, line: 8, column: 'user_id' }]);
    expect(cli(['sql', '--project', dir, 'select count(*) from raw_orders']).code).toBe(1);
    expect(cli(['sql', '--project', dir, 'select count(*) AS n from raw_payments', '--format', 'json']).stdout).toContain('"n":"54"');
  });

  it('names a seed column_types entry the engine does not know at the seed, before a template\'s query meets it in the engine\'s words', () => {
    const dir = copyProject();
    const project = path.join(dir, 'dbt_project.yml');
    writeFileSync(project, readFileSync(project, 'utf8').replace('        status: varchar(20)', '        status: varchr(20)'));
    const result = cli(['seed', '--project', dir, '--select', 'raw_orders']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("seeds/raw_orders.csv field column_types.status: 'varchr(20)' is no type the engine knows (Catalog Error: Type with name varchr does not exist!");
    expect(result.stderr).toContain("in the seed's column_types (dbt_project.yml or its properties file)");
    expect(result.stderr).not.toContain('sources.seed__raw_orders');
  });

  it('fails the node whose template\'s query fails while it renders, naming its file and the query, and builds the rest, as dbt does', () => {
    const dir = copyProject();
    writeFileSync(path.join(dir, 'models', 'asks.sql'), `{% set r = run_query("select nosuchcol from " ~ ref('raw_orders')) %}\nselect 1 as one\n`);
    writeFileSync(path.join(dir, 'models', 'reads_asks.sql'), `select one from {{ ref('asks') }}\n`);
    // An ephemeral model fails too, though nothing of it runs: what inlines it is skipped, not failed in the engine's words.
    writeFileSync(path.join(dir, 'models', 'eph.sql'), `{{ config(materialized='ephemeral') }}{% if execute %}{{ exceptions.raise_compiler_error("it's not ready") }}{% endif %}\nselect 1 as one\n`);
    writeFileSync(path.join(dir, 'models', 'reads_eph.sql'), `select one from {{ ref('eph') }}\n`);
    const result = cli(['build', '--project', dir, '--select', '+asks+', '+stg_customers', '+reads_eph', '--format', 'json']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${path.join(dir, 'models', 'asks.sql')}: a query this template runs while it renders failed: Binder Error: Referenced column "nosuchcol" not found`);
    expect(result.stderr).toMatch(/→ model asks: the query \(run_query, statement, get_columns_in_relation\) runs in the warehouse as the template writes it: select nosuchcol from /);
    const nodes = Object.fromEntries((JSON.parse(result.stdout) as { node: string; status: string; detail: string }[]).map((n) => [n.node, n]));
    expect(nodes.asks!.status).toBe('error');
    expect(nodes.reads_asks).toMatchObject({ status: 'skipped', detail: "it reads 'asks', which failed" });
    expect(nodes.eph!.status).toBe('error');
    expect(nodes.eph!.detail).toContain("a template raised an error: it's not ready");
    expect(nodes.reads_eph).toMatchObject({ status: 'skipped', detail: "it reads 'eph', which failed" });
    // What the failed node does not read still builds.
    expect(nodes.stg_customers!.status).toBe('success');
    expect(nodes.raw_orders!.status).toBe('success');
    // Compiling it says why it has no SQL.
    const compiled = cli(['compile', '--project', dir, 'asks']);
    expect(compiled.code).toBe(1);
    expect(compiled.stderr).toContain('a query this template runs while it renders failed');
  });

  it('names a model whose SQL the engine refuses at the model\'s file, where it named dbt_project.yml', () => {
    const dir = copyProject();
    writeFileSync(path.join(dir, 'models', 'broken.sql'), `select nosuch from {{ ref('raw_orders') }}\n`);
    const result = cli(['build', '--project', dir, '--select', '+broken']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`model broken (${path.join(dir, 'models', 'broken.sql')}: model 'broken' failed: Binder Error: Referenced column "nosuch" not found`);
  });

  it('refuses a seed whose header names a column twice (in any case) or leaves one unnamed, at its file and line 1; reads one a spreadsheet saved (BOM, CRLF)', () => {
    const dir = copyProject();
    const seed = path.join(dir, 'seeds', 'twice.csv');
    for (const [header, expected] of [
      ['id,ID,name', "the seed's header names column 'ID' twice (columns 1 and 2)\n  → give each column a name of its own in the header line"],
      ['id,name,', "column 3 of the seed's header has no name\n  → name every column in the header line"],
    ]) {
      writeFileSync(seed, `${header}\n1,2,a\n`);
      const result = cli(['seed', '--project', dir, '--select', 'twice']);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`${seed}:1: ${expected}`);
    }
    // A spreadsheet's CSV: a byte-order mark before the header, CRLF endings, a quoted comma.
    writeFileSync(seed, '\uFEFFid,name\r\n1,ann\r\n2,"b,c"\r\n');
    expect(cli(['seed', '--project', dir, '--select', 'twice']).code).toBe(0);
    expect(JSON.parse(cli(['sql', '--project', dir, '--format', 'json', 'select id::INT AS id, name from twice order by id']).stdout)).toEqual([
      { id: 1, name: 'ann' },
      { id: 2, name: 'b,c' },
    ]);
  });

  it('shows the first rows a model computes now, writing nothing; one model at a time', () => {
    const dir = copyProject();
    const build = cli(['build', '--select', '+orders', '--format', 'json'], dir);
    expect(build.code).toBe(0);
    // A view defines a query and keeps no rows: its detail says so, where it said "0 row(s)".
    const details = Object.fromEntries((JSON.parse(build.stdout) as { node: string; detail: string }[]).map((r) => [r.node, r.detail]));
    expect([details.stg_orders, details.orders]).toEqual(['view: defined', 'table: 48 row(s)']);
    const runs = () => (JSON.parse(cli(['runs', '--format', 'json'], dir).stdout) as unknown[]).length;
    const before = runs();
    const shown = cli(['show', 'orders', '--limit', '3', '--format', 'json'], dir);
    expect(shown.code, shown.stderr).toBe(0);
    const rows = JSON.parse(shown.stdout) as { order_id: number; amount: number }[];
    expect(rows).toHaveLength(3);
    // The rows the model's SQL computes are the built table's rows.
    const built = JSON.parse(cli(['sql', `SELECT order_id, amount FROM orders WHERE order_id IN (${rows.map((r) => r.order_id).join(', ')})`, '--format', 'json'], dir).stdout) as { order_id: number; amount: number }[];
    expect(built.sort((a, b) => a.order_id - b.order_id)).toEqual(rows.map(({ order_id, amount }) => ({ order_id, amount })).sort((a, b) => a.order_id - b.order_id));
    expect(runs()).toBe(before);
    const several = cli(['show', 'stg_*'], dir);
    expect(several.code).toBe(1);
    expect(several.stderr).toContain('show previews one model; the selection picks stg_customers, stg_orders, stg_payments, stg_refunds');
  });

  it('writes to the DuckDB file of the profile target --target names', () => {
    const dir = copyProject();
    const result = cli(['seed', '--project', dir, '--target', 'other']);
    expect(result.code, result.stderr).toBe(0);
    expect(existsSync(path.join(dir, 'other.duckdb'))).toBe(true);
    expect(existsSync(path.join(dir, 'shop.duckdb'))).toBe(false);
    const unknown = cli(['seed', '--project', dir, '--target', 'prod']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("profile 'shop' has no target 'prod'");
    expect(unknown.stderr).toContain('dev, other');
  });

  it('takes a tributary.config.ts beside dbt_project.yml, whose checks name dbt models', () => {
    const dir = copyProject();
    writeFileSync(
      path.join(dir, 'tributary.config.ts'),
      `import { defineProject } from 'tributary';\n\nexport default defineProject({\n  name: 'shop',\n  checks: [{ test: 'min_rows', table: 'orders', min: 100 }],\n});\n`,
    );
    expect(cli(['seed', '--project', dir]).code).toBe(0);
    const run = cli(['run', '--project', dir, '--quiet']);
    // 48 orders: the config's own check on the dbt model fails the run.
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('check min_rows(orders)');
    expect(run.stderr).toMatch(/✔ order_status \(table\)/);
  });

  it('says which var a model lacks, at its line, and which seeds a run needs loaded first', () => {
    const dir = copyProject();
    const run = cli(['run', '--project', dir, '--quiet']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('the models read seeds that are not loaded yet: raw_customers, raw_orders, raw_payments');
    expect(run.stderr).toContain('tributary seed');
    const file = path.join(dir, 'models', 'staging', 'stg_orders.sql');
    const text = readFileSync(file, 'utf8');
    const line = text.split('\n').findIndex((l) => l.includes('min_order_date')) + 1;
    writeFileSync(file, text.replace('min_order_date', 'min_order_day'));
    const ls = cli(['ls', '--project', dir]);
    expect(ls.code).toBe(1);
    expect(ls.stderr).toContain(`${file}:${line}: var('min_order_day') has no value and no default`);
    expect(ls.stderr).toContain(`--vars '{min_order_day: …}'`);
  });

  it('renders range() as dbt’s Jinja sandbox does: a step down works, a zero step or a range past 100,000 items is an error at its model, not a crash', () => {
    const dir = copyProject();
    const model = path.join(dir, 'models', 'staging', 'loop.sql');
    const compile = (range: string) => {
      writeFileSync(model, `select {% for i in ${range} %}{{ i }}, {% endfor %}0 as x\n`);
      return cli(['compile', 'loop', '--project', dir]);
    };
    const down = compile('range(10, 0, -3)');
    expect(down.code, down.stderr).toBe(0);
    expect(down.stdout).toContain('select 10, 7, 4, 1, 0 as x');
    // dbt: "Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000)."; a range of 10^9 items crashed Node.
    const big = compile('range(1000000000)');
    expect(big.code).toBe(1);
    expect(big.stderr).toContain(`${model}:1: the Jinja of models/staging/loop.sql could not be rendered: range too big: 1,000,000,000 items, and dbt's Jinja sandbox allows at most 100,000`);
    const zero = compile('range(0, 10, 0)');
    expect(zero.code).toBe(1);
    expect(zero.stderr).toContain('range() arg 3 must not be zero');
  });
});

describe('a dbt snapshot', () => {
  it('is built by `snapshot` and `build`, never by `run`; a query whose unique key repeats is refused and the history kept', () => {
    const dir = copyProject();
    expect(cli(['seed', '--project', dir]).code).toBe(0);
    const run = cli(['run', '--project', dir, '--quiet'], dir);
    expect(run.code, run.stderr).toBe(0);
    // A table's rows, or its absence.
    const rows = (table: string) => {
      const result = cli(['sql', '--project', dir, '--format', 'json', `SELECT count(*) AS n FROM ${table}`]);
      return result.code === 0 ? Number((JSON.parse(result.stdout) as { n: number }[])[0]!.n) : result.stderr;
    };
    expect(rows('orders_snapshot')).toContain('orders_snapshot');
    const first = cli(['snapshot', '--project', dir, 'orders_snapshot', 'customer_activity']);
    expect(first.code, first.stderr).toBe(0);
    expect(rows('customer_activity')).toBe(15);
    const versions = rows('orders_snapshot');
    expect(versions).toBe(25);
    // The same order twice in the query: which version is current would be a guess.
    const file = path.join(dir, 'snapshots', 'orders_snapshot.sql');
    writeFileSync(file, readFileSync(file, 'utf8').replace("from {{ ref('stg_orders') }}\nwhere", "from {{ ref('stg_orders') }}, (values (1), (2)) as twice(n)\nwhere"));
    const second = cli(['snapshot', '--project', dir, '--vars', '{until: "2024-03-31"}', 'orders_snapshot']);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain("the snapshot's unique key (order_id) is not unique in its query");
    expect(second.stderr).toContain('(2 rows)');
    expect(rows('orders_snapshot')).toBe(versions);
  });
});

describe('an incremental model', () => {
  it('with a strategy Tributary does not know, or merge without a unique_key, is refused on its first build, before anything runs (dbt finds out on the run after)', () => {
    const dir = copyProject();
    expect(cli(['seed', '--project', dir]).code).toBe(0);
    const file = path.join(dir, 'models', 'marts', 'misspelt.sql');
    for (const [config, expected] of [
      ["materialized='incremental', unique_key='order_id', incremental_strategy='delete_insert'", "model 'misspelt' asks for incremental_strategy 'delete_insert', which Tributary does not run yet\n  → incremental strategies: append, merge, delete+insert, microbatch"],
      ["materialized='incremental', incremental_strategy='merge'", "model 'misspelt' uses incremental_strategy 'merge' without a unique_key\n  → add unique_key='<column>' to its config"],
    ]) {
      writeFileSync(file, `{{ config(${config}) }}\nselect order_id from {{ ref('stg_orders') }}\n`);
      const build = cli(['build', '--project', dir, '--select', 'misspelt']);
      expect(build.code).toBe(1);
      expect(build.stderr).toContain(`${file}: ${expected}`);
      expect(cli(['sql', '--project', dir, 'select count(*) from misspelt']).code).toBe(1);
    }
  });
});

describe('on_schema_change', () => {
  it("'fail' refuses a run whose model lost a column, naming it, and writes nothing; --full-refresh rebuilds the table", () => {
    const dir = copyProject();
    const file = path.join(dir, 'models', 'marts', 'order_sizes.sql');
    writeFileSync(file, readFileSync(file, 'utf8').replace("on_schema_change='sync_all_columns'", "on_schema_change='fail'"));
    expect(cli(['seed', '--project', dir]).code).toBe(0);
    const first = cli(['run', '--project', dir, '--quiet', '+order_sizes']);
    expect(first.code, first.stderr).toBe(0);
    const count = () => (JSON.parse(cli(['sql', '--project', dir, '--format', 'json', 'SELECT count(*)::INT AS n, count(whole_dollars)::INT AS w FROM order_sizes']).stdout) as { n: number; w: number }[])[0];
    expect(count()).toEqual({ n: 25, w: 25 });
    const vars = '{until: "2024-03-31"}';
    const refused = cli(['run', '--project', dir, '--quiet', '--vars', vars, 'order_sizes']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("the columns of model 'order_sizes' no longer match its table (gone: whole_dollars), and its on_schema_change is 'fail'");
    expect(refused.stderr).toContain('--full-refresh');
    expect(count()).toEqual({ n: 25, w: 25 });
    const rebuilt = cli(['run', '--project', dir, '--quiet', '--vars', vars, '--full-refresh', '+order_sizes']);
    expect(rebuilt.code, rebuilt.stderr).toBe(0);
    const after = cli(['sql', '--project', dir, '--format', 'json', 'SELECT count(*)::INT AS n FROM order_sizes']);
    expect(JSON.parse(after.stdout)).toEqual([{ n: 48 }]);
  });
});

describe('a template that reads the warehouse while it renders', () => {
  it('may query it (run_query, statement, get_columns_in_relation) but never change it', () => {
    const dir = copyProject();
    const file = path.join(dir, 'models', 'marts', 'daily_revenue.sql');
    writeFileSync(file, `{% call statement('sneaky') %}create table sneaky as select 1 as x{% endcall %}\n${readFileSync(file, 'utf8')}`);
    const build = cli(['build', '--project', dir, '--select', '+daily_revenue']);
    expect(build.code).toBe(1);
    expect(build.stderr).toContain(`${file}`);
    expect(build.stderr).toContain("statement('sneaky') would change the warehouse while a template renders: create table sneaky");
    // Refused as the project loads, before the warehouse is opened: nothing reached it.
    expect(existsSync(path.join(dir, 'shop.duckdb'))).toBe(false);
  });
});

describe('show --inline', () => {
  it('previews a query of your own with refs and macros, writing nothing; a ref to no model is named', () => {
    const dir = copyProject();
    expect(cli(['seed', '--project', dir]).code).toBe(0);
    expect(cli(['run', '--project', dir, '--quiet', '+orders']).code).toBe(0);
    const shown = cli(['show', '--project', dir, '--format', 'json', '--limit', '2', '--inline', "select status, count(*)::INT as n, {{ cents_to_dollars('250') }} as fee from {{ ref('orders') }} group by all order by n desc, status"]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(JSON.parse(shown.stdout)).toEqual([
      { status: 'completed', n: 22, fee: 2.5 },
      { status: 'return_pending', n: 9, fee: 2.5 },
    ]);
    const missing = cli(['show', '--project', dir, '--inline', "select * from {{ ref('nope') }}"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("ref('nope') names no model or seed of this project");
  });
});

describe('run_query while a model renders', () => {
  it('answers one select only: a second statement hidden after it is refused and never runs', () => {
    const dir = copyProject();
    const file = path.join(dir, 'models', 'marts', 'daily_revenue.sql');
    expect(cli(['seed', '--project', dir]).code).toBe(0);
    writeFileSync(file, `{% if execute %}{% set r = run_query("select 1; drop table raw_orders") %}{% endif %}\n${readFileSync(file, 'utf8')}`);
    const build = cli(['build', '--project', dir, '--select', '+daily_revenue']);
    expect(build.code).toBe(1);
    expect(build.stderr).toContain('a template asked the warehouse something other than one select while rendering (Only SELECT statements can be serialized to json!): select 1; drop table raw_orders');
    const kept = cli(['sql', '--project', dir, '--format', 'json', 'SELECT count(*)::INT AS n FROM raw_orders']);
    expect(kept.code, kept.stderr).toBe(0);
    expect(JSON.parse(kept.stdout)).toEqual([{ n: 48 }]);
  });
});

describe('what dbt_utils and other packages ask of the context', () => {
  it('names the node (`model`), its database (`target.database`), keys a dict by a relation, and finds a relation this node refs before it is built', () => {
    const dir = copyProject();
    writeFileSync(
      path.join(dir, 'models', 'context.sql'),
      `{{ config(materialized='table') }}{% set by_relation = {} %}{% do by_relation.update({ref('raw_orders'): []}) %}
{% set found = load_relation(ref('stg_orders')) %}
select '{{ model.name }}' as name, '{{ model.package_name }}' as package, '{{ model.unique_id }}' as unique_id,
  '{{ model.config.materialized }}' as materialized, '{{ target.database }}' as database,
  {{ by_relation | length }} as keys, {{ 'true' if found is not none else 'false' }} as found
`,
    );
    const compiled = cli(['compile', '--project', dir, '--select', 'context', '--format', 'json']);
    expect(compiled.code, compiled.stderr).toBe(0);
    const { sql } = (JSON.parse(compiled.stdout) as { sql: string }[])[0]!;
    expect(sql).toContain(`'context' as name, 'shop' as package, 'model.shop.context' as unique_id`);
    expect(sql).toContain(`'table' as materialized, 'shop' as database`);
    // stg_orders is not built yet, but it is by the time this model runs: dbt finds it then.
    expect(sql).toContain('1 as keys, true as found');
  });

  it("stops before anything runs when packages.yml asks for a package dbt_packages/ does not hold, as dbt does, saying how to install it", () => {
    const dir = copyProject();
    writeFileSync(path.join(dir, 'packages.yml'), 'packages:\n  - local: dbt_packages/shop_utils\n  - package: dbt-labs/dbt_utils\n    version: 1.3.0\n');
    const result = cli(['build', '--project', dir]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${path.join(dir, 'packages.yml')}: packages.yml asks for 2 package(s) (dbt_packages/shop_utils, dbt-labs/dbt_utils), but dbt_packages/ holds 1`);
    expect(result.stderr).toContain('install them with `dbt deps`');
    expect(existsSync(path.join(dir, 'shop.duckdb'))).toBe(false);
    writeFileSync(path.join(dir, 'packages.yml'), 'packages:\n  - local: dbt_packages/shop_utils\n');
    const listed = cli(['ls', '--project', dir, 'stg_orders', '--format', 'json']);
    expect(listed.code, listed.stderr).toBe(0);
  });
});

describe("dbt's relation names: schemas and aliases", () => {
  it("puts each node where the project's own generate_schema_name says, as a view of Tributary's table, in the profile target's schema", async () => {
    const dir = copyProject();
    // A naming many teams use: a custom schema as it is, the target's schema otherwise.
    writeFileSync(
      path.join(dir, 'macros', 'generate_schema_name.sql'),
      '{% macro generate_schema_name(custom_schema_name, node) -%}{{ custom_schema_name | trim if custom_schema_name else target.schema }}{%- endmacro %}\n',
    );
    writeFileSync(path.join(dir, 'profiles.yml'), readFileSync(path.join(dir, 'profiles.yml'), 'utf8').replace('path: shop.duckdb', 'path: shop.duckdb\n      schema: analytics'));
    const build = cli(['build', '--project', dir, '--select', '+payment_mix', '+status_summary']);
    expect(build.code, build.stderr).toBe(0);
    const found = await readRelations(path.join(dir, 'shop.duckdb'));
    expect(found).toEqual(
      expect.arrayContaining([
        'analytics.customer_status_summary VIEW',
        'analytics.orders VIEW',
        'analytics.raw_orders VIEW',
        'main.payment_mix BASE TABLE',
        'main.status_summary BASE TABLE',
        'utils.payment_mix VIEW',
      ]),
    );
    // Nothing of the project lands beside dbt's names: the models' own names are in main only.
    expect(found.filter((r) => r.startsWith('analytics.status_summary') || r.startsWith('analytics.payment_mix'))).toEqual([]);
    const rows = await readRows(path.join(dir, 'shop.duckdb'), 'SELECT (SELECT count(*) FROM utils.payment_mix) = (SELECT count(*) FROM main.payment_mix) AND (SELECT count(*) FROM main.payment_mix) > 0 AS same');
    expect(rows).toEqual([{ same: true }]);
  });

  it('refuses two nodes that would be one relation, and a node in the schema of Tributary’s own records, before anything runs', () => {
    const dir = copyProject();
    const file = path.join(dir, 'models', 'marts', 'status_summary.sql');
    writeFileSync(file, readFileSync(file, 'utf8').replace("alias='customer_status_summary'", "alias='orders'"));
    const clash = cli(['build', '--project', dir]);
    expect(clash.code).toBe(1);
    expect(clash.stderr).toContain("'status_summary' and 'orders' would both be main.orders");
    expect(clash.stderr).toContain('another alias or schema');
    writeFileSync(file, readFileSync(file, 'utf8').replace("alias='orders'", "schema='x', alias='x'"));
    writeFileSync(path.join(dir, 'macros', 'generate_schema_name.sql'), "{% macro generate_schema_name(custom_schema_name, node) -%}tributary{%- endmacro %}\n");
    const metastore = cli(['build', '--project', dir]);
    expect(metastore.code).toBe(1);
    expect(metastore.stderr).toContain("'tributary' cannot be its schema");
    expect(existsSync(path.join(dir, 'shop.duckdb'))).toBe(false);
  });
});

describe('a dbt unit test', () => {
  it('that fails shows the rows that differ and skips its model; one naming no column of its input is an error', () => {
    const dir = copyProject();
    const schema = path.join(dir, 'models', 'marts', 'schema.yml');
    const text = readFileSync(schema, 'utf8');
    const again = text.slice(text.indexOf('  - name: customers_add_up_their_orders'), text.indexOf('  - name: order_status_rereads_its_last_week')).replace('customers_add_up_their_orders', 'customers_again');
    writeFileSync(schema, text.replace('number_of_orders: 2, customer_lifetime_value: 30.0', 'number_of_orders: 3, customer_lifetime_value: 30.0') + again);
    const build = cli(['build', '--project', dir, '--select', '+customers', '--format', 'json']);
    expect(build.code).toBe(1);
    const results = JSON.parse(build.stdout) as { node: string; type: string; status: string; detail: string }[];
    const unit = results.find((r) => r.node === 'customers_add_up_their_orders');
    expect(unit?.status).toBe('fail');
    expect(unit?.detail).toContain('2 row(s) differ');
    expect(unit?.detail).toContain('expected, not output: {"customer_id":1,"first_name":"Ada","number_of_orders":3');
    expect(unit?.detail).toContain('output, not expected: {"customer_id":1,"first_name":"Ada","number_of_orders":2');
    expect(results.find((r) => r.node === 'customers')).toMatchObject({ status: 'skipped', detail: 'unit test customers_add_up_their_orders failed' });
    // As dbt's build: the model's unit tests after the one that failed are skipped with it.
    expect(results.find((r) => r.node === 'customers_again')).toMatchObject({ status: 'skipped', detail: 'unit test customers_add_up_their_orders of customers did not pass' });
    // Its parents were built, and its own table never was.
    const tables = cli(['sql', '--project', dir, '--format', 'json', "SELECT count(*)::INT AS n FROM orders"]);
    expect(tables.code, tables.stderr).toBe(0);
    expect(cli(['sql', '--project', dir, 'SELECT * FROM customers']).stderr).toContain("no table 'customers'");

    writeFileSync(schema, text.replace('{customer_id: 2, first_name: Brian}', '{customer_id: 2, first_nam: Brian}'));
    const typo = cli(['test', '--project', dir, '--select', 'customers', '--format', 'json']);
    expect(typo.code).toBe(1);
    const error = (JSON.parse(typo.stdout) as { node: string; status: string; detail: string }[]).find((r) => r.node === 'customers_add_up_their_orders');
    expect(error?.status).toBe('error');
    expect(error?.detail).toContain("models/marts/schema.yml: unit test customers_add_up_their_orders, input ref('stg_customers'): first_nam is no column here");

    // A 64-bit id as a bare YAML number would be rounded: refused, naming the row and column.
    writeFileSync(schema, text.replace('{customer_id: 2, first_name: Brian}', '{customer_id: 9007199254740993, first_name: Brian}'));
    const wide = cli(['test', '--project', dir]);
    expect(wide.code).toBe(1);
    expect(wide.stderr).toContain("unit test 'customers_add_up_their_orders': customer_id 9007199254740992 is past 2^53");
    expect(wide.stderr).toContain('given[0].rows[1].customer_id');

    // A model whose template leaves no SQL once it runs (execute is true in a unit test) is an error that says so.
    writeFileSync(path.join(dir, 'models', 'marts', 'empty_when_run.sql'), "{% if not execute %}select 1 as x{% endif %}\n");
    writeFileSync(schema, `${text}  - name: empty_when_run_is_refused\n    model: empty_when_run\n    given: []\n    expect:\n      rows: [{x: 1}]\n`);
    const empty = cli(['test', '--project', dir, '--select', 'empty_when_run', '--format', 'json']);
    expect(empty.code).toBe(1);
    expect((JSON.parse(empty.stdout) as { node: string; status: string; detail: string }[]).find((r) => r.node === 'empty_when_run_is_refused')).toMatchObject({
      status: 'error',
      detail: expect.stringContaining("unit test 'empty_when_run_is_refused': 'empty_when_run' renders to no SQL with the test's inputs and overrides"),
    });

    // is_incremental is overridden by a boolean, as dbt requires, or the project does not load.
    writeFileSync(schema, text.replace('macros: {is_incremental: true}', "macros: {is_incremental: 'yes'}"));
    const notBoolean = cli(['test', '--project', dir]);
    expect(notBoolean.code).toBe(1);
    expect(notBoolean.stderr).toContain(`unit test 'order_status_rereads_its_last_week': overrides.macros.is_incremental is "yes", not true or false`);

    // A unit test of a model that is not there is refused as the project loads, not skipped.
    writeFileSync(schema, text.replace('    model: customers\n', '    model: customer\n'));
    const lost = cli(['test', '--project', dir]);
    expect(lost.code).toBe(1);
    expect(lost.stderr).toContain("unit test 'customers_add_up_their_orders' tests 'customer', which is no model of this project");
  });
});

describe('dbt hooks', () => {
  it('run around each node and the command; a post-hook that fails fails its model, and what reads it is skipped', () => {
    const dir = copyProject();
    const file = path.join(dir, 'models', 'marts', 'orders.sql');
    writeFileSync(file, readFileSync(file, 'utf8').replace("'post: ' || count(*) from {{ this }}", "'post' from no_such_table"));
    const build = cli(['build', '--project', dir, '--select', '+customers', '--format', 'json']);
    expect(build.code).toBe(1);
    const results = JSON.parse(build.stdout) as { node: string; status: string; detail: string }[];
    expect(results.find((r) => r.node === 'orders')).toMatchObject({ status: 'error' });
    expect(results.find((r) => r.node === 'orders')?.detail).toContain("a post-hook of 'orders' failed");
    expect(results.find((r) => r.node === 'customers')).toMatchObject({ status: 'skipped', detail: "it reads 'orders', which failed" });
    // The pre-hook, the folder's post-hook (before the model's own, as dbt orders them) and the command's end ran.
    // Unlike dbt, which runs hooks inside the model's transaction, their rows stay: hooks run around the model's commit.
    const log = JSON.parse(cli(['sql', '--project', dir, '--format', 'json', 'SELECT node, stage FROM hook_log ORDER BY ALL']).stdout) as { node: string; stage: string }[];
    expect(log).toEqual([
      { node: '(run)', stage: 'end' },
      { node: 'orders', stage: 'marts folder' },
      { node: 'orders', stage: 'pre' },
    ]);
  });

  it('a table or view a post-hook drops is gone from the catalog too, and is not made again when the workspace reopens', () => {
    const dir = copyProject();
    const marts = path.join(dir, 'models', 'marts');
    writeFileSync(path.join(marts, 'scratch_view.sql'), `{{ config(materialized='view', post_hook="{% do adapter.drop_relation(this) %}") }}\nselect 1 as x\n`);
    writeFileSync(path.join(marts, 'scratch_table.sql'), `{{ config(post_hook='drop table {{ this }}') }}\nselect 2 as y\n`);
    writeFileSync(path.join(marts, 'kept_view.sql'), `{{ config(materialized='view') }}\nselect 3 as z\n`);
    const build = cli(['build', '--project', dir, '--select', 'scratch_view', 'scratch_table', 'kept_view', '--format', 'json']);
    expect(build.code, build.stderr).toBe(0);
    expect((JSON.parse(build.stdout) as { node: string; status: string }[]).filter((r) => r.node.includes('_view') || r.node.includes('_table'))).toEqual([
      expect.objectContaining({ node: 'kept_view', status: 'success' }),
      expect.objectContaining({ node: 'scratch_table', status: 'success' }),
      expect.objectContaining({ node: 'scratch_view', status: 'success' }),
    ]);
    // Each command opens the workspace again, which makes the catalog's views.
    for (const name of ['scratch_view', 'scratch_table']) expect(cli(['sql', '--project', dir, `SELECT * FROM ${name}`]).stderr).toContain(`no table '${name}'`);
    expect(JSON.parse(cli(['sql', '--project', dir, '--format', 'json', 'SELECT z FROM kept_view']).stdout)).toEqual([{ z: 3 }]);
    const listed = (JSON.parse(cli(['catalog', '--project', dir, '--format', 'json']).stdout) as { table: string }[]).map((t) => t.table);
    expect(listed).toContain('kept_view');
    expect(listed).not.toContain('scratch_view');
    expect(listed).not.toContain('scratch_table');
    // Built again, each is made, registered and dropped again.
    expect(cli(['build', '--project', dir, '--select', 'scratch_view']).code).toBe(0);
    expect(cli(['sql', '--project', dir, 'SELECT * FROM scratch_view']).stderr).toContain("no table 'scratch_view'");
    // A model reading it is told the table was dropped, and by what, not to build it first.
    writeFileSync(path.join(marts, 'reads_scratch.sql'), `select y from {{ ref('scratch_table') }}\n`);
    const reader = cli(['build', '--project', dir, '--select', 'reads_scratch']);
    expect(reader.code).toBe(1);
    expect(reader.stderr).toContain("model 'reads_scratch' reads model 'scratch_table', which was dropped after it was built");
    expect(reader.stderr).toContain("scratch_table dropped by a post-hook of 'scratch_table'");
  });
});
