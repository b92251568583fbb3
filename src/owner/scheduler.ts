import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import path from 'node:path';
import { DuckDBSchedulerStore, SchedulerLease, type GroupMembership, type RunTrigger, type WorkQueue } from '../catalog/index.js';
import { BATCH_GROUP, BatchWorkTaker, sharingModelRuns } from './batch-work.js';
import { TributaryError } from '../core/errors.js';
import { SchedulerLeadership } from './leadership.js';
import { importModule } from '../config/project.js';
import { Scheduler, type Platform, type RunKind, type SchedulerOptions } from '../scheduler/index.js';
import { runChecks } from '../quality/index.js';
import { runModels } from '../models/index.js';
import type { ProjectScheduler } from '../commands/index.js';
import type { Workspace } from '../state/workspace.js';

/** How a job's run came about, as the model runs it makes record it (`tributary runs`). */
const TRIGGER_OF_RUN: Record<RunKind, RunTrigger> = { scheduled: 'schedule', manual: 'trigger', backfill: 'backfill', event: 'tables' };

/** What the scheduler's tasks do in a Tributary project: run models and checks, query, look in the lake, load modules. */
export function schedulerPlatform(ws: Workspace, log: (message: string) => void = () => undefined): Platform {
  return {
    async runModels(request) {
      const origin = request.origin;
      // The runs of one try of a task share a group. A retried attempt (its predecessor died,
      // say with the process) takes up after the models that attempt already committed: a model's
      // rows and its run record commit together, so its success here means its rows are in.
      const group = origin ? `${origin.runId}/${origin.task}/${origin.attemptOffset}` : undefined;
      const committed = group ? (await ws.metastore.runs({ group, limit: 10_000 })).filter((r) => r.status === 'success' && r.kind === 'model').map((r) => r.target) : [];
      for (const name of committed) request.log(`${name}: already committed by an earlier attempt of this try; not run again`);
      const results = await runModels(ws, {
        select: request.select,
        exclude: [...request.exclude, ...committed],
        interval: request.fullRefresh ? undefined : { start: request.interval.start.toISOString(), end: request.interval.end.toISOString(), ds: request.interval.ds, timezone: request.interval.timezone },
        trigger: origin ? TRIGGER_OF_RUN[origin.runKind] : 'schedule',
        group,
        attempt: origin?.attempt,
        log: request.log,
        quiet: true,
        signal: request.signal,
      });
      return results.map((r) => ({ model: r.model, runId: r.runId, read: r.read, written: r.written, quarantined: r.quarantined, skipped: r.skipped }));
    },
    async runChecks(request) {
      const results = await runChecks(ws.engine, ws.project.config.checks, ws.project.components.checks, request.tables ? new Set(request.tables) : undefined);
      for (const r of results) request.log(`${r.passed ? 'ok' : r.severity === 'error' ? 'FAILED' : 'warning'}: ${r.name}: ${r.detail}`);
      const failed = results.filter((r) => !r.passed && r.severity === 'error');
      return { passed: results.length - failed.length, failures: failed.map((r) => ({ check: r.name, message: r.detail })) };
    },
    async compactTables(request) {
      const reports = [];
      for (const table of request.tables) {
        request.signal.throwIfAborted();
        const engine = await ws.engine.fork({ background: true });
        try {
          reports.push({ table, ...(await ws.lake.compact(engine, table, ws.metastore.newRunId())) });
        } finally {
          engine.close();
        }
      }
      return reports;
    },
    async query(sql, options) {
      const engine = await ws.engine.fork({ background: true });
      const interrupt = () => engine.interrupt();
      options.signal.addEventListener('abort', interrupt, { once: true });
      try {
        return await engine.queryJson(sql);
      } finally {
        options.signal.removeEventListener('abort', interrupt);
        engine.close();
      }
    },
    lakeObjectExists: (key) => ws.lake.storage.exists(key),
    importModule: (file) => importModule(path.resolve(ws.project.dir, file)),
    log: (level, message) => log(`[scheduler] ${level}: ${message}`),
    now: () => new Date(),
    lastChange: (tables) => ws.metastore.lastChange(tables),
    projectDir: ws.project.dir,
    env: process.env,
  };
}


/** The leader lease's and the task leases' time with a shared catalog (seconds); a standby takes over within it. */
const LEASE_ENV = 'TRIBUTARY_SCHEDULER_LEASE_SECONDS';

/** The scheduler's own default (SchedulerOptions.leaseSeconds). */
const DEFAULT_LEASE_SECONDS = 30;

/** The leases of a shared catalog's processes (the leader's, the tasks', batch work's heartbeats), in ms. */
export function sharedLeaseMs(): number {
  return (leaseSecondsFromEnv() ?? DEFAULT_LEASE_SECONDS) * 1000;
}

function leaseSecondsFromEnv(): number | undefined {
  const text = process.env[LEASE_ENV];
  if (text === undefined || text === '') return undefined;
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds <= 0) throw new TributaryError(`${LEASE_ENV}=${text} is not a number of seconds`, { hint: 'e.g. 30 (the default)' });
  return seconds;
}

/**
 * The project's scheduler on the metastore: its state survives any crash of the process that
 * runs it. `jobs` narrows it to some jobs, run only when triggered (a run in the foreground).
 * With the catalog shared in PostgreSQL, several processes open it and one leads (see
 * leadership.ts): `start()` leads or stands by; a foreground run (`only`) must lead.
 */
export async function openScheduler(
  ws: Workspace,
  options: Partial<Pick<SchedulerOptions, 'maxConcurrentTasks' | 'leaseSeconds'>> & { log?: (message: string) => void; only?: string; serverUrl?: () => string | undefined } = {},
): Promise<ProjectScheduler & { start(): Promise<void>; stop(): Promise<void> }> {
  const store = await DuckDBSchedulerStore.open(ws.metastore);
  const all = ws.project.config.jobs;
  const jobs = options.only ? { [options.only]: { ...all[options.only]!, schedule: undefined, catchup: false } } : all;
  const shared = ws.project.catalogUrl !== undefined && ws.metastore.shared !== undefined;
  const leaseSeconds = options.leaseSeconds ?? leaseSecondsFromEnv();
  const log = options.log ?? (() => undefined);
  const owner = shared ? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}` : `${hostname()}:${ws.project.stateDir}`;
  const platform = schedulerPlatform(ws, options.log);
  // With a shared catalog the leader hands its model runs to the other processes that take them.
  const work = shared ? await openBatchWork(ws, owner) : undefined;
  const scheduler = new Scheduler({
    jobs,
    store,
    platform: work ? sharingModelRuns(platform, work.queue, work.takers, (leaseSeconds ?? DEFAULT_LEASE_SECONDS) * 1000) : platform,
    // Embedded, one process owns the state at a time (the warehouse's lock): a lease of this owner
    // that no running attempt holds belongs to a previous life of it (kill -9) and is retried at
    // once. With a shared catalog several live processes run schedulers: each is its own owner.
    owner,
    tasks: ws.project.components.tasks,
    maxConcurrentTasks: options.maxConcurrentTasks,
    leaseSeconds,
  });
  if (!shared) {
    return { scheduler, store, start: () => scheduler.start(), stop: () => scheduler.stop() };
  }
  const lease = new SchedulerLease(ws.project.catalogUrl!, owner, (leaseSeconds ?? DEFAULT_LEASE_SECONDS) * 1000);
  const leadership = new SchedulerLeadership(lease, store, scheduler, log, options.serverUrl);
  // A foreground run leads for as long as it runs, or is refused; `up` leads or stands by, and
  // while it stands by it takes the leader's model runs.
  let taker: BatchWorkTaker | undefined;
  const stop = async () => {
    await leadership.stop();
    await taker?.stop();
    await work!.close();
  };
  if (options.only) await leadership.start({ required: true }).catch(async (error: unknown) => {
    await work!.close();
    throw error;
  });
  return {
    scheduler,
    store,
    leadership: () => leadership.status(),
    start: async () => {
      if (options.only) return;
      await leadership.start();
      taker = await BatchWorkTaker.start(ws, owner, platform, { leaseMs: (leaseSeconds ?? DEFAULT_LEASE_SECONDS) * 1000, paused: () => leadership.leading, log });
    },
    stop,
    close: stop,
  };
}

/** The leader's side of the batch work queue: the queue, and the group of the processes that take from it. */
async function openBatchWork(ws: Workspace, member: string): Promise<{ queue: WorkQueue; takers: GroupMembership; close(): Promise<void> }> {
  const queue = await ws.shared!.openWorkQueue(member);
  // Under the name its own taker has: the leader hands work out only to other processes.
  const takers = await ws.shared!.joinGroup(BATCH_GROUP, member).catch(async (error: unknown) => {
    await queue.close();
    throw error;
  });
  return {
    queue,
    takers,
    async close() {
      await takers.leave();
      await queue.close();
    },
  };
}
