/**
 * DuckLake against Tributary's own metastore, both with their catalog in the running PostgreSQL
 * (127.0.0.1:5432) and their data on a moto S3 server started here (issue 20: decide by
 * measurement). Every case runs writer *processes* (bench/lib/lake-writer.ts), started together
 * on a `go` line once each is ready:
 *
 * - append: N processes × K commits of R rows into one table; then the checks of
 *   duckdb/ducklake#1094: rows = the sum of what each process committed, no id twice, every
 *   reported commit exactly once among the snapshots, each live file's catalog row count and `id`
 *   min/max equal to what the file holds (statistics not overwritten), and a filtered query on
 *   every committed id range finds all its rows (no live row skipped by statistics);
 * - replace: N processes × K replaces of one day (delete the day, insert it, one transaction):
 *   the day must hold exactly one commit's rows, never a mix;
 * - counter (DuckLake): N processes × K read-increment-write transactions on one row: the final
 *   value must equal the number of commits that succeeded (a conflict check that misses a
 *   concurrent commit loses updates);
 * - Tributary's CLI: two `tributary run events --date` processes on different days, then on the
 *   same day, clickstream example, lake on S3, catalog in PostgreSQL;
 * - latency: median of a small append and of a one-day replace, same rows for both formats;
 * - probes: a DuckLake transaction writing a plain PostgreSQL table too (exactly-once offsets),
 *   offsets kept in a DuckLake table instead, time travel, compaction.
 *
 *   npm run bench -- ducklake     (DUCKLAKE_WRITERS, DUCKLAKE_COMMITS, DUCKLAKE_ROWS to change the load)
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { loadProject } from '../../src/config/project.js';
import { quoteLiteral, type Engine } from '../../src/engine/index.js';
import { openWorkspace } from '../../src/state/workspace.js';
import { createCatalogDatabase, type CatalogDatabase } from '../../test/support/postgres.js';
import { startS3, type S3Server } from '../../test/support/s3.js';
import { idRange, openDuckLake, rowsSql, type WriterReport, type WriterSpec } from '../lib/lake-writer.js';
import { barChartSvg } from '../lib/chart.js';
import { machineInfo } from '../lib/machine.js';
import { positiveIntegerEnv, type Suite, type SuiteContext } from '../lib/suite.js';

const DAY = '2024-03-05';

interface Check {
  format: 'DuckLake' | 'Tributary';
  case: string;
  check: string;
  expected: string;
  measured: string;
  ok: boolean;
}

interface CaseRun {
  format: 'DuckLake' | 'Tributary';
  case: string;
  writers: number;
  commits: number;
  committed: number;
  failed: number;
  seconds: number;
  errors: Record<string, number>;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

function libpq(url: string): string {
  const u = new URL(url);
  return `dbname=${u.pathname.slice(1)} host=${u.hostname} port=${u.port || 5432} user=${decodeURIComponent(u.username)}`;
}

/** Runs one writer process per spec, says `go` to all once all are ready, and collects their reports. */
async function runWriters(root: string, specs: WriterSpec[], env: NodeJS.ProcessEnv): Promise<{ reports: WriterReport[]; seconds: number }> {
  const hung = new Set<number>();
  const children = specs.map((spec) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'bench', 'lib', 'lake-writer.ts'), JSON.stringify(spec)], { cwd: root, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    let report: WriterReport | undefined;
    let readyResolve!: () => void;
    const ready = new Promise<void>((resolve) => (readyResolve = resolve));
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      if (line === 'ready') readyResolve();
      else if (line.startsWith('{')) report = JSON.parse(line) as WriterReport;
    });
    const done = new Promise<WriterReport>((resolve, reject) =>
      child.on('close', (code, signal) => {
        if (report) resolve(report);
        else if (signal === 'SIGKILL' && hung.has(spec.writer)) resolve({ writer: spec.writer, outcomes: [], hung: true });
        else reject(new Error(`writer ${spec.writer} exited ${code} without a report:\n${stderr}`));
      }),
    );
    return { child, ready: spec.mode === 'latency' ? Promise.resolve() : ready, done };
  });
  await Promise.race([Promise.all(children.map((c) => c.ready)), Promise.all(children.map((c) => c.done))]);
  const started = performance.now();
  for (const { child } of children) child.stdin.end('go\n');
  // A writer still running DUCKLAKE_CASE_TIMEOUT seconds after `go` is hung: killed, and reported as such.
  const watchdog = setTimeout(() => {
    children.forEach(({ child }, i) => {
      if (child.exitCode === null && child.signalCode === null) {
        hung.add(specs[i]!.writer);
        child.kill('SIGKILL');
      }
    });
  }, positiveIntegerEnv('DUCKLAKE_CASE_TIMEOUT', 150) * 1000);
  const reports = await Promise.all(children.map((c) => c.done)).finally(() => clearTimeout(watchdog));
  return { reports, seconds: (performance.now() - started) / 1000 };
}

function summarise(format: CaseRun['format'], name: string, reports: WriterReport[], seconds: number): CaseRun {
  const outcomes = reports.flatMap((r) => r.outcomes);
  const errors: Record<string, number> = {};
  for (const o of outcomes) {
    if (!o.error) continue;
    const key = o.error.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '…').slice(0, 400);
    errors[key] = (errors[key] ?? 0) + 1;
  }
  const stuck = reports.filter((r) => r.hung).length;
  if (stuck) errors[`${stuck} process(es) hung: no report ${positiveIntegerEnv('DUCKLAKE_CASE_TIMEOUT', 150)} s after go, killed (their commits are counted from the catalog’s checks)`] = stuck;
  return { format, case: name, writers: reports.length, commits: outcomes.length, committed: outcomes.filter((o) => o.ok).length, failed: outcomes.filter((o) => !o.ok).length, seconds, errors };
}

const num = async (engine: Engine, sql: string) => Number(await engine.scalar<number | bigint>(sql));

/** The append checks every format gets: counts, duplicate ids, and a filtered query on every commit's id range. */
async function appendChecks(format: Check['format'], engine: Engine, table: string, reports: WriterReport[], rows: number, checks: Check[]): Promise<void> {
  const committed = reports.flatMap((r) => r.outcomes.filter((o) => o.ok).map((o) => ({ writer: r.writer, k: o.k })));
  const failed = reports.flatMap((r) => r.outcomes.filter((o) => !o.ok).map((o) => ({ writer: r.writer, k: o.k })));
  const expected = committed.length * rows;
  const add = (check: string, want: number | string, got: number | string) => checks.push({ format, case: 'append', check, expected: String(want), measured: String(got), ok: want === got });
  add('count(*) = rows of the commits reported successful', expected, await num(engine, `SELECT count(*) FROM ${table}`));
  add('rows by a full scan (count of a payload column)', expected, await num(engine, `SELECT count(payload) FROM ${table}`));
  add('distinct ids (no row twice)', expected, await num(engine, `SELECT count(DISTINCT id) FROM ${table}`));
  let missed = 0;
  let short = 0;
  for (const { writer, k } of committed) {
    const [lo, hi] = idRange(writer, k, rows);
    const found = await num(engine, `SELECT count(*) FROM ${table} WHERE id BETWEEN ${lo} AND ${hi}`);
    if (found !== rows) short++;
    missed += rows - found;
  }
  add(`filtered queries (WHERE id BETWEEN a commit's range) finding all rows, of ${committed.length} commits`, committed.length, committed.length - short);
  add('live rows skipped by those filtered queries', 0, missed);
  let visible = 0;
  for (const { writer, k } of failed) {
    const [lo, hi] = idRange(writer, k, rows);
    visible += await num(engine, `SELECT count(*) FROM ${table} WHERE id BETWEEN ${lo} AND ${hi}`);
  }
  add(`rows visible from the ${failed.length} commits reported failed`, 0, visible);
  for (const w of reports) {
    const want = w.outcomes.filter((o) => o.ok).length * rows;
    const got = await num(engine, `SELECT count(*) FROM ${table} WHERE writer = ${w.writer}`);
    if (want !== got) add(`rows of writer ${w.writer} (WHERE writer = …)`, want, got);
  }
}

/** The replace check: the day holds exactly one commit's rows. */
async function replaceChecks(format: Check['format'], engine: Engine, table: string, rows: number, checks: Check[]): Promise<void> {
  const n = await num(engine, `SELECT count(*) FROM ${table} WHERE dt = DATE '${DAY}'`);
  const tags = await num(engine, `SELECT count(DISTINCT tag) FROM ${table} WHERE dt = DATE '${DAY}'`);
  checks.push({ format, case: 'replace', check: 'rows of the day after concurrent replaces (one commit’s)', expected: String(rows), measured: String(n), ok: n === rows });
  checks.push({ format, case: 'replace', check: 'commits whose rows the day holds (never a mix)', expected: '1', measured: String(tags), ok: tags === 1 });
}

async function duckLakeFileChecks(engine: Engine, catalog: CatalogDatabase, table: string, checks: Check[]): Promise<void> {
  const files = await catalog.query<{ data_file_id: string; path: string; record_count: string; min_value: string; max_value: string; stats: string }>(
    `SELECT f.data_file_id, m.value || s.path || t.path || f.path AS path, f.record_count, st.min_value, st.max_value,
            (SELECT count(*) FROM ducklake_file_column_stats x WHERE x.data_file_id = f.data_file_id AND x.column_id = c.column_id) AS stats
       FROM ducklake_data_file f JOIN ducklake_table t ON t.table_id = f.table_id AND t.end_snapshot IS NULL
       JOIN ducklake_schema s ON s.schema_id = t.schema_id AND s.end_snapshot IS NULL
       JOIN ducklake_metadata m ON m.key = 'data_path' AND m.scope IS NULL
       JOIN ducklake_column c ON c.table_id = f.table_id AND c.column_name = 'id' AND c.end_snapshot IS NULL
       LEFT JOIN ducklake_file_column_stats st ON st.data_file_id = f.data_file_id AND st.column_id = c.column_id
      WHERE t.table_name = '${table}' AND f.end_snapshot IS NULL`,
  );
  let countWrong = 0;
  let statsWrong = 0;
  const ids = new Set<string>();
  const paths = new Set<string>();
  for (const file of files) {
    ids.add(file.data_file_id);
    paths.add(file.path);
    const [actual] = await engine.query<{ n: bigint; lo: bigint; hi: bigint }>(`SELECT count(*) AS n, min(id) AS lo, max(id) AS hi FROM read_parquet(${quoteLiteral(file.path)})`);
    if (Number(actual!.n) !== Number(file.record_count)) countWrong++;
    if (String(actual!.lo) !== file.min_value || String(actual!.hi) !== file.max_value) statsWrong++;
  }
  const add = (check: string, want: number, got: number) => checks.push({ format: 'DuckLake', case: 'append', check, expected: String(want), measured: String(got), ok: want === got });
  add('catalog rows of live data files (one per file)', files.length, ids.size);
  add('distinct file paths among them', files.length, paths.size);
  add('live files whose catalog record_count differs from the file', 0, countWrong);
  add('live files whose catalog id min/max differs from the file (statistics overwritten)', 0, statsWrong);
  add('live files with more than one stats row for id', 0, files.filter((f) => Number(f.stats) > 1).length);
  const [stats] = await catalog.query<{ record_count: string }>(
    `SELECT s.record_count FROM ducklake_table_stats s JOIN ducklake_table t USING (table_id) WHERE t.table_name = '${table}' AND t.end_snapshot IS NULL`,
  );
  const total = await num(engine, `SELECT count(payload) FROM lake.${table}`);
  add('table statistics record_count = rows', total, Number(stats?.record_count));
}

async function duckLakeSnapshotChecks(catalog: CatalogDatabase, reports: WriterReport[], name: string, checks: Check[]): Promise<void> {
  const messages = await catalog.query<{ commit_message: string; n: string }>(`SELECT commit_message, count(*) AS n FROM ducklake_snapshot_changes WHERE commit_message IS NOT NULL GROUP BY 1`);
  const seen = new Map(messages.map((m) => [m.commit_message, Number(m.n)]));
  let wrong = 0;
  let total = 0;
  for (const r of reports)
    for (const o of r.outcomes) {
      const times = seen.get(`w${r.writer}-k${o.k}`) ?? 0;
      total++;
      if (times !== (o.ok ? 1 : 0)) wrong++;
    }
  checks.push({ format: 'DuckLake', case: name, check: 'commits whose snapshot count differs from their outcome (1 if reported ok, 0 if failed)', expected: '0', measured: `${wrong} of ${total}`, ok: wrong === 0 });
}

async function tributaryFileChecks(engine: Engine, catalog: CatalogDatabase, lake: string, table: string, checks: Check[]): Promise<void> {
  const files = await catalog.query<{ file_id: string; path: string; rows: string }>(`SELECT file_id, path, rows FROM tributary.data_files WHERE table_name = '${table}' AND end_snapshot IS NULL`);
  let countWrong = 0;
  for (const file of files) {
    const n = await num(engine, `SELECT count(*) FROM read_parquet(${quoteLiteral(`${lake}/${file.path}`)})`);
    if (n !== Number(file.rows)) countWrong++;
  }
  const add = (check: string, want: number, got: number) => checks.push({ format: 'Tributary', case: 'append', check, expected: String(want), measured: String(got), ok: want === got });
  add('catalog rows of live data files (one per file)', files.length, new Set(files.map((f) => f.file_id)).size);
  add('distinct file paths among them', files.length, new Set(files.map((f) => f.path)).size);
  add('live files whose catalog row count differs from the file', 0, countWrong);
}

/** Outcome of a CLI process: exit code and its error's first line. */
function cli(root: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string; seconds: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'test', 'cli-entry.ts'), ...args], { cwd: root, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, seconds: (performance.now() - started) / 1000 }));
  });
}

async function run({ root, resultsDir, log }: SuiteContext): Promise<void> {
  const writers = positiveIntegerEnv('DUCKLAKE_WRITERS', 4);
  const commits = positiveIntegerEnv('DUCKLAKE_COMMITS', 10);
  const rows = positiveIntegerEnv('DUCKLAKE_ROWS', 1000);
  const latencyRuns = positiveIntegerEnv('DUCKLAKE_LATENCY_RUNS', 7);
  const machine = machineInfo();
  const s3: S3Server = await startS3('lake');
  const databases: CatalogDatabase[] = [];
  const database = async () => {
    const db = await createCatalogDatabase();
    databases.push(db);
    return db;
  };
  const env: NodeJS.ProcessEnv = { ...process.env, ...s3.env, FORCE_COLOR: '0' };
  Object.assign(process.env, s3.env);
  const scratch = mkdtempSync(join(tmpdir(), 'bench-ducklake-'));
  const clickstream = join(root, 'examples', 'ecommerce-clickstream');
  const checks: Check[] = [];
  const cases: CaseRun[] = [];
  const probes: { probe: string; result: string }[] = [];
  let duckLakeVersion = 'unknown';
  const latency: { format: string; appendMs: number[]; replaceMs: number[] }[] = [];
  try {
    // --- DuckLake: append, replace, counter, each on a catalog database of its own.
    for (const mode of ['append', 'replace', 'counter'] as const) {
      const catalog = await database();
      const dataPath = `s3://lake/ducklake-${mode}/`;
      const setup = await openDuckLake(libpq(catalog.url), dataPath);
      duckLakeVersion = String(await setup.scalar(`SELECT extension_version FROM duckdb_extensions() WHERE extension_name = 'ducklake'`));
      await setup.run(`CREATE TABLE lake.events AS ${rowsSql(0, 0, 1, DAY)} LIMIT 0`);
      await setup.run(`CREATE TABLE lake.days AS ${rowsSql(0, 0, rows, DAY)}`);
      await setup.run(`CREATE TABLE lake.counter AS SELECT 1 AS id, 0 AS n`);
      setup.closeAll();
      const perWriter = mode === 'replace' ? Math.max(1, Math.floor(commits / 2)) : commits;
      log(`DuckLake ${mode}: ${writers} processes × ${perWriter} commits`);
      const specs = Array.from({ length: writers }, (_, i): WriterSpec => ({ format: 'ducklake', mode, writer: i + 1, commits: perWriter, rows, catalog: libpq(catalog.url), dataPath, day: DAY }));
      const { reports, seconds } = await runWriters(root, specs, env);
      cases.push(summarise('DuckLake', mode, reports, seconds));
      const engine = await openDuckLake(libpq(catalog.url), dataPath);
      if (mode === 'append') {
        await appendChecks('DuckLake', engine, 'lake.events', reports, rows, checks);
        await duckLakeFileChecks(engine, catalog, 'events', checks);
      } else if (mode === 'replace') {
        await replaceChecks('DuckLake', engine, 'lake.days', rows, checks);
      } else {
        const n = await num(engine, 'SELECT n FROM lake.counter WHERE id = 1');
        const ok = reports.flatMap((r) => r.outcomes).filter((o) => o.ok).length;
        const rowsNow = await num(engine, 'SELECT count(*) FROM lake.counter');
        checks.push({ format: 'DuckLake', case: 'counter', check: 'final counter = increments that committed (no lost update)', expected: String(ok), measured: String(n), ok: n === ok });
        checks.push({ format: 'DuckLake', case: 'counter', check: 'rows of the counter table (one)', expected: '1', measured: String(rowsNow), ok: rowsNow === 1 });
      }
      await duckLakeSnapshotChecks(catalog, reports, mode, checks);
      engine.closeAll();
    }

    // --- Tributary's metastore: the same append and replace, by the lake's own commit, in processes.
    for (const mode of ['append', 'replace'] as const) {
      const catalog = await database();
      const lake = `s3://lake/tributary-${mode}`;
      const tEnv = { ...env, TRIBUTARY_CATALOG: catalog.url, TRIBUTARY_LAKE: lake };
      const dataDir = join(scratch, `tributary-${mode}`);
      Object.assign(process.env, { TRIBUTARY_CATALOG: catalog.url, TRIBUTARY_LAKE: lake });
      const perWriter = mode === 'replace' ? Math.max(1, Math.floor(commits / 2)) : commits;
      if (mode === 'replace') {
        // The day exists before the replaces, as DuckLake's does.
        const ws = await openWorkspace(await loadProject(clickstream, { dataDir }));
        const staged = await ws.lake.stage(ws.engine, 'bench_days', rowsSql(0, 0, rows, DAY), { runId: 'seed', partitionBy: { dt: 'dt' } });
        await ws.lake.commit(ws.engine, [{ staged, replace: 'append' }], { operation: 'seed' });
        await ws.close();
      }
      log(`Tributary ${mode}: ${writers} processes × ${perWriter} commits`);
      const specs = Array.from({ length: writers }, (_, i): WriterSpec => ({ format: 'tributary', mode, writer: i + 1, commits: perWriter, rows, catalog: catalog.url, dataPath: lake, day: DAY, project: clickstream, dataDir: join(dataDir, `w${i + 1}`) }));
      const { reports, seconds } = await runWriters(root, specs, tEnv);
      cases.push(summarise('Tributary', mode, reports, seconds));
      const ws = await openWorkspace(await loadProject(clickstream, { dataDir }));
      if (mode === 'append') {
        await appendChecks('Tributary', ws.engine, 'bench_events', reports, rows, checks);
        await tributaryFileChecks(ws.engine, catalog, lake, 'bench_events', checks);
      } else {
        await replaceChecks('Tributary', ws.engine, 'bench_days', rows, checks);
      }
      const snapshots = await catalog.query<{ n: string; distinct_ids: string }>(`SELECT count(*) AS n, count(DISTINCT snapshot_id) AS distinct_ids FROM tributary.snapshots`);
      checks.push({ format: 'Tributary', case: mode, check: 'snapshots (distinct ids = rows)', expected: snapshots[0]!.n, measured: snapshots[0]!.distinct_ids, ok: snapshots[0]!.n === snapshots[0]!.distinct_ids });
      await ws.close();
    }

    // --- Tributary's CLI: two `run` processes on different days, then on the same day.
    {
      const catalog = await database();
      const lake = 's3://lake/tributary-cli';
      const cEnv = { ...env, TRIBUTARY_CATALOG: catalog.url, TRIBUTARY_LAKE: lake };
      const dataDir = (name: string) => join(scratch, `cli-${name}`);
      const perDay = `SELECT CAST(dt AS VARCHAR) AS day, count(*)::INTEGER AS n FROM events GROUP BY ALL ORDER BY day`;
      log('Tributary CLI: the clickstream batch on S3 + PostgreSQL catalog');
      const first = await cli(root, ['run', '--quiet', '--project', clickstream, '--data-dir', dataDir('a')], cEnv);
      if (first.code !== 0) throw new Error(`tributary run failed: ${first.stderr}`);
      const counts = async () => (await cli(root, ['sql', perDay, '--format', 'json', '--project', clickstream, '--data-dir', dataDir('q')], cEnv)).stdout;
      const before = await counts();
      const days = (JSON.parse(before) as { day: string }[]).map((d) => d.day);
      const pair = async (label: string, a: string, b: string) => {
        const started = performance.now();
        const outcomes = await Promise.all([
          cli(root, ['run', 'events', '--date', a, '--quiet', '--project', clickstream, '--data-dir', dataDir('b')], cEnv),
          cli(root, ['run', 'events', '--date', b, '--quiet', '--project', clickstream, '--data-dir', dataDir('c')], cEnv),
        ]);
        const seconds = (performance.now() - started) / 1000;
        const errors: Record<string, number> = {};
        for (const o of outcomes) if (o.code !== 0) errors[o.stderr.split('\n')[0]!] = (errors[o.stderr.split('\n')[0]!] ?? 0) + 1;
        cases.push({ format: 'Tributary', case: label, writers: 2, commits: 2, committed: outcomes.filter((o) => o.code === 0).length, failed: outcomes.filter((o) => o.code !== 0).length, seconds, errors });
        const after = await counts();
        checks.push({ format: 'Tributary', case: label, check: 'rows per day after = before (each day once, none doubled)', expected: 'same', measured: after === before ? 'same' : 'differs', ok: after === before });
      };
      log('Tributary CLI: two processes, different days');
      await pair('CLI: 2 × run, different days', days[3]!, days[4]!);
      log('Tributary CLI: two processes, the same day');
      await pair('CLI: 2 × run, same day', days[5]!, days[5]!);
      const live = await catalog.query<{ runs: string }>(
        `SELECT count(DISTINCT f.run_id) AS runs FROM tributary.data_files f JOIN tributary.file_partition_values v USING (file_id)
          WHERE f.table_name = 'events' AND f.end_snapshot IS NULL AND v.key = 'dt' AND v.value = '${days[5]}'`,
      );
      checks.push({ format: 'Tributary', case: 'CLI: 2 × run, same day', check: 'runs whose files are the day’s live files (never a mix)', expected: '1', measured: live[0]!.runs, ok: live[0]!.runs === '1' });
    }

    // --- Latency: the same rows, one process per format, one after the other.
    for (const format of ['ducklake', 'tributary'] as const) {
      const catalog = await database();
      const lake = `s3://lake/latency-${format}`;
      const lEnv = { ...env, TRIBUTARY_CATALOG: catalog.url, TRIBUTARY_LAKE: lake };
      log(`latency: ${format}`);
      const spec: WriterSpec = {
        format, mode: 'latency', writer: 1, commits: latencyRuns, rows: 100, dayRows: 10_000,
        catalog: format === 'ducklake' ? libpq(catalog.url) : catalog.url, dataPath: format === 'ducklake' ? `${lake}/` : lake, day: DAY,
        project: clickstream, dataDir: join(scratch, `latency-${format}`),
      };
      const { reports } = await runWriters(root, [spec], lEnv);
      latency.push({ format: format === 'ducklake' ? 'DuckLake' : 'Tributary metastore', appendMs: reports[0]!.appendMs!, replaceMs: reports[0]!.replaceMs! });
    }

    // --- Probes: exactly-once offsets, time travel, compaction (DuckLake).
    {
      const catalog = await database();
      const engine = await openDuckLake(libpq(catalog.url), 's3://lake/probes/');
      await engine.run(`ATTACH ${quoteLiteral(libpq(catalog.url))} AS pg (TYPE postgres)`);
      await engine.run('CREATE TABLE pg.public.offsets (sink VARCHAR PRIMARY KEY, next_offset BIGINT)');
      await engine.run(`CREATE TABLE lake.sink AS ${rowsSql(9, 0, 0, DAY)} LIMIT 0`);
      await engine.run('CREATE TABLE lake.offsets (sink VARCHAR, next_offset BIGINT)');
      try {
        await engine.run('BEGIN');
        await engine.run(`INSERT INTO lake.sink ${rowsSql(9, 1, 100, DAY)}`);
        await engine.run(`INSERT INTO pg.public.offsets VALUES ('sink', 100)`);
        await engine.run('COMMIT');
        probes.push({ probe: 'one transaction: INSERT into a DuckLake table + INSERT into a plain table of the same PostgreSQL database (attached TYPE postgres)', result: 'committed' });
      } catch (error) {
        await engine.run('ROLLBACK').catch(() => undefined);
        probes.push({ probe: 'one transaction: INSERT into a DuckLake table + INSERT into a plain table of the same PostgreSQL database (attached TYPE postgres)', result: `refused: ${String((error as Error).message).split('\n')[0]}` });
      }
      const before = await num(engine, 'SELECT count(*) FROM lake.sink');
      await engine.run('BEGIN');
      await engine.run(`INSERT INTO lake.sink ${rowsSql(9, 2, 100, DAY)}`);
      await engine.run(`DELETE FROM lake.offsets WHERE sink = 'sink'`);
      await engine.run(`INSERT INTO lake.offsets VALUES ('sink', 200)`);
      await engine.run('COMMIT');
      const [snap] = await engine.query<{ id: bigint; changes: string }>(`SELECT snapshot_id AS id, changes::VARCHAR AS changes FROM lake.snapshots() ORDER BY snapshot_id DESC LIMIT 1`);
      probes.push({ probe: 'one transaction: rows + the offset kept in a DuckLake table (rows before: ' + before + ')', result: `one snapshot (${snap!.id}): ${snap!.changes}` });
      const version = Number(snap!.id);
      for (let k = 3; k < 8; k++) await engine.run(`INSERT INTO lake.sink ${rowsSql(9, k, 100, DAY)}`);
      const live = await num(engine, 'SELECT count(*) FROM lake.sink');
      const old = await num(engine, `SELECT count(*) FROM lake.sink AT (VERSION => ${version})`);
      probes.push({ probe: `time travel: SELECT … AT (VERSION => ${version})`, result: `${old} rows then, ${live} now` });
      const filesBefore = await num(engine, `SELECT count(*) FROM ducklake_list_files('lake', 'sink')`);
      const started = performance.now();
      await engine.run(`CALL ducklake_merge_adjacent_files('lake')`);
      const ms = performance.now() - started;
      const filesAfter = await num(engine, `SELECT count(*) FROM ducklake_list_files('lake', 'sink')`);
      const after = await num(engine, 'SELECT count(*) FROM lake.sink');
      const oldAfter = await num(engine, `SELECT count(*) FROM lake.sink AT (VERSION => ${version})`);
      probes.push({ probe: 'compaction: CALL ducklake_merge_adjacent_files', result: `${filesBefore} live files → ${filesAfter} in ${ms.toFixed(0)} ms; ${after} rows after (${live} before); time travel to ${version} still ${oldAfter} rows` });
      engine.closeAll();
    }
  } finally {
    for (const db of databases) await db.drop().catch(() => undefined);
    await s3.stop();
    rmSync(scratch, { recursive: true, force: true });
  }

  const report = { machine, duckLakeVersion, writers, commits, rows, cases, checks, latency, probes };
  writeFileSync(join(resultsDir, 'ducklake.json'), `${JSON.stringify(report, null, 2)}\n`);
  const lat = latency.map((l) => ({ ...l, appendMedian: median(l.appendMs), replaceMedian: median(l.replaceMs) }));
  const md = [
    '# DuckLake against Tributary’s metastore, both with their catalog in PostgreSQL and data on S3',
    '',
    `Machine: ${machine.nproc} cores (${machine.cpuModel}), Node ${machine.node}; DuckDB ${machine.duckdb} (@duckdb/node-api); ducklake extension ${duckLakeVersion} (PyPI duckdb-extension-ducklake for DuckDB 1.5.5); PostgreSQL on 127.0.0.1:5432; moto S3 server. Commit measured: ${machine.commit}. Run at ${machine.date}.`,
    '',
    `Command: \`npm run bench -- ducklake\` (${writers} writer processes, ${commits} commits each for append and counter, ${Math.max(1, Math.floor(commits / 2))} for replace, ${rows} rows a commit).`,
    '',
    '## Concurrent writers',
    '',
    '| format | case | processes | commits | committed | failed | seconds | errors (first line, × times) |',
    '|---|---|---:|---:|---:|---:|---:|---|',
    ...cases.map((c) => `| ${c.format} | ${c.case} | ${c.writers} | ${c.commits} | ${c.committed} | ${c.failed} | ${c.seconds.toFixed(1)} | ${Object.entries(c.errors).map(([m, n]) => `${n} × \`${m.replaceAll('|', '\\|')}\``).join('<br>') || '—'} |`),
    '',
    '## Checks after the concurrent writers',
    '',
    '| format | case | check | expected | measured | holds |',
    '|---|---|---|---:|---:|:---:|',
    ...checks.map((c) => `| ${c.format} | ${c.case} | ${c.check} | ${c.expected} | ${c.measured} | ${c.ok ? '✓' : '✗'} |`),
    '',
    `## Commit latency (one process, ${latencyRuns} commits each, median)`,
    '',
    'Small append: 100 rows into an unpartitioned table. One-day replace: the day’s 10,000 rows deleted and written again in one commit (DuckLake: DELETE + INSERT in one transaction; Tributary: stage the day’s Parquet, publish it, one metastore commit retiring the day’s files, with a source offset written in the same commit). Both from the rows’ SQL to the commit returning, data on the same S3 server.',
    '',
    '| format | small append, median ms | (all) | one-day replace, median ms | (all) |',
    '|---|---:|---|---:|---|',
    ...lat.map((l) => `| ${l.format} | ${l.appendMedian.toFixed(0)} | ${l.appendMs.map((v) => v.toFixed(0)).join(', ')} | ${l.replaceMedian.toFixed(0)} | ${l.replaceMs.map((v) => v.toFixed(0)).join(', ')} |`),
    '',
    '## DuckLake probes',
    '',
    '| probe | result |',
    '|---|---|',
    ...probes.map((p) => `| ${p.probe} | ${p.result.replaceAll('|', '\\|')} |`),
    '',
    '![chart](ducklake.svg)',
    '',
  ].join('\n');
  writeFileSync(join(resultsDir, 'ducklake.md'), md);
  writeFileSync(
    join(resultsDir, 'ducklake.svg'),
    barChartSvg({
      title: 'Commit latency, catalog in PostgreSQL, data on S3 (moto)',
      subtitle: `median of ${latencyRuns}; commit ${machine.commit}`,
      categories: lat.map((l) => l.format),
      series: [
        { name: 'small append (100 rows)', unit: 'ms', values: lat.map((l) => Math.round(l.appendMedian)) },
        { name: 'one-day replace (10,000 rows)', unit: 'ms', values: lat.map((l) => Math.round(l.replaceMedian)) },
      ],
    }),
  );
  log(`wrote ${join(resultsDir, 'ducklake.md')}`);
}

export const ducklakeSuite: Suite = { name: 'ducklake', description: 'DuckLake vs Tributary’s metastore: concurrent writers, #1094 checks, commit latency', run };
