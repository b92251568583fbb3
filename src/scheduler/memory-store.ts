/**
 * SchedulerStore in memory, for tests and for trying the scheduler without a metastore. It returns copies,
 * never its own objects, so callers see the same semantics as with a SQL store.
 */
import {
  appendLogTail,
  runIdFor,
  type AttemptOutcome,
  type AttemptRef,
  type ExpiredAttemptOutcome,
  type JobRun,
  type JobState,
  type NewRun,
  type RunFilter,
  type SchedulerStore,
  type TaskInstance,
  type TaskState,
} from './store.js';

const TERMINAL_RUN_STATES = new Set(['success', 'failed']);
const WAITING_STATES: ReadonlySet<TaskState> = new Set(['scheduled', 'queued', 'up_for_retry', 'up_for_reschedule']);

export class MemorySchedulerStore implements SchedulerStore {
  private readonly paused = new Map<string, boolean>();
  private readonly runs = new Map<string, JobRun>();
  private readonly tasks = new Map<string, Map<string, TaskInstance>>();

  /** A store holding what a persistent store saved (a write-through store loads itself this way). */
  static restore(state: { paused: JobState[]; runs: JobRun[]; tasks: TaskInstance[] }): MemorySchedulerStore {
    const store = new MemorySchedulerStore();
    for (const p of state.paused) store.paused.set(p.job, p.paused);
    for (const run of state.runs) store.runs.set(run.id, structuredClone(run));
    for (const task of state.tasks) {
      let tasks = store.tasks.get(task.runId);
      if (!tasks) store.tasks.set(task.runId, (tasks = new Map()));
      tasks.set(task.task, structuredClone(task));
    }
    return store;
  }

  async getJobState(job: string): Promise<JobState> {
    return { job, paused: this.paused.get(job) ?? false };
  }

  async setPaused(job: string, paused: boolean): Promise<JobState> {
    this.paused.set(job, paused);
    return { job, paused };
  }

  async createRun(request: NewRun): Promise<{ run: JobRun; created: boolean }> {
    const id = runIdFor(request.job, request.intervalStart);
    const existing = this.runs.get(id);
    if (existing) return { run: structuredClone(existing), created: false };
    const run: JobRun = {
      id,
      job: request.job,
      kind: request.kind,
      intervalStart: request.intervalStart,
      intervalEnd: request.intervalEnd,
      state: 'queued',
      createdAt: request.now,
      ...(request.triggeredBy === undefined ? {} : { triggeredBy: request.triggeredBy }),
    };
    this.runs.set(id, structuredClone(run));
    this.tasks.set(
      id,
      new Map(request.tasks.map((task) => [task, { runId: id, task, state: 'scheduled', version: 1, attempt: 0, attemptOffset: 0, log: '' }])),
    );
    return { run, created: true };
  }

  async getRun(runId: string): Promise<JobRun | undefined> {
    const run = this.runs.get(runId);
    return run && structuredClone(run);
  }

  async listRuns(filter: RunFilter = {}): Promise<JobRun[]> {
    const direction = filter.order === 'asc' ? 1 : -1;
    const matching = [...this.runs.values()]
      .filter(
        (run) =>
          (filter.job === undefined || run.job === filter.job) &&
          (filter.states === undefined || filter.states.includes(run.state)) &&
          (filter.kinds === undefined || filter.kinds.includes(run.kind)),
      )
      .sort((a, b) => direction * (a.intervalStart.getTime() - b.intervalStart.getTime()) || a.job.localeCompare(b.job));
    return structuredClone(filter.limit === undefined ? matching : matching.slice(0, filter.limit));
  }

  async startRun(runId: string, options: { maxActiveRuns: number; now: Date }): Promise<JobRun | undefined> {
    const run = this.runs.get(runId);
    if (!run || run.state !== 'queued') return undefined;
    let running = 0;
    for (const other of this.runs.values()) if (other.job === run.job && other.state === 'running') running++;
    if (running >= options.maxActiveRuns) return undefined;
    run.state = 'running';
    run.startedAt ??= options.now;
    return structuredClone(run);
  }

  async finishRun(runId: string, state: 'success' | 'failed', now: Date): Promise<JobRun | undefined> {
    const run = this.runs.get(runId);
    if (!run || run.state !== 'running') return undefined;
    run.state = state;
    run.endedAt = now;
    return structuredClone(run);
  }

  async listTasks(runId: string): Promise<TaskInstance[]> {
    return structuredClone([...(this.tasks.get(runId)?.values() ?? [])]);
  }

  async queueTask(runId: string, task: string): Promise<TaskInstance | undefined> {
    const instance = this.instance(runId, task);
    if (!instance || instance.state !== 'scheduled') return undefined;
    instance.state = 'queued';
    return structuredClone(instance);
  }

  async settleTask(runId: string, task: string, state: 'skipped' | 'upstream_failed', now: Date): Promise<TaskInstance | undefined> {
    const instance = this.instance(runId, task);
    if (!instance || !WAITING_STATES.has(instance.state)) return undefined;
    instance.state = state;
    delete instance.nextAttemptAt;
    instance.version++;
    instance.endedAt = now;
    return structuredClone(instance);
  }

  async acquireTask(request: {
    runId: string;
    task: string;
    expectedVersion: number;
    owner: string;
    now: Date;
    leaseMs: number;
  }): Promise<TaskInstance | undefined> {
    const instance = this.instance(request.runId, request.task);
    if (!instance || instance.version !== request.expectedVersion) return undefined;
    if (this.runs.get(request.runId)?.state !== 'running') return undefined;
    if (instance.leaseExpiresAt && instance.leaseExpiresAt > request.now) return undefined;
    const due = !instance.nextAttemptAt || instance.nextAttemptAt <= request.now;
    const newAttempt =
      instance.state === 'scheduled' || instance.state === 'queued' || (instance.state === 'up_for_retry' && due);
    const poke = instance.state === 'up_for_reschedule' && due;
    if (!newAttempt && !poke) return undefined;
    if (newAttempt) {
      instance.attempt += 1;
      instance.startedAt = request.now;
      delete instance.pokeState;
    }
    instance.state = 'running';
    instance.leaseOwner = request.owner;
    instance.leaseExpiresAt = new Date(request.now.getTime() + request.leaseMs);
    instance.heartbeatAt = request.now;
    instance.version++;
    delete instance.nextAttemptAt;
    delete instance.endedAt;
    return structuredClone(instance);
  }

  async heartbeat(ref: AttemptRef, options: { now: Date; leaseMs: number }): Promise<boolean> {
    const instance = this.heldBy(ref);
    if (!instance) return false;
    instance.heartbeatAt = options.now;
    instance.leaseExpiresAt = new Date(options.now.getTime() + options.leaseMs);
    return true;
  }

  async completeAttempt(ref: AttemptRef, options: { now: Date; outcome: AttemptOutcome; log: string }): Promise<TaskInstance | undefined> {
    const instance = this.heldBy(ref);
    if (!instance) return undefined;
    this.applyOutcome(instance, options.outcome, options.now, options.log);
    return structuredClone(instance);
  }

  async releaseAttempt(ref: AttemptRef, options: { now: Date; log: string }): Promise<TaskInstance | undefined> {
    const instance = this.heldBy(ref);
    if (!instance) return undefined;
    instance.state = 'queued';
    instance.attemptOffset = instance.attempt;
    instance.version++;
    instance.log = appendLogTail(instance.log, options.log);
    dropLease(instance);
    return structuredClone(instance);
  }

  async expireAttempt(request: {
    runId: string;
    task: string;
    attempt: number;
    caller: string;
    now: Date;
    outcome: ExpiredAttemptOutcome;
    log: string;
  }): Promise<TaskInstance | undefined> {
    const instance = this.instance(request.runId, request.task);
    if (!instance || instance.state !== 'running' || instance.attempt !== request.attempt) return undefined;
    const expired = !instance.leaseExpiresAt || instance.leaseExpiresAt <= request.now;
    if (!expired && instance.leaseOwner !== request.caller) return undefined;
    this.applyOutcome(instance, request.outcome, request.now, request.log);
    return structuredClone(instance);
  }

  async clearTasks(runId: string, tasks: readonly string[]): Promise<{ run: JobRun; tasks: TaskInstance[] } | undefined> {
    const run = this.runs.get(runId);
    const instances = tasks.map((task) => this.instance(runId, task));
    if (!run || instances.some((instance) => instance === undefined)) return undefined;
    for (const instance of instances as TaskInstance[]) {
      instance.state = 'scheduled';
      instance.version++;
      instance.attemptOffset = instance.attempt;
      dropLease(instance);
      for (const field of ['nextAttemptAt', 'startedAt', 'endedAt', 'pokeState', 'error', 'result'] as const) delete instance[field];
    }
    if (TERMINAL_RUN_STATES.has(run.state)) {
      run.state = 'queued';
      delete run.endedAt;
    }
    return { run: structuredClone(run), tasks: structuredClone(instances as TaskInstance[]) };
  }

  async markTask(runId: string, task: string, state: 'success' | 'failed', now: Date): Promise<TaskInstance | undefined> {
    const run = this.runs.get(runId);
    const instance = this.instance(runId, task);
    if (!run || !instance) return undefined;
    instance.state = state;
    instance.version++;
    instance.endedAt = now;
    delete instance.nextAttemptAt;
    dropLease(instance);
    if (state === 'failed') instance.error = 'marked failed by hand';
    else delete instance.error;
    if (TERMINAL_RUN_STATES.has(run.state)) {
      run.state = 'running';
      delete run.endedAt;
    }
    return structuredClone(instance);
  }

  private instance(runId: string, task: string): TaskInstance | undefined {
    return this.tasks.get(runId)?.get(task);
  }

  private heldBy(ref: AttemptRef): TaskInstance | undefined {
    const instance = this.instance(ref.runId, ref.task);
    return instance && instance.state === 'running' && instance.leaseOwner === ref.owner && instance.attempt === ref.attempt
      ? instance
      : undefined;
  }

  private applyOutcome(instance: TaskInstance, outcome: AttemptOutcome, now: Date, log: string): void {
    instance.state = outcome.state;
    instance.version++;
    instance.log = appendLogTail(instance.log, log);
    dropLease(instance);
    switch (outcome.state) {
      case 'success':
        delete instance.error;
        if (outcome.result !== undefined) instance.result = outcome.result;
        instance.endedAt = now;
        break;
      case 'failed':
        instance.error = outcome.error;
        instance.endedAt = now;
        break;
      case 'up_for_retry':
        instance.error = outcome.error;
        instance.nextAttemptAt = outcome.nextAttemptAt;
        instance.endedAt = now;
        break;
      case 'up_for_reschedule':
        instance.nextAttemptAt = outcome.nextAttemptAt;
        instance.pokeState = outcome.pokeState;
        break;
    }
  }
}

function dropLease(instance: TaskInstance): void {
  delete instance.leaseOwner;
  delete instance.leaseExpiresAt;
  delete instance.heartbeatAt;
}
