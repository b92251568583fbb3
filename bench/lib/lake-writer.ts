/**
 * One writer process of the `ducklake` suite (bench/suites/ducklake.ts): it opens either a
 * DuckLake (the `ducklake` extension, catalog in PostgreSQL, data on S3) or Tributary's own lake
 * and metastore on the same PostgreSQL server and S3 bucket, says `ready` on stdout, waits for
 * `go` on stdin (so that every writer starts its commits together, on a condition, not a sleep),
 * does its commits, and prints one JSON line with what it committed and what failed.
 *
 *   node --import tsx bench/lib/lake-writer.ts '<json WriterSpec>'
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { loadProject } from '../../src/config/project.js';
import { Engine, quoteLiteral } from '../../src/engine/index.js';
import { openWorkspace, type Workspace } from '../../src/state/workspace.js';

export type WriterMode = 'append' | 'replace' | 'counter' | 'latency';

export interface WriterSpec {
  format: 'ducklake' | 'tributary';
  mode: WriterMode;
  writer: number;
  /** Commits this writer makes. */
  commits: number;
  /** Rows per commit (append, replace, and the latency's small append). */
  rows: number;
  /** DuckLake: the libpq connection string of its catalog database; Tributary: the catalog URL. */
  catalog: string;
  /** s3://bucket/prefix/ for the data files. */
  dataPath: string;
  /** The day `replace` replaces. */
  day: string;
  /** Tributary: a project folder (loaded with TRIBUTARY_CATALOG and TRIBUTARY_LAKE from the environment) and a data folder. */
  project?: string;
  dataDir?: string;
  /** Rows of the day the latency's partition replace writes. */
  dayRows?: number;
}

export interface CommitOutcome {
  k: number;
  ok: boolean;
  ms: number;
  /** The error on one line, when the commit failed. */
  error?: string;
  /** Counter mode: the value read before the increment. */
  read?: number;
}

export interface WriterReport {
  writer: number;
  /** Set by the suite for a writer it killed after it hung. */
  hung?: boolean;
  outcomes: CommitOutcome[];
  /** Latency mode: milliseconds of each small append and each one-day replace. */
  appendMs?: number[];
  replaceMs?: number[];
}

/** The rows of commit `k` of writer `w`: ids w·10⁷ + k·10⁴ + i, so every commit's ids are a range of their own. */
export function idRange(writer: number, k: number, rows: number): [number, number] {
  const lo = writer * 10_000_000 + k * 10_000;
  return [lo, lo + rows - 1];
}

/** SQL of commit `k`'s rows: the same for both formats. */
export function rowsSql(writer: number, k: number, rows: number, day: string): string {
  const [lo] = idRange(writer, k, rows);
  return `SELECT (${lo} + i)::BIGINT AS id, ${writer}::INTEGER AS writer, ${k}::INTEGER AS batch, 'w${writer}-k${k}' AS tag,
            (i * 7919 % 100000)::DOUBLE / 100 AS amount, md5(i::VARCHAR) AS payload, DATE ${quoteLiteral(day)} AS dt
          FROM range(${rows}) r(i)`;
}

/** The S3 secret, from the environment a Tributary process reads too (AWS_ENDPOINT_URL, keys, region). */
export async function s3Secret(engine: Engine): Promise<void> {
  await engine.load('httpfs');
  const endpoint = new URL(process.env.AWS_ENDPOINT_URL!);
  await engine.run(
    `CREATE OR REPLACE SECRET bench_s3 (TYPE s3, KEY_ID ${quoteLiteral(process.env.AWS_ACCESS_KEY_ID!)}, SECRET ${quoteLiteral(process.env.AWS_SECRET_ACCESS_KEY!)},
       REGION ${quoteLiteral(process.env.AWS_REGION ?? 'us-east-1')}, ENDPOINT ${quoteLiteral(endpoint.host)}, URL_STYLE 'path', USE_SSL false)`,
  );
}

/** A DuckDB engine with the DuckLake attached as `lake` (extensions from TRIBUTARY_EXTENSIONS). */
export async function openDuckLake(catalog: string, dataPath: string): Promise<Engine> {
  const engine = await Engine.open();
  await s3Secret(engine);
  await engine.load('postgres');
  await engine.run('LOAD ducklake');
  await engine.run(`ATTACH ${quoteLiteral(`ducklake:postgres:${catalog}`)} AS lake (DATA_PATH ${quoteLiteral(dataPath)})`);
  return engine;
}

/** The error's text on one line (DuckLake's commit errors put their cause on the lines after the first). */
const firstLine = (error: unknown) => String((error as Error).message ?? error).split('\n').map((l) => l.trim()).filter(Boolean).join(' ⏎ ').slice(0, 400);

async function waitForGo(): Promise<void> {
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) if (line.trim() === 'go') break;
  lines.close();
}

async function duckLakeWriter(spec: WriterSpec): Promise<WriterReport> {
  const engine = await openDuckLake(spec.catalog, spec.dataPath);
  const outcomes: CommitOutcome[] = [];
  if (spec.mode === 'latency') return { writer: spec.writer, outcomes, ...(await duckLakeLatency(engine, spec)) };
  console.log('ready');
  await waitForGo();
  for (let k = 0; k < spec.commits; k++) {
    const started = performance.now();
    let read: number | undefined;
    try {
      await engine.run('BEGIN');
      if (spec.mode === 'append') {
        await engine.run(`INSERT INTO lake.events ${rowsSql(spec.writer, k, spec.rows, spec.day)}`);
      } else if (spec.mode === 'replace') {
        await engine.run(`DELETE FROM lake.days WHERE dt = DATE ${quoteLiteral(spec.day)}`);
        await engine.run(`INSERT INTO lake.days ${rowsSql(spec.writer, k, spec.rows, spec.day)}`);
      } else {
        read = Number(await engine.scalar<number>('SELECT n FROM lake.counter WHERE id = 1'));
        await engine.run(`UPDATE lake.counter SET n = ${read + 1} WHERE id = 1`);
      }
      await engine.run(`CALL lake.set_commit_message('w${spec.writer}', 'w${spec.writer}-k${k}')`);
      await engine.run('COMMIT');
      outcomes.push({ k, ok: true, ms: performance.now() - started, read });
    } catch (error) {
      await engine.run('ROLLBACK').catch(() => undefined);
      outcomes.push({ k, ok: false, ms: performance.now() - started, error: firstLine(error), read });
    }
  }
  engine.closeAll();
  return { writer: spec.writer, outcomes };
}

async function duckLakeLatency(engine: Engine, spec: WriterSpec): Promise<Pick<WriterReport, 'appendMs' | 'replaceMs'>> {
  const appendMs: number[] = [];
  const replaceMs: number[] = [];
  await engine.run(`CREATE TABLE lake.latency_append AS ${rowsSql(0, 0, spec.rows, spec.day)} LIMIT 0`);
  await engine.run(`CREATE TABLE lake.latency_days AS ${rowsSql(0, 0, spec.dayRows!, spec.day)}`);
  await engine.run(`ALTER TABLE lake.latency_days SET PARTITIONED BY (dt)`);
  for (let k = 0; k < spec.commits; k++) {
    let started = performance.now();
    await engine.run(`INSERT INTO lake.latency_append ${rowsSql(spec.writer, k, spec.rows, spec.day)}`);
    appendMs.push(performance.now() - started);
    started = performance.now();
    await engine.run('BEGIN');
    await engine.run(`DELETE FROM lake.latency_days WHERE dt = DATE ${quoteLiteral(spec.day)}`);
    await engine.run(`INSERT INTO lake.latency_days ${rowsSql(spec.writer, k, spec.dayRows!, spec.day)}`);
    await engine.run('COMMIT');
    replaceMs.push(performance.now() - started);
  }
  engine.closeAll();
  return { appendMs, replaceMs };
}

/** One Tributary lake write: stage the rows, then one metastore commit (with a source offset, as the stream sink's). */
async function tributaryWrite(ws: Workspace, table: string, sql: string, replace: 'append' | 'day', day: string, writer: number, commit: number): Promise<void> {
  const runId = randomUUID().slice(0, 12);
  const staged = await ws.lake.stage(ws.engine, table, sql, { runId, partitionBy: { dt: 'dt' } });
  await ws.lake.commit(ws.engine, [{ staged, replace: replace === 'append' ? 'append' : (file) => file.partition.dt === day }], {
    operation: replace === 'append' ? 'append' : 'replace day',
    runId,
    // Each writer is a sink of its own, its offset moved from this commit's number to the next.
    inside: (tx) => tx.writeOffsets('bench', `${table}#${writer}`, { from: commit ? new Map([[0, commit]]) : new Map(), to: new Map([[0, commit + 1]]) }),
  });
}

async function tributaryWriter(spec: WriterSpec): Promise<WriterReport> {
  const project = await loadProject(spec.project!, { dataDir: spec.dataDir });
  const ws = await openWorkspace(project);
  const outcomes: CommitOutcome[] = [];
  try {
    if (spec.mode === 'latency') {
      const appendMs: number[] = [];
      const replaceMs: number[] = [];
      await tributaryWrite(ws, 'latency_days', rowsSql(0, 0, spec.dayRows!, spec.day), 'append', spec.day, -1, 0);
      for (let k = 0; k < spec.commits; k++) {
        let started = performance.now();
        await tributaryWrite(ws, 'latency_append', rowsSql(spec.writer, k, spec.rows, spec.day), 'append', spec.day, spec.writer, k);
        appendMs.push(performance.now() - started);
        started = performance.now();
        await tributaryWrite(ws, 'latency_days', rowsSql(spec.writer, k, spec.dayRows!, spec.day), 'day', spec.day, spec.writer, k);
        replaceMs.push(performance.now() - started);
      }
      return { writer: spec.writer, outcomes, appendMs, replaceMs };
    }
    console.log('ready');
    await waitForGo();
    for (let k = 0; k < spec.commits; k++) {
      const started = performance.now();
      try {
        if (spec.mode === 'append') await tributaryWrite(ws, 'bench_events', rowsSql(spec.writer, k, spec.rows, spec.day), 'append', spec.day, spec.writer, k);
        else if (spec.mode === 'replace') await tributaryWrite(ws, 'bench_days', rowsSql(spec.writer, k, spec.rows, spec.day), 'day', spec.day, spec.writer, k);
        else throw new Error('the counter case is DuckLake only');
        outcomes.push({ k, ok: true, ms: performance.now() - started });
      } catch (error) {
        outcomes.push({ k, ok: false, ms: performance.now() - started, error: firstLine(error) });
      }
    }
    return { writer: spec.writer, outcomes };
  } finally {
    await ws.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const spec = JSON.parse(process.argv[2]!) as WriterSpec;
  const report = spec.format === 'ducklake' ? await duckLakeWriter(spec) : await tributaryWriter(spec);
  console.log(JSON.stringify(report));
  // The report is out: a handle left open (the workspace's was closed) must not keep the process alive.
  process.exit(0);
}
