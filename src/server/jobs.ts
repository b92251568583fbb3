import { z } from 'zod';
import { day, jobsView, requireLeading, runJson, runsView, taskView } from '../commands/index.js';
import { TributaryError } from '../core/errors.js';
import { describeIssues, inputProblemsText } from '../core/issues.js';
import type { ProjectScheduler } from '../commands/index.js';
import type { SchedulerEvent } from '../scheduler/index.js';
import type { ServerPlugin } from './app.js';

/**
 * The scheduler's side of the server: jobs, runs and task attempts for the jobs page, operations
 * (trigger, pause, clear, mark), and every state change pushed live over Server-Sent Events.
 */
export function jobsPlugin(ps: ProjectScheduler): ServerPlugin {
  return async (app, context) => {
    const { ws } = context;
    const jobs = ws.project.config.jobs;
    const timezoneOf = async (job: string) => (await ps.scheduler.listJobs()).find((j) => j.name === job)?.timezone ?? 'UTC';
    const known = (job: string) => {
      if (!Object.hasOwn(jobs, job)) throw Object.assign(new TributaryError(`no job '${job}'`, { hint: `jobs: ${Object.keys(jobs).join(', ') || '(none declared)'}` }), { statusCode: 404 });
    };
    /** An operation's JSON body, checked against what the operation takes (an empty body is `{}`). */
    const body = <Schema extends z.ZodType>(operation: string, schema: Schema, raw: string | undefined): z.output<Schema> => {
      let value: unknown;
      try {
        value = raw ? JSON.parse(raw) : {};
      } catch {
        throw new TributaryError(`${operation}: expected a JSON body`, { hint: 'send {} or the fields the operation takes' });
      }
      const parsed = schema.safeParse(value);
      if (!parsed.success) throw new TributaryError(inputProblemsText(describeIssues(parsed.error.issues, value), operation), { hint: 'send {} or the fields the operation takes' });
      return parsed.data;
    };

    app.get('/api/jobs', async () => ({ jobs: await jobsView(ps, jobs) }));
    // With a shared catalog, several processes run `up` and one leads the scheduler: which, and this one's role.
    app.get('/api/scheduler', async () => ({ shared: ps.leadership !== undefined, ...(ps.leadership ? await ps.leadership() : { role: 'leader' }) }));
    app.get<{ Params: { job: string }; Querystring: { limit?: string } }>('/api/jobs/:job/runs', async (request) => {
      known(request.params.job);
      const limit = Math.min(200, Math.max(1, Number.parseInt(request.query.limit ?? '25', 10) || 25));
      return { runs: await runsView(ps, request.params.job, limit) };
    });
    // The lines of attempts still running: the store keeps an attempt's log when it ends.
    const running = new Map<string, string[]>();
    ps.scheduler.subscribe((event) => {
      const key = `${'runId' in event ? event.runId : ''}\u0000${'task' in event ? event.task : ''}`;
      if (event.type === 'log') running.set(key, [...(running.get(key) ?? []), event.line].slice(-2000));
      else if (event.type === 'task' && event.state !== 'running') running.delete(key);
    });
    app.get<{ Params: { job: string; run: string; task: string } }>('/api/jobs/:job/runs/:run/tasks/:task', async (request) => {
      known(request.params.job);
      const view = await taskView(ps, request.params.run, request.params.task);
      const lines = view.state === 'running' ? running.get(`${request.params.run}\u0000${request.params.task}`) : undefined;
      return lines ? { ...view, log: `${view.log}${lines.map((l) => `${l}\n`).join('')}` } : view;
    });
    app.post<{ Params: { job: string }; Body: string }>('/api/jobs/:job/trigger', async (request) => {
      known(request.params.job);
      await requireLeading(ps);
      const { date } = body('trigger', z.strictObject({ date: day.optional() }), request.body);
      const { run, created } = await ps.scheduler.trigger(request.params.job, date);
      return { run: runJson(run, await timezoneOf(run.job)), created };
    });
    for (const action of ['pause', 'unpause'] as const) {
      app.post<{ Params: { job: string } }>(`/api/jobs/:job/${action}`, async (request) => {
        known(request.params.job);
        await requireLeading(ps);
        await ps.scheduler[action](request.params.job);
        return { paused: action === 'pause' };
      });
    }
    app.post<{ Params: { job: string; run: string; task: string }; Body: string }>('/api/jobs/:job/runs/:run/tasks/:task/clear', async (request) => {
      known(request.params.job);
      await requireLeading(ps);
      const run = await ps.scheduler.clearTask(request.params.run, request.params.task, { downstream: body('clear', z.strictObject({ downstream: z.boolean().optional() }), request.body).downstream });
      return { run: runJson(run, await timezoneOf(run.job)) };
    });
    app.post<{ Params: { job: string; run: string; task: string }; Body: string }>('/api/jobs/:job/runs/:run/tasks/:task/mark', async (request) => {
      known(request.params.job);
      await requireLeading(ps);
      const { state } = body('mark', z.strictObject({ state: z.enum(['success', 'failed']) }), request.body);
      await ps.scheduler.markTask(request.params.run, request.params.task, state);
      return taskView(ps, request.params.run, request.params.task);
    });

    // Task attempts and their durations, for /metrics.
    const attempts = new Map<string, { count: number; seconds: number }>();
    ps.scheduler.subscribe((event) => {
      if (event.type !== 'task' || event.durationMs === undefined) return;
      const key = `${event.job}\u0000${event.task}\u0000${event.state}`;
      const entry = attempts.get(key) ?? { count: 0, seconds: 0 };
      entry.count++;
      entry.seconds += event.durationMs / 1000;
      attempts.set(key, entry);
    });
    context.metrics!.push(async () => {
      const runs = await ps.scheduler.runs({ limit: 100_000 });
      const byState = new Map<string, number>();
      for (const run of runs) byState.set(`${run.job}\u0000${run.state}`, (byState.get(`${run.job}\u0000${run.state}`) ?? 0) + 1);
      const label = (v: string) => v.replace(/["\\\n]/g, '_');
      const lines = ['# HELP tributary_job_runs Job runs by state.', '# TYPE tributary_job_runs gauge'];
      for (const [key, n] of byState) {
        const [job, state] = key.split('\u0000');
        lines.push(`tributary_job_runs{job="${label(job!)}",state="${label(state!)}"} ${n}`);
      }
      lines.push('# HELP tributary_task_attempts_total Task attempts ended since start, by outcome.', '# TYPE tributary_task_attempts_total counter');
      lines.push('# HELP tributary_task_attempt_seconds_total Time task attempts took, by outcome.', '# TYPE tributary_task_attempt_seconds_total counter');
      for (const [key, { count, seconds }] of attempts) {
        const [job, task, state] = key.split('\u0000').map((v) => label(v!));
        lines.push(`tributary_task_attempts_total{job="${job}",task="${task}",state="${state}"} ${count}`);
        lines.push(`tributary_task_attempt_seconds_total{job="${job}",task="${task}",state="${state}"} ${seconds.toFixed(3)}`);
      }
      return `${lines.join('\n')}\n`;
    });

    const viewers = new Set<(event: SchedulerEvent) => void>();
    const zones = new Map((await ps.scheduler.listJobs()).map((j) => [j.name, j.timezone]));
    ps.scheduler.subscribe((event) => {
      for (const viewer of viewers) viewer(event);
    });
    app.get('/api/jobs/live', (_request, reply) => {
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      res.write(`event: ready\ndata: {}\n\n`);
      const send = (event: SchedulerEvent) => {
        const data = event.type === 'run' ? { type: 'run', run: runJson(event.run, zones.get(event.run.job) ?? 'UTC') } : event;
        res.write(`event: scheduler\ndata: ${JSON.stringify(data)}\n\n`);
      };
      viewers.add(send);
      const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
      // The viewer left when the response closes (the request's 'close' only says it was read).
      res.on('close', () => {
        clearInterval(heartbeat);
        viewers.delete(send);
      });
    });
  };
}
