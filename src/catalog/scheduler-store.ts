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
import { TributaryError } from '../core/errors.js';
import type { Metastore } from './metastore.js';
import { isFenced } from './scheduler-lease.js';

// Runs and task instances are append-only logs (the latest `seq` of a key is its state): an append
// commits in a few milliseconds where an upsert on a primary key costs several times that, and
// every task transition is a commit. Opening the store folds each log down to its latest rows.
const DDL = `
CREATE TABLE IF NOT EXISTS tributary.job_state (job VARCHAR PRIMARY KEY, paused BOOLEAN NOT NULL);
CREATE TABLE IF NOT EXISTS tributary.job_run_log (
  seq BIGINT NOT NULL, id VARCHAR NOT NULL, job VARCHAR NOT NULL, kind VARCHAR NOT NULL, interval_start TIMESTAMPTZ NOT NULL,
  interval_end TIMESTAMPTZ NOT NULL, state VARCHAR NOT NULL, created_at TIMESTAMPTZ NOT NULL, started_at TIMESTAMPTZ,
  ended_at TIMESTAMPTZ, triggered_by JSON);
CREATE TABLE IF NOT EXISTS tributary.task_instance_log (
  seq BIGINT NOT NULL, run_id VARCHAR NOT NULL, task VARCHAR NOT NULL, state VARCHAR NOT NULL, version INTEGER NOT NULL, attempt INTEGER NOT NULL,
  attempt_offset INTEGER NOT NULL, next_attempt_at TIMESTAMPTZ, lease_owner VARCHAR, lease_expires_at TIMESTAMPTZ,
  heartbeat_at TIMESTAMPTZ, started_at TIMESTAMPTZ, ended_at TIMESTAMPTZ, poke_state JSON, log VARCHAR NOT NULL,
  error VARCHAR, result JSON);
CREATE TABLE IF NOT EXISTS tributary.task_attempts (
  run_id VARCHAR NOT NULL, task VARCHAR NOT NULL, attempt INTEGER NOT NULL, state VARCHAR NOT NULL,
  started_at TIMESTAMPTZ, ended_at TIMESTAMPTZ NOT NULL, error VARCHAR, log VARCHAR NOT NULL);
`;

/** Keeps the latest row of each key of a log table, in place. */
const foldLog = (table: string, key: string) =>
  `DELETE FROM tributary.${table} WHERE seq NOT IN (SELECT max(seq) FROM tributary.${table} GROUP BY ${key})`;

/** Appended rows after which a long-running owner folds the logs again. */
const FOLD_EVERY_ROWS = 20_000;

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

function runRow(seq: number, run: JobRun): string {
  return `(${seq}, ${quoteLiteral(run.id)}, ${quoteLiteral(run.job)}, ${quoteLiteral(run.kind)}, ${ts(run.intervalStart)}, ${ts(run.intervalEnd)}, ${quoteLiteral(run.state)},
    ${ts(run.createdAt)}, ${ts(run.startedAt)}, ${ts(run.endedAt)}, ${json(run.triggeredBy)})`;
}

function taskRow(seq: number, t: TaskInstance): string {
  return `(${seq}, ${quoteLiteral(t.runId)}, ${quoteLiteral(t.task)}, ${quoteLiteral(t.state)}, ${t.version}, ${t.attempt}, ${t.attemptOffset}, ${ts(t.nextAttemptAt)},
    ${text(t.leaseOwner)}, ${ts(t.leaseExpiresAt)}, ${ts(t.heartbeatAt)}, ${ts(t.startedAt)}, ${ts(t.endedAt)}, ${json(t.pokeState)},
    ${quoteLiteral(t.log)}, ${text(t.error)}, ${json(t.result)})`;
}

interface Changes {
  paused?: JobState;
  runs?: readonly JobRun[];
  tasks?: readonly TaskInstance[];
  attempt?: { instance: TaskInstance; attempt: number; endedAt: Date; log: string };
}

interface PendingWrite {
  changes: Changes;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * The state as the catalog holds it: the latest row of each key of each log (a leader appends
 * while the logs are read by others, and only a leader folds them).
 */
async function load(engine: Engine): Promise<{ memory: MemorySchedulerStore; lastSeq: number }> {
    const paused = await engine.query<{ job: string; paused: boolean }>('SELECT job, paused FROM tributary.job_state');
    const runs = await engine.query<{
      id: string; job: string; kind: JobRun['kind']; s: number; e: number; state: JobRun['state']; c: number; st: number | null; en: number | null; triggered_by: string | null;
    }>(
      `SELECT id, job, kind, epoch_ms(interval_start) AS s, epoch_ms(interval_end) AS e, state, epoch_ms(created_at) AS c,
              epoch_ms(started_at) AS st, epoch_ms(ended_at) AS en, triggered_by::VARCHAR AS triggered_by FROM tributary.job_run_log QUALIFY row_number() OVER (PARTITION BY id ORDER BY seq DESC) = 1`,
    );
    const tasks = await engine.query<{
      run_id: string; task: string; state: TaskInstance['state']; version: number; attempt: number; attempt_offset: number; na: number | null;
      lease_owner: string | null; le: number | null; hb: number | null; st: number | null; en: number | null; poke_state: string | null; log: string; error: string | null; result: string | null;
    }>(
      `SELECT run_id, task, state, version, attempt, attempt_offset, epoch_ms(next_attempt_at) AS na, lease_owner, epoch_ms(lease_expires_at) AS le,
              epoch_ms(heartbeat_at) AS hb, epoch_ms(started_at) AS st, epoch_ms(ended_at) AS en, poke_state::VARCHAR AS poke_state, log, error, result::VARCHAR AS result
       FROM tributary.task_instance_log QUALIFY row_number() OVER (PARTITION BY run_id, task ORDER BY seq DESC) = 1`,
    );
    const lastSeq = await engine.scalar<number | bigint | null>(
      'SELECT greatest((SELECT max(seq) FROM tributary.job_run_log), (SELECT max(seq) FROM tributary.task_instance_log))',
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
  return { memory, lastSeq: Number(lastSeq ?? 0) };
}

/** A write asked of a process that does not lead the scheduler of a shared catalog. */
export class NotLeading extends TributaryError {
  constructor() {
    super('this process does not lead the scheduler: another process sharing the catalog runs the jobs', {
      hint: 'operate the jobs through the leading process (`tributary up` there shows it leads; its server takes the same commands)',
    });
  }
}

/** How stale a follower's reads may be. */
const REFRESH_MS = 2000;

/**
 * The scheduler's state in the metastore (schema `tributary`). One process owns the state at a
 * time (the warehouse's lock), so the store keeps the authoritative copy in memory, where every
 * transition checks its precondition, and writes each transition through to DuckDB before it
 * returns: after `kill -9` the next owner starts from exactly what was acknowledged. Transitions
 * that arrive while a write is in flight commit together in the next one (group commit), so a
 * wide fan-out costs a few commits per wave, not one per task.
 */
export class DuckDBSchedulerStore implements SchedulerStore {
  private pending: PendingWrite[] = [];
  private flushing: Promise<void> | undefined;
  private appendedSinceFold = 0;

  private fence: { statement: string; onLost: (error: Error) => void } | undefined;
  private leading: boolean;
  private refreshedAt = Date.now();
  private refreshing: Promise<void> | undefined;

  private constructor(
    private readonly metastore: Metastore,
    private memory: MemorySchedulerStore,
    private nextSeq: number,
    /** The catalog is shared by several processes: only the leader writes, under its fence. */
    private readonly shared: boolean,
  ) {
    this.leading = !shared;
  }

  static async open(metastore: Metastore): Promise<DuckDBSchedulerStore> {
    const shared = metastore.shared;
    const ddl = () => metastore.write((e) => e.transaction((tx) => tx.run(DDL)));
    if (shared) {
      // Several processes open the store at once; only a leader folds the logs (under its fence).
      await shared.whileOpening(ddl);
    } else {
      await metastore.write((e) =>
        e.transaction(async (tx) => {
          await tx.run(DDL);
          await tx.run(foldLog('job_run_log', 'id'));
          await tx.run(foldLog('task_instance_log', 'run_id, task'));
        }),
      );
    }
    const { memory, lastSeq } = await load(metastore.connection);
    return new DuckDBSchedulerStore(metastore, memory, lastSeq + 1, Boolean(shared));
  }

  /**
   * Leads: the state is read afresh from the catalog (the previous leader's last writes included),
   * then every write runs `fence` first in its own transaction, so a write after this process lost
   * the lead is refused (and `onLost` called) instead of overwriting the new leader's state.
   */
  async lead(fence: { statement: string; onLost: (error: Error) => void }): Promise<void> {
    await this.settle();
    // A follower's read begun before the lease was taken must not land after the leader's own.
    await this.refreshing?.catch(() => undefined);
    this.fence = fence;
    this.leading = true;
    try {
      await this.reload();
      // The logs are folded by the leader only, under its fence.
      await this.metastore.write((e) =>
        e.transaction(async (tx) => {
          await tx.query(fence.statement);
          await tx.run(`${foldLog('job_run_log', 'id')}; ${foldLog('task_instance_log', 'run_id, task')}`);
        }),
      );
    } catch (error) {
      this.follow();
      throw error;
    }
  }

  /** Stops leading: writes are refused from now on; reads show the catalog as the leader writes it. */
  follow(): void {
    this.leading = false;
    this.fence = undefined;
  }

  /** Whether this store may write (always, with the catalog embedded: one process owns it). */
  get isLeading(): boolean {
    return this.leading;
  }

  /** The state to change: refused at once in a process that does not lead (nothing changes in memory either). */
  private mutable(): MemorySchedulerStore {
    if (this.shared && !this.leading) throw new NotLeading();
    return this.memory;
  }

  /** Waits for the writes in flight. */
  private async settle(): Promise<void> {
    while (this.flushing) await this.flushing.catch(() => undefined);
  }

  /** Reads the state again from the catalog. */
  private async reload(options: { following?: boolean } = {}): Promise<void> {
    const { memory, lastSeq } = await load(this.metastore.connection);
    // A follower's read that ends after this process took the lead is older than the leader's: dropped.
    if (options.following && this.leading) return;
    this.memory = memory;
    this.nextSeq = lastSeq + 1;
    this.refreshedAt = Date.now();
  }

  /** A follower's reads: the catalog as the leader last wrote it, read again at most every REFRESH_MS. */
  private async fresh(): Promise<MemorySchedulerStore> {
    if (this.shared && !this.leading && Date.now() - this.refreshedAt > REFRESH_MS) {
      this.refreshing ??= this.reload({ following: true }).finally(() => (this.refreshing = undefined));
      await this.refreshing;
    }
    return this.memory;
  }

  /** Resolves once what a transition changed is committed, together with whatever else was waiting. */
  private save(changes: Changes): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ changes, resolve, reject });
      this.flushing ??= this.flush();
    });
  }

  private async flush(): Promise<void> {
    while (this.pending.length) {
      const batch = this.pending;
      this.pending = [];
      try {
        await this.write(batch.map((p) => p.changes));
        for (const p of batch) p.resolve();
      } catch (error) {
        for (const p of batch) p.reject(error);
      }
    }
    this.flushing = undefined;
  }

  private async write(all: readonly Changes[]): Promise<void> {
    const statements: string[] = [];
    const runRows: string[] = [];
    const taskRows: string[] = [];
    const attemptRows: string[] = [];
    for (const changes of all) {
      if (changes.paused) statements.push(`INSERT OR REPLACE INTO tributary.job_state VALUES (${quoteLiteral(changes.paused.job)}, ${changes.paused.paused})`);
      for (const run of changes.runs ?? []) runRows.push(runRow(this.nextSeq++, run));
      for (const task of changes.tasks ?? []) taskRows.push(taskRow(this.nextSeq++, task));
      if (changes.attempt) {
        const { instance, attempt, endedAt, log } = changes.attempt;
        attemptRows.push(`(${quoteLiteral(instance.runId)}, ${quoteLiteral(instance.task)}, ${attempt}, ${quoteLiteral(instance.state)},
          ${ts(instance.startedAt)}, ${ts(endedAt)}, ${text(instance.error)}, ${quoteLiteral(log.slice(-64 * 1024))})`);
      }
    }
    if (runRows.length) statements.push(`INSERT INTO tributary.job_run_log VALUES ${runRows.join(', ')}`);
    if (taskRows.length) statements.push(`INSERT INTO tributary.task_instance_log VALUES ${taskRows.join(', ')}`);
    if (attemptRows.length) statements.push(`INSERT INTO tributary.task_attempts VALUES ${attemptRows.join(', ')}`);
    this.appendedSinceFold += runRows.length + taskRows.length;
    const fold = this.appendedSinceFold >= FOLD_EVERY_ROWS;
    if (fold) {
      statements.push(foldLog('job_run_log', 'id'), foldLog('task_instance_log', 'run_id, task'));
      this.appendedSinceFold = 0;
    }
    if (this.shared && !this.leading) throw new NotLeading();
    const fence = this.fence;
    try {
      await this.metastore.write((engine: Engine) =>
        engine.transaction(async (tx) => {
          if (fence) await tx.query(fence.statement);
          await tx.run(statements.join(';\n'));
        }),
      );
    } catch (error) {
      if (fence && isFenced(error)) {
        if (this.fence === fence) this.follow();
        fence.onLost(error as Error);
      }
      throw error;
    }
  }

  private async task(instance: TaskInstance | undefined): Promise<TaskInstance | undefined> {
    if (instance) await this.save({ tasks: [instance] });
    return instance;
  }

  /** Records how an attempt ended, with its own log, for the attempt history the UI shows. */
  private async ended(instance: TaskInstance | undefined, attempt: number, log: string): Promise<TaskInstance | undefined> {
    if (!instance || instance.state === 'up_for_reschedule' || instance.state === 'running') return this.task(instance);
    await this.save({ tasks: [instance], attempt: { instance, attempt, endedAt: instance.endedAt ?? new Date(), log } });
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

  async getJobState(job: string): Promise<JobState> {
    return (await this.fresh()).getJobState(job);
  }

  async setPaused(job: string, paused: boolean): Promise<JobState> {
    const state = await this.mutable().setPaused(job, paused);
    await this.save({ paused: state });
    return state;
  }

  async createRun(request: NewRun): Promise<{ run: JobRun; created: boolean }> {
    const result = await this.mutable().createRun(request);
    if (result.created) await this.save({ runs: [result.run], tasks: await this.memory.listTasks(result.run.id) });
    return result;
  }

  async getRun(runId: string): Promise<JobRun | undefined> {
    return (await this.fresh()).getRun(runId);
  }

  async listRuns(filter?: RunFilter): Promise<JobRun[]> {
    return (await this.fresh()).listRuns(filter);
  }

  async startRun(runId: string, options: { maxActiveRuns: number; now: Date }): Promise<JobRun | undefined> {
    return this.run(await this.mutable().startRun(runId, options));
  }

  async finishRun(runId: string, state: 'success' | 'failed', now: Date): Promise<JobRun | undefined> {
    return this.run(await this.mutable().finishRun(runId, state, now));
  }

  async listTasks(runId: string): Promise<TaskInstance[]> {
    return (await this.fresh()).listTasks(runId);
  }

  async queueTask(runId: string, task: string, _now: Date): Promise<TaskInstance | undefined> {
    return this.task(await this.mutable().queueTask(runId, task));
  }

  async settleTask(runId: string, task: string, state: 'skipped' | 'upstream_failed', now: Date): Promise<TaskInstance | undefined> {
    return this.task(await this.mutable().settleTask(runId, task, state, now));
  }

  async acquireTask(request: { runId: string; task: string; expectedVersion: number; owner: string; now: Date; leaseMs: number }): Promise<TaskInstance | undefined> {
    return this.task(await this.mutable().acquireTask(request));
  }

  async heartbeat(ref: AttemptRef, options: { now: Date; leaseMs: number }): Promise<boolean> {
    const held = await this.mutable().heartbeat(ref, options);
    if (held) await this.task((await this.memory.listTasks(ref.runId)).find((t) => t.task === ref.task));
    return held;
  }

  async completeAttempt(ref: AttemptRef, options: { now: Date; outcome: AttemptOutcome; log: string }): Promise<TaskInstance | undefined> {
    return this.ended(await this.mutable().completeAttempt(ref, options), ref.attempt, options.log);
  }

  async releaseAttempt(ref: AttemptRef, options: { now: Date; log: string }): Promise<TaskInstance | undefined> {
    return this.task(await this.mutable().releaseAttempt(ref, options));
  }

  async expireAttempt(request: { runId: string; task: string; attempt: number; caller: string; now: Date; outcome: ExpiredAttemptOutcome; log: string }): Promise<TaskInstance | undefined> {
    return this.ended(await this.mutable().expireAttempt(request), request.attempt, request.log);
  }

  async clearTasks(runId: string, tasks: readonly string[], _now: Date): Promise<{ run: JobRun; tasks: TaskInstance[] } | undefined> {
    const result = await this.mutable().clearTasks(runId, tasks);
    if (result) await this.save({ runs: [result.run], tasks: result.tasks });
    return result;
  }

  async markTask(runId: string, task: string, state: 'success' | 'failed', now: Date): Promise<TaskInstance | undefined> {
    const instance = await this.mutable().markTask(runId, task, state, now);
    if (instance) await this.save({ runs: [(await this.memory.getRun(runId))!], tasks: [instance] });
    return instance;
  }
}
