import type { Engine } from '../engine/index.js';
import { quoteLiteral } from '../engine/index.js';
import {
  MemorySchedulerStore,
  type AttemptOutcome,
  type AttemptRef,
  type ExpiredAttemptOutcome,
  type JobRun,
  type JobState,
  type NewRun,
  type RunFilter,
  type SchedulerStore,
  type TaskInstance,
} from '../scheduler/index.js';
import type { Metastore } from './metastore.js';

const DDL = `
CREATE TABLE IF NOT EXISTS tributary.job_state (job VARCHAR PRIMARY KEY, paused BOOLEAN NOT NULL);
CREATE TABLE IF NOT EXISTS tributary.job_runs (
  id VARCHAR PRIMARY KEY, job VARCHAR NOT NULL, kind VARCHAR NOT NULL, interval_start TIMESTAMPTZ NOT NULL,
  interval_end TIMESTAMPTZ NOT NULL, state VARCHAR NOT NULL, created_at TIMESTAMPTZ NOT NULL, started_at TIMESTAMPTZ,
  ended_at TIMESTAMPTZ, triggered_by JSON);
CREATE TABLE IF NOT EXISTS tributary.task_instances (
  run_id VARCHAR NOT NULL, task VARCHAR NOT NULL, state VARCHAR NOT NULL, version INTEGER NOT NULL, attempt INTEGER NOT NULL,
  attempt_offset INTEGER NOT NULL, next_attempt_at TIMESTAMPTZ, lease_owner VARCHAR, lease_expires_at TIMESTAMPTZ,
  heartbeat_at TIMESTAMPTZ, started_at TIMESTAMPTZ, ended_at TIMESTAMPTZ, poke_state JSON, log VARCHAR NOT NULL,
  error VARCHAR, result JSON, PRIMARY KEY (run_id, task));
CREATE TABLE IF NOT EXISTS tributary.task_attempts (
  run_id VARCHAR NOT NULL, task VARCHAR NOT NULL, attempt INTEGER NOT NULL, state VARCHAR NOT NULL,
  started_at TIMESTAMPTZ, ended_at TIMESTAMPTZ NOT NULL, error VARCHAR, log VARCHAR NOT NULL, PRIMARY KEY (run_id, task, attempt, ended_at));
`;

/** One attempt of a task as it ended (a sensor's pokes are one attempt, recorded when it ends). */
export interface AttemptRecord {
  attempt: number;
  state: string;
  startedAt: Date | undefined;
  endedAt: Date;
  durationMs: number | undefined;
  error: string | undefined;
  log: string;
}

const ts = (d: Date | undefined) => (d ? `make_timestamptz(${d.getTime() * 1000})` : 'NULL');
const text = (v: string | undefined) => (v === undefined ? 'NULL' : quoteLiteral(v));
const json = (v: unknown) => (v === undefined ? 'NULL' : quoteLiteral(JSON.stringify(v)));
const date = (ms: number | null) => (ms === null ? undefined : new Date(Number(ms)));

function runRow(run: JobRun): string {
  return `(${quoteLiteral(run.id)}, ${quoteLiteral(run.job)}, ${quoteLiteral(run.kind)}, ${ts(run.intervalStart)}, ${ts(run.intervalEnd)}, ${quoteLiteral(run.state)},
    ${ts(run.createdAt)}, ${ts(run.startedAt)}, ${ts(run.endedAt)}, ${json(run.triggeredBy)})`;
}

function taskRow(t: TaskInstance): string {
  return `(${quoteLiteral(t.runId)}, ${quoteLiteral(t.task)}, ${quoteLiteral(t.state)}, ${t.version}, ${t.attempt}, ${t.attemptOffset}, ${ts(t.nextAttemptAt)},
    ${text(t.leaseOwner)}, ${ts(t.leaseExpiresAt)}, ${ts(t.heartbeatAt)}, ${ts(t.startedAt)}, ${ts(t.endedAt)}, ${json(t.pokeState)},
    ${quoteLiteral(t.log)}, ${text(t.error)}, ${json(t.result)})`;
}

/**
 * The scheduler's state in the metastore (schema `tributary`). One process owns the state at a
 * time (the warehouse's lock), so the store keeps the authoritative copy in memory, where every
 * transition checks its precondition, and writes each transition through to DuckDB, in one
 * transaction, before it returns: after `kill -9` the next owner starts from exactly what was
 * acknowledged.
 */
export class DuckDBSchedulerStore implements SchedulerStore {
  private constructor(
    private readonly metastore: Metastore,
    private readonly memory: MemorySchedulerStore,
  ) {}

  static async open(metastore: Metastore): Promise<DuckDBSchedulerStore> {
    const engine = metastore.connection;
    await metastore.write((e) => e.run(DDL));
    const paused = await engine.query<{ job: string; paused: boolean }>('SELECT job, paused FROM tributary.job_state');
    const runs = await engine.query<{
      id: string; job: string; kind: JobRun['kind']; s: number; e: number; state: JobRun['state']; c: number; st: number | null; en: number | null; triggered_by: string | null;
    }>(
      `SELECT id, job, kind, epoch_ms(interval_start) AS s, epoch_ms(interval_end) AS e, state, epoch_ms(created_at) AS c,
              epoch_ms(started_at) AS st, epoch_ms(ended_at) AS en, triggered_by::VARCHAR AS triggered_by FROM tributary.job_runs`,
    );
    const tasks = await engine.query<{
      run_id: string; task: string; state: TaskInstance['state']; version: number; attempt: number; attempt_offset: number; na: number | null;
      lease_owner: string | null; le: number | null; hb: number | null; st: number | null; en: number | null; poke_state: string | null; log: string; error: string | null; result: string | null;
    }>(
      `SELECT run_id, task, state, version, attempt, attempt_offset, epoch_ms(next_attempt_at) AS na, lease_owner, epoch_ms(lease_expires_at) AS le,
              epoch_ms(heartbeat_at) AS hb, epoch_ms(started_at) AS st, epoch_ms(ended_at) AS en, poke_state::VARCHAR AS poke_state, log, error, result::VARCHAR AS result
       FROM tributary.task_instances`,
    );
    const clean = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
    const memory = MemorySchedulerStore.restore({
      paused: paused.map((p) => ({ job: p.job, paused: p.paused })),
      runs: runs.map((r) =>
        clean({
          id: r.id, job: r.job, kind: r.kind, intervalStart: new Date(Number(r.s)), intervalEnd: new Date(Number(r.e)), state: r.state, createdAt: new Date(Number(r.c)),
          startedAt: date(r.st), endedAt: date(r.en), triggeredBy: r.triggered_by === null ? undefined : JSON.parse(r.triggered_by),
        }) as JobRun,
      ),
      tasks: tasks.map((t) =>
        clean({
          runId: t.run_id, task: t.task, state: t.state, version: t.version, attempt: t.attempt, attemptOffset: t.attempt_offset, nextAttemptAt: date(t.na),
          leaseOwner: t.lease_owner ?? undefined, leaseExpiresAt: date(t.le), heartbeatAt: date(t.hb), startedAt: date(t.st), endedAt: date(t.en),
          pokeState: t.poke_state === null ? undefined : JSON.parse(t.poke_state), log: t.log, error: t.error ?? undefined, result: t.result === null ? undefined : JSON.parse(t.result),
        }) as TaskInstance,
      ),
    });
    return new DuckDBSchedulerStore(metastore, memory);
  }

  /** Writes what a transition changed, in one transaction, before the transition is acknowledged. */
  private async save(changes: { paused?: JobState; runs?: readonly JobRun[]; tasks?: readonly TaskInstance[] }): Promise<void> {
    await this.metastore.write(async (engine: Engine) => {
      await engine.transaction(async (tx) => {
        if (changes.paused) await tx.run(`INSERT OR REPLACE INTO tributary.job_state VALUES (${quoteLiteral(changes.paused.job)}, ${changes.paused.paused})`);
        if (changes.runs?.length) await tx.run(`INSERT OR REPLACE INTO tributary.job_runs VALUES ${changes.runs.map(runRow).join(', ')}`);
        if (changes.tasks?.length) await tx.run(`INSERT OR REPLACE INTO tributary.task_instances VALUES ${changes.tasks.map(taskRow).join(', ')}`);
      });
    });
  }

  private async task(instance: TaskInstance | undefined): Promise<TaskInstance | undefined> {
    if (instance) await this.save({ tasks: [instance] });
    return instance;
  }

  /** Records how an attempt ended, with its own log, for the attempt history the UI shows. */
  private async ended(instance: TaskInstance | undefined, attempt: number, log: string): Promise<TaskInstance | undefined> {
    if (!instance || instance.state === 'up_for_reschedule' || instance.state === 'running') return this.task(instance);
    const ended = instance.endedAt ?? new Date();
    await this.save({ tasks: [instance] });
    await this.metastore.write((engine) =>
      engine.run(
        `INSERT OR REPLACE INTO tributary.task_attempts VALUES (${quoteLiteral(instance.runId)}, ${quoteLiteral(instance.task)}, ${attempt}, ${quoteLiteral(instance.state)},
          ${ts(instance.startedAt)}, ${ts(ended)}, ${text(instance.error)}, ${quoteLiteral(log.slice(-64 * 1024))})`,
      ),
    );
    return instance;
  }

  /** The attempts of a task instance, oldest first. */
  async attempts(runId: string, task: string): Promise<AttemptRecord[]> {
    const rows = await this.metastore.connection.query<{ attempt: number; state: string; st: number | null; en: number; error: string | null; log: string }>(
      `SELECT attempt, state, epoch_ms(started_at) AS st, epoch_ms(ended_at) AS en, error, log FROM tributary.task_attempts
       WHERE run_id = $1 AND task = $2 ORDER BY ended_at`,
      [runId, task],
    );
    return rows.map((r) => ({
      attempt: r.attempt,
      state: r.state,
      startedAt: date(r.st),
      endedAt: new Date(Number(r.en)),
      durationMs: r.st === null ? undefined : Number(r.en) - Number(r.st),
      error: r.error ?? undefined,
      log: r.log,
    }));
  }

  private async run(run: JobRun | undefined): Promise<JobRun | undefined> {
    if (run) await this.save({ runs: [run] });
    return run;
  }

  getJobState(job: string): Promise<JobState> {
    return this.memory.getJobState(job);
  }

  async setPaused(job: string, paused: boolean): Promise<JobState> {
    const state = await this.memory.setPaused(job, paused);
    await this.save({ paused: state });
    return state;
  }

  async createRun(request: NewRun): Promise<{ run: JobRun; created: boolean }> {
    const result = await this.memory.createRun(request);
    if (result.created) await this.save({ runs: [result.run], tasks: await this.memory.listTasks(result.run.id) });
    return result;
  }

  getRun(runId: string): Promise<JobRun | undefined> {
    return this.memory.getRun(runId);
  }

  listRuns(filter?: RunFilter): Promise<JobRun[]> {
    return this.memory.listRuns(filter);
  }

  async startRun(runId: string, options: { maxActiveRuns: number; now: Date }): Promise<JobRun | undefined> {
    return this.run(await this.memory.startRun(runId, options));
  }

  async finishRun(runId: string, state: 'success' | 'failed', now: Date): Promise<JobRun | undefined> {
    return this.run(await this.memory.finishRun(runId, state, now));
  }

  listTasks(runId: string): Promise<TaskInstance[]> {
    return this.memory.listTasks(runId);
  }

  async queueTask(runId: string, task: string, _now: Date): Promise<TaskInstance | undefined> {
    return this.task(await this.memory.queueTask(runId, task));
  }

  async settleTask(runId: string, task: string, state: 'skipped' | 'upstream_failed', now: Date): Promise<TaskInstance | undefined> {
    return this.task(await this.memory.settleTask(runId, task, state, now));
  }

  async acquireTask(request: { runId: string; task: string; expectedVersion: number; owner: string; now: Date; leaseMs: number }): Promise<TaskInstance | undefined> {
    return this.task(await this.memory.acquireTask(request));
  }

  async heartbeat(ref: AttemptRef, options: { now: Date; leaseMs: number }): Promise<boolean> {
    const held = await this.memory.heartbeat(ref, options);
    if (held) await this.task((await this.memory.listTasks(ref.runId)).find((t) => t.task === ref.task));
    return held;
  }

  async completeAttempt(ref: AttemptRef, options: { now: Date; outcome: AttemptOutcome; log: string }): Promise<TaskInstance | undefined> {
    return this.ended(await this.memory.completeAttempt(ref, options), ref.attempt, options.log);
  }

  async releaseAttempt(ref: AttemptRef, options: { now: Date; log: string }): Promise<TaskInstance | undefined> {
    return this.task(await this.memory.releaseAttempt(ref, options));
  }

  async expireAttempt(request: { runId: string; task: string; attempt: number; caller: string; now: Date; outcome: ExpiredAttemptOutcome; log: string }): Promise<TaskInstance | undefined> {
    return this.ended(await this.memory.expireAttempt(request), request.attempt, request.log);
  }

  async clearTasks(runId: string, tasks: readonly string[], _now: Date): Promise<{ run: JobRun; tasks: TaskInstance[] } | undefined> {
    const result = await this.memory.clearTasks(runId, tasks);
    if (result) await this.save({ runs: [result.run], tasks: result.tasks });
    return result;
  }

  async markTask(runId: string, task: string, state: 'success' | 'failed', now: Date): Promise<TaskInstance | undefined> {
    const instance = await this.memory.markTask(runId, task, state, now);
    if (instance) await this.save({ runs: [(await this.memory.getRun(runId))!], tasks: [instance] });
    return instance;
  }
}
