/**
 * dbt suite (issue 21): `tributary build` against `dbt build` (dbt-core with dbt-duckdb, from
 * .tools/venv, `bash .ci/python-tools.sh`) on the same dbt projects, each peer run in the project
 * folder as its users run it, from a fresh copy each time: wall time and peak memory of the process
 * tree.
 *
 * - shop: test/fixtures/dbt/shop (3 seeds, 13 models with Jinja, a package of macros, 20 tests),
 *   three cold builds each.
 * - generated: a project written here, a Parquet source of BENCH_DBT_ROWS events (default
 *   1,000,000) over the ten days before today, a staging view, BENCH_DBT_MODELS aggregate tables
 *   (default 40) and a microbatch model by day; one cold build each, then the microbatch model
 *   run day by day for each of the ten days (`dbt run --event-time-start/--event-time-end`,
 *   `tributary run --date`). The two peers' tables are compared after each phase (rows and sums).
 */
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { barChartSvg } from '../lib/chart.js';
import { machineInfo } from '../lib/machine.js';
import { runCapture, spawnMeasured, type Measurement } from '../lib/measure.js';
import { MB, formatSeconds, positiveIntegerEnv, type Suite, type SuiteContext } from '../lib/suite.js';

const DAYS = 10;
const DAY_MS = 86_400_000;

interface Row {
  project: string;
  phase: string;
  peer: 'tributary' | 'dbt';
  wallSeconds: number;
  peakRssBytes: number;
  exitCode: number | null;
}

/** The generated project: a Parquet source, a staging view, aggregate tables and a microbatch model. */
async function generate(dir: string, rows: number, models: number, firstDay: string): Promise<void> {
  mkdirSync(join(dir, 'models'), { recursive: true });
  mkdirSync(join(dir, 'data'), { recursive: true });
  writeFileSync(
    join(dir, 'dbt_project.yml'),
    `name: gen\nversion: '1.0.0'\nconfig-version: 2\nprofile: gen\nmodel-paths: ["models"]\nmodels:\n  gen:\n    +materialized: table\n`,
  );
  writeFileSync(join(dir, 'profiles.yml'), `gen:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: gen.duckdb\n      threads: 1\n`);
  writeFileSync(
    join(dir, 'models', 'sources.yml'),
    `version: 2\nsources:\n  - name: raw\n    meta:\n      external_location: "read_parquet('data/{name}.parquet')"\n    tables:\n      - name: events\n`,
  );
  writeFileSync(join(dir, 'models', 'stg_events.sql'), `{{ config(materialized='view', event_time='event_time') }}\nselect event_id, user_id, event_time, kind, amount from {{ source('raw', 'events') }}\n`);
  writeFileSync(
    join(dir, 'models', 'events_by_day.sql'),
    `{{ config(materialized='incremental', incremental_strategy='microbatch', event_time='event_time', batch_size='day', begin='${firstDay}', lookback=0) }}\nselect event_id, user_id, event_time, kind, amount * 2 as amount from {{ ref('stg_events') }}\n`,
  );
  for (let i = 1; i <= models; i++) {
    writeFileSync(
      join(dir, 'models', `agg_${String(i).padStart(3, '0')}.sql`),
      `select kind, user_id % ${i + 6} as bucket, count(*) as events, sum(amount) as amount\nfrom {{ ref('stg_events') }}\nwhere user_id % ${(i % 5) + 2} = 0\ngroup by all\n`,
    );
  }
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  const start = Date.parse(`${firstDay}T00:00:00Z`);
  await connection.run(`COPY (
    SELECT i AS event_id, (hash(i) % 50000)::BIGINT AS user_id,
           to_timestamp(${start / 1000} + (i * ${DAYS * 86_400} // ${rows}))::TIMESTAMP AS event_time,
           ['view', 'cart', 'purchase'][1 + (hash(i * 7) % 3)::INTEGER] AS kind,
           round((hash(i * 13) % 100000) / 100.0, 2)::DECIMAL(12,2) AS amount
    FROM range(${rows}) t(i)) TO '${join(dir, 'data', 'events.parquet')}' (FORMAT parquet)`);
  connection.closeSync();
  instance.closeSync();
}

/**
 * Each table's rows and the sum of its `amount` (where it has one), as a peer's DuckDB file holds
 * them, by dbt's relation names (`schema.name`): dbt's tables, or `names` (Tributary keeps a node
 * built elsewhere, an alias or a custom schema, as a view there over its own table).
 */
async function tablesOf(file: string, names?: readonly string[]): Promise<Record<string, string>> {
  const instance = await DuckDBInstance.create(file, { access_mode: 'READ_ONLY' });
  const connection = await instance.connect();
  const relations =
    names ??
    (
      await connection.runAndReadAll(
        `SELECT table_schema || '.' || table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' AND table_schema <> 'tributary' AND NOT ends_with(table_schema, '_dbt_test__audit') ORDER BY 1`,
      )
    )
      .getRows()
      .map((r) => String(r[0]));
  const out: Record<string, string> = {};
  for (const relation of relations) {
    const [schema, name] = relation.split('.') as [string, string];
    const columns = (await connection.runAndReadAll(`SELECT column_name FROM information_schema.columns WHERE table_schema = '${schema}' AND table_name = '${name}'`)).getRows().map((r) => String(r[0]));
    if (!columns.length) continue;
    const sum = columns.includes('amount') ? `, sum(amount)::VARCHAR` : `, ''`;
    const [row] = (await connection.runAndReadAll(`SELECT count(*)::VARCHAR${sum} FROM "${schema}"."${name}"`)).getRows();
    out[relation] = `${row![0]} rows${row![1] ? `, amount ${row![1]}` : ''}`;
  }
  connection.closeSync();
  instance.closeSync();
  return out;
}

/** The two peers' tables, by dbt's names. */
async function compared(tributaryFile: string, dbtFile: string): Promise<string[]> {
  const theirs = await tablesOf(dbtFile);
  return differences(await tablesOf(tributaryFile, Object.keys(theirs)), theirs);
}

function differences(a: Record<string, string>, b: Record<string, string>): string[] {
  const names = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  return names.filter((n) => a[n] !== b[n]).map((n) => `${n}: tributary ${a[n] ?? 'missing'}, dbt ${b[n] ?? 'missing'}`);
}

async function run(context: SuiteContext): Promise<void> {
  const rows = positiveIntegerEnv('BENCH_DBT_ROWS', 1_000_000);
  const models = positiveIntegerEnv('BENCH_DBT_MODELS', 40);
  const dbt = join(context.root, '.tools', 'venv', 'bin', 'dbt');
  const dbtVersion = (await runCapture(dbt, ['--version'], { cwd: context.root }).catch(() => '')).match(/installed:\s*(\S+)/)?.[1];
  if (!dbtVersion) throw new Error(`no dbt at ${dbt}: run bash .ci/python-tools.sh (dbt-core and dbt-duckdb from PyPI)`);
  context.log('  building Tributary (npm run build)');
  await runCapture('npm', ['run', 'build'], { cwd: context.root });
  const cli = join(context.root, 'bin', 'tributary.js');
  const work = join(context.dataDir, 'work', 'dbt');
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const results: Row[] = [];
  const measure = async (project: string, phase: string, peer: Row['peer'], dir: string, args: string[]): Promise<Measurement> => {
    const logFile = join(work, `${project}-${phase}-${peer}.log`.replace(/\s+/g, '-'));
    const [command, argv] = peer === 'dbt' ? [dbt, args] : [process.execPath, [cli, ...args]];
    const m = await spawnMeasured(command, argv, { cwd: dir, env: { ...process.env, DBT_PROFILES_DIR: dir, FORCE_COLOR: '0', DO_NOT_TRACK: '1' }, logFile, timeoutSeconds: 3600 });
    results.push({ project, phase, peer, wallSeconds: m.wallSeconds, peakRssBytes: m.peakRssBytes, exitCode: m.exitCode });
    context.log(`  ${project}, ${phase}, ${peer}: ${formatSeconds(m.wallSeconds)} s, ${(m.peakRssBytes / MB).toFixed(0)} MB, exit ${m.exitCode}`);
    return m;
  };

  // The shop: a failing test and a warning by design; both peers exit 1 and build the same nodes.
  const shop = join(context.root, 'test', 'fixtures', 'dbt', 'shop');
  const comparisons: string[] = [];
  for (let i = 1; i <= 3; i++) {
    const copies = { tributary: join(work, `shop-tributary-${i}`), dbt: join(work, `shop-dbt-${i}`) };
    for (const [peer, dir] of Object.entries(copies) as [Row['peer'], string][]) {
      cpSync(shop, dir, { recursive: true, filter: (src) => !/(^|\/)(target|logs|\.tributary)$|\.duckdb(\.wal)?$/.test(src) });
      await measure('shop', `cold build ${i}`, peer, dir, ['build']);
    }
    if (i === 1) {
      const diff = await compared(join(copies.tributary, 'shop.duckdb'), join(copies.dbt, 'shop.duckdb'));
      comparisons.push(diff.length ? `shop: ${diff.join('; ')}` : 'shop: every table the same rows and sums');
    }
  }

  // The generated project, its days the ten before today (dbt's microbatch runs every batch from begin to now).
  const today = Date.parse(`${new Date().toISOString().slice(0, 10)}T00:00:00Z`);
  const firstDay = new Date(today - DAYS * DAY_MS).toISOString().slice(0, 10);
  const template = join(work, 'generated-template');
  context.log(`  generating a project of ${models} models over ${rows.toLocaleString('en-US')} events (${firstDay} + ${DAYS} days)`);
  await generate(template, rows, models, firstDay);
  const gen = { tributary: join(work, 'generated-tributary'), dbt: join(work, 'generated-dbt') };
  for (const [peer, dir] of Object.entries(gen) as [Row['peer'], string][]) {
    cpSync(template, dir, { recursive: true });
    const m = await measure('generated', 'cold build', peer, dir, ['build']);
    if (m.exitCode !== 0) throw new Error(`${peer} build of the generated project exited ${m.exitCode}: ${readFileSync(m.logFile, 'utf8').split('\n').slice(-15).join('\n')}`);
  }
  const afterBuild = await compared(join(gen.tributary, 'gen.duckdb'), join(gen.dbt, 'gen.duckdb'));
  comparisons.push(afterBuild.length ? `generated, cold build: ${afterBuild.join('; ')}` : `generated, cold build: all ${models + 1} tables the same rows and sums`);
  for (const peer of ['tributary', 'dbt'] as const) {
    const started = results.length;
    for (let d = 0; d < DAYS; d++) {
      const day = new Date(Date.parse(`${firstDay}T00:00:00Z`) + d * DAY_MS).toISOString().slice(0, 10);
      const next = new Date(Date.parse(`${day}T00:00:00Z`) + DAY_MS).toISOString().slice(0, 10);
      const args = peer === 'dbt' ? ['run', '--select', 'events_by_day', '--event-time-start', day, '--event-time-end', next] : ['run', 'events_by_day', '--date', day, '--quiet'];
      const m = await measure('generated', `day ${day}`, peer, gen[peer], args);
      if (m.exitCode !== 0) throw new Error(`${peer} run of ${day} exited ${m.exitCode}: ${readFileSync(m.logFile, 'utf8').split('\n').slice(-15).join('\n')}`);
    }
    const days = results.splice(started);
    results.push({ project: 'generated', phase: `${DAYS} days, one run each`, peer, wallSeconds: days.reduce((s, r) => s + r.wallSeconds, 0), peakRssBytes: Math.max(...days.map((r) => r.peakRssBytes)), exitCode: 0 });
  }
  const afterDays = await compared(join(gen.tributary, 'gen.duckdb'), join(gen.dbt, 'gen.duckdb'));
  comparisons.push(afterDays.length ? `generated, after the days: ${afterDays.join('; ')}` : 'generated, after the days: every table the same rows and sums');

  const machine = machineInfo();
  writeFileSync(join(context.resultsDir, 'dbt.json'), JSON.stringify({ machine, dbt: dbtVersion, rows, models, results, comparisons }, null, 2));
  const phases = [...new Set(results.map((r) => `${r.project}: ${r.phase}`))];
  const value = (phase: string, peer: Row['peer'], pick: (r: Row) => number) => pick(results.find((r) => `${r.project}: ${r.phase}` === phase && r.peer === peer)!);
  writeFileSync(
    join(context.resultsDir, 'dbt.svg'),
    barChartSvg({
      title: 'tributary build against dbt build (dbt-duckdb), same projects',
      subtitle: `${machine.nproc} cores; dbt ${dbtVersion}; commit ${machine.commit}`,
      categories: phases.map((p) => p.replace('generated: ', 'gen: ')),
      width: 1100,
      series: [
        ...(['tributary', 'dbt'] as const).map((peer) => ({ name: `wall time, ${peer}`, unit: 's', values: phases.map((p) => value(p, peer, (r) => r.wallSeconds)) })),
        ...(['tributary', 'dbt'] as const).map((peer) => ({ name: `peak memory, ${peer}`, unit: 'MB', values: phases.map((p) => value(p, peer, (r) => r.peakRssBytes / MB)) })),
      ],
    }),
  );
  const md = [
    '# tributary build against dbt build',
    '',
    `Machine: ${machine.nproc} cores (${machine.cpuModel}), ${(machine.memoryBytes / 2 ** 30).toFixed(1)} GiB; Node ${machine.node}; DuckDB ${machine.duckdb}; dbt-core ${dbtVersion} with dbt-duckdb. Commit ${machine.commit}, run at ${machine.date}.`,
    '',
    `Command: \`npm run bench -- dbt\`. Each peer runs in a fresh copy of the project folder as its users run it (\`tributary build\` is \`bin/tributary.js\` over dist/; \`dbt build\` with the profile in the folder, one thread for both). The shop (\`test/fixtures/dbt/shop\`) fails one test and warns on others by design: both exit 1 having built the same nodes. The generated project has a Parquet source of ${rows.toLocaleString('en-US')} events over ${DAYS} days, a staging view, ${models} aggregate tables and a microbatch model by day; after its cold build, the microbatch model is run once per day (dbt: \`--event-time-start/--event-time-end\`; Tributary: \`--date\`), the row giving the sum of the ${DAYS} runs' wall times and the largest peak. Peak memory is the process tree's.`,
    '',
    '| project | phase | peer | wall (s) | peak memory (MB) | exit |',
    '|---|---|---|---:|---:|---:|',
    ...results.map((r) => `| ${r.project} | ${r.phase} | ${r.peer} | ${formatSeconds(r.wallSeconds)} | ${(r.peakRssBytes / MB).toFixed(0)} | ${r.exitCode} |`),
    '',
    'The tables compared (rows, and the sum of `amount` where there is one):',
    '',
    ...comparisons.map((c) => `- ${c}`),
    '',
    '![chart](dbt.svg)',
    '',
  ].join('\n');
  writeFileSync(join(context.resultsDir, 'dbt.md'), md);
  context.log(`wrote ${join(context.resultsDir, 'dbt.md')}`);
}

export const dbtSuite: Suite = {
  name: 'dbt',
  description: 'tributary build against dbt build (dbt-duckdb) on the shop fixture and a generated project with a microbatch model run day by day',
  run,
};
