import { TributaryError, abortReason } from '../core/errors.js';
import { DuckDBSchedulerStore } from '../catalog/index.js';
import type { JobRun, TaskInstance } from '../scheduler/index.js';
import { renderRows } from './output.js';
import type { CommandContext, ProjectScheduler } from './types.js';
import { declared } from './declarations.js';
import { defineCommand } from './types.js';

/** The day a run is about, in its job's zone. */
export function dsOf(run: JobRun, timezone: string): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: timezone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(run.intervalStart);
}

function durationMs(task: TaskInstance): number | null {
  return task.startedAt && task.endedAt ? task.endedAt.getTime() - task.startedAt.getTime() : null;
}

/** Jobs as people look at them (the API, the jobs page, `tributary jobs`). */
export async function jobsView(ps: ProjectScheduler, jobs: Record<string, { tasks: Record<string, { kind: string; after?: string[] }> }>) {
  const summaries = await ps.scheduler.listJobs();
  return summaries.map((job) => ({
    name: job.name,
    description: job.description ?? null,
    schedule: typeof job.schedule === 'string' ? job.schedule : `when tables change: ${job.schedule.onTablesChanged.join(', ')}`,
    timezone: job.timezone,
    paused: job.paused,
    nextRunAt: job.nextRunAt?.toISOString() ?? null,
    lastRun: job.lastRun ? { id: job.lastRun.id, state: job.lastRun.state, ds: job.lastRun.ds, intervalStart: job.lastRun.intervalStart, intervalEnd: job.lastRun.intervalEnd } : null,
    tasks: Object.entries(jobs[job.name]?.tasks ?? {}).map(([name, task]) => ({ name, kind: task.kind, after: task.after ?? [] })),
  }));
}

export async function runsView(ps: ProjectScheduler, job: string, limit: number) {
  const timezone = (await ps.scheduler.listJobs()).find((j) => j.name === job)?.timezone ?? 'UTC';
  const runs = await ps.scheduler.runs({ job, limit });
  return Promise.all(
    runs.map(async (run) => ({
      ...runJson(run, timezone),
      tasks: (await ps.scheduler.tasks(run.id)).map((t) => ({
        task: t.task,
        state: t.state,
        attempt: t.attempt,
        startedAt: t.startedAt ?? null,
        endedAt: t.endedAt ?? null,
        durationMs: durationMs(t),
        error: t.error ?? null,
      })),
    })),
  );
}

export function runJson(run: JobRun, timezone: string) {
  return {
    id: run.id,
    job: run.job,
    kind: run.kind,
    ds: dsOf(run, timezone),
    intervalStart: run.intervalStart,
    intervalEnd: run.intervalEnd,
    state: run.state,
    createdAt: run.createdAt,
    startedAt: run.startedAt ?? null,
    endedAt: run.endedAt ?? null,
    // What started it beyond its schedule: the tables and commit of a change, for instance.
    triggeredBy: run.triggeredBy ?? null,
  };
}

export async function taskView(ps: ProjectScheduler, runId: string, task: string) {
  const instance = (await ps.scheduler.tasks(runId)).find((t) => t.task === task);
  if (!instance) throw new TributaryError(`no task '${task}' in run '${runId}'`, { hint: 'the jobs page lists the runs and their tasks' });
  return {
    task,
    state: instance.state,
    attempt: instance.attempt,
    startedAt: instance.startedAt ?? null,
    endedAt: instance.endedAt ?? null,
    durationMs: durationMs(instance),
    error: instance.error ?? null,
    log: instance.log,
    attempts: (await ps.store.attempts(runId, task)).map((a) => ({ attempt: a.attempt, state: a.state, startedAt: a.startedAt ?? null, endedAt: a.endedAt, durationMs: a.durationMs ?? null, error: a.error ?? null })),
  };
}

function knownJob(context: CommandContext, job: string): void {
  if (!Object.hasOwn(context.ws.project.config.jobs, job)) {
    throw new TributaryError(`no job '${job}' in project ${context.ws.project.config.name}`, { hint: `jobs: ${Object.keys(context.ws.project.config.jobs).join(', ') || '(none declared)'}` });
  }
}

/**
 * The running scheduler when the command runs in the server; otherwise one opened here for the
 * command, narrowed to `only` (run in the foreground: its runs go from start to end before the
 * command returns), and closed after.
 */
async function withScheduler<T>(
  context: CommandContext,
  only: string | undefined,
  body: (ps: ProjectScheduler, foreground: boolean) => Promise<T>,
  options: { changes?: boolean } = {},
): Promise<T> {
  if (context.server?.scheduler) {
    if (options.changes) await requireLeading(context.server.scheduler);
    return body(context.server.scheduler, false);
  }
  if (!context.openScheduler) throw new TributaryError('no scheduler: this command needs the server’s, or one it may open', { hint: 'run it from the CLI, or while `tributary up` runs' });
  const ps = await context.openScheduler({ only, log: (m) => context.io.err(m) });
  const unsubscribe = ps.scheduler.subscribe((event) => {
    if (event.type === 'task' && ['running', 'success', 'failed', 'up_for_retry', 'upstream_failed', 'skipped'].includes(event.state)) {
      // A retry waits its delay in silence otherwise: say when the next attempt starts.
      const retry = event.state === 'up_for_retry' && event.nextAttemptAt ? `; attempt ${event.attempt + 1} at ${event.nextAttemptAt.toISOString()} (in ${secondsFrom(event.at, event.nextAttemptAt)})` : '';
      context.io.err(`  ${event.task} ${event.state}${event.state === 'running' ? ` (attempt ${event.attempt})` : ''}${event.durationMs !== undefined ? ` in ${(event.durationMs / 1000).toFixed(1)} s` : ''}${event.error ? `: ${event.error.split('\n')[0]}` : ''}${retry}`);
    }
    if (event.type === 'log') context.io.err(`    ${event.task}: ${event.line}`);
  });
  try {
    if (only) await ps.scheduler.start();
    return await body(ps, Boolean(only));
  } finally {
    unsubscribe();
    await ps.scheduler.stop();
    await ps.close?.();
  }
}

/**
 * A change to the jobs is the leader's to make: a standby's server refuses it, naming the leader's
 * server, rather than forwarding it (a forwarded change could land twice, or after a takeover).
 */
export async function requireLeading(ps: ProjectScheduler): Promise<void> {
  const lead = await ps.leadership?.();
  if (!lead || lead.role === 'leader') return;
  const leader = lead.leader?.live ? lead.leader : undefined;
  throw Object.assign(
    new TributaryError(`this server stands by: the scheduler of the shared catalog is led by ${leader ? `${leader.holder}${leader.url ? ` at ${leader.url}` : ''}` : 'no process right now'}`, {
      hint: leader?.url
        ? `send it to the leader's server: --server ${leader.url} (or TRIBUTARY_SERVER)`
        : 'a standby takes the lead within the lease (TRIBUTARY_SCHEDULER_LEASE_SECONDS); send it again then',
    }),
    { statusCode: 409 },
  );
}

function secondsFrom(from: Date, to: Date): string {
  const seconds = Math.max(0, (to.getTime() - from.getTime()) / 1000);
  return seconds < 10 ? `${seconds.toFixed(1)} s` : `${Math.round(seconds)} s`;
}

/** Until every run has finished (retries and sensor pokes included), woken by the scheduler's run events. */
async function finished(ps: ProjectScheduler, runs: readonly JobRun[], signal: AbortSignal | undefined): Promise<void> {
  const pending = new Set(runs.map((r) => r.id));
  const settle = async () => {
    for (const run of await ps.scheduler.runs({ limit: 100_000 })) if (pending.has(run.id) && (run.state === 'success' || run.state === 'failed')) pending.delete(run.id);
  };
  await settle();
  while (pending.size && !signal?.aborted) {
    await new Promise<void>((resolve) => {
      const done = () => {
        unsubscribe();
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const unsubscribe = ps.scheduler.subscribe((event) => {
        if (event.type === 'run' && pending.has(event.run.id)) done();
      });
      signal?.addEventListener('abort', done, { once: true });
    });
    await settle();
  }
  // Ctrl+C: the attempts running are interrupted and handed back unfinished, for the next trigger,
  // backfill or scheduler to run again (as when `up` stops), before the runs are shown as left.
  if (signal?.aborted) await ps.scheduler.stop({ abort: true });
}

async function reportRuns(context: CommandContext, ps: ProjectScheduler, runs: JobRun[], foreground: boolean): Promise<void> {
  if (foreground) await finished(ps, runs, context.signal);
  const zones = new Map((await ps.scheduler.listJobs()).map((j) => [j.name, j.timezone]));
  const rows = await Promise.all(
    runs.map(async (r) => {
      const timezone = zones.get(r.job) ?? 'UTC';
      const now = (await ps.scheduler.runs({ job: r.job })).find((x) => x.id === r.id) ?? r;
      const tasks = await ps.scheduler.tasks(r.id);
      return { run: r.id, ds: dsOf(now, timezone), kind: now.kind, state: now.state, tasks: tasks.map((t) => `${t.task}:${t.state}`).join(' ') };
    }),
  );
  context.io.out(renderRows(rows, 'table', undefined, context.io.tty));
  if (foreground && context.signal?.aborted) {
    const unfinished = rows.filter((r) => r.state !== 'success' && r.state !== 'failed').length;
    throw new TributaryError(`stopped (${abortReason(context.signal)}); ${unfinished} run(s) left unfinished`, {
      hint: 'their running tasks were interrupted and handed back, not failed: the same trigger or backfill (or `tributary up`) runs them again',
    });
  }
  const failed = rows.filter((r) => r.state === 'failed');
  if (foreground && failed.length) {
    throw new TributaryError(`${failed.length} of ${rows.length} run(s) failed`, { hint: 'see each task’s log with `tributary runs --job JOB` or in the jobs page of `tributary up`' });
  }
}

export const jobsCommand = defineCommand({
  ...declared.jobs,
  async run(context, input) {
    await withScheduler(context, undefined, async (ps) => {
      const jobs = await jobsView(ps, context.ws.project.config.jobs);
      context.io.out(
        renderRows(
          jobs.map((j) => ({ job: j.name, schedule: j.schedule, timezone: j.timezone, paused: j.paused, next: j.nextRunAt ?? '', 'last run': j.lastRun ? `${j.lastRun.ds} ${j.lastRun.state}` : '', tasks: j.tasks.length })),
          input.format,
          undefined,
          context.io.tty,
        ),
      );
      // A shared catalog: several processes may run `up`, one leads the scheduler. Said on stderr (the table stays parseable).
      const lead = await ps.leadership?.();
      if (lead) {
        const leader = lead.leader?.live ? `${lead.leader.holder}${lead.leader.url ? ` at ${lead.leader.url}` : ''} (epoch ${lead.leader.epoch}, since ${lead.leader.since})` : 'no process (the lease is free or expired)';
        context.io.err(`scheduler led by ${leader}; this process: ${lead.role}`);
      }
    });
  },
});

export const triggerCommand = defineCommand({
  ...declared.trigger,
  async run(context, input) {
    knownJob(context, input.job);
    await withScheduler(context, input.job, async (ps, foreground) => {
      const { run, created } = await ps.scheduler.trigger(input.job, input.date);
      const finished = run.state === 'success' || run.state === 'failed';
      context.io.err(
        created
          ? `triggered ${run.id}${foreground ? '; running it here' : ' (the server runs it)'}`
          : finished
            ? `${run.id} already ran (${run.state}); \`tributary clear ${run.id} TASK\` runs a task of it again`
            : `${run.id} already exists (${run.state})${foreground ? '; running it here' : ' (the server runs it)'}`,
      );
      await reportRuns(context, ps, [run], foreground);
    }, { changes: true });
  },
});

export const backfillCommand = defineCommand({
  ...declared.backfill,
  async run(context, input) {
    knownJob(context, input.job);
    await withScheduler(context, input.job, async (ps, foreground) => {
      const result = await ps.scheduler.backfill(input.job, input.from, input.to, { rerunFailed: input.rerunFailed });
      // Runs an earlier, interrupted backfill left unfinished are taken up again, not left queued.
      const unfinished = result.existing.filter((run) => run.state !== 'success' && run.state !== 'failed');
      const finished = result.existing.length - unfinished.length;
      context.io.err(
        `backfill ${input.job} ${input.from} → ${input.to}: ${result.created.length} run(s) created, ${result.rerun.length} re-run, ${unfinished.length} resumed, ${finished} already finished` +
          (finished && !input.rerunFailed ? ' (--rerun-failed runs the failed ones again)' : ''),
      );
      await reportRuns(context, ps, [...result.created, ...result.rerun, ...unfinished], foreground);
    }, { changes: true });
  },
});

export const pauseCommand = defineCommand({
  ...declared.pause,
  async run(context, input) {
    knownJob(context, input.job);
    await withScheduler(context, undefined, async (ps) => {
      if (input.paused) await ps.scheduler.pause(input.job);
      else await ps.scheduler.unpause(input.job);
      context.io.out(`${input.job}: ${input.paused ? 'paused' : 'running on its schedule'}`);
    }, { changes: true });
  },
});

export const clearCommand = defineCommand({
  ...declared.clear,
  async run(context, input) {
    // Without a server, nothing else would run what is cleared: it runs here, to the end, as `trigger` does.
    const job = context.server?.scheduler ? undefined : await jobOfRun(context, input.run);
    await withScheduler(context, job, async (ps, foreground) => {
      const run = (await ps.scheduler.runs({ job })).find((r) => r.id === input.run);
      if (input.mark) {
        await ps.scheduler.markTask(input.run, input.task, input.mark);
        context.io.err(`${input.task} in ${input.run} marked ${input.mark}${foreground ? '; running what follows it here' : ' (the server runs what follows it)'}`);
      } else {
        await ps.scheduler.clearTask(input.run, input.task, { downstream: input.downstream });
        context.io.err(`${input.task}${input.downstream ? ' and what follows it' : ''} in ${input.run} cleared; ${foreground ? 'running it here' : 'the server runs it'}`);
      }
      if (run) await reportRuns(context, ps, [run], foreground);
    }, { changes: true });
  },
});

/** The job a run belongs to, from the scheduler's records; a run id the project does not have is refused with where to find one. */
async function jobOfRun(context: CommandContext, runId: string): Promise<string> {
  const store = await DuckDBSchedulerStore.open(context.ws.metastore);
  const run = await store.getRun(runId);
  if (!run) throw new TributaryError(`no job run '${runId}'`, { hint: 'list a job’s runs with `tributary runs --job JOB`' });
  knownJob(context, run.job);
  return run.job;
}

export const jobRunsCommand = defineCommand({
  ...declared.jobRuns,
  async run(context, input) {
    knownJob(context, input.job);
    await withScheduler(context, undefined, async (ps) => {
      const runs = await runsView(ps, input.job, input.limit);
      const seconds = (ms: number | null) => (ms === null ? '' : `${(ms / 1000).toFixed(1)} s`);
      context.io.out(
        renderRows(
          runs.map((r) => ({
            run: r.id,
            ds: r.ds,
            kind: r.kind,
            state: r.state,
            started: r.startedAt ? r.startedAt.toISOString().slice(0, 19).replace('T', ' ') : '',
            duration: r.startedAt && r.endedAt ? seconds(r.endedAt.getTime() - r.startedAt.getTime()) : '',
            tasks: r.tasks.map((t) => `${t.task}:${t.state}${t.attempt > 1 ? `×${t.attempt}` : ''}`).join(' '),
            // Each task's own time (its last attempt), and why a task failed or is waiting to retry.
            'task durations': r.tasks.filter((t) => t.durationMs !== null).map((t) => `${t.task} ${seconds(t.durationMs)}`).join(', '),
            error: r.tasks.filter((t) => t.error).map((t) => `${t.task}: ${firstLine(t.error!, 100)}`).join('; '),
          })),
          input.format,
          undefined,
          context.io.tty,
        ),
      );
    });
  },
});

function firstLine(text: string, max: number): string {
  const line = text.split('\n')[0]!;
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}
