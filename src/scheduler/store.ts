/**
 * Everything the scheduler persists, as one interface. Each method is one state transition with its
 * precondition checked inside it (compare-and-set), so a SQL implementation makes each one transaction
 * (`UPDATE … WHERE state = … AND lease_owner = …`, then check the row count) and several scheduler
 * processes can share one store without running a task twice.
 */
import type { JsonValue } from './json.js';

export const TASK_STATES = [
  'scheduled', // created with its run; waiting for its upstream
  'queued', // may start; waiting for a free worker slot
  'running', // an attempt holds a lease
  'up_for_retry', // an attempt failed; the next one may start at nextAttemptAt
  'up_for_reschedule', // a sensor poke found its condition false; the next poke may start at nextAttemptAt
  'success',
  'failed',
  'skipped', // its trigger rule says it has nothing to do
  'upstream_failed', // an upstream failure means it cannot run
] as const;
export type TaskState = (typeof TASK_STATES)[number];

export const RUN_STATES = ['queued', 'running', 'success', 'failed'] as const;
export type RunState = (typeof RUN_STATES)[number];

export const RUN_KINDS = ['scheduled', 'manual', 'backfill', 'event'] as const;
export type RunKind = (typeof RUN_KINDS)[number];

/** One run of a job for one data interval. (job, intervalStart) is unique. */
export interface JobRun {
  id: string;
  job: string;
  kind: RunKind;
  intervalStart: Date;
  intervalEnd: Date;
  state: RunState;
  createdAt: Date;
  startedAt?: Date;
  endedAt?: Date;
  /** Why an event run exists, e.g. `{ tables: ['orders'] }`. */
  triggeredBy?: JsonValue;
}

export interface TaskInstance {
  runId: string;
  task: string;
  state: TaskState;
  /**
   * Incremented by every transition except scheduled → queued (which only records that the task waits for a
   * slot): acquireTask takes the version its caller planned with (compare-and-set).
   */
  version: number;
  /** Attempts started so far; never decreases, so an attempt number names one attempt for ever. */
  attempt: number;
  /**
   * Attempts up to this number do not count against the retry budget: set when the task is cleared for a
   * re-run and when an attempt is handed back unfinished (scheduler shutdown). Attempts of the current try
   * = attempt − attemptOffset.
   */
  attemptOffset: number;
  /** When an up_for_retry or up_for_reschedule task may start again. */
  nextAttemptAt?: Date;
  leaseOwner?: string;
  leaseExpiresAt?: Date;
  heartbeatAt?: Date;
  /** Start of the current attempt (kept across the pokes of a rescheduled sensor). */
  startedAt?: Date;
  endedAt?: Date;
  /** A sensor's memory between pokes (e.g. file sizes seen at the previous poke). */
  pokeState?: JsonValue;
  /** The tail of the log of all attempts, at most LOG_TAIL_CHARS. */
  log: string;
  error?: string;
  result?: JsonValue;
}

export interface JobState {
  job: string;
  paused: boolean;
}

export interface NewRun {
  job: string;
  kind: RunKind;
  intervalStart: Date;
  intervalEnd: Date;
  /** One task instance is created per name, in state `scheduled`, in the same transaction as the run. */
  tasks: readonly string[];
  now: Date;
  triggeredBy?: JsonValue;
}

export interface RunFilter {
  job?: string;
  states?: readonly RunState[];
  kinds?: readonly RunKind[];
  /** By interval start; default 'desc' (newest first). */
  order?: 'asc' | 'desc';
  limit?: number;
}

/** Names one attempt held by one owner: completion and heartbeats apply only while all three still match. */
export interface AttemptRef {
  runId: string;
  task: string;
  owner: string;
  attempt: number;
}

export type AttemptOutcome =
  | { state: 'success'; result?: JsonValue }
  | { state: 'failed'; error: string }
  | { state: 'up_for_retry'; error: string; nextAttemptAt: Date }
  | { state: 'up_for_reschedule'; nextAttemptAt: Date; pokeState: JsonValue };

/** What a dead attempt becomes: failed, or up for retry per the task's policy. */
export type ExpiredAttemptOutcome = Extract<AttemptOutcome, { state: 'failed' | 'up_for_retry' }>;

export interface SchedulerStore {
  /** A job never seen before is not paused. */
  getJobState(job: string): Promise<JobState>;
  setPaused(job: string, paused: boolean): Promise<JobState>;

  /** Creates the run (state `queued`) and its task instances, or returns the run that already holds (job, intervalStart). */
  createRun(run: NewRun): Promise<{ run: JobRun; created: boolean }>;
  getRun(runId: string): Promise<JobRun | undefined>;
  listRuns(filter?: RunFilter): Promise<JobRun[]>;
  /** queued → running, only while fewer than `maxActiveRuns` runs of the job are running. */
  startRun(runId: string, options: { maxActiveRuns: number; now: Date }): Promise<JobRun | undefined>;
  /** running → success | failed. */
  finishRun(runId: string, state: 'success' | 'failed', now: Date): Promise<JobRun | undefined>;

  listTasks(runId: string): Promise<TaskInstance[]>;
  /** scheduled → queued (ready, no free slot yet). Leaves `version` as it is. */
  queueTask(runId: string, task: string, now: Date): Promise<TaskInstance | undefined>;
  /**
   * scheduled | queued | up_for_retry | up_for_reschedule → skipped | upstream_failed: the task will not run
   * (its trigger rule says so, or it is no longer defined in the job).
   */
  settleTask(runId: string, task: string, state: 'skipped' | 'upstream_failed', now: Date): Promise<TaskInstance | undefined>;
  /**
   * Starts an attempt under a lease: → running with lease_owner = owner, lease_expires_at = now + leaseMs.
   * Precondition: version = expectedVersion (nothing changed since the caller decided the task may start:
   * no clear, no other owner), the run is running, no live lease, and the task is scheduled or queued (a new attempt),
   * up_for_retry with nextAttemptAt ≤ now (a new attempt), or up_for_reschedule with nextAttemptAt ≤ now
   * (the same attempt pokes again: attempt and startedAt unchanged).
   */
  acquireTask(request: {
    runId: string;
    task: string;
    expectedVersion: number;
    owner: string;
    now: Date;
    leaseMs: number;
  }): Promise<TaskInstance | undefined>;
  /** Extends the lease; false when the attempt is no longer this owner's (expired and recovered, cleared, marked). */
  heartbeat(ref: AttemptRef, options: { now: Date; leaseMs: number }): Promise<boolean>;
  /** running (this owner, this attempt) → the outcome's state; releases the lease and appends `log`. */
  completeAttempt(ref: AttemptRef, options: { now: Date; outcome: AttemptOutcome; log: string }): Promise<TaskInstance | undefined>;
  /** running (this owner, this attempt) → queued, not counted against retries (the owner is shutting down). */
  releaseAttempt(ref: AttemptRef, options: { now: Date; log: string }): Promise<TaskInstance | undefined>;
  /**
   * Ends an attempt whose process is gone: running with this attempt number and either an expired lease or a
   * lease held by `caller` itself (a previous life of the caller) → failed | up_for_retry.
   */
  expireAttempt(request: {
    runId: string;
    task: string;
    attempt: number;
    caller: string;
    now: Date;
    outcome: ExpiredAttemptOutcome;
    log: string;
  }): Promise<TaskInstance | undefined>;
  /**
   * Resets tasks to scheduled for a re-run (lease, result, error and poke state cleared; attemptOffset =
   * attempt so the retry budget starts afresh); a finished run goes back to queued. Unknown tasks: undefined.
   */
  clearTasks(runId: string, tasks: readonly string[], now: Date): Promise<{ run: JobRun; tasks: TaskInstance[] } | undefined>;
  /** Any state → success | failed by hand; the lease is dropped; a finished run goes back to running to settle again. */
  markTask(runId: string, task: string, state: 'success' | 'failed', now: Date): Promise<TaskInstance | undefined>;
}

/** How much of a task's log the store keeps: the end, where the error usually is. */
export const LOG_TAIL_CHARS = 64 * 1024;

export function appendLogTail(log: string, addition: string, maxChars = LOG_TAIL_CHARS): string {
  const combined = log + addition;
  return combined.length <= maxChars ? combined : combined.slice(combined.length - maxChars);
}

/** Deterministic run ids, so every store and every process names a (job, interval) run the same way. */
export function runIdFor(job: string, intervalStart: Date): string {
  return `${job}__${intervalStart.toISOString()}`;
}
