/**
 * The scheduler: creates runs when their intervals fall due and starts each task the moment its upstream
 * allows it. Event-driven: one timer armed for the nearest moment anything is due (a schedule tick, a
 * retry, a sensor poke, a foreign lease expiring), and task completions start their downstream directly,
 * in the same process. All state is in the SchedulerStore, so a restart (even after kill -9) resumes.
 */
import { downstreamOf, planRun, runOutcome, topologicalOrder, type DagNode, type HookName } from './dag.js';
import { parseJobs, type Job } from './definitions/job.js';
import type { Hook } from './definitions/hooks.js';
import type { SchedulerEvent, SchedulerListener } from './events.js';
import {
  backfillIntervals,
  dateTimetable,
  dsOf,
  dueIntervals,
  manualInterval,
  nextDueAt,
  resolveSchedule,
  Timetable,
  type DataInterval,
  type ResolvedSchedule,
} from './intervals.js';
import type { JsonValue } from './json.js';
import type { Platform, RunInterval } from './platform.js';
import { resolveRetryPolicy, retryDelayMs, shouldRetry, type RetryPolicy } from './retry.js';
import {
  appendLogTail,
  LOG_TAIL_CHARS,
  type AttemptOutcome,
  type AttemptRef,
  type ExpiredAttemptOutcome,
  type JobRun,
  type RunKind,
  type RunState,
  type SchedulerStore,
  type TaskInstance,
  type TaskState,
} from './store.js';
import { notifyTask } from './tasks/notify.js';
import { taskComponent, tasks, type Task } from './tasks/registry.js';
import type { TemplateVars } from './tasks/template.js';
import { TaskFailure, errorMessage, type TaskComponent, type TaskContext, type TaskRunner } from './tasks/types.js';
import { realTimers, type Timers } from './timers.js';
import { parseDateOrInstant } from './timezone.js';

export interface SchedulerOptions {
  /** Job definitions as in the project config (validated here) or already parsed. */
  jobs: unknown;
  store: SchedulerStore;
  platform: Platform;
  /** Names this process in leases. Two live processes must never share one (e.g. `${hostname}:${pid}`). */
  owner: string;
  /** Attempts executing at once; sensors waiting for their next poke hold no slot. Default 4. */
  maxConcurrentTasks?: number;
  /** A lease not renewed for this long is dead: its attempt is failed and retried elsewhere. Default 30. */
  leaseSeconds?: number;
  /** Default: a third of leaseSeconds. */
  heartbeatSeconds?: number;
  timers?: Timers;
  /** Random source for retry jitter, in [0, 1). */
  random?: () => number;
  /** With catchup, at most this many runs are created per job at once; the rest follow right after. Default 100. */
  catchupBatchSize?: number;
  /** A hook (notification) is abandoned after this long. Default 30. */
  hookTimeoutSeconds?: number;
  /** The task kinds jobs may use: the shipped ones (the default), and a project's own. */
  tasks?: readonly TaskComponent[];
}

export interface JobSummary {
  name: string;
  description?: string;
  /** Cron or preset as written, `{ onTablesChanged }`, or 'manual'. */
  schedule: string | { onTablesChanged: string[] };
  timezone: string;
  paused: boolean;
  /** When the next scheduled run falls due (cron jobs that are not paused). */
  nextRunAt?: Date;
  lastRun?: { id: string; kind: RunKind; state: RunState; ds: string; intervalStart: Date; intervalEnd: Date };
}

export interface BackfillResult {
  created: JobRun[];
  /** Failed runs whose failed tasks were cleared for a re-run (`rerunFailed`). */
  rerun: JobRun[];
  /** Runs that already existed and were left as they are. */
  existing: JobRun[];
}

const MAX_BACKFILL_INTERVALS = 10_000;
const FAILED_TASK_STATES: ReadonlySet<TaskState> = new Set(['failed', 'upstream_failed']);

interface CompiledTask {
  name: string;
  runner: TaskRunner;
  retry: RetryPolicy;
  timeoutSeconds?: number;
  hooks: Record<HookName, TaskRunner[]>;
}

interface CompiledJob {
  name: string;
  definition: Job;
  schedule: ResolvedSchedule;
  /** The zone of ticks and of `ds`: the schedule's own zone if it names one, else the job's. */
  timezone: string;
  /** Ticks of a cron job; undefined for manual and table-triggered jobs. */
  timetable?: Timetable;
  /** Ticks for dates given by hand (triggers, backfills): the cron's, or days. */
  dates: Timetable;
  firstStart: Date;
  endBound?: Date;
  tasks: Map<string, CompiledTask>;
  order: DagNode[];
  hooks: Record<HookName, TaskRunner[]>;
}

/** Why the scheduler aborted an attempt; decides what is written to the store afterwards. */
class AttemptAbort extends Error {
  constructor(
    readonly reason: 'timeout' | 'lease-lost' | 'superseded' | 'stopping',
    message: string,
  ) {
    super(message);
    this.name = 'AttemptAbort';
  }
}

interface QueuedTask {
  run: JobRun;
  job: CompiledJob;
  task: CompiledTask;
  /** The instance version this decision was made from (acquireTask compares it). */
  version: number;
}

/** A task this process is about to start or is running: evaluations must leave it alone. */
interface LocalTask {
  phase: 'queued' | 'starting' | 'running';
  controller?: AbortController;
}

const taskKey = (runId: string, task: string): string => `${runId}\u0000${task}`;
const tickKey = (job: string): string => `tick:${job}`;
const runWakeKey = (runId: string): string => `run:${runId}`;

/** The commit a run of a job scheduled on table changes was triggered by (`triggeredBy.snapshot`), if recorded. */
function snapshotOf(triggeredBy: JsonValue | undefined): number | undefined {
  if (typeof triggeredBy !== 'object' || triggeredBy === null || Array.isArray(triggeredBy)) return undefined;
  const snapshot = triggeredBy.snapshot;
  return typeof snapshot === 'number' ? snapshot : undefined;
}

/** Settles with the task's promise, or rejects with the abort reason as soon as the signal aborts. */
function raceAbort<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  work.catch(() => undefined); // a runner that ignores its signal may reject later: nobody listens then
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

function hookRunners(hooks: readonly Hook[]): TaskRunner[] {
  return hooks.map((hook) => {
    const { kind: _kind, ...config } = hook;
    return notifyTask.create(config);
  });
}

function compileTask(job: Job, name: string, task: Task, kinds: readonly TaskComponent[]): CompiledTask {
  const component = taskComponent(task.kind, kinds);
  const timeoutSeconds = task.timeoutSeconds ?? job.defaults.timeoutSeconds;
  // The component gets its own fields only, parsed by its own schema into its typed config.
  const fields: Record<string, unknown> = task;
  const ownFields = Object.fromEntries(Object.keys(component.config.shape).filter((field) => field in fields).map((field) => [field, fields[field]]));
  return {
    name,
    runner: component.create(component.config.parse(ownFields)),
    retry: resolveRetryPolicy(job.defaults, task),
    ...(timeoutSeconds === undefined ? {} : { timeoutSeconds }),
    hooks: { onFailure: hookRunners(task.onFailure), onSuccess: hookRunners(task.onSuccess), onRetry: hookRunners(task.onRetry) },
  };
}

function compileJob(name: string, definition: Job, startedAt: Date, kinds: readonly TaskComponent[]): CompiledJob {
  const schedule = resolveSchedule(definition.schedule, definition.timezone);
  const timezone = schedule.kind === 'cron' ? schedule.timezone : definition.timezone;
  const nodes = Object.entries(definition.tasks).map(([task, spec]) => ({ name: task, after: spec.after, triggerRule: spec.triggerRule }));
  const endBound = definition.end === undefined ? undefined : parseDateOrInstant(definition.end, timezone);
  return {
    name,
    definition,
    schedule,
    timezone,
    ...(schedule.kind === 'cron' ? { timetable: new Timetable(schedule.cron, schedule.timezone) } : {}),
    dates: dateTimetable(schedule, timezone),
    firstStart: (definition.start === undefined ? undefined : parseDateOrInstant(definition.start, timezone)) ?? startedAt,
    ...(endBound ? { endBound } : {}),
    tasks: new Map(Object.entries(definition.tasks).map(([task, spec]) => [task, compileTask(definition, task, spec, kinds)])),
    order: topologicalOrder(nodes),
    hooks: {
      onFailure: hookRunners(definition.onFailure),
      onSuccess: hookRunners(definition.onSuccess),
      onRetry: hookRunners(definition.onRetry),
    },
  };
}

function formatDuration(ms: number | undefined): string {
  return ms === undefined ? '' : `${(ms / 1000).toFixed(1)} s`;
}

export class Scheduler {
  private readonly store: SchedulerStore;
  private readonly platform: Platform;
  private readonly owner: string;
  private readonly timers: Timers;
  private readonly random: () => number;
  private readonly maxConcurrentTasks: number;
  private readonly leaseMs: number;
  private readonly heartbeatMs: number;
  private readonly catchupBatchSize: number;
  private readonly hookTimeoutMs: number;
  private readonly jobs: Map<string, CompiledJob>;
  private readonly listeners = new Set<SchedulerListener>();

  private readonly queue: QueuedTask[] = [];
  private readonly local = new Map<string, LocalTask>();
  private slotsInUse = 0;
  /** Per key (run or job), at most one evaluation at a time; a request during one makes it go again. */
  private readonly serials = new Map<string, { again: boolean; done: Promise<void> }>();
  /** Per job scheduled on table changes: the last decision whether a change gets a run (see runOnTables). */
  private readonly tableDecisions = new Map<string, Promise<unknown>>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly wakeups = new Map<string, number>();
  private cancelTimer: (() => void) | undefined;
  private armedAt = Infinity;
  private started = false;
  private stopping = false;

  constructor(options: SchedulerOptions) {
    this.store = options.store;
    this.platform = options.platform;
    this.owner = options.owner;
    this.timers = options.timers ?? realTimers;
    this.random = options.random ?? Math.random;
    this.maxConcurrentTasks = options.maxConcurrentTasks ?? 4;
    this.leaseMs = (options.leaseSeconds ?? 30) * 1000;
    this.heartbeatMs = (options.heartbeatSeconds ?? (options.leaseSeconds ?? 30) / 3) * 1000;
    this.catchupBatchSize = options.catchupBatchSize ?? 100;
    this.hookTimeoutMs = (options.hookTimeoutSeconds ?? 30) * 1000;
    const startedAt = this.platform.now();
    const kinds = options.tasks ?? tasks;
    this.jobs = new Map(Object.entries(parseJobs(options.jobs, kinds)).map(([name, job]) => [name, compileJob(name, job, startedAt, kinds)]));
  }

  // ── lifecycle ──────────────────────────────────────────────────────────────────────────────────────

  /**
   * Recovers and starts: runs in flight resume (attempts whose lease expired, or that this owner held
   * before a restart, are failed and retried per policy), missed intervals get their runs per `catchup`.
   * Resolves once that first pass is done. A stopped scheduler may start again (a standby that leads
   * again): it starts afresh from the store, its listeners kept.
   */
  async start(): Promise<void> {
    if (this.started && !this.stopping) return;
    if (this.stopping) {
      await this.whenIdle();
      this.stopping = false;
      this.armedAt = Infinity;
    }
    this.started = true;
    const active = await this.store.listRuns({ states: ['queued', 'running'], order: 'asc' });
    await Promise.all([
      ...active.map((run) => this.requestEvaluation(run.id)),
      ...[...this.jobs.values()].map((job) => this.requestScheduling(job)),
    ]);
    // A catch-up that fails (the catalog unreachable a moment) leaves the job to the next commit; the scheduler starts.
    await Promise.all(
      [...this.jobs.values()].map((job) =>
        this.catchUpOnTables(job).catch((error: unknown) => this.platform.log('error', `job '${job.name}': could not compare its last run with its tables' commits: ${errorMessage(error)}`)),
      ),
    );
  }

  /**
   * Stops starting anything. By default waits for running attempts to finish; with `abort` (or once
   * `timeoutMs` has passed) aborts them and hands them back to the store unfinished, not counted as a
   * failure, for the next scheduler to run again.
   */
  async stop(options: { abort?: boolean; timeoutMs?: number } = {}): Promise<void> {
    this.stopping = true;
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    this.wakeups.clear();
    for (const item of this.queue.splice(0)) this.local.delete(taskKey(item.run.id, item.task.name));
    const abortAll = (): void => {
      for (const task of this.local.values()) task.controller?.abort(new AttemptAbort('stopping', 'the scheduler is stopping'));
    };
    if (options.abort) abortAll();
    const cancelDeadline = options.timeoutMs === undefined ? undefined : this.timers.schedule(abortAll, options.timeoutMs);
    await this.whenIdle();
    cancelDeadline?.();
  }

  /** Resolves when nothing is executing, queued or being evaluated in this process (timers may still be armed). */
  async whenIdle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /** Listens to run, task, log and hook events; returns the function that stops listening. */
  subscribe(listener: SchedulerListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // ── operations ─────────────────────────────────────────────────────────────────────────────────────

  /** A manual run for the interval holding `date` (default: the latest complete interval, or now). */
  async trigger(jobName: string, date?: string): Promise<{ run: JobRun; created: boolean }> {
    const job = this.job(jobName);
    return this.createRun(job, 'manual', manualInterval(job.schedule, job.timezone, date, this.platform.now()));
  }

  /** One run per interval starting in [from, to] (a bare date `to` covers its day); see BackfillResult. */
  async backfill(jobName: string, from: string, to: string, options: { rerunFailed?: boolean } = {}): Promise<BackfillResult> {
    const job = this.job(jobName);
    const intervals = backfillIntervals(job.dates, { from, to }, { now: this.platform.now(), limit: MAX_BACKFILL_INTERVALS });
    const result: BackfillResult = { created: [], rerun: [], existing: [] };
    for (const interval of intervals) {
      const { run, created } = await this.createRun(job, 'backfill', interval);
      if (created) result.created.push(run);
      else if (options.rerunFailed && run.state === 'failed') {
        const failed = (await this.store.listTasks(run.id)).filter((task) => FAILED_TASK_STATES.has(task.state)).map((task) => task.task);
        result.rerun.push(await this.clearTasks(run, failed));
      } else result.existing.push(run);
    }
    return result;
  }

  async pause(jobName: string): Promise<void> {
    this.job(jobName);
    await this.store.setPaused(jobName, true);
    this.deleteWakeup(tickKey(jobName));
  }

  /** Resumes schedules (missed intervals per `catchup`) and queued runs. */
  async unpause(jobName: string): Promise<void> {
    const job = this.job(jobName);
    await this.store.setPaused(jobName, false);
    await Promise.all([this.requestScheduling(job), this.promoteQueuedRuns(job), this.catchUpOnTables(job)]);
  }

  /** Resets a task (and with `downstream`, everything downstream of it) to run again; aborts it if running here. */
  async clearTask(runId: string, task: string, options: { downstream?: boolean } = {}): Promise<JobRun> {
    const run = await this.existingRun(runId);
    const job = this.job(run.job);
    const names = [task, ...(options.downstream ? downstreamOf(job.order, task) : [])];
    return this.clearTasks(run, names);
  }

  /** Sets a task's state by hand (e.g. success after fixing data outside); aborts it if running here. */
  async markTask(runId: string, task: string, state: 'success' | 'failed'): Promise<TaskInstance> {
    const run = await this.existingRun(runId);
    const marked = await this.store.markTask(runId, task, state, this.platform.now());
    if (!marked) throw new Error(`run ${runId} has no task '${task}'`);
    this.abortLocal(runId, [task]);
    this.emitTask(run.job, marked, {});
    await this.requestEvaluation(runId);
    return marked;
  }

  async listJobs(): Promise<JobSummary[]> {
    return Promise.all(
      [...this.jobs.values()].map(async (job): Promise<JobSummary> => {
        const [{ paused }, [lastRun], [lastScheduled]] = await Promise.all([
          this.store.getJobState(job.name),
          this.store.listRuns({ job: job.name, limit: 1 }),
          this.store.listRuns({ job: job.name, kinds: ['scheduled'], limit: 1 }),
        ]);
        const dueAt =
          job.timetable && !paused
            ? nextDueAt(job.timetable, { ...this.progressOf(job), ...(lastScheduled ? { lastStart: lastScheduled.intervalStart } : {}) })
            : undefined;
        const now = this.platform.now();
        return {
          name: job.name,
          ...(job.definition.description === undefined ? {} : { description: job.definition.description }),
          schedule:
            job.schedule.kind === 'cron' ? job.schedule.label : job.schedule.kind === 'tables' ? { onTablesChanged: job.schedule.tables } : 'manual',
          timezone: job.timezone,
          paused,
          ...(dueAt ? { nextRunAt: dueAt < now ? now : dueAt } : {}),
          ...(lastRun
            ? {
                lastRun: {
                  id: lastRun.id,
                  kind: lastRun.kind,
                  state: lastRun.state,
                  ds: dsOf({ start: lastRun.intervalStart, end: lastRun.intervalEnd }, job.timezone),
                  intervalStart: lastRun.intervalStart,
                  intervalEnd: lastRun.intervalEnd,
                },
              }
            : {}),
        };
      }),
    );
  }

  async runs(options: { job?: string; states?: RunState[]; limit?: number } = {}): Promise<JobRun[]> {
    return this.store.listRuns(options);
  }

  async tasks(runId: string): Promise<TaskInstance[]> {
    return this.store.listTasks(runId);
  }

  /**
   * Called by the platform after commits (`snapshot`: the commit's id, recorded in the run's
   * `triggeredBy`): jobs scheduled `onTablesChanged` for any of these tables get a run, unless one is
   * already queued (changes arriving faster than runs coalesce into it). A scheduler not started
   * hears nothing: `start()` catches up on the commits it missed.
   */
  async tablesChanged(tables: readonly string[], snapshot?: number): Promise<JobRun[]> {
    if (!this.started || this.stopping) return [];
    const changed = new Set(tables.map((table) => table.toLowerCase()));
    const created: JobRun[] = [];
    for (const job of this.jobs.values()) {
      if (job.schedule.kind !== 'tables') continue;
      const matched = job.schedule.tables.filter((table) => changed.has(table.toLowerCase()));
      if (matched.length === 0) continue;
      const run = await this.runOnTables(job, matched, snapshot);
      if (run) created.push(run);
    }
    return created;
  }

  /**
   * A run for a change of `tables`, unless the job is paused or has a run queued (it reads the
   * tables when it starts, so it covers this change too). One decision at a time per job, so two
   * commits heard at once queue one run.
   */
  private runOnTables(job: CompiledJob, tables: readonly string[], snapshot: number | undefined): Promise<JobRun | undefined> {
    const decide = async (): Promise<JobRun | undefined> => {
      if (this.stopping || (await this.store.getJobState(job.name)).paused) return undefined;
      if ((await this.store.listRuns({ job: job.name, states: ['queued'], limit: 1 })).length > 0) return undefined;
      const now = this.platform.now();
      const { run, created } = await this.createRun(job, 'event', { start: now, end: now }, { tables: [...tables], ...(snapshot === undefined ? {} : { snapshot }) });
      return created ? run : undefined;
    };
    const decided = (this.tableDecisions.get(job.name) ?? Promise.resolve()).then(decide);
    this.tableDecisions.set(job.name, decided.catch(() => undefined));
    return decided;
  }

  /**
   * At start and unpause, a job scheduled on table changes whose last run was triggered by an older
   * commit than the newest one of its tables gets a run: that commit came while no scheduler
   * listened (the process died between the commit and the run, or committed while it was starting),
   * or while the job was paused. A job that never ran on a change has nothing to compare with and
   * waits for the next commit.
   */
  private async catchUpOnTables(job: CompiledJob): Promise<void> {
    if (job.schedule.kind !== 'tables' || !this.platform.lastChange) return;
    const [last] = await this.store.listRuns({ job: job.name, kinds: ['event'], limit: 1 });
    const seen = snapshotOf(last?.triggeredBy);
    if (seen === undefined) return;
    const latest = await this.platform.lastChange(job.schedule.tables);
    if (latest === undefined || latest <= seen) return;
    const run = await this.runOnTables(job, job.schedule.tables, latest);
    if (run) this.platform.log('info', `job '${job.name}': run ${run.id} for the commits to ${job.schedule.tables.join(', ')} made since its last run's (snapshot ${seen} to ${latest})`);
  }

  // ── runs and scheduling ────────────────────────────────────────────────────────────────────────────

  private job(name: string): CompiledJob {
    const job = this.jobs.get(name);
    if (!job) throw new Error(`unknown job '${name}' (jobs: ${[...this.jobs.keys()].join(', ') || 'none'})`);
    return job;
  }

  private async existingRun(runId: string): Promise<JobRun> {
    const run = await this.store.getRun(runId);
    if (!run) throw new Error(`no run ${runId}`);
    return run;
  }

  private progressOf(job: CompiledJob): { firstStart: Date; endBound?: Date } {
    return { firstStart: job.firstStart, ...(job.endBound ? { endBound: job.endBound } : {}) };
  }

  private async createRun(
    job: CompiledJob,
    kind: RunKind,
    interval: DataInterval,
    triggeredBy?: JsonValue,
  ): Promise<{ run: JobRun; created: boolean }> {
    const result = await this.store.createRun({
      job: job.name,
      kind,
      intervalStart: interval.start,
      intervalEnd: interval.end,
      tasks: [...job.tasks.keys()],
      now: this.platform.now(),
      ...(triggeredBy === undefined ? {} : { triggeredBy }),
    });
    if (result.created) {
      this.emit({ type: 'run', run: result.run });
      void this.requestEvaluation(result.run.id);
    }
    return result;
  }

  private async clearTasks(run: JobRun, names: readonly string[]): Promise<JobRun> {
    const cleared = await this.store.clearTasks(run.id, names, this.platform.now());
    if (!cleared) throw new Error(`run ${run.id} has no task among ${names.join(', ')}`);
    this.abortLocal(run.id, names);
    if (cleared.run.state !== run.state) this.emit({ type: 'run', run: cleared.run, previousState: run.state });
    for (const task of cleared.tasks) this.emitTask(run.job, task, {});
    await this.requestEvaluation(run.id);
    return cleared.run;
  }

  /** Creates the runs of a cron job that are due, then sets the job's wake-up for the next one. */
  private requestScheduling(job: CompiledJob): Promise<void> {
    return this.serial(tickKey(job.name), async () => {
      this.deleteWakeup(tickKey(job.name));
      if (!job.timetable || this.stopping || (await this.store.getJobState(job.name)).paused) return;
      const [last] = await this.store.listRuns({ job: job.name, kinds: ['scheduled'], limit: 1 });
      const progress = { ...this.progressOf(job), ...(last ? { lastStart: last.intervalStart } : {}) };
      const now = this.platform.now();
      const due = dueIntervals(job.timetable, progress, { now, catchup: job.definition.catchup, limit: this.catchupBatchSize });
      // Runs that exist already (a manual trigger got there first) are returned as they are: no duplicates.
      for (const interval of due.intervals) await this.createRun(job, 'scheduled', interval);
      const lastStart = due.intervals.at(-1)?.start ?? progress.lastStart;
      const next = due.more ? now : nextDueAt(job.timetable, { ...progress, ...(lastStart ? { lastStart } : {}) });
      if (next) this.setWakeup(tickKey(job.name), next.getTime());
    });
  }

  /** Lets the oldest queued runs of a job try to start (capacity is checked by the store). */
  private async promoteQueuedRuns(job: CompiledJob): Promise<void> {
    const queued = await this.store.listRuns({ job: job.name, states: ['queued'], order: 'asc', limit: job.definition.maxActiveRuns });
    await Promise.all(queued.map((run) => this.requestEvaluation(run.id)));
  }

  private requestEvaluation(runId: string): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return this.serial(runWakeKey(runId), () => this.evaluateRun(runId));
  }

  /**
   * Brings a run forward: starts it if queued and allowed, recovers dead attempts, settles tasks their
   * trigger rules rule out, queues the tasks that may start, finishes the run when all tasks are done.
   */
  private async evaluateRun(runId: string): Promise<void> {
    this.deleteWakeup(runWakeKey(runId));
    let run = await this.store.getRun(runId);
    const job = run && this.jobs.get(run.job);
    if (!run || !job) return;
    if (run.state === 'queued') {
      if ((await this.store.getJobState(job.name)).paused) return;
      const started = await this.store.startRun(runId, { maxActiveRuns: job.definition.maxActiveRuns, now: this.platform.now() });
      if (!started) return;
      this.emit({ type: 'run', run: started, previousState: 'queued' });
      run = started;
    }
    if (run.state !== 'running') return;

    const now = this.platform.now();
    const instances = new Map((await this.store.listTasks(runId)).map((instance) => [instance.task, instance]));
    let wakeAt = Infinity;

    for (const instance of instances.values()) {
      if (instance.state !== 'running' || this.local.has(taskKey(runId, instance.task))) continue;
      const leaseLive = instance.leaseExpiresAt !== undefined && instance.leaseExpiresAt > now;
      if (leaseLive && instance.leaseOwner !== this.owner) {
        wakeAt = Math.min(wakeAt, instance.leaseExpiresAt!.getTime());
        continue;
      }
      const expired = await this.expireAttempt(job, run, instance);
      if (expired) instances.set(instance.task, expired);
    }

    for (const instance of instances.values()) {
      if (!job.tasks.has(instance.task)) {
        const settled = await this.store.settleTask(runId, instance.task, 'skipped', now);
        if (settled) {
          this.platform.log('warn', `task '${instance.task}' of run ${runId} is no longer defined in job '${job.name}': skipped`);
          instances.set(instance.task, settled);
          this.emitTask(job.name, settled, {});
        }
      }
    }

    const order = job.order.filter((node) => instances.has(node.name));
    const plan = planRun(order, new Map([...instances].map(([name, instance]) => [name, instance.state])));
    for (const { task, state } of plan.settled) {
      const settled = await this.store.settleTask(runId, task, state, now);
      if (settled) {
        instances.set(task, settled);
        this.emitTask(job.name, settled, {});
      }
    }
    const ready = new Set(plan.ready);
    const enqueued: QueuedTask[] = [];
    for (const instance of instances.values()) {
      const waiting = instance.state === 'up_for_retry' || instance.state === 'up_for_reschedule';
      if (waiting && instance.nextAttemptAt && instance.nextAttemptAt > now) {
        wakeAt = Math.min(wakeAt, instance.nextAttemptAt.getTime());
      } else if (waiting || ready.has(instance.task)) {
        const task = job.tasks.get(instance.task);
        const item = task && this.enqueue({ run, job, task, version: instance.version });
        if (item && instance.state === 'scheduled') enqueued.push(item);
      }
    }
    if (wakeAt < Infinity) this.setWakeup(runWakeKey(runId), wakeAt);
    // Start what fits first; only then record, for UIs, which tasks wait for a slot.
    this.dispatch();
    await this.markWaitingForSlot(enqueued);

    const outcome = runOutcome([...instances.values()].map((instance) => instance.state));
    if (outcome) await this.finishRun(job, run, outcome, [...instances.values()]);
  }

  private async finishRun(job: CompiledJob, run: JobRun, state: 'success' | 'failed', instances: readonly TaskInstance[]): Promise<void> {
    const finished = await this.store.finishRun(run.id, state, this.platform.now());
    if (!finished) return;
    this.emit({ type: 'run', run: finished, previousState: run.state });
    const durationMs = finished.endedAt && finished.startedAt ? finished.endedAt.getTime() - finished.startedAt.getTime() : undefined;
    const failures = instances.filter((instance) => instance.state === 'failed').map((instance) => `${instance.task}: ${instance.error ?? 'failed'}`);
    const hook = state === 'success' ? 'onSuccess' : 'onFailure';
    this.fireHooks(job.hooks[hook], hook, job, finished, {
      state,
      ...(durationMs === undefined ? {} : { durationMs }),
      ...(failures.length > 0 ? { error: failures.join('; ') } : {}),
    });
    // Not awaited: this runs inside the run's own evaluation, and a promoted run may come back to it.
    this.track(this.promoteQueuedRuns(job));
  }

  // ── tasks ──────────────────────────────────────────────────────────────────────────────────────────

  /** Adds a task to the local queue unless this process already has it; returns the queued item. */
  private enqueue(item: QueuedTask): QueuedTask | undefined {
    const key = taskKey(item.run.id, item.task.name);
    if (this.local.has(key) || this.stopping) return undefined;
    this.local.set(key, { phase: 'queued' });
    this.queue.push(item);
    return item;
  }

  /** scheduled → queued in the store (for UIs) for the items still waiting for a slot; the version stays. */
  private async markWaitingForSlot(items: readonly QueuedTask[]): Promise<void> {
    const waiting = new Set(this.queue);
    await Promise.all(
      items
        .filter((item) => waiting.has(item))
        .map(async (item) => {
          const queued = await this.store.queueTask(item.run.id, item.task.name, this.platform.now());
          if (queued) this.emitTask(item.job.name, queued, {});
        }),
    );
  }

  private dispatch(): void {
    while (!this.stopping && this.slotsInUse < this.maxConcurrentTasks && this.queue.length > 0) {
      const item = this.queue.shift()!;
      this.slotsInUse++;
      this.local.set(taskKey(item.run.id, item.task.name), { phase: 'starting' });
      this.track(this.runAttempt(item));
    }
  }

  private async runAttempt(item: QueuedTask): Promise<void> {
    const { run, job, task } = item;
    const key = taskKey(run.id, task.name);
    let instance: TaskInstance | undefined;
    try {
      instance = await this.store.acquireTask({
        runId: run.id,
        task: task.name,
        expectedVersion: item.version,
        owner: this.owner,
        now: this.platform.now(),
        leaseMs: this.leaseMs,
      });
    } catch (error) {
      this.platform.log('error', `could not acquire ${task.name} of run ${run.id}: ${errorMessage(error)}`);
    }
    if (!instance) {
      // Someone else took it, or it changed since it was planned: plan the run again from the store.
      this.releaseSlot(key);
      void this.requestEvaluation(run.id);
      return;
    }

    const controller = new AbortController();
    this.local.set(key, { phase: 'running', controller });
    const startedMs = this.platform.now().getTime();
    const ref: AttemptRef = { runId: run.id, task: task.name, owner: this.owner, attempt: instance.attempt };
    const isPoke = instance.pokeState !== undefined;
    let attemptLog = '';
    const log = (line: string): void => {
      const at = this.platform.now();
      attemptLog = appendLogTail(attemptLog, `${at.toISOString()} ${line}\n`, LOG_TAIL_CHARS);
      this.emit({ type: 'log', job: job.name, runId: run.id, task: task.name, attempt: instance.attempt, at, line });
    };
    log(`${isPoke ? 'poke' : 'attempt'} ${instance.attempt} started by ${this.owner}`);
    this.emitTask(job.name, instance, {});

    const cancelTimeout =
      task.timeoutSeconds === undefined
        ? undefined
        : this.timers.schedule(
            () => controller.abort(new AttemptAbort('timeout', `timed out after ${task.timeoutSeconds} s`)),
            task.timeoutSeconds * 1000,
          );
    const stopHeartbeat = this.startHeartbeat(ref, controller);
    const interval = this.intervalOf(job, run);
    const ctx: TaskContext = {
      job: job.name,
      task: task.name,
      runId: run.id,
      runKind: run.kind,
      interval,
      attempt: instance.attempt,
      attemptOffset: instance.attemptOffset,
      attemptStartedAt: instance.startedAt ?? new Date(startedMs),
      ...(task.timeoutSeconds === undefined ? {} : { timeoutSeconds: task.timeoutSeconds }),
      ...(instance.pokeState === undefined ? {} : { pokeState: instance.pokeState }),
      vars: this.templateVars(job, run, interval, { task: task.name, state: 'running', attempt: instance.attempt }),
      signal: controller.signal,
      platform: this.platform,
      log,
    };

    let outcome: AttemptOutcome | 'release' | 'drop';
    try {
      const result = await raceAbort((async () => task.runner.run(ctx))(), controller.signal);
      outcome =
        result.status === 'success'
          ? { state: 'success', ...(result.result === undefined ? {} : { result: result.result }) }
          : { state: 'up_for_reschedule', nextAttemptAt: result.nextPokeAt, pokeState: result.pokeState };
      if (outcome.state === 'up_for_reschedule') log(`condition not met; next poke at ${outcome.nextAttemptAt.toISOString()}`);
    } catch (error) {
      const abort = controller.signal.aborted && controller.signal.reason instanceof AttemptAbort ? controller.signal.reason : undefined;
      if (abort?.reason === 'stopping') outcome = 'release';
      else if (abort?.reason === 'lease-lost' || abort?.reason === 'superseded') outcome = 'drop';
      else {
        const message = abort ? abort.message : errorMessage(error);
        const retryable = abort !== undefined || !(error instanceof TaskFailure) || error.retryable;
        outcome = this.failureOutcome(task.retry, instance, message, retryable);
      }
      if (outcome !== 'drop') log(`${outcome === 'release' ? 'aborted' : 'failed'}: ${abort ? abort.message : errorMessage(error)}`);
    } finally {
      cancelTimeout?.();
      stopHeartbeat();
    }

    const endedAt = this.platform.now();
    const durationMs = endedAt.getTime() - startedMs;
    let stored: TaskInstance | undefined;
    try {
      if (outcome === 'release') stored = await this.store.releaseAttempt(ref, { now: endedAt, log: attemptLog });
      else if (outcome !== 'drop') stored = await this.store.completeAttempt(ref, { now: endedAt, outcome, log: attemptLog });
    } catch (error) {
      this.platform.log('error', `could not record the end of ${task.name} in run ${run.id}: ${errorMessage(error)}`);
    }
    this.releaseSlot(key);
    if (stored) {
      this.emitTask(job.name, stored, { durationMs });
      this.fireTaskHooks(job, run, task, stored, durationMs);
    } else if (outcome !== 'release') {
      this.platform.log('warn', `attempt ${ref.attempt} of ${task.name} in run ${run.id} ended after its task was cleared, marked or taken over`);
    }
    void this.requestEvaluation(run.id);
  }

  private failureOutcome(policy: RetryPolicy, instance: TaskInstance, error: string, retryable: boolean): ExpiredAttemptOutcome {
    const failedAttempts = instance.attempt - instance.attemptOffset;
    if (!retryable || !shouldRetry(policy, failedAttempts)) return { state: 'failed', error };
    const delayMs = retryDelayMs(policy, failedAttempts, this.random);
    return { state: 'up_for_retry', error, nextAttemptAt: new Date(this.platform.now().getTime() + delayMs) };
  }

  /** An attempt whose process is gone becomes a failed attempt; the retry policy decides what follows. */
  private async expireAttempt(job: CompiledJob, run: JobRun, instance: TaskInstance): Promise<TaskInstance | undefined> {
    const now = this.platform.now();
    const task = job.tasks.get(instance.task);
    const message =
      `attempt ${instance.attempt} stopped without finishing: its lease (owner ${instance.leaseOwner ?? 'unknown'}` +
      `${instance.leaseExpiresAt ? `, expiring ${instance.leaseExpiresAt.toISOString()}` : ''}) was not renewed; the process running it is gone`;
    const outcome: ExpiredAttemptOutcome = task ? this.failureOutcome(task.retry, instance, message, true) : { state: 'failed', error: message };
    const expired = await this.store.expireAttempt({
      runId: run.id,
      task: instance.task,
      attempt: instance.attempt,
      caller: this.owner,
      now,
      outcome,
      log: `${now.toISOString()} ${message}\n`,
    });
    if (expired) {
      this.platform.log('warn', `${job.name}.${instance.task} (run ${run.id}): ${message}`);
      this.emitTask(job.name, expired, {});
      if (task) this.fireTaskHooks(job, run, task, expired, undefined);
    }
    return expired;
  }

  private releaseSlot(key: string): void {
    this.local.delete(key);
    this.slotsInUse--;
    this.dispatch();
  }

  private abortLocal(runId: string, tasks: readonly string[]): void {
    for (const task of tasks) {
      this.local.get(taskKey(runId, task))?.controller?.abort(new AttemptAbort('superseded', 'the task was cleared or marked'));
    }
  }

  private startHeartbeat(ref: AttemptRef, controller: AbortController): () => void {
    let cancel: (() => void) | undefined;
    let stopped = false;
    const beat = (): void => {
      cancel = this.timers.schedule(() => {
        void this.store
          .heartbeat(ref, { now: this.platform.now(), leaseMs: this.leaseMs })
          .then((alive) => {
            if (!alive) controller.abort(new AttemptAbort('lease-lost', 'the attempt lost its lease'));
            else if (!stopped) beat();
          })
          .catch((error: unknown) => {
            // A store hiccup: keep beating; the lease outlives a missed heartbeat or two.
            this.platform.log('warn', `heartbeat for ${ref.task} failed: ${errorMessage(error)}`);
            if (!stopped) beat();
          });
      }, this.heartbeatMs);
    };
    beat();
    return () => {
      stopped = true;
      cancel?.();
    };
  }

  // ── hooks ──────────────────────────────────────────────────────────────────────────────────────────

  private fireTaskHooks(job: CompiledJob, run: JobRun, task: CompiledTask, instance: TaskInstance, durationMs: number | undefined): void {
    const facts = {
      task: task.name,
      state: instance.state,
      attempt: instance.attempt,
      ...(instance.error === undefined ? {} : { error: instance.error }),
      ...(durationMs === undefined ? {} : { durationMs }),
    };
    if (instance.state === 'success') this.fireHooks(task.hooks.onSuccess, 'onSuccess', job, run, facts);
    if (instance.state === 'failed') this.fireHooks(task.hooks.onFailure, 'onFailure', job, run, facts);
    if (instance.state === 'up_for_retry') this.fireHooks([...task.hooks.onRetry, ...job.hooks.onRetry], 'onRetry', job, run, facts);
  }

  private fireHooks(
    hooks: readonly TaskRunner[],
    hook: HookName,
    job: CompiledJob,
    run: JobRun,
    facts: { task?: string; state: string; attempt?: number; error?: string; durationMs?: number },
  ): void {
    for (const runner of hooks) this.track(this.runHook(runner, hook, job, run, facts));
  }

  private async runHook(
    runner: TaskRunner,
    hook: HookName,
    job: CompiledJob,
    run: JobRun,
    facts: { task?: string; state: string; attempt?: number; error?: string; durationMs?: number },
  ): Promise<void> {
    const controller = new AbortController();
    const cancel = this.timers.schedule(
      () => controller.abort(new AttemptAbort('timeout', `hook timed out after ${this.hookTimeoutMs / 1000} s`)),
      this.hookTimeoutMs,
    );
    const interval = this.intervalOf(job, run);
    const subject = facts.task ? `${job.name}.${facts.task}` : job.name;
    const ctx: TaskContext = {
      job: job.name,
      task: facts.task ?? '',
      runId: run.id,
      runKind: run.kind,
      interval,
      attempt: facts.attempt ?? 0,
      attemptOffset: 0,
      attemptStartedAt: this.platform.now(),
      vars: this.templateVars(job, run, interval, facts),
      signal: controller.signal,
      platform: this.platform,
      log: (line) => this.platform.log('info', `${subject} ${hook}: ${line}`),
    };
    try {
      await raceAbort((async () => runner.run(ctx))(), controller.signal);
      this.emit({ type: 'hook', job: job.name, runId: run.id, ...(facts.task ? { task: facts.task } : {}), hook, ok: true });
    } catch (error) {
      const message = errorMessage(controller.signal.aborted ? controller.signal.reason : error);
      this.platform.log('warn', `${subject} ${hook} hook failed: ${message}`);
      this.emit({ type: 'hook', job: job.name, runId: run.id, ...(facts.task ? { task: facts.task } : {}), hook, ok: false, error: message });
    } finally {
      cancel();
    }
  }

  // ── helpers ────────────────────────────────────────────────────────────────────────────────────────

  private intervalOf(job: CompiledJob, run: JobRun): RunInterval {
    const interval = { start: run.intervalStart, end: run.intervalEnd };
    return { ...interval, ds: dsOf(interval, job.timezone), timezone: job.timezone };
  }

  private templateVars(
    job: CompiledJob,
    run: JobRun,
    interval: RunInterval,
    facts: { task?: string; state: string; attempt?: number; error?: string; durationMs?: number },
  ): TemplateVars {
    return {
      job: job.name,
      task: facts.task ?? '',
      run_id: run.id,
      run_kind: run.kind,
      ds: interval.ds,
      ds_nodash: interval.ds.replaceAll('-', ''),
      yyyy: interval.ds.slice(0, 4),
      mm: interval.ds.slice(5, 7),
      dd: interval.ds.slice(8, 10),
      data_interval_start: interval.start.toISOString(),
      data_interval_end: interval.end.toISOString(),
      state: facts.state,
      error: facts.error ?? '',
      attempt: facts.attempt === undefined ? '' : String(facts.attempt),
      duration: formatDuration(facts.durationMs),
    };
  }

  private emitTask(job: string, instance: TaskInstance, extra: { durationMs?: number }): void {
    this.emit({
      type: 'task',
      job,
      runId: instance.runId,
      task: instance.task,
      state: instance.state,
      attempt: instance.attempt,
      at: this.platform.now(),
      ...extra,
      ...(instance.error !== undefined && (instance.state === 'failed' || instance.state === 'up_for_retry') ? { error: instance.error } : {}),
      ...(instance.nextAttemptAt === undefined ? {} : { nextAttemptAt: instance.nextAttemptAt }),
    });
  }

  private emit(event: SchedulerEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.platform.log('warn', `scheduler event listener failed: ${errorMessage(error)}`);
      }
    }
  }

  /** Runs `work` for `key`, one at a time; a request while it runs makes it run once more afterwards. */
  private serial(key: string, work: () => Promise<void>): Promise<void> {
    const current = this.serials.get(key);
    if (current) {
      current.again = true;
      return current.done;
    }
    const state = { again: false, done: Promise.resolve() };
    state.done = (async () => {
      try {
        do {
          state.again = false;
          try {
            await work();
          } catch (error) {
            this.platform.log('error', `scheduler: ${key}: ${errorMessage(error)}`);
          }
        } while (state.again && !this.stopping);
      } finally {
        this.serials.delete(key);
      }
    })();
    this.serials.set(key, state);
    this.track(state.done);
    return state.done;
  }

  private track(work: Promise<unknown>): void {
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
  }

  // ── the one timer ──────────────────────────────────────────────────────────────────────────────────

  private setWakeup(key: string, atMs: number): void {
    const existing = this.wakeups.get(key);
    if (existing !== undefined && existing <= atMs) return;
    this.wakeups.set(key, atMs);
    this.armTimer();
  }

  private deleteWakeup(key: string): void {
    if (this.wakeups.delete(key)) this.armTimer();
  }

  /** Arms the single timer for the earliest wake-up; something already due runs at once (tracked). */
  private armTimer(): void {
    if (this.stopping) return;
    let earliest = Infinity;
    for (const at of this.wakeups.values()) earliest = Math.min(earliest, at);
    if (earliest === this.armedAt) return;
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    this.armedAt = earliest;
    if (earliest === Infinity) return;
    const delay = earliest - this.platform.now().getTime();
    if (delay <= 0) {
      let cancelled = false;
      this.cancelTimer = () => {
        cancelled = true;
      };
      this.track(
        Promise.resolve().then(() => {
          if (!cancelled) this.onTimer();
        }),
      );
    } else {
      this.cancelTimer = this.timers.schedule(() => this.onTimer(), delay);
    }
  }

  private onTimer(): void {
    this.cancelTimer = undefined;
    this.armedAt = Infinity;
    const now = this.platform.now().getTime();
    for (const [key, at] of [...this.wakeups]) {
      if (at > now) continue;
      this.wakeups.delete(key);
      if (key.startsWith('tick:')) {
        const job = this.jobs.get(key.slice('tick:'.length));
        if (job) void this.requestScheduling(job);
      } else {
        void this.requestEvaluation(key.slice('run:'.length));
      }
    }
    this.armTimer();
  }
}
