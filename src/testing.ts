/**
 * `tributary/testing`: what a project's own tests need to test it for real. Each helper works on
 * a data folder of the test's own (`tempDir()`), so a test never writes into the project:
 *
 * ```ts
 * import { runProject, tempDir } from 'tributary/testing';
 *
 * const { ws, results } = await runProject('.', { dataDir: tempDir() });
 * expect(results.find((r) => r.model === 'orders')).toMatchObject({ read: 5, written: 4, quarantined: 1 });
 * expect(await ws.engine.queryJson('SELECT count(*) AS n FROM daily_revenue')).toEqual([{ n: '3' }]);
 * await ws.close();
 * ```
 *
 * - Open and run: `openProject`, `runProject`, `runModels` (a day, selected models, a source read
 *   from elsewhere), `runChecks`, `runCommand` (a CLI command in this process).
 * - Streams and dashboards: `openStreams` (append to topics, drain), `computeDashboard`.
 * - Serve: `serve` (the HTTP server on an open workspace), `startStack` (all that `tributary up`
 *   runs, in this process).
 * - The CLI as a user runs it: `runCli`, `startCli` (a long-running command such as `up`).
 * - Jobs: `createScheduler` with a `ManualClock`, `startWebhookReceiver`, `taskContext`,
 *   `backfillDays`, `taskOrder`, `sensorFiles`.
 * - Services: `freshDatabase` (PostgreSQL or MySQL/MariaDB), `needService`.
 *
 * Nothing here waits by the clock: commands resolve on what they print, servers once they listen.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { DuckDBSchedulerStore } from './catalog/index.js';
import type { CrawlReport } from './catalog/crawl.js';
import { startStack as startUp, type Stack } from './owner/stack.js';
import { commandInput, commands } from './commands/index.js';
import { withSources } from './commands/project.js';
import { dayInterval, type DataInterval } from './core/interval.js';
import { PACKAGE_ROOT } from './core/package.js';
import { createProgress } from './core/progress.js';
import { loadProject, type Project } from './config/project.js';
import { runModels as run, type ModelResult } from './models/index.js';
import { openScheduler, schedulerPlatform } from './owner/scheduler.js';
import { openWorkspace, type Workspace } from './state/workspace.js';
import { runChecks as checks, type CheckResult } from './quality/index.js';
import { Scheduler, type Job, type TaskContext } from './scheduler/index.js';
import { topologicalOrder } from './scheduler/dag.js';
import { backfillIntervals, dateTimetable, dsOf, resolveSchedule } from './scheduler/intervals.js';
import { matchFiles } from './scheduler/tasks/files.js';
import { renderTemplate } from './scheduler/tasks/template.js';
import { ManualClock, createTaskContext, createTestPlatform, startWebhookReceiver, type WebhookReceiver } from './scheduler/testing.js';
import { createServer } from './server/app.js';
import { DashboardHub, loadDashboards, type LiveEvent, type TileData } from './server/dashboards.js';
import { lookupPlugin } from './server/lookup.js';
import { webPlugin } from './server/web.js';
import type { GroupOffsets } from './stream/job.js';
import { openLog, startStreams, type StreamRuntime } from './stream/runtime.js';

export type { CheckResult, CrawlReport, DataInterval, GroupOffsets, Job, LiveEvent, ModelResult, Project, Stack, StreamRuntime, TaskContext, TileData, WebhookReceiver, Workspace };
export type { Scheduler };
/** Time that stands still until `advance(ms)`: the scheduler's timers fire as it passes them. */
export { ManualClock };
/** A local HTTP server that records what webhooks (a job's Slack notifications) POST to it. */
export { startWebhookReceiver };
/** The data interval of one UTC day, as `tributary run --date` takes it. */
export { dayInterval };

/** A new, empty folder under the system's temporary folder. */
export function tempDir(prefix = 'tributary-test-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

export interface OpenOptions {
  /** The lake and the state go here instead of inside the project: give each test its own (`tempDir()`). */
  dataDir?: string;
  /** The target to open it on (its stores); else TRIBUTARY_TARGET, the project's `target`, its first. */
  target?: string;
}

/** Opens a project (the folder of its tributary.config.ts): the workspace its tests query (`ws.engine.queryJson`) and close. */
export async function openProject(dir: string, options: OpenOptions = {}): Promise<Workspace> {
  return openWorkspace(await loadProject(dir, { dataDir: options.dataDir, target: options.target }));
}

export interface RunModelsOptions {
  /** Model names; every model when absent. */
  models?: string[];
  /** Selectors as `tributary run --select` takes them (`orders+`, `tag:daily`); with `models`, either picks. */
  select?: string[];
  exclude?: string[];
  /** Models built at the same time (default: the project's threads). */
  threads?: number;
  /** 'YYYY-MM-DD': the run for that day, as `tributary run --date`. */
  date?: string;
  /** Any other data interval (`date` is the usual one). */
  interval?: DataInterval;
  /** Sources read from elsewhere, as `--source NAME=PATH`. */
  sources?: Record<string, string>;
  /** What the run says as it goes; silent when absent. */
  log?: (message: string) => void;
}

/** Runs models in dependency order as `tributary run` does; resolves with what each read, wrote and quarantined. */
export function runModels(ws: Workspace, options: RunModelsOptions = {}): Promise<ModelResult[]> {
  const view = options.sources ? ws.withProject(withSources(ws.project, options.sources)) : ws;
  const interval = options.interval ?? (options.date ? dayInterval(options.date) : undefined);
  const select = [...(options.models ?? []), ...(options.select ?? [])];
  return run(view, { select: select.length ? select : undefined, exclude: options.exclude, threads: options.threads, interval, quiet: true, log: options.log ?? (() => undefined) });
}

/** Opens a project and runs its models; the workspace stays open for the test's queries. */
export async function runProject(dir: string, options: OpenOptions & RunModelsOptions = {}): Promise<{ ws: Workspace; results: ModelResult[] }> {
  const ws = await openProject(dir, options);
  try {
    return { ws, results: await runModels(ws, options) };
  } catch (error) {
    await ws.close();
    throw error;
  }
}

/** The project's checks (its config's `checks`), each with whether it passed and why. */
export function runChecks(ws: Workspace): Promise<CheckResult[]> {
  return checks(ws.engine, ws.project.config.checks, ws.project.components.checks);
}

/**
 * Runs one of the CLI's commands on the state (sql, crawl, quarantine, runs, lookup, snapshots,
 * catalog, …) in this process, on the open workspace; `input` is what the CLI parses from its
 * flags (`{ path, table, format: 'json' }` for `crawl PATH --table T --format json`). Resolves
 * with what the command wrote.
 */
export async function runCommand(ws: Workspace, name: string, input: Record<string, unknown> = {}): Promise<{ out: string; err: string }> {
  const command = commands[name];
  if (!command) throw new Error(`no command '${name}' (commands: ${Object.keys(commands).join(', ')})`);
  const out: string[] = [];
  const err: string[] = [];
  await command.run(
    {
      ws,
      io: { out: (text) => out.push(text), err: (text) => err.push(text), progress: (label) => createProgress({ label, quiet: true }), tty: false },
      openScheduler: (options) => openScheduler(ws, options),
    },
    commandInput(command, input),
  );
  return { out: out.join('\n'), err: err.join('\n') };
}

export interface Streams extends StreamRuntime {
  /** Runs each stream job in turn until its input has nothing more to give; events committed per job. */
  drain(): Promise<Record<string, number>>;
  /** Stops the jobs and closes the log. */
  close(): Promise<void>;
}

/**
 * The project's stream jobs and its embedded log, opened but not running, with the hot keys they
 * learn from tables learned: append records to a topic (`streams.log.topic(name).append(…)`) as a
 * producer would, `drain()`, `close()`.
 */
export async function openStreams(ws: Workspace, options: { say?: (message: string) => void } = {}): Promise<Streams> {
  const log = openLog(ws);
  let runtime: StreamRuntime;
  try {
    runtime = await startStreams(ws, log, { start: false, say: options.say ?? (() => undefined) });
  } catch (error) {
    log.close();
    throw error;
  }
  return Object.assign(runtime, {
    async drain() {
      const events: Record<string, number> = {};
      for (const job of runtime.jobs) events[job.name] = await job.drain();
      return events;
    },
    async close() {
      await runtime.stop();
      log.close();
    },
  });
}

/** Every tile of a dashboard computed once, as the server computes it for the admin; filters unset unless given. */
export async function computeDashboard(ws: Workspace, name: string, filters: Record<string, string | null> = {}): Promise<LiveEvent> {
  const engine = await ws.engine.fork();
  try {
    return await new DashboardHub(engine, await loadDashboards(ws.project)).compute(name, filters);
  } finally {
    engine.close();
  }
}

export interface ServeOptions {
  /** The admin token; needed when the project declares client tokens. */
  token?: string;
  /** Where client tokens (`access.clients.<name>.tokenEnv`) are read from; default process.env. */
  env?: Readonly<Record<string, string | undefined>>;
}

export interface Served {
  url: string;
  hub: DashboardHub;
  close(): Promise<void>;
}

/**
 * The project's HTTP server (collector, status, metrics, the web UI with its dashboards and SQL
 * lab, lookups) on an open workspace, in this process, on a free loopback port. The stream jobs
 * are opened for status but not run, and no scheduler runs: the data is what the test made.
 */
export async function serve(ws: Workspace, options: ServeOptions = {}): Promise<Served> {
  const streams = await openStreams(ws);
  const engine = await ws.engine.fork();
  try {
    const hub = new DashboardHub(engine, await loadDashboards(ws.project));
    const app = await createServer({ ws, streams }, { token: options.token, env: options.env }, [webPlugin(hub), lookupPlugin()]);
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    return {
      url,
      hub,
      async close() {
        await app.close();
        await streams.close();
        engine.close();
      },
    };
  } catch (error) {
    await streams.close();
    engine.close();
    throw error;
  }
}

export interface StackOptions extends OpenOptions, ServeOptions {
  /** Runs the project's models before serving, as the demo does. */
  runBatch?: boolean;
  /** Default: a free port. */
  port?: number;
  /** What the stack says as it goes; silent when absent. */
  log?: (message: string) => void;
}

/**
 * Everything `tributary up` runs, in this process: the server on loopback, the log and the
 * stream jobs (running), the scheduler. `tributary` commands on the same project (`runCli`) work
 * through it while it runs, as they do through a server a user started. `close()` stops it all.
 */
export async function startStack(dir: string, options: StackOptions = {}): Promise<Stack> {
  const project = await loadProject(dir, { dataDir: options.dataDir });
  const signals = ['SIGINT', 'SIGTERM'] as const;
  const before = new Set(signals.flatMap((signal) => process.listeners(signal)));
  const stack = await startUp(project, { port: options.port ?? 0, runBatch: options.runBatch, token: options.token, env: options.env, log: options.log ?? (() => undefined) });
  // `up` ends its process on Ctrl+C; here the test ends the stack (close()), not its own process.
  for (const signal of signals) for (const listener of process.listeners(signal)) if (!before.has(listener)) process.removeListener(signal, listener);
  return stack;
}

export interface CliOptions {
  /** Where the command runs; default the test's working folder. */
  cwd?: string;
  /** Added to the environment (undefined removes a variable). */
  env?: Record<string, string | undefined>;
}

export interface CliResult {
  /** Null when a signal ended it (then `signal` says which). */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * This package's CLI in a child process: `bin/tributary.js` as installed, or, when the test
 * imports Tributary from its sources (its own repository), the CLI's source run through tsx.
 */
function cliProcess(args: readonly string[], options: CliOptions): ChildProcess {
  const main = new URL('./cli/main.ts', import.meta.url).href;
  // tsx as this package resolves it, whatever folder the command runs in.
  const tsx = () => pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  const entry = import.meta.url.endsWith('.ts')
    ? ['--import', tsx(), '-e', `import(${JSON.stringify(main)}).then(({ main }) => main([process.argv[0], 'tributary', ...process.argv.slice(1)])).then((code) => { process.exitCode = code; });`, '--']
    : [path.join(PACKAGE_ROOT, 'bin', 'tributary.js')];
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', ...options.env };
  delete env.FORCE_COLOR;
  for (const [name, value] of Object.entries(options.env ?? {})) if (value === undefined) delete env[name];
  return spawn(process.execPath, [...entry, ...args], {
    cwd: options.cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Runs `tributary ARGS…` to its end in a child process, as a user's shell would (without colours). */
export function runCli(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  const child = cliProcess(args, options);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

export interface RunningCli {
  child: ChildProcess;
  /** Everything it has printed so far, stdout and stderr interleaved. */
  output(): string;
  /** Resolves with the first match of `pattern` in its output; rejects if it exits first. */
  waitFor(pattern: RegExp): Promise<RegExpMatchArray>;
  /** Resolves when it has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends a signal (default SIGTERM: a clean stop; SIGKILL: death wherever it is) and waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** A long-running `tributary ARGS…` (`up`, `demo`) in a child process: wait on what it prints, end it with a signal. */
export function startCli(args: readonly string[], options: CliOptions = {}): RunningCli {
  const child = cliProcess(args, options);
  let output = '';
  let ended: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const watchers = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    output += chunk.toString();
    for (const check of watchers) check();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => {
      ended = { code, signal };
      for (const check of watchers) check();
      resolve(ended);
    }),
  );
  return {
    child,
    output: () => output,
    exited,
    waitFor(pattern) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = pattern.exec(output);
          if (match || ended) watchers.delete(check);
          if (match) resolve(match);
          else if (ended) reject(new Error(`tributary ${args.join(' ')} exited (${ended.code ?? ended.signal}) before printing ${pattern}:\n${output}`));
        };
        watchers.add(check);
        check();
      });
    },
    async kill(signal = 'SIGTERM') {
      if (!ended) child.kill(signal);
      return exited;
    },
  };
}

export interface SchedulerOptions {
  /** Time the test moves by hand; real time when absent. */
  clock?: ManualClock;
  /** Added to the environment tasks and notifications read (a webhook's `urlEnv`). */
  env?: Record<string, string | undefined>;
}

/**
 * The project's scheduler, as `tributary up` makes it (its jobs, their state in the project's
 * warehouse, tasks that run its models, checks and functions), not started: `start()` it, drive
 * time with a ManualClock (`whenIdle()`, `clock.advance(ms)`), read `runs()` and `tasks()`, and
 * `stop({ abort: true })` it before closing the workspace.
 */
export async function createScheduler(ws: Workspace, options: SchedulerOptions = {}): Promise<Scheduler> {
  const platform = schedulerPlatform(ws);
  return new Scheduler({
    jobs: ws.project.config.jobs,
    store: await DuckDBSchedulerStore.open(ws.metastore),
    platform: { ...platform, now: options.clock?.now ?? platform.now, env: { ...platform.env, ...options.env } },
    owner: `tributary-testing:${process.pid}`,
    timers: options.clock,
  });
}

/**
 * The context a job's task gets, for calling a function task directly: the run of `job` for the
 * day `ds` (default 2024-01-05), attempt 1; its `log` lines are kept in `lines`. With `ws`, the
 * platform is the project's (models, queries, its files); without, one that does nothing.
 */
export function taskContext(options: { job?: string; task?: string; ds?: string; ws?: Workspace } = {}): TaskContext & { lines: string[] } {
  const { job = 'daily', task = 'step', ds, ws } = options;
  const context = createTaskContext(ws ? schedulerPlatform(ws) : createTestPlatform(), { ds, job, task });
  const runId = `${job}__${context.interval.start.toISOString()}`;
  return Object.assign(context, { runId, vars: { ...context.vars, job, task, run_id: runId } });
}

/** The days (`ds`) of the intervals a backfill of `job` from `from` to `to` (default: its start and end) would run now. */
export function backfillDays(job: Job, range: { from?: string; to?: string } = {}): string[] {
  const from = range.from ?? job.start;
  const to = range.to ?? job.end;
  if (!from || !to) throw new Error('the job has no start or end: say which days (from, to)');
  const timetable = dateTimetable(resolveSchedule(job.schedule, job.timezone), job.timezone);
  return backfillIntervals(timetable, { from, to }, { now: new Date(), limit: 100_000 }).map((interval) => dsOf(interval, job.timezone));
}

/** The job's task names in the order its graph runs them. */
export function taskOrder(job: Job): string[] {
  return topologicalOrder(Object.entries(job.tasks).map(([name, task]) => ({ name, after: task.after, triggerRule: task.triggerRule }))).map((node) => node.name);
}

/** The files a job's file sensor matches for the day `ds` (its glob rendered for that day's run), absolute, sorted. */
export async function sensorFiles(ws: Workspace, jobName: string, taskName: string, ds: string): Promise<string[]> {
  const task = ws.project.config.jobs[jobName]?.tasks[taskName];
  if (task?.kind !== 'sensor' || task.files === undefined) throw new Error(`${jobName}.${taskName} is not a file sensor`);
  const { vars } = taskContext({ job: jobName, task: taskName, ds });
  return (await matchFiles(renderTemplate(task.files, vars, 'text'), ws.project.dir)).map((file) => file.path);
}

export interface Database {
  /** The new database's URL, for the project's config. */
  url: string;
  query<T extends Record<string, unknown> = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Closes the connection and drops the database. */
  drop(): Promise<void>;
}

/**
 * A new, empty database of its own on the PostgreSQL or MySQL/MariaDB server that `adminUrl`
 * (postgres://… or mysql://…, a user that may create databases) reaches. Values come back as the
 * database wrote them (64-bit integers, decimals, dates and timestamps as text) for exact
 * comparisons.
 */
export async function freshDatabase(adminUrl: string, options: { prefix?: string } = {}): Promise<Database> {
  const name = `${options.prefix ?? 'tributary'}_${randomBytes(4).toString('hex')}`;
  const url = adminUrl.replace(/\/[^/]*$/, `/${name}`);
  if (/^postgres(ql)?:/.test(adminUrl)) {
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    // int8, numeric, timestamp and date as PostgreSQL prints them, not as JavaScript numbers or Dates.
    for (const oid of [20, 1700, 1114, 1082]) client.setTypeParser(oid, (text: string) => text);
    return {
      url,
      query: async <T extends Record<string, unknown>>(sql: string, params?: unknown[]) => (await client.query(sql, params)).rows as T[],
      drop: async () => {
        await client.end();
        await admin.query(`DROP DATABASE ${name}`);
        await admin.end();
      },
    };
  }
  if (!/^(mysql|mariadb):/.test(adminUrl)) throw new Error(`freshDatabase: expected a postgres:// or mysql:// URL, got ${adminUrl}`);
  const admin = await mysql.createConnection({ uri: adminUrl });
  await admin.query(`CREATE DATABASE ${name}`);
  const connection = await mysql.createConnection({ uri: url, supportBigNumbers: true, bigNumberStrings: true, dateStrings: true, decimalNumbers: false });
  return {
    url,
    query: async <T extends Record<string, unknown>>(sql: string, params?: unknown[]) => (await connection.query(sql, params))[0] as T[],
    drop: async () => {
      await connection.end();
      await admin.query(`DROP DATABASE ${name}`);
      await admin.end();
    },
  };
}

/**
 * Whether a service the tests need answers (`probe` resolves). When it does not, run those tests
 * only if it does (`describe.runIf(await needService(…))`): they are skipped with a loud message,
 * except under CI=true, where this throws, so that a CI run cannot pass by skipping them.
 */
export async function needService(name: string, probe: () => Promise<unknown>): Promise<boolean> {
  try {
    await probe();
    return true;
  } catch (error) {
    const message = `${name} is not reachable (${(error as Error).message}); its tests need the real service`;
    if (process.env.CI === 'true') throw new Error(`${message}. CI must run them: start the service.`);
    console.warn(`\n!!! SKIPPING ${name} TESTS: ${message}. Start it to run them. !!!\n`);
    return false;
  }
}
