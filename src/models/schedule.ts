import { hostname } from 'node:os';
import path from 'node:path';
import { DuckDBSchedulerStore, type RunTrigger } from '../catalog/index.js';
import { importModule } from '../core/project.js';
import { Scheduler, type Platform, type RunKind, type SchedulerOptions } from '../scheduler/index.js';
import { runChecks } from '../quality/index.js';
import { planModels } from './compile.js';
import { runModels } from './run.js';
import type { Workspace } from './workspace.js';

/** Model names a task selects: names, `name+` (with what reads it, transitively), `*` (all), less the excluded. */
export function selectModels(ws: Workspace, select: readonly string[], exclude: readonly string[]): string[] {
  const plan = planModels(ws.project);
  const chosen = new Set<string>();
  for (const selector of select) {
    if (selector === '*') plan.forEach((m) => chosen.add(m.name));
    else if (selector.endsWith('+')) {
      // The plan is in dependency order, so one pass finds every model downstream of the root.
      const downstream = new Set([selector.slice(0, -1)]);
      for (const model of plan) if (model.refs.some((r) => downstream.has(r))) downstream.add(model.name);
      downstream.forEach((name) => chosen.add(name));
    } else chosen.add(selector);
  }
  for (const name of exclude) chosen.delete(name);
  return plan.filter((m) => chosen.has(m.name)).map((m) => m.name).concat([...chosen].filter((c) => !plan.some((m) => m.name === c)));
}

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
      const committed = group ? new Set((await ws.metastore.runs({ group, limit: 10_000 })).filter((r) => r.status === 'success').map((r) => r.target)) : new Set<string>();
      const models = selectModels(ws, request.select, request.exclude).filter((name) => {
        if (!committed.has(name)) return true;
        request.log(`${name}: already committed by an earlier attempt of this try; not run again`);
        return false;
      });
      if (!models.length) return [];
      const results = await runModels(ws, {
        models,
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
      const results = await runChecks(ws.engine, ws.project.config.checks, request.tables ? new Set(request.tables) : undefined);
      for (const r of results) request.log(`${r.passed ? 'ok' : r.severity === 'error' ? 'FAILED' : 'warning'}: ${r.name}: ${r.detail}`);
      const failed = results.filter((r) => !r.passed && r.severity === 'error');
      return { passed: results.length - failed.length, failures: failed.map((r) => ({ check: r.name, message: r.detail })) };
    },
    async compactTables(request) {
      const reports = [];
      for (const table of request.tables) {
        request.signal.throwIfAborted();
        const engine = await ws.engine.fork();
        try {
          reports.push({ table, ...(await ws.lake.compact(engine, table, ws.metastore.newRunId())) });
        } finally {
          engine.close();
        }
      }
      return reports;
    },
    async query(sql, options) {
      const engine = await ws.engine.fork();
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
    projectDir: ws.project.dir,
    env: process.env,
  };
}

export interface ProjectScheduler {
  scheduler: Scheduler;
  store: DuckDBSchedulerStore;
}

/**
 * The project's scheduler on the metastore: its state survives any crash of the process that
 * runs it. `jobs` narrows it to some jobs, run only when triggered (a run in the foreground).
 */
export async function openScheduler(
  ws: Workspace,
  options: Partial<Pick<SchedulerOptions, 'maxConcurrentTasks' | 'leaseSeconds'>> & { log?: (message: string) => void; only?: string } = {},
): Promise<ProjectScheduler> {
  const store = await DuckDBSchedulerStore.open(ws.metastore);
  const all = ws.project.config.jobs;
  const jobs = options.only ? { [options.only]: { ...all[options.only]!, schedule: undefined, catchup: false } } : all;
  const scheduler = new Scheduler({
    jobs,
    store,
    platform: schedulerPlatform(ws, options.log),
    // One process owns the state at a time (the warehouse's lock): a lease of this owner that no
    // running attempt holds belongs to a previous life of it (kill -9) and is retried at once.
    owner: `${hostname()}:${ws.project.stateDir}`,
    maxConcurrentTasks: options.maxConcurrentTasks,
    leaseSeconds: options.leaseSeconds,
  });
  return { scheduler, store };
}
