import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO, cli, tempDir } from './helpers.js';
import { requireService } from './services.js';

/**
 * dbt itself is the oracle: the same dbt project, copied twice, is built by dbt (dbt-duckdb) in
 * one folder and by Tributary's CLI in the other; every table must hold the same columns, types
 * and rows, and every test must come out the same (pass, warn, fail, skipped).
 */

const FIXTURE = path.join(REPO, 'test', 'fixtures', 'dbt', 'shop');
const DBT = path.join(REPO, '.tools', 'venv', 'bin', 'dbt');

/** A fresh copy of the fixture, without anything a previous build left in it. */
function copyProject(): string {
  const dir = path.join(tempDir('tributary-dbt-'), 'shop');
  cpSync(FIXTURE, dir, { recursive: true, filter: (src) => !/(^|\/)(target|logs|\.tributary)$|\.duckdb(\.wal)?$/.test(src) });
  return dir;
}

function dbt(args: string[], cwd: string): { code: number; output: string } {
  const result = spawnSync(DBT, [...args, '--profiles-dir', '.'], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, DBT_SEND_ANONYMOUS_USAGE_STATS: 'false', DO_NOT_TRACK: '1', NO_COLOR: '1' },
  });
  return { code: result.status ?? -1, output: `${result.stdout}${result.stderr}` };
}

/** Every table and view of the main schema, with its columns and its rows in a fixed order. */
async function snapshot(file: string, schema = 'main'): Promise<Record<string, { kind: string; columns: string[]; rows: unknown[] }>> {
  const instance = await DuckDBInstance.create(file, { access_mode: 'READ_ONLY' });
  const connection = await instance.connect();
  try {
    // dbt's views keep a source file's path as written, relative to the folder dbt ran in.
    await connection.run(`SET file_search_path = '${path.dirname(file)}'`);
    const read = async (sql: string) => (await connection.runAndReadAll(sql)).getRowObjectsJson() as Record<string, unknown>[];
    const tables = await read(
      `SELECT table_name AS name, table_type AS kind FROM information_schema.tables WHERE table_schema = '${schema}' AND NOT starts_with(table_name, '__') ORDER BY 1`,
    );
    const out: Record<string, { kind: string; columns: string[]; rows: unknown[] }> = {};
    for (const t of tables) {
      const name = String(t.name);
      const described = await read(`DESCRIBE ${schema}."${name}"`);
      const columns = described.map((c) => `${String(c.column_name)} ${String(c.column_type)}`);
      out[name] = { kind: String(t.kind), columns, rows: await read(`SELECT ${described.map((c) => runTimeMasked(String(c.column_name))).join(', ')} FROM ${schema}."${name}" ORDER BY ALL`) };
    }
    return out;
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

type Relations = Record<string, { kind: string; columns: string[]; rows: unknown[] }>;

/**
 * Templates that read the warehouse the way dbt_utils' macros do (union_relations, equality,
 * not_accepted_values, get_column_values), written for this test: a dict keyed by relations,
 * set() compared in any order, a test that asks for columns when its turn comes with a fail_calc
 * of its own, an argument named `values`, a test on an ephemeral model, load_relation, `model`
 * and `target.database`, a model whose query fails (alone), one that raises an error only when it
 * runs (alone too), a singular test over literals, one
 * switched off in its file, properties of a model that does not exist, a post-hook that drops
 * its own table through the adapter, tests (dbt_expectations-like) with nested lists and Jinja
 * in their arguments, a fail_calc in their config and an `enabled` template, a unit test
 * fixture under tests/fixtures, unit tests that override a package's macro, expect no rows,
 * or meet an error raised only when a template runs, and a package's own unit test.
 */
function addWarehouseReaders(dir: string): void {
  const files: Record<string, string> = {
    'macros/reads_warehouse.sql': `{% macro column_names(relation) %}
  {% if not execute %}{{ return([]) }}{% endif %}
  {{ return(adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list) }}
{% endmacro %}

{% macro union_of(relations) %}
  {%- set columns_of = {} -%}
  {%- for relation in relations -%}{%- do columns_of.update({relation: column_names(relation)}) -%}{%- endfor -%}
  {%- set shared = columns_of[relations[0]] -%}
  {%- for relation in relations %}
  select '{{ relation.name }}' as came_from, '{{ relation.render() }}' as relation, {{ shared | join(', ') }} from {{ relation }}
  {% if not loop.last %}union all{% endif %}
  {%- endfor %}
{% endmacro %}
`,
    'tests/generic/same_rows.sql': `{% test same_rows(model, compare_model) %}
{{ config(fail_calc = 'coalesce(sum(difference), 0)') }}
{% if not execute %}{{ return('') }}{% endif %}
{% if set(column_names(model)) != set(column_names(compare_model)) %}
  {{ exceptions.raise_compiler_error(compare_model ~ ' has other columns than ' ~ model) }}
{% endif %}
{% set columns = column_names(model) | join(', ') %}
select count(*) as difference from (
  (select {{ columns }} from {{ model }} except all select {{ columns }} from {{ compare_model }})
  union all
  (select {{ columns }} from {{ compare_model }} except all select {{ columns }} from {{ model }})
) differences
{% endtest %}
`,
    'tests/generic/rows_within.sql': `{% test rows_within(model, bounds, label) %}
select '{{ label }}' as label, count(*) as n from {{ model }}
having not ({% for bound in bounds %}count(*) between {{ bound[0] }} and {{ bound[1] }}{% if not loop.last %} or {% endif %}{% endfor %})
{% endtest %}
`,
    'tests/generic/none_of.sql': `{% test none_of(model, column_name, values) %}
select {{ column_name }} from {{ model }}
where {{ column_name }} in ({% for value in values %}'{{ value }}'{% if not loop.last %}, {% endif %}{% endfor %})
{% endtest %}
`,
    'models/checks/orders_three.sql': `{{ config(materialized='table') }}\nselect order_id, status, amount from {{ ref('orders') }}\n`,
    'models/checks/orders_three_again.sql': `{{ config(materialized='view') }}\nselect amount, status, order_id from {{ ref('orders') }}\n`,
    'models/checks/orders_ephemeral.sql': `{{ config(materialized='ephemeral') }}\nselect order_id, status from {{ ref('orders') }}\n`,
    'models/checks/orders_union.sql': `{{ config(materialized='table') }}\n{{ union_of([ref('orders_three'), ref('orders_three_again')]) }}\n`,
    'models/checks/context_echo.sql': `{{ config(materialized='table') }}
{% set found = load_relation(ref('orders_three')) %}
select '{{ model.name }}' as name, '{{ model.unique_id }}' as unique_id, '{{ target.database }}' as database,
  {{ 'true' if found is not none else 'false' }} as found_orders_three
`,
    'models/checks/asks_nothing.sql': `{{ config(materialized='table') }}\n{% set answer = run_query('select no_such_column from ' ~ ref('orders_three')) %}\nselect 1 as one\n`,
    'models/checks/reads_asks.sql': `{{ config(materialized='table') }}\nselect one from {{ ref('asks_nothing') }}\n`,
    'models/checks/raises_when_run.sql': `{{ config(materialized='table') }}\n{% if execute %}{{ exceptions.raise_compiler_error('raised only when it runs') }}{% endif %}\nselect 1 as one\n`,
    'models/checks/scratch.sql': `{{ config(materialized='table') }}\nselect 1 as x\n`,
    'models/checks/bounded_orders.sql': `{{ config(materialized='table') }}
{% set lowest = shop_utils.single_value('select min(order_id) from ' ~ ref('orders_three'), default=0) %}
select order_id from {{ ref('orders_three') }} where order_id > {{ lowest }}
`,
    'models/checks/needs_execute.sql': `{{ config(materialized='table') }}
{% if execute and var('refuse_when_run', false) %}{{ exceptions.raise_compiler_error('refused when it runs') }}{% endif %}
select order_id from {{ ref('orders_three') }}
`,
    'models/checks/unit_tests.yml': `unit_tests:
  - name: bounded_orders_by_package_macro
    model: bounded_orders
    overrides:
      macros:
        shop_utils.single_value: 2
    given:
      - input: ref('orders_three')
        rows: [{order_id: 1}, {order_id: 2}, {order_id: 3}]
    expect:
      rows: [{order_id: 3}]
  - name: bounded_orders_of_none
    model: bounded_orders
    overrides:
      macros:
        shop_utils.single_value: 0
    given:
      - input: ref('orders_three')
        rows: []
    expect:
      rows: []
  - name: needs_execute_refuses
    model: needs_execute
    overrides:
      vars: {refuse_when_run: true}
    given:
      - input: ref('orders_three')
        rows: [{order_id: 1}]
    expect:
      rows: [{order_id: 1}]
`,
    'models/checks/checks.yml': `version: 2
models:
  - name: orders_three
    data_tests:
      - same_rows:
          compare_model: ref('orders_three_again')
  - name: orders_union
    data_tests:
      - rows_within:
          bounds: [[1, 10], [90, 100]]
          label: "{{ target.name }}"
          config:
            fail_calc: "count(*) * 2"
            enabled: "{{ target.type == 'duckdb' }}"
      - rows_within:
          bounds: [[1, 10]]
          label: never
          config:
            enabled: "{{ target.type == 'bigquery' }}"
  - name: orders_ephemeral
    columns:
      - name: status
        data_tests:
          - none_of:
              values: ['lost', 'stolen']
  - name: scratch
    config:
      post_hook: "{% do adapter.drop_relation(this.incorporate(type='table')) %}"
  - name: ghost
    columns:
      - name: id
        data_tests: [not_null]
`,
    'tests/literal_check.sql': `select 1 as found where 1 = 1\n`,
    'tests/switched_off.sql': `{{ config(enabled = false) }}\nselect * from {{ ref('no_such_model') }}\n`,
    // A package's own unit test, which dbt runs with the project's.
    'dbt_packages/shop_utils/models/unit_tests.yml': `unit_tests:
  - name: payment_mix_shares
    model: payment_mix
    given:
      - input: ref('stg_payments')
        rows:
          - {payment_method: coupon, amount: 10}
          - {payment_method: coupon, amount: 60}
          - {payment_method: credit_card, amount: 5}
    expect:
      rows:
        - {payment_method: coupon, payments: 2, large_payments: 1}
        - {payment_method: credit_card, payments: 1, large_payments: 0}
`,
    // Given rows a unit test may name (fixture:), no test of its own.
    'tests/fixtures/given_orders.sql': `select 1 as order_id where 1 = 1\n`,
  };
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), text);
  }
}


/**
 * Nodes the fixture has dbt build under another name (an alias) or in another schema (a package's
 * `+schema`), by their dbt relation; their relation must be the only difference in the schemas.
 */
const ELSEWHERE: Record<string, string> = { status_summary: 'customer_status_summary', payment_mix: 'main_utils.payment_mix' };

/** The main schema and the package's schema (its names prefixed), as a dbt user reads them. */
async function relations(file: string): Promise<Relations> {
  const utils = Object.entries(await snapshot(file, 'main_utils')).map(([name, relation]) => [`main_utils.${name}`, relation] as const);
  return { ...(await snapshot(file)), ...Object.fromEntries(utils) };
}

/**
 * Tributary's warehouse seen by dbt's names: a node built elsewhere is a view at its dbt relation
 * over Tributary's table of the node's name, which must hold the same rows; the view stands for it.
 */
function asDbtNames(ours: Relations): Relations {
  const out = { ...ours };
  for (const [node, relation] of Object.entries(ELSEWHERE)) {
    const { [node]: table, [relation]: view } = out;
    expect(table?.kind, `${node} is Tributary's table`).toBe('BASE TABLE');
    expect(view?.kind, `${relation} is a view of ${node}`).toBe('VIEW');
    expect(view?.rows).toEqual(table?.rows);
    delete out[node];
    out[relation] = { ...table! };
  }
  return out;
}

/** dbt's relations (its warehouse file, or what it held earlier) and Tributary's, seen by dbt's names, have the same columns and rows. */
async function expectSameRelations(dbt: string | Relations, ourFile: string): Promise<{ theirs: Relations; ours: Relations }> {
  const theirs = typeof dbt === 'string' ? await relations(dbt) : dbt;
  const ours = asDbtNames(await relations(ourFile));
  expect(Object.keys(ours).sort()).toEqual(Object.keys(theirs).sort());
  for (const name of Object.keys(theirs)) expect({ name, ...ours[name] }).toEqual({ name, ...theirs[name] });
  return { theirs, ours };
}

/**
 * A snapshot's columns that hold the time of the run that wrote them (the fixture's own times are
 * all before 2025) differ between any two builds: compared as "the run's time", the rest as they are.
 */
const SNAPSHOT_TIMES = new Set(['dbt_updated_at', 'dbt_valid_from', 'dbt_valid_to']);
function runTimeMasked(column: string): string {
  const runTime = (c: string) => `${c} >= TIMESTAMP '2025-01-01'`;
  if (SNAPSHOT_TIMES.has(column)) return `CASE WHEN ${runTime(column)} THEN 'the run''s time' ELSE CAST(${column} AS VARCHAR) END AS ${column}`;
  if (column === 'dbt_scd_id') return `CASE WHEN ${runTime('dbt_valid_from')} THEN 'a hash of the run''s time' ELSE dbt_scd_id END AS dbt_scd_id`;
  return `"${column}"`;
}

type Outcome = { type: string; key: string; status: string };

/** dbt's outcome of each node, from its run_results.json and manifest.json, keyed as Tributary keys them. */
function dbtOutcomes(dir: string): Outcome[] {
  const results = JSON.parse(readFileSync(path.join(dir, 'target', 'run_results.json'), 'utf8')) as { results: { unique_id: string; status: string }[] };
  type Node = { name: string; resource_type: string; column_name?: string | null; attached_node?: string | null; test_metadata?: { name: string } };
  const manifest = JSON.parse(readFileSync(path.join(dir, 'target', 'manifest.json'), 'utf8')) as { nodes: Record<string, Node>; unit_tests: Record<string, Node> };
  return results.results.map((r) => {
    const node = manifest.nodes[r.unique_id] ?? manifest.unit_tests[r.unique_id]!;
    if (node.resource_type !== 'test') return { type: node.resource_type, key: node.name, status: r.status };
    const kind = node.test_metadata?.name ?? 'singular';
    const key = kind === 'singular' ? `singular:${node.name}` : `${kind}:${manifest.nodes[node.attached_node!]!.name}:${node.column_name ?? ''}`;
    return { type: 'test', key, status: r.status };
  });
}

function tributaryOutcomes(json: string): Outcome[] {
  const results = JSON.parse(json) as { node: string; type: string; status: string; test?: string; model?: string; column?: string }[];
  return results.map((r) => ({
    type: r.type,
    key: r.type !== 'test' ? r.node : r.test === 'singular' ? `singular:${r.node}` : `${r.test}:${r.model}:${r.column ?? ''}`,
    status: r.status,
  }));
}

const sorted = (outcomes: Outcome[]) => outcomes.map((o) => `${o.type} ${o.key} → ${o.status}`).sort();

const canRun = await requireService('dbt, the oracle of the dbt-project tests (bash .ci/python-tools.sh installs it in .tools/venv)', async () => {
  if (!existsSync(DBT)) throw new Error(`${DBT} not found`);
  const version = spawnSync(DBT, ['--version'], { encoding: 'utf8' });
  if (version.status !== 0) throw new Error(`dbt --version failed: ${version.stderr}`);
});

describe.runIf(canRun)('a dbt project built by dbt and by Tributary', () => {
  let dbtDir: string;
  let ourDir: string;
  let dbtBuild: { code: number; output: string };
  let dbtBuildOutcomes: Outcome[];
  let dbtBuilt: Relations;
  let ourBuild: { code: number; stdout: string; stderr: string };

  beforeAll(async () => {
    dbtDir = copyProject();
    ourDir = copyProject();
    dbtBuild = dbt(['build'], dbtDir);
    // Read now: each later dbt command rewrites run_results.json, and adds to the hooks' log.
    dbtBuildOutcomes = dbtOutcomes(dbtDir);
    dbtBuilt = await relations(path.join(dbtDir, 'shop.duckdb'));
    ourBuild = cli(['build', '--project', ourDir, '--format', 'json']);
  });

  it('fails the build the way dbt does: one test fails, one warns, what reads the failed test’s model is skipped', () => {
    expect(dbtBuild.code, dbtBuild.output).toBe(1);
    expect(ourBuild.code, ourBuild.stderr).toBe(1);
    const ours = sorted(tributaryOutcomes(ourBuild.stdout));
    expect(ours).toEqual(sorted(dbtBuildOutcomes));
    // The fixture exercises each outcome, so an equality of two all-pass lists proves nothing less.
    expect(ours).toContain('test not_null:customer_emails:email → fail');
    expect(ours).toContain('test accepted_values:stg_payments:payment_method → warn');
    expect(ours).toContain('model email_domains → skipped');
    expect(ours).toContain('test singular:assert_order_amounts_match_payments → pass');
    // warn_if/error_if: three failing rows are above warn_if (>2), below error_if (>5).
    expect(ours).toContain('test not_null:stg_customers:email → warn');
    // A singular test's own config(severity='warn').
    expect(ours).toContain('test singular:assert_few_orders_in_welcome_fortnight → warn');
    expect(ours).toContain('test is_positive:stg_payments:amount → pass');
    // Unit tests: given rows as mappings, CSV and SQL, overridden env vars, vars and is_incremental().
    expect(ours).toContain('unit_test customers_add_up_their_orders → pass');
    expect(ours).toContain('unit_test order_status_rereads_its_last_week → pass');
  });

  it('writes the same tables and views, cell by cell, in the schemas and under the aliases dbt uses, with the rows its hooks add', async () => {
    const { ours } = await expectSameRelations(dbtBuilt, path.join(ourDir, 'shop.duckdb'));
    expect(Object.keys(ours)).toEqual(
      expect.arrayContaining(['raw_orders', 'stg_payments', 'orders', 'customers', 'order_status', 'daily_revenue', 'order_events', 'orders_by_year', 'customer_status_summary', 'main_utils.payment_mix', 'hook_log']),
    );
    // on-run-end, the orders model's own pre- and post-hooks and its folder's post-hook each left their row.
    expect(ours.hook_log!.rows).toEqual(expect.arrayContaining([{ node: '(run)', stage: 'end' }, { node: 'orders', stage: 'pre' }, { node: 'orders', stage: 'post: 48' }, { node: 'orders', stage: 'marts folder' }]));
  });

  it('keeps each test’s failing rows as dbt does with --store-failures: the same tables, names and rows', async () => {
    const theirs = dbt(['test', '--store-failures'], dbtDir);
    expect(theirs.code, theirs.output).toBe(1);
    const ours = cli(['test', '--project', ourDir, '--store-failures']);
    expect(ours.code, ours.stderr).toBe(1);
    expect(ours.stderr).toContain('3 failing row(s), kept in main_dbt_test__audit.not_null_customer_emails_email');
    const theirTables = await snapshot(path.join(dbtDir, 'shop.duckdb'), 'main_dbt_test__audit');
    const ourTables = await snapshot(path.join(ourDir, 'shop.duckdb'), 'main_dbt_test__audit');
    expect(Object.keys(ourTables)).toEqual(Object.keys(theirTables));
    expect(Object.keys(ourTables)).toEqual(expect.arrayContaining(['not_null_customer_emails_email', 'accepted_values_stg_payments_af430a532a48c5ae92583a7a51fb90f7']));
    for (const name of Object.keys(theirTables)) expect({ name, ...ourTables[name] }).toEqual({ name, ...theirTables[name] });
    // Read back where a user would: the SQL lab reads the audit schema.
    const read = cli(['sql', '--project', ourDir, '--format', 'json', 'SELECT count(*)::INT AS n FROM main_dbt_test__audit.not_null_customer_emails_email']);
    expect(JSON.parse(read.stdout)).toEqual([{ n: 3 }]);
  });

  it('renders what reads the warehouse as dbt does: a test when its turn comes, a node whose query fails alone, dicts keyed by relations, set(), ephemeral models under test', async () => {
    const theirDir = copyProject();
    const ourDir2 = copyProject();
    addWarehouseReaders(theirDir);
    addWarehouseReaders(ourDir2);
    const theirs = dbt(['build'], theirDir);
    expect(theirs.code, theirs.output).toBe(1);
    const ours = cli(['build', '--project', ourDir2, '--format', 'json']);
    expect(ours.code, ours.stderr).toBe(1);
    const outcomes = sorted(tributaryOutcomes(ours.stdout));
    expect(outcomes).toEqual(sorted(dbtOutcomes(theirDir)));
    // Each case came out as written, so the equality above is not two lists missing the same nodes.
    expect(outcomes).toEqual(
      expect.arrayContaining([
        'test same_rows:orders_three: → pass',
        'test none_of:orders_ephemeral:status → pass',
        'model orders_union → success',
        'model asks_nothing → error',
        'model raises_when_run → error',
        'model reads_asks → skipped',
        'model scratch → success',
        'test singular:literal_check → fail',
        // A failing test over literals reads no node: nothing after it was skipped for it.
        'model customers → success',
      ]),
    );
    // A package's macro overridden by its namespaced name; an expectation of no rows; a template that raises only when it runs (execute is true in a unit test) errors and skips its model.
    expect(outcomes).toEqual(
      expect.arrayContaining([
        'unit_test bounded_orders_by_package_macro → pass',
        'unit_test bounded_orders_of_none → pass',
        'unit_test needs_execute_refuses → error',
        'model needs_execute → skipped',
        'unit_test payment_mix_shares → pass',
      ]),
    );
    expect(outcomes).toContain('test rows_within:orders_union: → pass');
    expect(outcomes.filter((o) => o.includes('rows_within'))).toHaveLength(1);
    expect(outcomes.join('\n')).not.toMatch(/ghost|switched_off|given_orders|orders_ephemeral →/);
    // Each generic test is named as dbt names it (its store_failures table): package first, nested arguments as Python prints them.
    const manifest = JSON.parse(readFileSync(path.join(theirDir, 'target', 'manifest.json'), 'utf8')) as { nodes: Record<string, { resource_type: string; alias: string; test_metadata?: unknown }> };
    const ran = JSON.parse(readFileSync(path.join(theirDir, 'target', 'run_results.json'), 'utf8')) as { results: { unique_id: string }[] };
    const dbtTestNames = ran.results.flatMap((r) => manifest.nodes[r.unique_id] ?? []).filter((n) => n.resource_type === 'test' && n.test_metadata).map((n) => n.alias).sort();
    const ourTestNames = (JSON.parse(ours.stdout) as { node: string; type: string; test?: string }[]).filter((n) => n.type === 'test' && n.test !== 'singular').map((n) => n.node).sort();
    expect(ourTestNames).toEqual(dbtTestNames);
    expect(ourTestNames).toContain('rows_within_orders_union__1_10____90_100____target_name_');
    expect(ours.stderr).toContain("models/checks/checks.yml describes 'ghost', which is no model, seed or snapshot of this project");
    const { ours: tables } = await expectSameRelations(path.join(theirDir, 'shop.duckdb'), path.join(ourDir2, 'shop.duckdb'));
    expect(tables.context_echo!.rows).toEqual([{ name: 'context_echo', unique_id: 'model.shop.context_echo', database: 'shop', found_orders_three: true }]);
    expect(tables.orders_union!.rows).toHaveLength(2 * tables.orders_three!.rows.length);
    expect(tables.scratch).toBeUndefined();
  });

  it('builds two nodes at a time with --threads 2 to the same outcomes and tables', async () => {
    const dir = copyProject();
    const build = cli(['build', '--project', dir, '--threads', '2', '--format', 'json']);
    expect(build.code, build.stderr).toBe(1);
    expect(sorted(tributaryOutcomes(build.stdout))).toEqual(sorted(dbtBuildOutcomes));
    await expectSameRelations(dbtBuilt, path.join(dir, 'shop.duckdb'));
  });

  it('runs incremental models on as dbt does: append, merge, delete+insert and microbatch over what the first build kept', async () => {
    const vars = '{until: "2024-03-31"}';
    const theirRun = dbt(['run', '--vars', vars], dbtDir);
    expect(theirRun.code, theirRun.output).toBe(0);
    const ourRun = cli(['run', '--project', ourDir, '--vars', vars, '--quiet']);
    expect(ourRun.code, ourRun.stderr).toBe(0);
    const { ours } = await expectSameRelations(path.join(dbtDir, 'shop.duckdb'), path.join(ourDir, 'shop.duckdb'));
    // The merge kept the first build's as_of for orders outside its one-week window, so the
    // comparison above covers rows each strategy kept, replaced and added.
    const asOf = new Set((ours.order_status!.rows as { as_of: string }[]).map((r) => r.as_of));
    expect([...asOf].sort()).toEqual(['2024-02-15', '2024-03-31']);
    expect(ours.order_events!.rows).toHaveLength(48);
  });

  it('records history as dbt snapshots do: timestamp and check strategies, hard deletes invalidated or recorded, a snapshot declared in YAML', async () => {
    const vars = '{until: "2024-03-31"}';
    const theirs0 = await snapshot(path.join(dbtDir, 'shop.duckdb'));
    const theirSnapshot = dbt(['snapshot', '--vars', vars], dbtDir);
    expect(theirSnapshot.code, theirSnapshot.output).toBe(0);
    const ourSnapshot = cli(['snapshot', '--project', ourDir, '--vars', vars, '--format', 'json']);
    expect(ourSnapshot.code, ourSnapshot.stderr).toBe(0);
    expect(sorted(tributaryOutcomes(ourSnapshot.stdout))).toEqual(sorted(dbtOutcomes(dbtDir)));
    const theirs = await snapshot(path.join(dbtDir, 'shop.duckdb'));
    const ours = await snapshot(path.join(ourDir, 'shop.duckdb'));
    for (const name of ['orders_snapshot', 'customer_activity', 'order_status_history']) {
      expect({ name, ...ours[name] }).toEqual({ name, ...theirs[name] });
      // The second snapshot changed each one, so equal tables compare versions closed and added.
      expect(ours[name]!.rows.length, name).toBeGreaterThan(theirs0[name]!.rows.length);
    }
    type Version = { order_id?: number; customer_id?: number; status?: string; dbt_valid_to: string | null; dbt_is_deleted?: string };
    const orders = ours.orders_snapshot!.rows as Version[];
    // Order 1 (2024-01-01) left the eight-week window: its only version closed at the run's time.
    expect(orders.filter((v) => v.order_id === 1).map((v) => v.dbt_valid_to)).toEqual(["the run's time"]);
    // An order placed in the week before 2024-02-15 settled later: 'placed' closed, its final status current.
    const settled = orders.filter((v) => v.status === 'placed' && v.dbt_valid_to !== null && v.dbt_valid_to !== "the run's time");
    expect(settled.length).toBeGreaterThan(0);
    const activity = ours.customer_activity!.rows as Version[];
    expect(activity.some((v) => v.dbt_is_deleted === 'True')).toBe(true);
  });

  it('rebuilds incremental models whole with --full-refresh, as dbt does', async () => {
    const vars = '{until: "2024-03-31"}';
    const theirRun = dbt(['run', '--full-refresh', '--vars', vars, '--select', 'order_status', 'daily_revenue'], dbtDir);
    expect(theirRun.code, theirRun.output).toBe(0);
    const ourRun = cli(['run', '--project', ourDir, '--full-refresh', '--vars', vars, '--select', 'order_status', 'daily_revenue', '--quiet']);
    expect(ourRun.code, ourRun.stderr).toBe(0);
    const { ours } = await expectSameRelations(path.join(dbtDir, 'shop.duckdb'), path.join(ourDir, 'shop.duckdb'));
    const asOf = new Set((ours.order_status!.rows as { as_of: string }[]).map((r) => r.as_of));
    expect([...asOf]).toEqual(['2024-03-31']);
  });
});

describe('Jinja that cannot be rendered', () => {
  it('names the file and line of a macro that does not exist, and runs nothing', () => {
    const dir = copyProject();
    const file = path.join(dir, 'models', 'staging', 'stg_payments.sql');
    const lines = readFileSync(file, 'utf8').split('\n');
    const line = lines.findIndex((l) => l.includes('cents_to_dollars')) + 1;
    expect(line).toBeGreaterThan(1);
    writeFileSync(file, lines.map((l) => l.replace('cents_to_dollars', 'cents_to_euros')).join('\n'));
    const result = cli(['build', '--project', dir]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${file}:${line}`);
    expect(result.stderr).toContain("the macro 'cents_to_euros' does not exist");
    expect(result.stderr).toContain('cents_to_dollars');
    // Refused before the warehouse was opened: no model, no seed reached the engine.
    expect(existsSync(path.join(dir, 'shop.duckdb'))).toBe(false);
  });

  it('refuses SQL that still holds Jinja after rendering', () => {
    const dir = copyProject();
    const file = path.join(dir, 'models', 'marts', 'customer_emails.sql');
    writeFileSync(file, `${readFileSync(file, 'utf8')}\n{% raw %}where {{ forgotten }}{% endraw %}\n`);
    const result = cli(['build', '--project', dir]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(file);
    expect(result.stderr).toContain('still holds Jinja after rendering');
    expect(existsSync(path.join(dir, 'shop.duckdb'))).toBe(false);
  });
});

describe.runIf(canRun)('source freshness, checked by dbt and by Tributary', () => {
  it('gives each source table dbt’s status (error, warn, pass; none for freshness: null) and its newest load', () => {
    const dbtDir = copyProject();
    const ourDir = copyProject();
    const theirs = dbt(['source', 'freshness'], dbtDir);
    expect(theirs.code, theirs.output).toBe(1);
    const ours = cli(['source', 'freshness', '--project', ourDir, '--format', 'json']);
    expect(ours.code).toBe(1);
    expect(ours.stderr).toContain('1 source table(s) are stale or could not be checked: shop_files.refunds (newest row loaded');
    const results = JSON.parse(readFileSync(path.join(dbtDir, 'target', 'sources.json'), 'utf8')) as { results: { unique_id: string; status: string; max_loaded_at: string }[] };
    const expected = results.results.map((r) => ({ table: r.unique_id.split('.').at(-1), status: r.status, max_loaded_at: r.max_loaded_at.slice(0, 19).replace('T', ' ') }));
    const got = (JSON.parse(ours.stdout) as { table: string; status: string; max_loaded_at: string }[]).map((r) => ({ table: r.table, status: r.status, max_loaded_at: r.max_loaded_at }));
    const byTable = (rows: { table?: string }[]) => [...rows].sort((a, b) => String(a.table).localeCompare(String(b.table)));
    expect(byTable(got)).toEqual(byTable(expected));
    expect(got.map((r) => r.status).sort()).toEqual(['error', 'pass', 'warn']);
    // A selection that picks nothing says so (dbt: "does not match any enabled nodes"), not that nothing declares a limit.
    const none = cli(['source', 'freshness', '--project', ourDir, '--select', 'source:nosuch']);
    expect(none.code).toBe(0);
    expect(none.stderr).toMatch(/nothing selected: no source table with a freshness limit matches source:nosuch \(those with one: source:shop_files\.refunds, /);
  });
});
