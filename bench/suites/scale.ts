/**
 * Scale (issue 20): what workers and object storage give on this machine, measured in one run.
 *
 * 1. Stream workers: the clickstream stream job (rules, lake sink, serving sink, dead letters,
 *    exactly-once commits) run by 1, 2 and 3 `tributary worker` processes sharing one catalog in
 *    PostgreSQL (a fresh database each time) and one lake folder, reading a NATS JetStream stream
 *    whose events are spread over partitioned subjects (`SCALE_….{partition}`). The backlog is
 *    published once, before any worker starts; each run starts its workers behind a gate (see
 *    streamRun), opens it once every one is a member of the job's group, then counts the rows of the serving
 *    table `live_operations` in PostgreSQL itself (not the workers' own figures) at that moment
 *    and when every sink has committed the last offset of every partition: events/s is the rows
 *    committed in between over the time between. Afterwards every event id is checked once in the
 *    serving table and in the lake table. During the window the suite samples the catalog's commit
 *    lock (pg_locks) to measure how busy it is, the machine's CPU (/proc/stat), and counts the
 *    commits (tributary.snapshots).
 * 2. The catalog's commit rate: writer processes (bench/lib/commit-writer.ts) each
 *    making back-to-back the smallest commit a sink makes (a snapshot and an offset moved
 *    compare-and-set), on a fresh PostgreSQL catalog: commits/s with 1 and with 3 processes.
 * 3. Batch: the clickstream batch (`tributary run` of examples/ecommerce-clickstream on a generated
 *    file) with the lake on local disk, on an S3 server (moto, started here), and on S3 with the
 *    catalog in PostgreSQL; wall time, peak memory, S3 requests, and the KPIs compared.
 *
 *   npm run bench -- scale
 *   BENCH_SCALE_EVENTS=N      events in the stream backlog (default 600,000)
 *   BENCH_SCALE_WORKERS=1,2,3 the worker counts to run
 *   BENCH_SCALE_PARTITIONS=N  the stream's partitions (default 6: 1, 2 and 3 workers split them evenly)
 *   BENCH_SCALE_MAX_BATCH=N   the workers' --max-batch (default 50,000)
 *   BENCH_SCALE_COMMITS=N     commits per writer process in the commit-rate probe (default 40)
 *   BENCH_ROWS=N              rows of the batch file (default 2,000,000)
 *   BENCH_SCALE_PARTS=stream,commits,batch  only these parts
 *   BENCH_CLI=build           run bin/tributary.js after `npm run build` instead of the source (tsx)
 * Results: bench/results/scale.{md,json,svg} (scale-<events>x<rows>.* when a size is changed).
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import pg from 'pg';
import { readSample, stamp, type SampleEvent } from '../../examples/ecommerce-clickstream/replayers/sample.js';
import { createCatalogDatabase, type CatalogDatabase } from '../../test/support/postgres.js';
import { startS3, type S3Server } from '../../test/support/s3.js';
import { startCommand, type LiveCommand } from '../../test/support/live-command.js';
import { barChartSvg } from '../lib/chart.js';
import { ensureEcommerceFile } from '../lib/dataset.js';
import { machineInfo } from '../lib/machine.js';
import { runCapture, spawnMeasured } from '../lib/measure.js';
import { MB, positiveIntegerEnv, type Suite, type SuiteContext } from '../lib/suite.js';
import type { CommitReport, CommitSpec } from '../lib/commit-writer.js';
import { clickstreamOnBroker } from '../lib/broker-project.js';

const JOB = 'clickstream_live';
/** The catalog's commit lock (src/catalog/shared.ts COMMIT_LOCK), as pg_locks shows an advisory lock on one 32-bit key. */
const COMMIT_LOCK_OBJID = 0x7472_6962;
const NATS = '127.0.0.1:4222';

const DEFAULTS = { events: 600_000, partitions: 6, maxBatch: 50_000, commits: 40, rows: 2_000_000 };

interface WorkerRun {
  workers: number;
  /** Seconds from starting the workers to every one being a member of the group (the gate opened then). */
  settleSeconds: number;
  /** Rows of live_operations when the window opened, 2.5 s after the gate (committed before it). */
  rowsBefore: number;
  windowEvents: number;
  windowSeconds: number;
  eventsPerSecond: number;
  perWorkerEventsPerSecond: number;
  /** Commits (catalog snapshots) made during the window, and per second. */
  commits: number;
  commitsPerSecond: number;
  /** Events per stream batch during the window (a batch commits three sinks). */
  eventsPerBatch: number;
  /** Share of lock samples during the window in which a commit held the catalog's lock. */
  lockBusy: number;
  lockSamples: number;
  /** The machine's CPU busy share during the window (all cores, /proc/stat), and the workers' own CPU in cores. */
  machineCpuBusy: number;
  workerCores: number;
  loadAverage: number;
  /** Per worker, the events it says it committed, and the batches it left to another worker (offset conflicts). */
  committedByWorker: number[];
  conflicts: number;
  check: { servingRows: number; servingIds: number; lakeRows: number; lakeIds: number; deadLetters: number; exactlyOnce: boolean };
}

interface CommitProbe {
  processes: number;
  commits: number;
  committed: number;
  failed: number;
  seconds: number;
  commitsPerSecond: number;
  medianMs: number;
  errors: string[];
}

interface BatchRun {
  lake: string;
  catalog: string;
  ok: boolean;
  error?: string;
  wallSeconds: number;
  rowsPerSecond: number;
  peakMB: number;
  s3Requests: number | null;
  kpis?: Record<string, number>;
  agrees?: boolean;
}

/** Busy and total jiffies of all cores. */
function cpuTimes(): { busy: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  const idle = fields[3]! + (fields[4] ?? 0);
  return { busy: total - idle, total };
}

/** CPU seconds a process has used (user + system). */
function processCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

async function pgClient(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return client;
}

async function streamRun(
  context: SuiteContext,
  cli: string[],
  options: { workers: number; project: string; stream: string; ends: Map<number, number>; events: number; maxBatch: number; scratch: string },
): Promise<WorkerRun> {
  const { log } = context;
  const catalog: CatalogDatabase = await createCatalogDatabase();
  const lake = join(options.scratch, `lake-${options.workers}`);
  const env = { TRIBUTARY_CATALOG: catalog.url, TRIBUTARY_LAKE: lake };
  const workers: LiveCommand[] = [];
  const client = await pgClient(catalog.url);
  try {
    const start = (i: number) =>
      startCommand(process.execPath, [...cli, 'worker', '--project', options.project, '--data-dir', join(options.scratch, `w${options.workers}-${i}`), '--max-batch', String(options.maxBatch)], { cwd: context.root, env });
    // One short command makes the catalog's tables first: processes opening a fresh catalog
    // together can fail (CREATE SCHEMA races; see docs/scaling.md). Then the workers start together.
    await runCapture(process.execPath, [...cli, 'sql', 'SELECT 1 AS ready', '--format', 'json', '--project', options.project, '--data-dir', join(options.scratch, `init${options.workers}`)], {
      cwd: context.root,
      env: { ...process.env, ...env },
    });
    // A gate, so that the workers start reading together: members of the job's group split its
    // partitions by rank (src/catalog/shared.ts GroupMembership), so while as many placeholder
    // members as there are partitions rank first, a worker's share is empty. The suite keeps them
    // alive until every worker has joined, then removes them: within a heartbeat (2 s) every worker
    // takes its share of the backlog.
    const GROUP_DDL = `CREATE TABLE IF NOT EXISTS tributary.stream_members (grp TEXT NOT NULL, member TEXT NOT NULL, seen_at TIMESTAMPTZ NOT NULL, PRIMARY KEY (grp, member))`;
    await client.query(GROUP_DDL);
    const placeholders = Array.from({ length: options.ends.size }, (_, i) => `0-bench-gate-${String(i).padStart(4, '0')}`);
    const holdGate = () =>
      client.query(`INSERT INTO tributary.stream_members SELECT $1, m, now() FROM unnest($2::text[]) m ON CONFLICT (grp, member) DO UPDATE SET seen_at = now()`, [JOB, placeholders]);
    await holdGate();
    const gate = setInterval(() => void holdGate().catch(() => undefined), 1000);
    const started = performance.now();
    try {
      for (let i = 0; i < options.workers; i++) workers.push(start(i));
      for (const w of workers) await w.waitFor(/worker \d+ runs/);
      for (;;) {
        const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM tributary.stream_members WHERE grp = $1 AND member NOT LIKE '0-bench-gate-%' AND seen_at > now() - interval '10 seconds'`, [JOB]);
        if (Number(rows[0]!.n) >= options.workers) break;
        if (performance.now() - started > 120_000) throw new Error(`${options.workers} workers: not all members after 120 s:\n${workers.map((w) => w.output()).join('\n---\n')}`);
        await sleep(100);
      }
    } finally {
      clearInterval(gate);
    }
    const beforeGate = Number((await client.query<{ n: string }>('SELECT count(*) AS n FROM main.live_operations').catch(() => ({ rows: [{ n: '0' }] }))).rows[0]!.n);
    if (beforeGate !== 0) throw new Error(`${options.workers} workers: ${beforeGate} events committed while the gate was closed`);
    await client.query(`DELETE FROM tributary.stream_members WHERE grp = $1 AND member LIKE '0-bench-gate-%'`, [JOB]);
    // Each worker sees the group without the gate within its heartbeat (2 s); the window opens after that.
    await sleep(2500);
    const settleSeconds = (performance.now() - started) / 1000 - 2.5;
    const countServing = async () => Number((await client.query<{ n: string }>('SELECT count(*) AS n FROM main.live_operations').catch(() => ({ rows: [{ n: '0' }] }))).rows[0]!.n);

    // The window opens: rows committed so far, the machine's CPU, the workers' CPU, the catalog's clock.
    const cpu0 = cpuTimes();
    const workerCpu0 = workers.map((w) => processCpuSeconds(w.child.pid!));
    const pgT0 = (await client.query<{ t: string }>('SELECT now()::text AS t')).rows[0]!.t;
    const t0 = performance.now();
    const rowsBefore = await countServing();

    // The catalog's lock, sampled on a connection of its own while the window is open.
    const sampler = await pgClient(catalog.url);
    let sampling = true;
    let lockSamples = 0;
    let lockHeld = 0;
    const sampled = (async () => {
      while (sampling) {
        const { rows } = await sampler.query<{ n: string }>(
          `SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = ${COMMIT_LOCK_OBJID} AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
        );
        lockSamples++;
        if (Number(rows[0]!.n) > 0) lockHeld++;
        await sleep(20);
      }
    })();

    // The window closes when every sink has committed every partition to its end.
    const caughtUp = async () => {
      const { rows } = await client.query<{ sink: string; partition: number; next_offset: string }>(`SELECT sink, partition, next_offset FROM tributary.stream_offsets WHERE job = '${JOB}'`);
      const sinks = new Set(rows.map((r) => r.sink));
      if (sinks.size < 3) return false;
      return [...sinks].every((sink) => [...options.ends].every(([p, end]) => rows.some((r) => r.sink === sink && r.partition === p && Number(r.next_offset) === end)));
    };
    while (!(await caughtUp())) {
      if (performance.now() - t0 > 900_000) throw new Error(`${options.workers} workers: not caught up in 900 s`);
      const failed = workers.find((w) => w.child.exitCode !== null);
      if (failed) throw new Error(`a worker exited (${failed.child.exitCode}):\n${failed.output()}`);
      await sleep(100);
    }
    const t1 = performance.now();
    const pgT1 = (await client.query<{ t: string }>('SELECT now()::text AS t')).rows[0]!.t;
    const cpu1 = cpuTimes();
    const workerCpu1 = workers.map((w) => processCpuSeconds(w.child.pid!));
    sampling = false;
    await sampled;
    await sampler.end();
    const rowsAfter = await countServing();
    const windowSeconds = (t1 - t0) / 1000;
    const windowEvents = rowsAfter - rowsBefore;
    const { rows: commitRows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM tributary.snapshots WHERE committed_at >= $1::timestamptz AND committed_at <= $2::timestamptz`, [pgT0, pgT1]);
    const commits = Number(commitRows[0]!.n);
    const loadAverage = loadavg()[0]!;

    const committedByWorker: number[] = [];
    let conflicts = 0;
    for (const w of workers) {
      const code = await w.stop();
      if (code !== 0) throw new Error(`a worker stopped with ${code}:\n${w.output()}`);
      const summary = /clickstream_live: (\d+) events committed by this worker, (\d+) batches left/.exec(w.output());
      committedByWorker.push(Number(summary?.[1] ?? 0));
      conflicts += Number(summary?.[2] ?? 0);
    }

    // Every event once, in the serving table (PostgreSQL) and in the lake table (its Parquet files, as the catalog lists them).
    const [serving] = (await client.query<{ n: string; ids: string }>('SELECT count(*) AS n, count(DISTINCT id) AS ids FROM main.live_operations')).rows;
    const [letters] = (await client.query<{ n: string }>('SELECT count(*) AS n FROM tributary.dead_letters')).rows;
    const lakeCount = await runCapture(
      process.execPath,
      [...cli, 'sql', 'SELECT count(*)::BIGINT AS n, count(DISTINCT id)::BIGINT AS ids FROM events_raw', '--format', 'json', '--project', options.project, '--data-dir', join(options.scratch, `q${options.workers}`)],
      { cwd: context.root, env: { ...process.env, ...env } },
    );
    const lakeRow = (JSON.parse(lakeCount) as { n: number; ids: number }[])[0]!;
    const check = {
      servingRows: Number(serving!.n),
      servingIds: Number(serving!.ids),
      lakeRows: Number(lakeRow.n),
      lakeIds: Number(lakeRow.ids),
      deadLetters: Number(letters!.n),
      exactlyOnce: false,
    };
    check.exactlyOnce = [check.servingRows, check.servingIds, check.lakeRows, check.lakeIds].every((v) => v === options.events) && check.deadLetters === 0;
    const eventsPerSecond = windowEvents / windowSeconds;
    const run: WorkerRun = {
      workers: options.workers,
      settleSeconds,
      rowsBefore,
      windowEvents,
      windowSeconds,
      eventsPerSecond,
      perWorkerEventsPerSecond: eventsPerSecond / options.workers,
      commits,
      commitsPerSecond: commits / windowSeconds,
      eventsPerBatch: commits ? windowEvents / (commits / 3) : 0,
      lockBusy: lockSamples ? lockHeld / lockSamples : 0,
      lockSamples,
      machineCpuBusy: (cpu1.busy - cpu0.busy) / (cpu1.total - cpu0.total),
      workerCores: workerCpu1.reduce((a, b, i) => a + b - workerCpu0[i]!, 0) / windowSeconds,
      loadAverage,
      committedByWorker,
      conflicts,
      check,
    };
    log(
      `  ${options.workers} worker(s): ${fmt(windowEvents)} events in ${windowSeconds.toFixed(1)} s = ${fmt(eventsPerSecond)} events/s ` +
        `(${fmt(run.perWorkerEventsPerSecond)} per worker; all joined after ${settleSeconds.toFixed(1)} s, ${fmt(rowsBefore)} committed before the window); ` +
        `${commits} commits (${run.commitsPerSecond.toFixed(1)}/s), lock busy ${(run.lockBusy * 100).toFixed(0)} %, CPU ${(run.machineCpuBusy * 100).toFixed(0)} %, ` +
        `workers ${run.workerCores.toFixed(2)} cores; by worker ${committedByWorker.map(fmt).join(' / ')}, ${conflicts} conflicts; exactly once: ${check.exactlyOnce}`,
    );
    return run;
  } finally {
    for (const w of workers) await w.stop().catch(() => undefined);
    await client.end().catch(() => undefined);
    await catalog.drop().catch(() => undefined);
    rmSync(lake, { recursive: true, force: true });
  }
}

async function publishBacklog(stream: string, partitions: number, count: number, sample: SampleEvent[]): Promise<{ seconds: number; ends: Map<number, number>; close: () => Promise<void> }> {
  const nc = await connect({ servers: NATS });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: stream, subjects: [`${stream}.*`] });
  const started = performance.now();
  // Core NATS publishes (no acknowledgement each), flushed every few thousand; the stream stores
  // them, and the backlog counts only once the stream holds every one.
  for (let i = 0; i < count; i++) {
    nc.publish(`${stream}.${i % partitions}`, stamp(sample[i % sample.length]!));
    if (i % 5000 === 4999) await nc.flush();
  }
  await nc.flush();
  for (let held = 0, since = performance.now(); held < count; ) {
    const now = (await jsm.streams.info(stream)).state.messages;
    if (now !== held) [held, since] = [now, performance.now()];
    else if (performance.now() - since > 10_000) throw new Error(`NATS stream ${stream} holds ${held} of the ${count} events published`);
    if (held < count) await sleep(50);
  }
  const seconds = (performance.now() - started) / 1000;
  const ends = new Map<number, number>();
  for (let p = 0; p < partitions; p++) ends.set(p, (await jsm.streams.getMessage(stream, { last_by_subj: `${stream}.${p}` }))!.seq + 1);
  return {
    seconds,
    ends,
    close: async () => {
      await jsm.streams.delete(stream).catch(() => undefined);
      await nc.close();
    },
  };
}

/** Runs `processes` commit writers together (a `go` line once all are ready) and reads their reports. */
async function commitProbe(context: SuiteContext, processes: number, commits: number, scratch: string): Promise<CommitProbe> {
  const catalog = await createCatalogDatabase();
  const children: ChildProcess[] = [];
  try {
    const env = { ...process.env, TRIBUTARY_CATALOG: catalog.url, TRIBUTARY_LAKE: join(scratch, `commit-lake-${processes}`), FORCE_COLOR: '0' };
    const clickstream = join(context.root, 'examples', 'ecommerce-clickstream');
    const startWriter = (i: number) => {
      const spec: CommitSpec = { writer: i + 1, commits, project: clickstream, dataDir: join(scratch, `commit-${processes}-w${i + 1}`) };
      const child = spawn(process.execPath, ['--import', 'tsx', join(context.root, 'bench', 'lib', 'commit-writer.ts'), JSON.stringify(spec)], { cwd: context.root, env, stdio: ['pipe', 'pipe', 'pipe'] });
      children.push(child);
      let stderr = '';
      child.stderr.on('data', (chunk) => (stderr += chunk));
      let readyResolve!: () => void;
      let reportResolve!: (r: CommitReport) => void;
      const ready = new Promise<void>((resolve) => (readyResolve = resolve));
      const report = new Promise<CommitReport>((resolve, reject) => {
        reportResolve = resolve;
        child.on('close', (code, signal) => reject(new Error(`commit writer ${spec.writer} ended (${code ?? signal}) without a report:\n${stderr}`)));
      });
      createInterface({ input: child.stdout }).on('line', (line) => {
        if (line === 'ready') readyResolve();
        else if (line.startsWith('{')) reportResolve(JSON.parse(line) as CommitReport);
      });
      return { child, ready, report };
    };
    // The first opens the fresh catalog (makes its tables) before the others start.
    const writers = [startWriter(0)];
    await Promise.race([writers[0]!.ready, writers[0]!.report]);
    for (let i = 1; i < processes; i++) writers.push(startWriter(i));
    await Promise.race([Promise.all(writers.map((w) => w.ready)), Promise.all(writers.map((w) => w.report))]);
    for (const w of writers) w.child.stdin.end('go\n');
    const reports = await Promise.all(writers.map((w) => w.report));
    const committed = reports.reduce((n, r) => n + r.ms.length, 0);
    const failed = reports.reduce((n, r) => n + r.errors.length, 0);
    const seconds = (Math.max(...reports.map((r) => r.endedAt)) - Math.min(...reports.map((r) => r.startedAt))) / 1000;
    const [offsets] = await catalog.query<{ n: string }>(`SELECT coalesce(sum(next_offset), 0) AS n FROM tributary.stream_offsets WHERE job = 'bench'`);
    if (Number(offsets!.n) !== committed) throw new Error(`commit probe: ${committed} commits reported, the offsets moved by ${offsets!.n}`);
    const all = reports.flatMap((r) => r.ms).sort((a, b) => a - b);
    const probe: CommitProbe = {
      processes,
      commits: committed + failed,
      committed,
      failed,
      seconds,
      commitsPerSecond: committed / seconds,
      medianMs: all.length ? all[Math.floor(all.length / 2)]! : 0,
      errors: reports.flatMap((r) => r.errors).slice(0, 5),
    };
    context.log(`  ${processes} process(es) × ${commits} commits: ${committed} committed in ${seconds.toFixed(1)} s = ${probe.commitsPerSecond.toFixed(1)} commits/s, median ${probe.medianMs.toFixed(0)} ms a commit`);
    return probe;
  } finally {
    // The report is read: a process that does not exit by itself (see the suite's notes) is not waited for.
    await sleep(2000);
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await catalog.drop().catch(() => undefined);
  }
}

const KPI_SQL = `SELECT k.operations, round(k.revenue, 2) AS revenue, k.purchases, k.views, k.carts,
  (SELECT count(*) FROM events) AS events, (SELECT count(*) FROM operations_per_minute) AS minute_rows,
  (SELECT count(*) FROM by_department_brand) AS department_brand_rows, (SELECT count(*) FROM by_product) AS product_rows FROM kpis k`;

async function batchRuns(context: SuiteContext, cli: string[], rows: number, scratch: string): Promise<{ runs: BatchRun[]; inputBytes: number; s3: string }> {
  const samplePath = join(context.root, 'examples', 'ecommerce-clickstream', 'data', '2019-Nov-sample.csv');
  const dataset = await ensureEcommerceFile({ dataDir: context.dataDir, rows, samplePath, log: context.log });
  const s3: S3Server = await startS3('lake');
  const runs: BatchRun[] = [];
  try {
    const variants: { lake: string; catalog: string; env: () => Promise<{ env: Record<string, string>; done: () => Promise<void> }> }[] = [
      { lake: 'local disk', catalog: 'embedded', env: async () => ({ env: {}, done: async () => undefined }) },
      { lake: 'S3 (moto)', catalog: 'embedded', env: async () => ({ env: { ...s3.env, TRIBUTARY_LAKE: 's3://lake/batch-embedded' }, done: async () => undefined }) },
      {
        lake: 'S3 (moto)',
        catalog: 'PostgreSQL',
        env: async () => {
          const db = await createCatalogDatabase();
          return { env: { ...s3.env, TRIBUTARY_LAKE: 's3://lake/batch-postgres', TRIBUTARY_CATALOG: db.url }, done: () => db.drop() };
        },
      },
    ];
    for (const [i, variant] of variants.entries()) {
      const out = join(scratch, `batch-${i}`);
      rmSync(out, { recursive: true, force: true });
      const { env, done } = await variant.env();
      const run: BatchRun = { lake: variant.lake, catalog: variant.catalog, ok: false, wallSeconds: 0, rowsPerSecond: 0, peakMB: 0, s3Requests: null };
      runs.push(run);
      try {
        const requestsBefore = s3.requests().length;
        const m = await spawnMeasured(process.execPath, [...cli, 'run', '--project', 'examples/ecommerce-clickstream', '--data-dir', out, '--source', `clickstream=${dataset.file}`, '--quiet'], {
          cwd: context.root,
          env: { ...process.env, ...env, FORCE_COLOR: '0' },
          logFile: join(scratch, `batch-${i}.log`),
          timeoutSeconds: 1800,
        });
        run.wallSeconds = m.wallSeconds;
        run.rowsPerSecond = dataset.rows / m.wallSeconds;
        run.peakMB = m.peakRssBytes / MB;
        if (variant.lake.startsWith('S3')) run.s3Requests = s3.requests().length - requestsBefore;
        if (m.exitCode !== 0) throw new Error(`tributary run exited with ${m.exitCode ?? m.signal}: ${readFileSync(m.logFile, 'utf8').trim().split('\n').slice(-5).join('\n')}`);
        const text = await runCapture(process.execPath, [...cli, 'sql', KPI_SQL, '--format', 'json', '--project', 'examples/ecommerce-clickstream', '--data-dir', out], {
          cwd: context.root,
          env: { ...process.env, ...env, FORCE_COLOR: '0' },
        });
        run.kpis = Object.fromEntries(Object.entries((JSON.parse(text) as Record<string, unknown>[])[0]!).map(([k, v]) => [k, Number(v)]));
        run.ok = true;
        context.log(
          `  batch, lake on ${variant.lake}, catalog ${variant.catalog}: ${run.wallSeconds.toFixed(1)} s, ${fmt(run.rowsPerSecond)} rows/s, peak ${run.peakMB.toFixed(0)} MB` +
            (run.s3Requests !== null ? `, ${fmt(run.s3Requests)} S3 requests` : ''),
        );
      } catch (error) {
        run.error = (error as Error).message;
        context.log(`  batch, lake on ${variant.lake}, catalog ${variant.catalog}: FAILED: ${run.error}`);
      } finally {
        await done().catch(() => undefined);
        rmSync(out, { recursive: true, force: true });
      }
    }
  } finally {
    await s3.stop();
  }
  const reference = runs.find((r) => r.ok)?.kpis;
  for (const r of runs) if (r.ok && reference) r.agrees = JSON.stringify(r.kpis) === JSON.stringify(reference);
  return { runs, inputBytes: dataset.bytes, s3: 'moto_server (.tools/venv), started by the suite on loopback' };
}

async function run(context: SuiteContext): Promise<void> {
  const { root, log, resultsDir } = context;
  const events = positiveIntegerEnv('BENCH_SCALE_EVENTS', DEFAULTS.events);
  const partitions = positiveIntegerEnv('BENCH_SCALE_PARTITIONS', DEFAULTS.partitions);
  const maxBatch = positiveIntegerEnv('BENCH_SCALE_MAX_BATCH', DEFAULTS.maxBatch);
  const commits = positiveIntegerEnv('BENCH_SCALE_COMMITS', DEFAULTS.commits);
  const rows = positiveIntegerEnv('BENCH_ROWS', DEFAULTS.rows);
  const parts = (process.env.BENCH_SCALE_PARTS ?? 'stream,commits,batch').split(',').map((s) => s.trim());
  const workerCounts = (process.env.BENCH_SCALE_WORKERS ?? '1,2,3').split(',').map((s) => Number(s.trim()));
  if (workerCounts.some((n) => !Number.isInteger(n) || n <= 0)) throw new Error(`BENCH_SCALE_WORKERS must be positive integers separated by commas, got '${process.env.BENCH_SCALE_WORKERS}'`);
  let cli = ['--import', 'tsx', join(root, 'test', 'cli-entry.ts')];
  if (process.env.BENCH_CLI === 'build') {
    log('building Tributary (npm run build)');
    await runCapture('npm', ['run', 'build'], { cwd: root });
    cli = [join(root, 'bin', 'tributary.js')];
  }
  const machine = machineInfo();
  const scratch = mkdtempSync(join(tmpdir(), 'bench-scale-'));
  const sample = readSample(join(root, 'examples', 'ecommerce-clickstream', 'data', '2019-Nov-sample.csv'));
  const stream = `SCALE_${randomBytes(3).toString('hex').toUpperCase()}`;
  const workerRuns: WorkerRun[] = [];
  const probes: CommitProbe[] = [];
  let publishSeconds = 0;
  let batch: Awaited<ReturnType<typeof batchRuns>> = { runs: [], inputBytes: 0, s3: '' };
  try {
    // 1. Workers on NATS.
    if (parts.includes('stream')) {
      log(`scale: publishing ${fmt(events)} events to NATS stream ${stream} over ${partitions} subjects`);
      const backlog = await publishBacklog(stream, partitions, events, sample);
      publishSeconds = backlog.seconds;
      log(`  published in ${backlog.seconds.toFixed(1)} s (${fmt(events / backlog.seconds)} events/s)`);
      try {
        const project = clickstreamOnBroker(join(root, 'examples', 'ecommerce-clickstream'), join(scratch, 'nats-project'), `input: { kind: 'nats', servers: '${NATS}', stream: '${stream}', subject: '${stream}.{partition}', partitions: ${partitions} }`);
        for (const workers of workerCounts) {
          log(`scale: ${workers} worker(s) on the backlog, catalog in PostgreSQL`);
          workerRuns.push(await streamRun(context, cli, { workers, project, stream, ends: backlog.ends, events, maxBatch, scratch }));
        }
      } finally {
        await backlog.close();
      }
    }

    // 2. The catalog's commit rate.
    if (parts.includes('commits')) {
      for (const processes of [1, 3]) {
        log(`scale: commit rate, ${processes} process(es) × ${commits} offset commits`);
        probes.push(await commitProbe(context, processes, commits, scratch));
      }
    }

    // 3. Batch: the lake on local disk against the lake on S3.
    if (parts.includes('batch')) {
      log(`scale: the clickstream batch (${fmt(rows)} rows), lake on local disk and on S3`);
      batch = await batchRuns(context, cli, rows, scratch);
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }

  const changed = !!process.env.BENCH_SCALE_PARTS || events !== DEFAULTS.events || rows !== DEFAULTS.rows || partitions !== DEFAULTS.partitions || maxBatch !== DEFAULTS.maxBatch;
  const base = join(resultsDir, changed ? `scale-${events}x${rows}` : 'scale');
  const name = relative(resultsDir, base);
  const command = [
    ...Object.entries({ BENCH_SCALE_EVENTS: events, BENCH_SCALE_PARTITIONS: partitions, BENCH_SCALE_MAX_BATCH: maxBatch, BENCH_ROWS: rows })
      .filter(([k, v]) => v !== DEFAULTS[({ BENCH_SCALE_EVENTS: 'events', BENCH_SCALE_PARTITIONS: 'partitions', BENCH_SCALE_MAX_BATCH: 'maxBatch', BENCH_ROWS: 'rows' } as const)[k as 'BENCH_ROWS']])
      .map(([k, v]) => `${k}=${v}`),
    ...(process.env.BENCH_SCALE_WORKERS ? [`BENCH_SCALE_WORKERS=${process.env.BENCH_SCALE_WORKERS}`] : []),
    ...(process.env.BENCH_SCALE_PARTS ? [`BENCH_SCALE_PARTS=${process.env.BENCH_SCALE_PARTS}`] : []),
    ...(process.env.BENCH_CLI ? [`BENCH_CLI=${process.env.BENCH_CLI}`] : []),
    'npm run bench -- scale',
  ].join(' ');
  const report = { suite: 'scale', command, machine, events, partitions, maxBatch, publishSeconds, workerRuns, commitProbes: probes, batch: { rows, ...batch } };
  writeFileSync(`${base}.json`, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(`${base}.md`, markdown(report, name));
  const workerCats = workerRuns.map((r) => `${r.workers} worker${r.workers > 1 ? 's' : ''}`);
  const batchCats = batch.runs.map((r) => `batch: ${r.lake === 'local disk' ? 'local' : 'S3'}${r.catalog === 'PostgreSQL' ? ' + PG' : ''}`);
  writeFileSync(
    `${base}.svg`,
    barChartSvg({
      title: 'Scale: stream workers on one PostgreSQL catalog; the batch with the lake on S3',
      subtitle: `${machine.nproc} cores · commit ${machine.commit} · ${command}`,
      categories: [...workerCats, ...batchCats],
      series: [
        { name: 'stream, events/s', unit: 'events/s', values: [...workerRuns.map((r) => Math.round(r.eventsPerSecond)), ...batchCats.map(() => null)] },
        { name: 'batch wall time', unit: 's', values: [...workerCats.map(() => null), ...batch.runs.map((r) => (r.ok ? Number(r.wallSeconds.toFixed(1)) : null))] },
      ],
    }),
  );
  log(`scale: wrote ${relative(root, base)}.{md,json,svg}`);
}

function markdown(
  report: {
    command: string;
    machine: ReturnType<typeof machineInfo>;
    events: number;
    partitions: number;
    maxBatch: number;
    publishSeconds: number;
    workerRuns: WorkerRun[];
    commitProbes: CommitProbe[];
    batch: { rows: number; runs: BatchRun[]; inputBytes: number; s3: string };
  },
  name: string,
): string {
  const m = report.machine;
  const one = report.workerRuns.find((r) => r.workers === 1);
  const lines = [
    '# Scale: stream workers on one PostgreSQL catalog; the batch with the lake on S3',
    '',
    `Command: \`${report.command}\`. Commit measured: ${m.commit}. Run at ${m.date}.`,
    `Machine: ${m.nproc} cores (${m.cpuModel}), ${(m.memoryBytes / 2 ** 30).toFixed(1)} GiB, ${m.os}; Node ${m.node}, @duckdb/node-api ${m.duckdb}; PostgreSQL and NATS on this machine (127.0.0.1). Every worker, PostgreSQL, NATS and the S3 server share the same ${m.nproc} cores.`,
    '',
    '## Stream workers',
    '',
    `The clickstream job (rules, lake sink \`events_raw\`, serving sink in PostgreSQL, dead letters; every sink commits its rows and offsets in one transaction) run by \`tributary worker\` processes sharing one catalog in PostgreSQL (a fresh database per row) and one lake folder on local disk. Input: a NATS JetStream stream of ${fmt(report.events)} events spread round-robin over ${report.partitions} subjects (\`….{partition}\`, \`partitions: ${report.partitions}\`), published before the workers start (${report.publishSeconds.toFixed(1)} s, ${fmt(report.events / report.publishSeconds)} events/s); \`--max-batch ${report.maxBatch}\`. The workers start behind a gate (placeholder members of the job's group in the catalog, ranked first, leave every worker an empty share of the partitions); once every worker is a member the gate is removed, and the window opens 2.5 s later (every worker has seen the group by then, its heartbeat being 2 s) and closes when every sink has committed every partition to its end; events/s is the rows of \`live_operations\` counted in PostgreSQL at the close minus at the open, over the window. Lock busy: share of samples (every ~20 ms, \`pg_locks\`) in which a commit held the catalog's advisory commit lock. CPU: the machine's busy share over all cores (/proc/stat), and the workers' own CPU in cores.`,
    '',
    '| workers | events/s | per worker | × 1 worker | window events | window s | committed before | commits/s | ≈ events a batch (window events ÷ (commits ÷ 3 sinks)) | lock busy | machine CPU | workers’ cores | load avg | events by worker | conflicts | every id once (serving, lake) |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---|',
    ...report.workerRuns.map(
      (r) =>
        `| ${r.workers} | ${fmt(r.eventsPerSecond)} | ${fmt(r.perWorkerEventsPerSecond)} | ${one ? (r.eventsPerSecond / one.eventsPerSecond).toFixed(2) : '–'} | ${fmt(r.windowEvents)} | ${r.windowSeconds.toFixed(1)} | ${fmt(r.rowsBefore)} | ${r.commitsPerSecond.toFixed(1)} | ${fmt(r.eventsPerBatch)} | ${(r.lockBusy * 100).toFixed(0)} % | ${(r.machineCpuBusy * 100).toFixed(0)} % | ${r.workerCores.toFixed(2)} | ${r.loadAverage.toFixed(2)} | ${r.committedByWorker.map(fmt).join(' / ')} | ${r.conflicts} | ${r.check.exactlyOnce ? 'yes' : `**no**: serving ${r.check.servingRows}/${r.check.servingIds}, lake ${r.check.lakeRows}/${r.check.lakeIds}, dead letters ${r.check.deadLetters}`} |`,
    ),
    '',
    '## The catalog’s commit rate',
    '',
    'Writer processes (`bench/lib/commit-writer.ts`), each with its own DuckDB attached to a fresh PostgreSQL catalog, making back-to-back the smallest commit a stream sink makes: a snapshot and one partition’s offset moved compare-and-set, under the catalog’s advisory lock, no rows. Started together once all are ready.',
    '',
    '| processes | commits | committed | failed | seconds | commits/s | median ms a commit |',
    '|---:|---:|---:|---:|---:|---:|---:|',
    ...report.commitProbes.map((p) => `| ${p.processes} | ${p.commits} | ${p.committed} | ${p.failed} | ${p.seconds.toFixed(1)} | ${p.commitsPerSecond.toFixed(1)} | ${p.medianMs.toFixed(0)} |`),
    '',
    '## Batch: the lake on local disk and on S3',
    '',
    `\`tributary run\` of examples/ecommerce-clickstream on a generated file of ${fmt(report.batch.rows)} rows (${(report.batch.inputBytes / 1e6).toFixed(0)} MB of CSV): the events lake table partitioned by day and the four dashboard tables. S3: ${report.batch.s3}, \`TRIBUTARY_LAKE=s3://lake/…\`; PostgreSQL: \`TRIBUTARY_CATALOG\` on a fresh database. Wall time is spawn to exit (start-up included), peak memory of the process tree (the S3 server and PostgreSQL not counted).`,
    '',
    '| lake | catalog | wall s | rows/s | peak MB | S3 requests | same KPIs and table sizes |',
    '|---|---|---:|---:|---:|---:|---|',
    ...report.batch.runs.map(
      (r) =>
        `| ${r.lake} | ${r.catalog} | ${r.ok ? r.wallSeconds.toFixed(1) : 'failed'} | ${r.ok ? fmt(r.rowsPerSecond) : '–'} | ${r.ok ? r.peakMB.toFixed(0) : '–'} | ${r.s3Requests === null ? '–' : fmt(r.s3Requests)} | ${!r.ok ? `failed: ${(r.error ?? '').split('\n')[0]}` : r.agrees ? 'yes' : '**no**'} |`,
    ),
    '',
    `KPIs: ${report.batch.runs.find((r) => r.ok)?.kpis ? Object.entries(report.batch.runs.find((r) => r.ok)!.kpis!).map(([k, v]) => `${k} ${v}`).join(', ') : '–'}.`,
    '',
    `![scale chart](./${name}.svg)`,
    '',
  ];
  return lines.join('\n');
}

export const scaleSuite: Suite = {
  name: 'scale',
  description: 'stream events/s with 1, 2, 3 workers on a PostgreSQL catalog (NATS), the catalog’s commit rate, the batch with the lake on S3 vs local disk',
  run,
};
