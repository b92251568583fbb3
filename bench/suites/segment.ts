/**
 * Segment suite (issues 10 and 23): a month of generated Segment drops (gzipped JSON lines, 30 ×
 * 1,050,000 events at full size) through the segment-warehouse example's load and fifteen
 * transformations into PostgreSQL, by `tributary run`, by the same SQL run by bare DuckDB then
 * loaded with PostgreSQL's COPY, by dbt-duckdb (the example as a dbt project, then the same COPY)
 * and by PySpark in local mode (bench/peers/segment_spark.py, JDBC into PostgreSQL); then the load
 * alone, reading only the declared columns against reading every field, by Tributary and bare
 * DuckDB. Each step runs alone as a child process, one after another; the bench measures its wall
 * time and the peak memory of its process tree (PostgreSQL's own server processes are not part of
 * it, for any side). Every peer's warehouse tables are compared with Tributary's.
 *
 * The bare-DuckDB peer and the dbt peer's wrapper are this file run as a script (no Tributary code:
 * @duckdb/node-api, pg and pg-copy-streams only):
 *
 *   node --import tsx bench/suites/segment.ts duckdb --spec spec.json --out DIR [--only events] [--all-fields]
 *   node --import tsx bench/suites/segment.ts dbt --spec spec.json --project DIR --out DIR
 *
 * Environment: BENCH_SEGMENT_DAYS (30), BENCH_SEGMENT_EVENTS_PER_DAY (1,050,000); a smaller month
 * writes its results to segment-<days>x<events>.*. BENCH_PG_URL: a PostgreSQL database the bench
 * may create databases from (postgres://root@127.0.0.1:5432/test). BENCH_CLI=source runs
 * Tributary from its TypeScript sources instead of building it first. BENCH_KEEP=1 keeps the
 * output folders and the warehouse databases. BENCH_SEGMENT_STEPS=tributary,duckdb,… runs only the
 * named steps. BENCH_PG_JDBC_JAR: PostgreSQL's JDBC driver for Spark (else the newest in ~/.m2).
 */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { spawn } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { generateSegment } from '../../examples/segment-warehouse/generators/segment.js';
import { barChartSvg } from '../lib/chart.js';
import { machineInfo, pythonPeers } from '../lib/machine.js';
import { runCapture, spawnMeasured, warmPageCache } from '../lib/measure.js';
import { BENCH_PYTHON, installPythonPeers } from '../lib/python-peers.js';
import { MB, formatSeconds, type Suite, type SuiteContext, positiveIntegerEnv } from '../lib/suite.js';
import { modelTimings, phasesSentence } from '../lib/run-records.js';
import type { RunPhase } from '../../src/catalog/index.js';
import { rulesSql, type SourceRule } from '../peers/spec.js';

const PROJECT = 'examples/segment-warehouse';
const SOURCE = 'segment_events';
// The generator's days average a little under their target: 1,050,000 a day makes the month over 30 M events.
const FULL_SIZE = { days: 30, eventsPerDay: 1_050_000 };
const START = '2025-03-01';
const SEED = 42;
const GENERATOR = 'segment/1';
const PG_ADMIN = process.env.BENCH_PG_URL ?? 'postgres://root@127.0.0.1:5432/test';

// ─── the month of drops ──────────────────────────────────────────────────────────────────────

interface MonthSize {
  days: number;
  eventsPerDay: number;
}

function monthSize(): MonthSize {
  return { days: positiveIntegerEnv('BENCH_SEGMENT_DAYS', FULL_SIZE.days), eventsPerDay: positiveIntegerEnv('BENCH_SEGMENT_EVENTS_PER_DAY', FULL_SIZE.eventsPerDay) };
}

interface Drops {
  /** The generator's output folder: `drops/YYYY/MM/DD/*.json.gz` and manifest.json. */
  dir: string;
  lines: number;
  malformed: number;
  bytes: number;
  files: number;
  /** Seconds the generator took, or null when an earlier generation was reused. */
  generatedSeconds: number | null;
}

/** What the bench keeps beside the generator's own manifest, to know a finished generation of this size. */
interface DropsManifest {
  generator: string;
  seed: number;
  start: string;
  days: number;
  eventsPerDay: number;
  lines: number;
  malformed: number;
  bytes: number;
  files: number;
  seconds: number;
}

export function dropFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (folder: string) => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.json.gz')) out.push(path);
    }
  };
  if (existsSync(join(dir, 'drops'))) walk(join(dir, 'drops'));
  return out.sort();
}

/**
 * The month's drops for `size`, generated once and reused: a manifest beside the folder records
 * the size, seed and total bytes it was made with, so a partial or different generation is never
 * reused.
 */
export async function ensureDrops(dataDir: string, size: MonthSize, log: (line: string) => void): Promise<Drops> {
  const dir = join(dataDir, `segment-${size.days}x${size.eventsPerDay}-seed${SEED}`);
  const manifestFile = `${dir}.json`;
  if (existsSync(manifestFile)) {
    const m = JSON.parse(readFileSync(manifestFile, 'utf8')) as DropsManifest;
    const files = dropFiles(dir);
    const bytes = files.reduce((sum, f) => sum + statSync(f).size, 0);
    if (m.generator === GENERATOR && m.seed === SEED && m.start === START && m.days === size.days && m.eventsPerDay === size.eventsPerDay && m.bytes === bytes && m.files === files.length) {
      log(`data: reusing ${relative(process.cwd(), dir)} (${fmtInt(m.lines)} lines, ${(bytes / 1e9).toFixed(2)} GB gzipped)`);
      return { dir, lines: m.lines, malformed: m.malformed, bytes, files: files.length, generatedSeconds: null };
    }
  }
  rmSync(dir, { recursive: true, force: true });
  rmSync(manifestFile, { force: true });
  log(`data: generating ${size.days} days × ${fmtInt(size.eventsPerDay)} events into ${dir}`);
  const started = performance.now();
  let lastLog = 0;
  const result = await generateSegment({
    out: dir,
    seed: SEED,
    days: size.days,
    start: START,
    eventsPerDay: size.eventsPerDay,
    onProgress: (p) => {
      const now = Date.now();
      if (now - lastLog < 10_000) return;
      lastLog = now;
      log(`  generating … ${(p.fraction * 100).toFixed(0)} %, ${fmtInt(p.rows)} lines, ${(p.bytes / 1e9).toFixed(2)} GB`);
    },
  });
  const seconds = (performance.now() - started) / 1000;
  const manifest: DropsManifest = {
    generator: GENERATOR,
    seed: SEED,
    start: START,
    days: size.days,
    eventsPerDay: size.eventsPerDay,
    lines: result.rows,
    malformed: result.malformed,
    bytes: result.bytes,
    files: result.files.length,
    seconds,
  };
  writeFileSync(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
  log(`data: ${fmtInt(result.rows)} lines (${result.malformed} malformed) in ${result.files.length} files, ${(result.bytes / 1e9).toFixed(2)} GB, ${seconds.toFixed(1)} s`);
  return { dir, lines: result.rows, malformed: result.malformed, bytes: result.bytes, files: result.files.length, generatedSeconds: seconds };
}

// ─── what the peer is told ───────────────────────────────────────────────────────────────────

type Materialize = 'lake' | 'table' | 'warehouse';

interface PeerModel {
  name: string;
  /** The model's SQL with its `{{ ref() }}` and `{{ source() }}` placeholders. */
  sql: string;
  materialize: Materialize;
  partitionBy?: Record<string, string>;
}

/** The example as plain JSON for the bare-DuckDB peer, which imports nothing of Tributary. */
interface SegmentSpec {
  /** Glob of every drop file. */
  drops: string;
  memoryLimit: string;
  /** The source's declared columns: table name, JSON key, DuckDB type. */
  columns: { name: string; key: string; type: string }[];
  rules: SourceRule[];
  /** In dependency order. */
  models: PeerModel[];
  /** The database the warehouse tables go to. */
  warehouse: string;
}

interface ExampleConfig {
  engine?: { memoryLimit?: string };
  checks?: { table: string }[];
  sources: Record<string, { json?: { keys?: string }; columns?: Record<string, string>; rules?: SourceRule[] }>;
  models: Record<string, { sql: string; materialize: string | { kind: string }; partitionBy?: Record<string, string> }>;
}

export async function exampleConfig(root: string): Promise<ExampleConfig> {
  return ((await import(pathToFileURL(join(root, PROJECT, 'tributary.config.ts')).href)) as { default: ExampleConfig }).default;
}

const camelCase = (name: string) => name.replace(/_([a-z0-9])/g, (_all, c: string) => c.toUpperCase());
const snakeCase = (key: string) => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const refsOf = (sql: string) => [...sql.matchAll(/\{\{\s*ref\(\s*'(\w+)'\s*\)\s*\}\}/g)].map((m) => m[1]!);

export function peerSpec(root: string, config: ExampleConfig, drops: Drops, warehouse: string): SegmentSpec {
  const source = config.sources[SOURCE]!;
  const keyOf = source.json?.keys === 'camelCase' ? camelCase : (name: string) => name;
  const models = Object.entries(config.models).map(([name, m]): PeerModel => {
    const sql = m.sql.endsWith('.sql') ? readFileSync(join(root, PROJECT, m.sql), 'utf8') : m.sql;
    const materialize: Materialize = m.materialize === 'lake' ? 'lake' : m.materialize === 'table' ? 'table' : 'warehouse';
    return { name, sql, materialize, ...(m.partitionBy ? { partitionBy: m.partitionBy } : {}) };
  });
  // Dependency order: a model after every model it reads.
  const ordered: PeerModel[] = [];
  const visit = (model: PeerModel) => {
    if (ordered.includes(model)) return;
    for (const ref of refsOf(model.sql)) visit(models.find((m) => m.name === ref)!);
    ordered.push(model);
  };
  for (const model of models) visit(model);
  return {
    drops: join(drops.dir, 'drops', '*', '*', '*', '*.json.gz'),
    memoryLimit: config.engine?.memoryLimit ?? '2GB',
    columns: Object.entries(source.columns ?? {}).map(([name, type]) => ({ name, key: keyOf(name), type })),
    rules: source.rules ?? [],
    models: ordered,
    warehouse,
  };
}

// ─── the bare-DuckDB peer (this file as a script) ────────────────────────────────────────────

interface PeerStep {
  model: string;
  materialize: Materialize;
  /** Rows written, where the peer counts them (the bare-DuckDB peer). */
  rows?: number;
  /** DuckDB's time for the model (Parquet, table, or the CSV file for PostgreSQL). */
  seconds: number;
  /** PostgreSQL's COPY of the file, for warehouse tables. */
  copySeconds?: number;
  /** The first attempt ran out of memory; `seconds` is the second's, on one thread. */
  retried?: { failedSeconds: number; error: string };
}

const lit = (value: string) => `'${value.replace(/'/g, "''")}'`;
const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** DuckDB types as the peer declares them in PostgreSQL: text, timestamps, exact numerics, nested values as jsonb. */
function pgType(duck: string): string {
  const t = duck.toUpperCase();
  const decimal = /^DECIMAL\((\d+),\s*(\d+)\)$/.exec(t);
  if (decimal) return `numeric(${decimal[1]},${decimal[2]})`;
  if (/[[\]]|^(STRUCT|MAP|UNION)|^JSON$/.test(t)) return 'jsonb';
  const types: Record<string, string> = {
    VARCHAR: 'text', BIGINT: 'bigint', INTEGER: 'integer', SMALLINT: 'smallint', HUGEINT: 'numeric', DOUBLE: 'double precision', FLOAT: 'real',
    BOOLEAN: 'boolean', DATE: 'date', TIMESTAMP: 'timestamp', 'TIMESTAMP WITH TIME ZONE': 'timestamptz', UUID: 'uuid', INTERVAL: 'interval',
  };
  const found = types[t];
  if (!found) throw new Error(`peer: no PostgreSQL type for ${duck}`);
  return found;
}

/**
 * The drops read by DuckDB's own JSON reader, typed by the declared columns; lines it cannot read
 * come out as rows of NULLs (ignore_errors), which the source's rules then drop. The bare-DuckDB
 * and dbt peers both read the source through it.
 */
export function sourceSql(spec: SegmentSpec): string {
  const declared = `{${spec.columns.map((c) => `${lit(c.key)}: ${lit(c.type)}`).join(', ')}}`;
  const renamed = spec.columns.map((c) => (c.key === c.name ? ident(c.name) : `${ident(c.key)} AS ${ident(c.name)}`)).join(', ');
  return `(SELECT * FROM (SELECT ${renamed} FROM read_json(${lit(spec.drops)}, format = 'newline_delimited', columns = ${declared}, ignore_errors = true)) WHERE ${rulesSql(spec.rules)})`;
}

async function duckdbPeer(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { spec: { type: 'string' }, out: { type: 'string' }, only: { type: 'string' }, 'all-fields': { type: 'boolean' } } });
  if (!values.spec || !values.out) throw new Error('usage: segment.ts duckdb --spec spec.json --out DIR [--only model] [--all-fields]');
  const spec = JSON.parse(readFileSync(values.spec, 'utf8')) as SegmentSpec;
  const out = resolve(values.out);
  const lake = join(out, 'lake');
  mkdirSync(lake, { recursive: true });
  const instance = await DuckDBInstance.create(join(out, 'peer.duckdb'), { memory_limit: spec.memoryLimit, temp_directory: join(out, 'spill') });
  const db = await instance.connect();
  await db.run("SET preserve_insertion_order = false; SET TimeZone = 'UTC'");
  const source = sourceSql(spec);
  const lakeTables = new Set(spec.models.filter((m) => m.materialize === 'lake').map((m) => m.name));
  const render = (sql: string) =>
    sql
      .replace(/\{\{\s*source\(\s*'\w+'\s*\)\s*\}\}/g, source)
      .replace(/\{\{\s*ref\(\s*'(\w+)'\s*\)\s*\}\}/g, (_all, ref: string) =>
        lakeTables.has(ref) ? `read_parquet(${lit(join(lake, ref, '**', '*.parquet'))}, hive_partitioning = true)` : ident(ref),
      );
  const rowsOf = async (sql: string) => Number((await db.runAndReadAll(sql)).getRowObjectsJson()[0]?.Count ?? 0);
  const steps: PeerStep[] = [];

  if (values['all-fields']) {
    // Every field, as DuckDB's reader infers it: `SELECT *` of the raw JSON, which keeps the JSON
    // keys as names; the partition expression names the key of each column it reads.
    const events = spec.models.find((m) => m.name === (values.only ?? 'events'))!;
    const [key, expression] = Object.entries(events.partitionBy ?? {})[0]!;
    const overKeys = spec.columns.reduce((sql, c) => sql.replace(new RegExp(`\\b${c.name}\\b`, 'g'), ident(c.key)), expression);
    const started = performance.now();
    const rows = await rowsOf(
      `COPY (SELECT *, ${overKeys} AS ${ident(key)} FROM read_json(${lit(spec.drops)}, format = 'newline_delimited', ignore_errors = true))
       TO ${lit(join(lake, events.name))} (FORMAT parquet, PARTITION_BY (${ident(key)}))`,
    );
    steps.push({ model: events.name, materialize: 'lake', rows, seconds: (performance.now() - started) / 1000 });
  } else {
    const client = values.only ? undefined : new pg.Client({ connectionString: spec.warehouse });
    await client?.connect();
    for (const model of spec.models) {
      if (values.only && model.name !== values.only) continue;
      const sql = render(model.sql);
      const run = async (): Promise<PeerStep> => {
        const started = performance.now();
        if (model.materialize === 'lake') {
          const names = (await db.runAndReadAll(`DESCRIBE ${sql}`)).getRowObjectsJson().map((r) => String(r.column_name));
          const keys = Object.keys(model.partitionBy ?? {});
          const replaced = keys.filter((k) => names.includes(k));
          const projection = [replaced.length ? `* EXCLUDE (${replaced.map(ident).join(', ')})` : '*', ...Object.entries(model.partitionBy ?? {}).map(([k, e]) => `${e} AS ${ident(k)}`)].join(', ');
          const target = keys.length ? join(lake, model.name) : join(lake, model.name, 'data.parquet');
          mkdirSync(keys.length ? lake : join(lake, model.name), { recursive: true });
          const rows = await rowsOf(`COPY (SELECT ${projection} FROM (${sql})) TO ${lit(target)} (FORMAT parquet${keys.length ? `, PARTITION_BY (${keys.map(ident).join(', ')})` : ''})`);
          return { model: model.name, materialize: 'lake', rows, seconds: (performance.now() - started) / 1000 };
        } else if (model.materialize === 'table') {
          await db.run(`CREATE OR REPLACE TABLE ${ident(model.name)} AS ${sql}`);
          const rows = Number((await db.runAndReadAll(`SELECT count(*) AS n FROM ${ident(model.name)}`)).getRowObjectsJson()[0]!.n);
          return { model: model.name, materialize: 'table', rows, seconds: (performance.now() - started) / 1000 };
        }
        return loadWarehouseTable(db, client!, model.name, sql, out, started);
      };
      const attempted = performance.now();
      try {
        steps.push(await run());
      } catch (error) {
        // What a DuckDB user does when a statement runs out of memory: run it again on one thread,
        // which holds half the operator state. The wasted attempt stays in the step's wall time.
        if (!/out of memory/i.test((error as Error).message)) throw error;
        const failedSeconds = (performance.now() - attempted) / 1000;
        console.error(`[duckdb] ${model.name}: out of memory after ${failedSeconds.toFixed(1)} s with DuckDB's default threads; again with threads = 1`);
        if (model.materialize === 'lake') rmSync(join(lake, model.name), { recursive: true, force: true });
        await db.run('SET threads = 1');
        steps.push({ ...(await run()), retried: { failedSeconds, error: (error as Error).message.split('\n')[0]! } });
        await db.run('RESET threads');
      }
      console.error(`[duckdb] ${model.name}: ${steps.at(-1)!.seconds.toFixed(2)} s${steps.at(-1)!.copySeconds !== undefined ? ` + COPY ${steps.at(-1)!.copySeconds!.toFixed(2)} s` : ''}`);
    }
    await client?.end();
  }
  writeFileSync(join(out, 'steps.json'), `${JSON.stringify(steps, null, 2)}\n`);
  db.closeSync();
  instance.closeSync();
}

/** A model computed by DuckDB into a CSV file, then loaded by PostgreSQL's COPY into a table typed from the model. */
async function loadWarehouseTable(db: DuckDBConnection, client: pg.Client, name: string, sql: string, out: string, started: number): Promise<PeerStep> {
  const columns = (await db.runAndReadAll(`DESCRIBE ${sql}`)).getRowObjectsJson().map((r) => ({ name: String(r.column_name), type: String(r.column_type) }));
  const file = join(out, `${name}.csv`);
  const select = columns.map((c) => (pgType(c.type) === 'jsonb' ? `CAST(to_json(${ident(c.name)}) AS VARCHAR) AS ${ident(c.name)}` : ident(c.name))).join(', ');
  const written = await db.runAndReadAll(`COPY (SELECT ${select} FROM (${sql})) TO ${lit(file)} (FORMAT csv, HEADER false, FORCE_QUOTE *)`);
  const rows = Number(written.getRowObjectsJson()[0]?.Count ?? 0);
  const computed = performance.now();
  await client.query(`DROP TABLE IF EXISTS ${ident(name)}`);
  await client.query(`CREATE TABLE ${ident(name)} (${columns.map((c) => `${ident(c.name)} ${pgType(c.type)}`).join(', ')})`);
  await pipeline(createReadStream(file, { highWaterMark: 1 << 20 }), client.query(copyFrom(`COPY ${ident(name)} FROM STDIN (FORMAT csv)`)));
  rmSync(file, { force: true });
  return { model: name, materialize: 'warehouse', rows, seconds: (computed - started) / 1000, copySeconds: (performance.now() - computed) / 1000 };
}

// ─── the dbt peer (this file as a script, around dbt run) ─────────────────────────────────────

const DBT = join('.tools', 'venv', 'bin', 'dbt');

/**
 * The example as a dbt project for dbt-duckdb, written before the step (untimed): the source is the
 * drops through the bare-DuckDB peer's read_json (sourceSql), each model its own SQL with dbt's
 * `source()`; lake models use dbt-duckdb's external materialization (Parquet, partitioned as the
 * example's partitionBy), pipeline tables are DuckDB tables, and warehouse tables are views that the
 * peer computes into PostgreSQL after `dbt run`, as the bare-DuckDB peer does.
 */
function writeDbtProject(dir: string, spec: SegmentSpec, out: string): void {
  mkdirSync(join(dir, 'models'), { recursive: true });
  writeFileSync(join(dir, 'dbt_project.yml'), `name: segment_bench\nversion: '1.0.0'\nconfig-version: 2\nprofile: segment_bench\nmodel-paths: ["models"]\n`);
  // No temp_directory: dbt-duckdb applies its settings on every new connection, and DuckDB refuses
  // to move the spill folder once a model has spilled; it spills beside dbt.duckdb by default.
  const settings = { memory_limit: spec.memoryLimit, preserve_insertion_order: false, TimeZone: 'UTC' };
  // threads: 1, Tributary's default; DuckDB's own threads stay at its default in both.
  writeFileSync(join(dir, 'profiles.yml'), `segment_bench:\n  target: bench\n  outputs:\n    bench:\n      type: duckdb\n      path: ${JSON.stringify(join(out, 'dbt.duckdb'))}\n      threads: 1\n      settings: ${JSON.stringify(settings)}\n`);
  // oldstyle: dbt-duckdb formats external_location with str.format by default, which takes the declared columns' {…} for a placeholder.
  writeFileSync(
    join(dir, 'models', 'sources.yml'),
    `version: 2\nsources:\n  - name: segment\n    tables:\n      - name: ${SOURCE}\n        meta:\n          formatter: oldstyle\n          external_location: ${JSON.stringify(sourceSql(spec))}\n`,
  );
  for (const model of spec.models) {
    const sql = model.sql.replace(/\{\{\s*source\(\s*'(\w+)'\s*\)\s*\}\}/g, "{{ source('segment', '$1') }}");
    let body = sql;
    let config = `materialized='${model.materialize === 'table' ? 'table' : 'view'}'`;
    if (model.materialize === 'lake') {
      const partition = Object.entries(model.partitionBy ?? {});
      const derived = partition.filter(([key, expression]) => key !== expression);
      if (derived.length) body = `SELECT *, ${derived.map(([key, expression]) => `${expression} AS ${ident(key)}`).join(', ')} FROM (\n${sql}\n)`;
      const location = join(out, 'lake', partition.length ? model.name : `${model.name}.parquet`);
      config = `materialized='external', format='parquet', location=${JSON.stringify(location)}${partition.length ? `, options={'partition_by': '${partition.map(([key]) => key).join(', ')}'}` : ''}`;
    }
    writeFileSync(join(dir, 'models', `${model.name}.sql`), `{{ config(${config}) }}\n${body}\n`);
  }
}

/** `dbt run` of the project, then each warehouse view computed into CSV and loaded by PostgreSQL's COPY. */
async function dbtPeer(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { spec: { type: 'string' }, project: { type: 'string' }, out: { type: 'string' } } });
  if (!values.spec || !values.project || !values.out) throw new Error('usage: segment.ts dbt --spec spec.json --project DIR --out DIR');
  const spec = JSON.parse(readFileSync(values.spec, 'utf8')) as SegmentSpec;
  const out = resolve(values.out);
  const project = resolve(values.project);
  // dbt-duckdb's COPY makes a partitioned model's folder, not its parents.
  mkdirSync(join(out, 'lake'), { recursive: true });
  const dbt = (args: string[]) =>
    new Promise<number | null>((done, fail) => {
      const child = spawn(DBT, [...args, '--project-dir', project, '--profiles-dir', project], { stdio: 'inherit', env: { ...process.env, DO_NOT_TRACK: '1', FORCE_COLOR: '0' } });
      child.on('error', fail);
      child.on('exit', done);
    });
  type RunResult = { unique_id: string; status: string; message: string | null; execution_time: number };
  const runResults = () => (JSON.parse(readFileSync(join(project, 'target', 'run_results.json'), 'utf8')) as { results: RunResult[] }).results.map((r) => ({ ...r, model: r.unique_id.split('.').at(-1)! }));
  const dbtSeconds = new Map<string, number>();
  const retried = new Map<string, PeerStep['retried']>();
  if ((await dbt(['run'])) !== 0) {
    // What a dbt user does when a model runs out of memory: run that model again with DuckDB on one
    // thread (half the operator state), then the models its failure skipped, as configured.
    const first = runResults();
    const failed = first.filter((r) => r.status === 'error');
    if (!failed.length || failed.some((r) => !/out of memory/i.test(r.message ?? ''))) throw new Error(`dbt run failed: ${failed.map((r) => `${r.model}: ${r.message}`).join('; ')}`);
    for (const r of first) if (r.status === 'success') dbtSeconds.set(r.model, r.execution_time);
    const profile = join(project, 'profiles.yml');
    const configured = readFileSync(profile, 'utf8');
    writeFileSync(profile, configured.replace('"memory_limit":', '"threads":1,"memory_limit":'));
    // The project is kept (BENCH_KEEP) and rerun by hand: it must not stay on one thread if dbt cannot start.
    const again = await dbt(['run', '--select', ...failed.map((r) => r.model)]).finally(() => writeFileSync(profile, configured));
    if (again !== 0) throw new Error(`dbt run of ${failed.map((r) => r.model).join(', ')} on one thread exited with ${again}`);
    for (const r of runResults()) {
      dbtSeconds.set(r.model, r.execution_time);
      const failure = failed.find((f) => f.model === r.model)!;
      retried.set(r.model, { failedSeconds: failure.execution_time, error: (failure.message ?? '').split('\n')[0]! });
    }
    const skipped = first.filter((r) => r.status === 'skipped').map((r) => r.model);
    if (skipped.length && (await dbt(['run', '--select', ...skipped])) !== 0) throw new Error(`dbt run of the models skipped after ${failed.map((r) => r.model).join(', ')} failed`);
    if (skipped.length) for (const r of runResults()) dbtSeconds.set(r.model, r.execution_time);
  } else {
    for (const r of runResults()) dbtSeconds.set(r.model, r.execution_time);
  }
  const instance = await DuckDBInstance.create(join(out, 'dbt.duckdb'), { memory_limit: spec.memoryLimit, temp_directory: join(out, 'spill') });
  const db = await instance.connect();
  await db.run("SET preserve_insertion_order = false; SET TimeZone = 'UTC'");
  const client = new pg.Client({ connectionString: spec.warehouse });
  await client.connect();
  const steps: PeerStep[] = [];
  for (const model of spec.models) {
    const seconds = dbtSeconds.get(model.name) ?? 0;
    if (model.materialize !== 'warehouse') {
      steps.push({ model: model.name, materialize: model.materialize, seconds, ...(retried.has(model.name) ? { retried: retried.get(model.name) } : {}) });
      continue;
    }
    const step = await loadWarehouseTable(db, client, model.name, `SELECT * FROM ${ident(model.name)}`, out, performance.now());
    // The view's creation by dbt and its computation into CSV here: the model's own time.
    steps.push({ ...step, seconds: step.seconds + seconds });
    console.error(`[dbt] ${model.name}: ${steps.at(-1)!.seconds.toFixed(2)} s + COPY ${step.copySeconds!.toFixed(2)} s`);
  }
  await client.end();
  writeFileSync(join(out, 'steps.json'), `${JSON.stringify(steps, null, 2)}\n`);
  db.closeSync();
  instance.closeSync();
}

// ─── the suite ───────────────────────────────────────────────────────────────────────────────

interface StepResult {
  /** Short key: tributary, duckdb, tributary-needed, tributary-all, duckdb-needed, duckdb-all. */
  step: string;
  label: string;
  note: string;
  ok: boolean;
  error?: string;
  wallSeconds?: number;
  peakRssBytes?: number;
  peakAnonBytes?: number;
  eventsPerSecond?: number;
  /** The `events` load's own seconds inside the step (run record, or the peer's clock). */
  loadSeconds?: number;
  /** Tributary's phases of that load, from its run record. */
  loadPhases?: RunPhase[];
  loadBefore?: number;
  command?: string;
  log?: string;
}

interface ModelTiming {
  model: string;
  where: string;
  rows: number | null;
  tributarySeconds: number | null;
  /** Each peer's own clock for the model, and its COPY into PostgreSQL apart where it has one. */
  peers: Record<Peer, { seconds: number | null; copySeconds: number | null; retried?: PeerStep['retried'] }>;
}

const fmtInt = (n: number) => Math.round(n).toLocaleString('en-US');

async function withAdmin<T>(body: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: PG_ADMIN });
  await client.connect();
  try {
    return await body(client);
  } finally {
    await client.end();
  }
}

/** A fresh, empty database; its URL. */
async function freshDatabase(name: string): Promise<string> {
  await withAdmin(async (admin) => {
    await admin.query(`DROP DATABASE IF EXISTS ${name}`);
    await admin.query(`CREATE DATABASE ${name}`);
  });
  return PG_ADMIN.replace(/\/[^/]*$/, `/${name}`);
}

/** A warehouse table as one peer wrote it: its rows, and one sum per column (null when the table cannot be read). */
interface Fingerprint {
  rows: number;
  sums: Record<string, number | null>;
}

/** The peers whose warehouses are compared with Tributary's. */
const PEERS = ['duckdb', 'dbt', 'spark'] as const;
type Peer = (typeof PEERS)[number];

/**
 * The sum every peer's table can be reduced to alike, by the column's type in Tributary's
 * warehouse: numbers as they are, dates and times as epoch seconds, text as its total length,
 * booleans as the count of true. JSON is left out: jsonb (Tributary, DuckDB, dbt) and the text
 * Spark writes spell the same value differently.
 */
function sumOf(column: string, type: string): string | undefined {
  const c = ident(column);
  if (/^(smallint|integer|bigint|numeric|real|double precision)$/.test(type)) return `sum(${c})::float8`;
  if (/^(date|timestamp)/.test(type)) return `sum(extract(epoch FROM ${c}))::float8`;
  if (/^(text|character varying)$/.test(type)) return `sum(length(${c}))::float8`;
  if (type === 'boolean') return `(count(*) FILTER (WHERE ${c}))::float8`;
  return undefined;
}

/** Each table's fingerprint in a warehouse database, over `columns` (Tributary's columns and types, table by table). */
async function fingerprints(url: string, columns: Record<string, WarehouseColumn[]>): Promise<Record<string, Fingerprint | null>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const out: Record<string, Fingerprint | null> = {};
    for (const [table, cols] of Object.entries(columns)) {
      const summed = cols.flatMap((c) => {
        const sql = sumOf(c.name, c.type);
        return sql ? [{ name: c.name, sql }] : [];
      });
      out[table] = await client.query(`SELECT count(*)::float8 AS rows${summed.map((c, i) => `, ${c.sql} AS s${i}`).join('')} FROM ${ident(table)}`).then(
        (r) => {
          const row = r.rows[0] as Record<string, number | null>;
          return { rows: row.rows!, sums: Object.fromEntries(summed.map((c, i) => [c.name, row[`s${i}`] ?? null])) };
        },
        () => null,
      );
    }
    return out;
  } finally {
    await client.end();
  }
}

interface WarehouseColumn {
  name: string;
  /** PostgreSQL's data_type. */
  type: string;
  /** Digits after the point of a numeric(p, s) column. */
  scale: number | null;
}

/** Tributary's warehouse tables, their columns and PostgreSQL types: what every peer's tables are held to. */
async function warehouseColumns(url: string, tables: readonly string[]): Promise<Record<string, WarehouseColumn[]>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query(`SELECT table_name, column_name, data_type, numeric_scale FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, ordinal_position`);
    const all = rows as { table_name: string; column_name: string; data_type: string; numeric_scale: number | null }[];
    return Object.fromEntries(
      tables.map((t) => [t, all.filter((r) => r.table_name === t).map((r) => ({ name: r.column_name, type: r.data_type, scale: r.data_type === 'numeric' ? r.numeric_scale : null }))]),
    );
  } finally {
    await client.end();
  }
}

/**
 * Where a peer's table differs from Tributary's: the row count, or the columns whose sums differ by
 * more than rounding: floating-point sums added in another order (one part in a million), and for a
 * numeric(p, s) column, half a unit of its last place per row (Tributary rounds a median or an
 * average to the column's scale; a peer may keep a double).
 */
function differences(reference: Fingerprint | null | undefined, peer: Fingerprint | null | undefined, columns: WarehouseColumn[]): string | undefined {
  if (!reference || !peer) return reference === peer ? undefined : peer ? 'no table on the Tributary side' : 'table missing or unreadable';
  if (reference.rows !== peer.rows) return `${fmtInt(peer.rows)} rows vs ${fmtInt(reference.rows)}`;
  const differing = columns.filter(({ name, scale }) => {
    const [a, b] = [reference.sums[name], peer.sums[name]];
    if (a === null || a === undefined || b === null || b === undefined) return a !== b;
    const rounding = scale === null ? 0 : (reference.rows * 10 ** -scale) / 2;
    return Math.abs(a - b) > Math.max(rounding, 1e-6 * Math.max(1, Math.abs(a), Math.abs(b)));
  });
  return differing.length ? `sums of ${differing.map((c) => c.name).join(', ')}` : undefined;
}

/**
 * Every field of the drops as DuckDB infers it from the first day, declared for Tributary: ids and
 * text stay VARCHAR and properties and traits JSON (as the example declares them), the times are
 * TIMESTAMP, context is the STRUCT of all its fields.
 */
async function allFieldColumns(drops: Drops): Promise<Record<string, string>> {
  const firstDay = dropFiles(drops.dir).filter((f, _i, all) => dirname(f) === dirname(all[0]!));
  const instance = await DuckDBInstance.create(':memory:');
  const db = await instance.connect();
  try {
    const described = (await db.runAndReadAll(`DESCRIBE SELECT * FROM read_json([${firstDay.map(lit).join(', ')}], format = 'newline_delimited', ignore_errors = true, sample_size = -1)`)).getRowObjectsJson();
    return Object.fromEntries(
      described.map((r) => {
        const key = String(r.column_name);
        const inferred = String(r.column_type);
        const type = ['properties', 'traits'].includes(key) ? 'JSON' : /^(timestamp|sentAt|receivedAt)$/.test(key) ? 'TIMESTAMP' : inferred === 'UUID' ? 'VARCHAR' : inferred;
        return [snakeCase(key), type];
      }),
    );
  } finally {
    db.closeSync();
    instance.closeSync();
  }
}

/** A project of one load: the drops declared with every field, `SELECT *` into the lake. */
function writeAllFieldsProject(dir: string, drops: Drops, columns: Record<string, string>, config: ExampleConfig): void {
  mkdirSync(dir, { recursive: true });
  const source = config.sources[SOURCE]!;
  const project = {
    name: 'segment_all_fields',
    engine: { memoryLimit: config.engine?.memoryLimit ?? '2GB' },
    sources: {
      [SOURCE]: { format: 'jsonl', path: join(drops.dir, 'drops', '{yyyy}', '{mm}', '{dd}', '*.json.gz'), json: source.json, columns, rules: source.rules },
    },
    models: { events: { sql: `SELECT * FROM {{ source('${SOURCE}') }}`, materialize: 'lake', partitionBy: { dt: 'CAST(received_at AS DATE)' } } },
    // The example's checks of the load, so that both loads do the same work after it.
    checks: (config.checks ?? []).filter((c) => c.table === 'events'),
  };
  writeFileSync(join(dir, 'tributary.config.js'), `// Written by bench/suites/segment.ts: the segment drops with every field declared.\nexport default ${JSON.stringify(project, null, 2)};\n`);
}

async function run(context: SuiteContext): Promise<void> {
  const size = monthSize();
  const full = size.days === FULL_SIZE.days && size.eventsPerDay === FULL_SIZE.eventsPerDay;
  const drops = await ensureDrops(context.dataDir, size, context.log);
  const work = join(context.dataDir, 'work', 'segment');
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const config = await exampleConfig(context.root);
  const warehouseTables = Object.entries(config.models).filter(([, m]) => typeof m.materialize !== 'string').map(([name]) => name);
  const keep = Boolean(process.env.BENCH_KEEP);
  const fromSource = process.env.BENCH_CLI === 'source';
  if (!fromSource) {
    context.log('  building Tributary (npm run build)');
    await runCapture('npm', ['run', 'build'], { cwd: context.root });
  }
  const cli = fromSource ? ['--import', 'tsx', 'test/cli-entry.ts'] : ['bin/tributary.js'];
  const sourceFlag = ['--source', `${SOURCE}=${join(drops.dir, 'drops', '{yyyy}', '{mm}', '{dd}', '*.json.gz')}`];
  context.log(`page cache: reading the drops once (${(drops.bytes / 1e9).toFixed(2)} GB)`);
  await warmPageCache(dropFiles(drops.dir));

  const databases = {
    tributary: await freshDatabase('segment_bench_tributary'),
    duckdb: await freshDatabase('segment_bench_duckdb'),
    dbt: await freshDatabase('segment_bench_dbt'),
    spark: await freshDatabase('segment_bench_spark'),
  };
  const specFile = (peer: Peer) => join(work, `spec-${peer}.json`);
  const specs = Object.fromEntries(PEERS.map((peer) => [peer, peerSpec(context.root, config, drops, databases[peer])])) as Record<Peer, SegmentSpec>;
  for (const peer of PEERS) writeFileSync(specFile(peer), `${JSON.stringify(specs[peer], null, 2)}\n`);
  const allFieldsProject = join(work, 'all-fields-project');
  writeAllFieldsProject(allFieldsProject, drops, await allFieldColumns(drops), config);
  const dbtProject = join(work, 'dbt-project');
  writeDbtProject(dbtProject, specs.dbt, join(work, 'dbt'));
  const jdbcJar = postgresJdbcJar();
  const versions = await pythonVersions(context.root);

  const peer = (out: string, extra: string[]) => ({ command: process.execPath, args: ['--import', 'tsx', 'bench/suites/segment.ts', 'duckdb', '--spec', specFile('duckdb'), '--out', out, ...extra] });
  const tributary = (project: string, out: string, extra: string[]) => ({ command: process.execPath, args: [...cli, 'run', ...extra, '--project', project, '--data-dir', out, '--quiet'] });
  const sparkMemory = specs.spark.memoryLimit.replace(/^(\d+)\s*GB$/i, '$1g');
  // The example's prod target: its warehouse tables in PostgreSQL (the default target keeps them in the embedded DuckDB).
  const prod = { TRIBUTARY_TARGET: 'prod', WAREHOUSE_URL: databases.tributary };
  const allSteps: { step: string; label: string; note: string; project?: string; run: (out: string) => { command: string; args: string[] }; env?: NodeJS.ProcessEnv }[] = [
    {
      step: 'tributary',
      label: 'tributary run',
      note: '`tributary run` of the example: the load (exact typing, quarantine with file and line, reconciliation against an independent line count), 13 pipeline tables, 17 PostgreSQL tables each committed with its run record, and the checks.',
      project: PROJECT,
      run: (out) => tributary(PROJECT, out, sourceFlag),
      env: prod,
    },
    {
      step: 'duckdb',
      label: 'duckdb + COPY',
      note: 'bare @duckdb/node-api running the same model SQL (read_json typed by the declared columns, ignore_errors, rows failing the rules dropped; Parquet for lake tables, DuckDB tables, CSV files) and PostgreSQL COPY of each warehouse table (pg-copy-streams); no quarantine, no accounting, no transactions with run records.',
      run: (out) => peer(out, []),
    },
    {
      step: 'dbt',
      label: 'dbt-duckdb + COPY',
      note: `\`dbt run\` (dbt-core ${versions.dbtCore}, dbt-duckdb ${versions.dbtDuckdb}, threads 1) of the example as a dbt project the bench writes beforehand (untimed): the source is the drops through the bare-DuckDB peer’s read_json (declared columns, rules as a filter), the same model SQL with dbt’s source()/ref(); lake models by dbt-duckdb’s external materialization (a DuckDB table, then Parquet partitioned by dt), pipeline tables as DuckDB tables, warehouse tables as views; then, in the same timed step, each view computed into CSV and loaded by PostgreSQL COPY as the bare-DuckDB peer does. Timed: spawn of the wrapper to exit (dbt’s start-up and parsing, the run, the COPYs). No tests, no quarantine.`,
      run: (out) => ({ command: process.execPath, args: ['--import', 'tsx', 'bench/suites/segment.ts', 'dbt', '--spec', specFile('dbt'), '--project', dbtProject, '--out', out] }),
    },
    {
      step: 'spark',
      label: 'pyspark, local[2]',
      note: `PySpark ${versions.pyspark} in local mode (\`local[2]\`, ${sparkMemory} driver heap, the example’s memory limit, Java 17; bench/peers/segment_spark.py): the drops by Spark’s JSON reader with the declared columns as the schema (PERMISSIVE), the rules as a filter, the same model SQL in Spark SQL after a few rewrites of DuckDB’s function names (SPARK_DIALECT in the script); lake and pipeline tables as Parquet, warehouse tables to PostgreSQL by JDBC (${jdbcJar ? relative(process.env.HOME ?? '/', jdbcJar) : 'no driver found'}, batched INSERTs, tables created by Spark, JSON as text). Its wall time includes starting the JVM.`,
      run: (out) => ({ command: BENCH_PYTHON, args: ['bench/peers/segment_spark.py', '--spec', specFile('spark'), '--out', out, '--jdbc-jar', jdbcJar ?? 'none', '--driver-memory', sparkMemory] }),
    },
    {
      step: 'tributary-needed',
      label: 'tributary load, declared columns',
      note: '`tributary run events`: the load with the example’s declared columns (11 fields, context as a STRUCT of the 7 it uses).',
      project: PROJECT,
      run: (out) => tributary(PROJECT, out, ['events', ...sourceFlag]),
      env: prod,
    },
    {
      step: 'tributary-all',
      label: 'tributary load, every field',
      note: 'the same load with every field of the drops declared (context whole, channel, sentAt), `SELECT *` into the lake, and the same checks.',
      project: allFieldsProject,
      run: (out) => tributary(allFieldsProject, out, []),
    },
    { step: 'duckdb-needed', label: 'duckdb load, declared columns', note: 'bare DuckDB: the `events` model over read_json with the declared columns, into Parquet.', run: (out) => peer(out, ['--only', 'events']) },
    { step: 'duckdb-all', label: 'duckdb load, every field', note: 'bare DuckDB: `SELECT *` of read_json (every field, types inferred), into Parquet.', run: (out) => peer(out, ['--only', 'events', '--all-fields']) },
  ];
  const chosen = process.env.BENCH_SEGMENT_STEPS?.split(',').map((s) => s.trim());
  const steps = chosen ? allSteps.filter((s) => chosen.includes(s.step)) : allSteps;

  const results: StepResult[] = [];
  let tributaryTimings = new Map<string, { seconds: number; written: number }>();
  const peerSteps: Partial<Record<Peer, PeerStep[]>> = {};
  // Each warehouse is fingerprinted once its step is over, then dropped: a month's is some 22 GB in
  // PostgreSQL, and four of them side by side filled the disk. Tributary's comes first and gives
  // the columns every peer's is compared on.
  type Warehouse = 'tributary' | Peer;
  let columns: Record<string, WarehouseColumn[]> | undefined;
  const tables: Partial<Record<Warehouse, Record<string, Fingerprint | null>>> = {};
  const fingerprint = async (warehouse: Warehouse) => {
    columns ??= await warehouseColumns(databases.tributary, warehouseTables);
    tables[warehouse] = await fingerprints(databases[warehouse], columns);
    if (!keep) await withAdmin((admin) => admin.query(`DROP DATABASE IF EXISTS ${databases[warehouse].slice(databases[warehouse].lastIndexOf('/') + 1)}`));
  };
  for (const [index, step] of steps.entries()) {
    const out = join(work, step.step);
    mkdirSync(out, { recursive: true });
    const result: StepResult = { step: step.step, label: step.label, note: step.note, ok: false };
    results.push(result);
    try {
      const { command, args } = step.run(out);
      result.loadBefore = Number(loadavg()[0]!.toFixed(2));
      context.log(`step ${index + 1}/${steps.length} ${step.label}: start (load average ${result.loadBefore})`);
      const m = await spawnMeasured(command, args, {
        cwd: context.root,
        env: { ...process.env, ...step.env },
        logFile: join(work, `${step.step}.log`),
        timeoutSeconds: 3 * 3600,
        heartbeatMs: 15_000,
        onHeartbeat: (seconds, rss) => context.log(`  ${step.step}: ${seconds.toFixed(0)} s, ${(rss / MB).toFixed(0)} MB resident`),
      });
      result.command = m.command.replaceAll(`${context.root}/`, '');
      result.log = relative(context.root, m.logFile);
      result.wallSeconds = m.wallSeconds;
      result.peakRssBytes = m.peakRssBytes;
      result.peakAnonBytes = m.peakAnonBytes;
      result.eventsPerSecond = drops.lines / m.wallSeconds;
      if (m.exitCode !== 0) {
        const lines = readFileSync(m.logFile, 'utf8').trim().split('\n');
        // The results show the error's first line: the thrown error's own, not the log's framing.
        const reason = [...lines].reverse().find((line) => /^\w*Error: /.test(line)) ?? lines.at(-1) ?? '';
        throw new Error(`exited with ${m.exitCode ?? m.signal}: ${reason}; last lines of ${result.log}:\n${lines.slice(-8).join('\n')}`);
      }
      if (step.project) {
        const timings = await modelTimings(context, cli, step.project, out);
        result.loadSeconds = timings.get('events')?.seconds;
        result.loadPhases = timings.get('events')?.timing ?? undefined;
        if (step.step === 'tributary') tributaryTimings = timings;
      } else {
        const own = JSON.parse(readFileSync(join(out, 'steps.json'), 'utf8')) as PeerStep[];
        result.loadSeconds = own.find((p) => p.model === 'events')?.seconds;
        if ((PEERS as readonly string[]).includes(step.step)) peerSteps[step.step as Peer] = own;
      }
      result.ok = true;
      context.log(`step ${index + 1}/${steps.length} ${step.label}: ${formatSeconds(m.wallSeconds)} s, peak RSS ${(m.peakRssBytes / MB).toFixed(0)} MB, ${fmtInt(result.eventsPerSecond)} events/s`);
    } catch (error) {
      result.error = (error as Error).message;
      context.log(`step ${index + 1}/${steps.length} ${step.label}: FAILED: ${result.error}`);
    } finally {
      if (!keep) rmSync(out, { recursive: true, force: true });
      // Do the peers' warehouses hold Tributary's tables: rows, and a sum per column?
      if (step.step in databases) {
        context.log(`  ${step.step}: fingerprinting its warehouse (rows and sums per table)`);
        await fingerprint(step.step as Warehouse);
      }
    }
  }
  const warehouses = Object.fromEntries((['tributary', ...PEERS] as Warehouse[]).map((w) => [w, tables[w] ?? {}])) as Record<Warehouse, Record<string, Fingerprint | null>>;
  const comparedOn = columns ?? {};
  // A peer left out of the run (BENCH_SEGMENT_STEPS) has no warehouse to compare.
  const compared = PEERS.filter((p) => results.some((r) => r.step === p));
  const disagreements = compared.flatMap((p) => warehouseTables.flatMap((t) => {
    const why = differences(warehouses.tributary[t], warehouses[p][t], comparedOn[t] ?? []);
    return why ? [{ peer: p, table: t, why }] : [];
  }));
  for (const d of disagreements) context.log(`  DISAGREES: ${d.peer} ${d.table}: ${d.why}`);
  if (!keep) {
    await withAdmin(async (admin) => {
      for (const url of Object.values(databases)) await admin.query(`DROP DATABASE IF EXISTS ${url.slice(url.lastIndexOf('/') + 1)}`);
    });
  }

  const timings: ModelTiming[] = Object.entries(config.models).map(([name, m]) => {
    const t = tributaryTimings.get(name);
    const own = (p: Peer) => peerSteps[p]?.find((s) => s.model === name);
    return {
      model: name,
      where: typeof m.materialize === 'string' ? m.materialize : m.materialize.kind,
      rows: t?.written ?? own('duckdb')?.rows ?? null,
      tributarySeconds: t?.seconds ?? null,
      peers: Object.fromEntries(PEERS.map((p) => [p, { seconds: own(p)?.seconds ?? null, copySeconds: own(p)?.copySeconds ?? null, retried: own(p)?.retried }])) as ModelTiming['peers'],
    };
  });
  const machine = machineInfo({ python: versions.python, pythonPackages: `pyspark ${versions.pyspark}; dbt-core ${versions.dbtCore}, dbt-duckdb ${versions.dbtDuckdb}` });
  const base = join(context.resultsDir, full ? 'segment' : `segment-${size.days}x${size.eventsPerDay}`);
  const report = {
    suite: 'segment',
    size: { ...size, start: START, seed: SEED },
    input: { folder: relative(context.root, drops.dir), lines: drops.lines, malformed: drops.malformed, files: drops.files, bytes: drops.bytes },
    generator: { seconds: drops.generatedSeconds, reused: drops.generatedSeconds === null },
    memoryMethod:
      'peakRssBytes: peak over 100 ms samples of the sum of VmRSS over the step process and its descendants (/proc), or the largest per-process VmHWM if higher; peakAnonBytes: the same for RssAnon. PostgreSQL server processes are not included.',
    machine,
    steps: results,
    models: timings,
    warehouseTables: warehouses,
    disagreements,
  };
  writeFileSync(`${base}.json`, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(`${base}.md`, markdown(report, drops, results, timings, warehouses, disagreements, relative(context.resultsDir, `${base}.svg`)));
  const ran = results.filter((r) => r.wallSeconds !== undefined);
  writeFileSync(
    `${base}.svg`,
    barChartSvg({
      title: `Segment warehouse: ${fmtInt(drops.lines)} events (${size.days} days, ${(drops.bytes / 1e9).toFixed(2)} GB gzipped JSON lines) → lake → PostgreSQL`,
      subtitle: `${machine.nproc} cores, ${(machine.memoryBytes / 2 ** 30).toFixed(0)} GiB RAM · commit ${machine.commit} · lower is better`,
      // The step keys: short enough for every bar to keep its label.
      categories: ran.map((r) => (r.ok ? r.step : `${r.step} (failed)`)),
      series: [
        { name: 'wall time', unit: 's', values: ran.map((r) => Number(r.wallSeconds!.toFixed(1))) },
        { name: 'peak RSS', unit: 'MB', values: ran.map((r) => (r.peakRssBytes === undefined ? null : Math.round(r.peakRssBytes / MB))) },
      ],
      width: 1100,
    }),
  );
  context.log(`results: ${relative(context.root, base)}.{md,svg,json}`);
}

/** The PostgreSQL JDBC driver for the Spark peer: BENCH_PG_JDBC_JAR, else the newest in the local Maven repository (no download). */
function postgresJdbcJar(): string | undefined {
  if (process.env.BENCH_PG_JDBC_JAR) return resolve(process.env.BENCH_PG_JDBC_JAR);
  const repository = join(process.env.HOME ?? '/root', '.m2', 'repository', 'org', 'postgresql', 'postgresql');
  if (!existsSync(repository)) return undefined;
  const versions = readdirSync(repository).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  return versions.map((v) => join(repository, v, `postgresql-${v}.jar`)).filter((jar) => existsSync(jar)).at(-1);
}

/** The Python peers' versions, for the report: PySpark from the bench venv, dbt from the test tools' venv. */
async function pythonVersions(root: string): Promise<{ python: string; pyspark: string; dbtCore: string; dbtDuckdb: string }> {
  await installPythonPeers({ root });
  const version = (python: string, packages: string[]) =>
    runCapture(join(root, python), ['-c', `import sys, importlib.metadata as m; print(sys.version.split()[0], *(m.version(p) for p in ${JSON.stringify(packages)}))`], { cwd: root }).then((text) => text.trim().split(' '));
  const [python, pyspark] = await version(BENCH_PYTHON, ['pyspark']);
  const [, dbtCore, dbtDuckdb] = await version(join('.tools', 'venv', 'bin', 'python'), ['dbt-core', 'dbt-duckdb']);
  return { python: python!, pyspark: pyspark!, dbtCore: dbtCore!, dbtDuckdb: dbtDuckdb! };
}

function markdown(
  report: { machine: ReturnType<typeof machineInfo>; size: MonthSize & { start: string; seed: number } },
  drops: Drops,
  results: StepResult[],
  timings: ModelTiming[],
  tables: Record<'tributary' | Peer, Record<string, Fingerprint | null>>,
  disagreements: { peer: Peer; table: string; why: string }[],
  chart: string,
): string {
  const m = report.machine;
  const s = (v: number | null | undefined) => (v === null || v === undefined ? '–' : v.toFixed(2));
  const step = (key: string) => results.find((r) => r.step === key);
  const lines = [
    `# Segment benchmark: ${report.size.days === 30 ? 'a month' : `${report.size.days} days`} of Segment drops → lake → PostgreSQL`,
    '',
    `Input: ${report.size.days} days from ${report.size.start} × ${fmtInt(report.size.eventsPerDay)} events a day on average (seed ${report.size.seed}): ${fmtInt(drops.lines)} lines (${fmtInt(drops.malformed)} malformed on purpose) in ${drops.files} gzipped JSON-lines files, ${(drops.bytes / 1e9).toFixed(2)} GB` +
      (drops.generatedSeconds !== null ? `, generated in ${drops.generatedSeconds.toFixed(1)} s during this run.` : ', reused from an earlier run.'),
    `Machine: ${m.nproc} cores (${m.cpuModel}), ${(m.memoryBytes / 2 ** 30).toFixed(1)} GiB RAM, ${m.os}; Node ${m.node}, @duckdb/node-api ${m.duckdb}; ${pythonPeers(m)}. Commit ${m.commit}, run at ${m.date}.`,
    `Load average (1 min) before each step: ${results.map((r) => `${r.step} ${r.loadBefore ?? '–'}`).join(', ')} (other work on the machine shows here).`,
    'Each step ran alone as a child process, one after another, with the drops in the page cache. Peak MB: the highest sum of resident memory (VmRSS) over the step’s process tree, sampled every 100 ms (or a single process’s VmHWM if higher); PostgreSQL’s server processes are not counted. MB = 10^6 bytes; events/s = lines of the drops / wall time.',
    '',
    '## The whole job: load, the transformations, PostgreSQL',
    '',
    '| step | wall s | events/s | peak MB | private MB | load s |',
    '|---|---:|---:|---:|---:|---:|',
  ];
  const row = (r: StepResult | undefined) =>
    r
      ? `| ${r.label}${r.ok ? '' : ' (failed)'} | ${r.wallSeconds === undefined ? '–' : formatSeconds(r.wallSeconds)} | ${r.eventsPerSecond === undefined ? '–' : fmtInt(r.eventsPerSecond)} | ${r.peakRssBytes === undefined ? '–' : (r.peakRssBytes / MB).toFixed(0)} | ${r.peakAnonBytes === undefined ? '–' : (r.peakAnonBytes / MB).toFixed(0)} | ${s(r.loadSeconds)} |`
      : '';
  lines.push(...['tributary', ...PEERS].filter((k) => step(k)).map((k) => row(step(k))));
  lines.push('', 'load s: the `events` model inside the step (Tributary’s run record, each peer’s own clock).');
  // Issue 23's goals for Tributary, as this run measured them.
  const ratio = (a: number | undefined, b: number | undefined) => (a && b ? `${(a / b).toFixed(2)}×` : '–');
  const t = step('tributary');
  const d = step('duckdb');
  lines.push(
    '',
    'Goals (Tributary against bare DuckDB): ' +
      [
        `whole job ${ratio(t?.wallSeconds, d?.wallSeconds)} DuckDB + COPY (goal ≤ 1.1×)`,
        `the load inside it ${ratio(t?.loadSeconds, d?.loadSeconds)} (goal ≤ 1.2×)`,
        ...(step('tributary-needed') && step('duckdb-needed') ? [`the load alone ${ratio(step('tributary-needed')?.loadSeconds, step('duckdb-needed')?.loadSeconds)} (wall ${ratio(step('tributary-needed')?.wallSeconds, step('duckdb-needed')?.wallSeconds)})`] : []),
        `peak ${t?.peakRssBytes === undefined ? '–' : `${(t.peakRssBytes / 1e9).toFixed(2)} GB`} (goal ≤ 4 GB)`,
      ].join('; ') +
      '.',
  );
  lines.push(
    '',
    '## Each model',
    '',
    'Tributary: from its run records (`tributary runs --format json`); bare DuckDB and Spark: their own clocks; dbt: `execution_time` from `target/run_results.json`, plus the peer’s computation of a warehouse view into CSV. COPY apart.',
    '',
  );
  lines.push('| model | materialized | rows | tributary s | duckdb s | duckdb COPY s | dbt s | dbt COPY s | spark s |', '|---|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const t of timings) {
    lines.push(
      `| ${t.model} | ${t.where} | ${t.rows === null ? '–' : fmtInt(t.rows)} | ${s(t.tributarySeconds)} | ${s(t.peers.duckdb.seconds)} | ${s(t.peers.duckdb.copySeconds)} | ${s(t.peers.dbt.seconds)} | ${s(t.peers.dbt.copySeconds)} | ${s(t.peers.spark.seconds)} |`,
    );
  }
  lines.push('', 'spark s of a warehouse table includes its JDBC write into PostgreSQL.');
  for (const t of timings) {
    for (const p of PEERS) {
      const retried = t.peers[p].retried;
      if (retried) lines.push('', `${p} ran out of memory in ${t.model} after ${retried.failedSeconds.toFixed(1)} s on DuckDB’s default threads (“${retried.error}”), and ran it again on one thread: its figure above is that second attempt; its whole-job wall time includes both.`);
    }
  }
  lines.push('', '## Reading only the needed columns', '', 'The load alone (drops → `events` in the lake): the example’s declared columns against every field of the drops.', '');
  lines.push('| step | wall s | load s | load events/s | peak MB | private MB |', '|---|---:|---:|---:|---:|---:|');
  for (const key of ['tributary-needed', 'tributary-all', 'duckdb-needed', 'duckdb-all']) {
    const r = step(key);
    if (!r) continue;
    lines.push(
      `| ${r.label}${r.ok ? '' : ' (failed)'} | ${r.wallSeconds === undefined ? '–' : formatSeconds(r.wallSeconds)} | ${s(r.loadSeconds)} | ${r.loadSeconds ? fmtInt(drops.lines / r.loadSeconds) : '–'} | ` +
        `${r.peakRssBytes === undefined ? '–' : (r.peakRssBytes / MB).toFixed(0)} | ${r.peakAnonBytes === undefined ? '–' : (r.peakAnonBytes / MB).toFixed(0)} |`,
    );
  }
  lines.push('', 'wall s: the whole process (start-up, the load, the checks); load s: the `events` load alone.');
  for (const r of results) {
    if (r.loadPhases?.length && r.loadSeconds) lines.push('', `Inside the \`events\` load of **${r.label}** (its run record's phases): ${phasesSentence(r.loadPhases, r.loadSeconds)}.`);
  }
  lines.push(
    '',
    "Tributary's phases: prepare (the source opened, the model's shape and plan); read and write (the engine's one pass: the lines read, the JSON typed exactly, the rules judged, Parquet written, failing rows set apart); line count (the independent count of every file's lines, after the pass, which also finds the failing lines by their fingerprints); locate (the failing rows' reasons and lines); commit (the catalog's transaction, and the rest of the run).",
  );
  lines.push('', 'Steps:', '');
  for (const r of results) lines.push(`- **${r.label}**: ${r.note}${r.command ? ` Command: \`${r.command}\`.` : ''}`);
  const failed = results.filter((r) => !r.ok);
  if (failed.length) {
    lines.push('', 'Failures:', '');
    for (const r of failed) lines.push(`- **${r.label}**: ${(r.error ?? '').split('\n')[0]}`);
  }
  lines.push(
    '',
    '## Agreement of the warehouses',
    '',
    'Each peer’s PostgreSQL tables against Tributary’s: the row count, and per column a sum (numbers as they are, dates and times as epoch seconds, text as its total length, booleans as the count of true; JSON columns left out), equal to 1 part in a million, or for a numeric(p, s) column to half a unit of its last place per row (Tributary rounds a median or an average to the column’s scale, a peer may keep a double). ≠ marks a disagreement.',
    '',
  );
  lines.push(`| table | tributary rows | ${PEERS.map((p) => `${p} rows`).join(' | ')} |`, `|---|---:|${PEERS.map(() => '---:').join('|')}|`);
  const rows = (f: Fingerprint | null | undefined) => (f ? fmtInt(f.rows) : '–');
  for (const table of Object.keys(tables.tributary)) {
    const cells = PEERS.map((p) => `${rows(tables[p][table])}${disagreements.some((x) => x.peer === p && x.table === table) ? ' ≠' : ''}`);
    lines.push(`| ${table} | ${rows(tables.tributary[table])} | ${cells.join(' | ')} |`);
  }
  lines.push('');
  if (disagreements.length) {
    lines.push('Disagreements:', '');
    for (const x of disagreements) lines.push(`- ${x.peer}, ${x.table}: ${x.why}`);
    lines.push(
      '',
      'DuckDB’s reader with ignore_errors (the bare-DuckDB and dbt peers) also drops the valid line that follows some malformed lines (it resumes past it); Tributary quarantines only the malformed line, with its file, line and reason, and loads its neighbour. The history tables that follow from those events differ with them.',
    );
  } else lines.push('Every peer’s warehouse tables have Tributary’s rows and sums.');
  lines.push('', `![segment chart](./${chart})`, '');
  return lines.join('\n');
}

export const segmentSuite: Suite = {
  name: 'segment',
  description: 'a month of Segment drops → the segment-warehouse load and 15 models → PostgreSQL: tributary vs bare duckdb + COPY, dbt-duckdb + COPY and PySpark; needed vs all columns',
  run,
};

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (process.argv[2] === 'duckdb') await duckdbPeer(process.argv.slice(3));
  else if (process.argv[2] === 'dbt') await dbtPeer(process.argv.slice(3));
}
