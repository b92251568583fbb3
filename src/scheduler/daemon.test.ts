import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Scheduler, type SchedulerOptions } from './daemon.js';
import type { SchedulerEvent } from './events.js';
import { MemorySchedulerStore } from './memory-store.js';
import type { TaskInstance } from './store.js';
import type { TaskContext } from './tasks/types.js';
import { createTestPlatform, ManualClock, nextEvent, startWebhookReceiver, type TestPlatformOptions, type WebhookReceiver } from './testing.js';

type TaskEvent = Extract<SchedulerEvent, { type: 'task' }>;

const schedulers: Scheduler[] = [];
afterEach(async () => {
  await Promise.all(schedulers.splice(0).map((scheduler) => scheduler.stop({ abort: true })));
});

interface Setup {
  jobs: unknown;
  now?: string;
  store?: MemorySchedulerStore;
  owner?: string;
  platform?: TestPlatformOptions;
  options?: Partial<SchedulerOptions>;
}

function setup({ jobs, now = '2024-01-10T06:00:00Z', store = new MemorySchedulerStore(), owner = 'here', platform, options }: Setup) {
  const clock = new ManualClock(now);
  const testPlatform = createTestPlatform({ now: clock.now, ...platform });
  const scheduler = new Scheduler({ jobs, store, platform: testPlatform, owner, timers: clock, random: () => 0, ...options });
  schedulers.push(scheduler);
  const events: SchedulerEvent[] = [];
  scheduler.subscribe((event) => events.push(event));
  const taskEvents = (task?: string): TaskEvent[] =>
    events.filter((event): event is TaskEvent => event.type === 'task' && (task === undefined || event.task === task));
  const taskStates = async (runId: string): Promise<Record<string, TaskInstance['state']>> =>
    Object.fromEntries((await scheduler.tasks(runId)).map((task) => [task.task, task.state]));
  return { clock, store, platform: testPlatform, scheduler, events, taskEvents, taskStates };
}

/** A module of task functions that record their calls. */
function recorder() {
  const calls: Array<{ task: string; ds: string; attempt: number }> = [];
  const record = (ctx: TaskContext) => {
    calls.push({ task: ctx.task, ds: ctx.interval.ds, attempt: ctx.attempt });
  };
  return { calls, record };
}

describe('schedules', () => {
  it('with catchup creates exactly the missed intervals, runs them oldest first, then arms one timer for the next', async () => {
    const { calls, record } = recorder();
    const { scheduler, clock, events } = setup({
      jobs: { daily: { schedule: '@daily', start: '2024-01-07', catchup: true, tasks: { load: { kind: 'function', module: 'm.ts', export: 'record' } } } },
      platform: { modules: { 'm.ts': { record } } },
    });
    await scheduler.start();
    await scheduler.whenIdle();
    expect(calls.map((call) => call.ds)).toEqual(['2024-01-07', '2024-01-08', '2024-01-09']);
    const created = events.filter((event) => event.type === 'run' && event.previousState === undefined);
    expect(created).toHaveLength(3);
    expect((await scheduler.runs({ job: 'daily' })).map((run) => run.state)).toEqual(['success', 'success', 'success']);
    // Nothing polls: the only timer armed is the next tick.
    expect(clock.pendingTimers).toBe(1);
    expect((await scheduler.listJobs())[0]).toMatchObject({ name: 'daily', schedule: '@daily', nextRunAt: new Date('2024-01-11T00:00:00Z'), lastRun: { ds: '2024-01-09', state: 'success' } });
    await clock.advance(18 * 3600 * 1000);
    await scheduler.whenIdle();
    expect(calls.map((call) => call.ds)).toEqual(['2024-01-07', '2024-01-08', '2024-01-09', '2024-01-10']);
  });

  it('a stopped scheduler starts again (a standby that leads again): it schedules from the store, its listeners kept', async () => {
    const { calls, record } = recorder();
    const { scheduler, clock, events } = setup({
      jobs: { daily: { schedule: '@daily', start: '2024-01-09', catchup: true, tasks: { load: { kind: 'function', module: 'm.ts', export: 'record' } } } },
      platform: { modules: { 'm.ts': { record } } },
    });
    await scheduler.start();
    await scheduler.whenIdle();
    expect(calls.map((call) => call.ds)).toEqual(['2024-01-09']);
    await scheduler.stop({ abort: true });
    // Stopped: the days that fall due meanwhile get no run here.
    await clock.advance(2 * 24 * 3600 * 1000);
    await scheduler.whenIdle();
    expect(calls.map((call) => call.ds)).toEqual(['2024-01-09']);
    const before = events.length;
    await scheduler.start();
    await scheduler.whenIdle();
    expect(calls.map((call) => call.ds)).toEqual(['2024-01-09', '2024-01-10', '2024-01-11']);
    expect(events.length).toBeGreaterThan(before);
    expect(clock.pendingTimers).toBe(1);
  });

  it('without catchup runs only the latest interval; a paused job gets no runs until unpaused', async () => {
    const { calls, record } = recorder();
    const { scheduler, clock } = setup({
      jobs: { daily: { schedule: '@daily', start: '2024-01-01', tasks: { load: { kind: 'function', module: 'm.ts', export: 'record' } } } },
      platform: { modules: { 'm.ts': { record } } },
    });
    await scheduler.start();
    await scheduler.whenIdle();
    expect(calls.map((call) => call.ds)).toEqual(['2024-01-09']);
    await scheduler.pause('daily');
    await clock.advance(3 * 24 * 3600 * 1000);
    await scheduler.whenIdle();
    expect(calls).toHaveLength(1);
    await scheduler.unpause('daily');
    await scheduler.whenIdle();
    expect(calls.map((call) => call.ds)).toEqual(['2024-01-09', '2024-01-12']);
  });

  it('gives tasks the interval and ds in the job time zone', async () => {
    const seen: Array<{ ds: string; start: string; end: string }> = [];
    const { scheduler } = setup({
      jobs: {
        ny: { schedule: '@daily', timezone: 'America/New_York', tasks: { load: { kind: 'function', module: 'm.ts', export: 'see' } } },
        adhoc: { tasks: { load: { kind: 'function', module: 'm.ts', export: 'see' } } },
        refresh: { schedule: { onTablesChanged: ['orders'] }, tasks: { load: { kind: 'function', module: 'm.ts', export: 'see' } } },
      },
      platform: {
        modules: { 'm.ts': { see: (ctx: TaskContext) => void seen.push({ ds: ctx.interval.ds, start: ctx.interval.start.toISOString(), end: ctx.interval.end.toISOString() }) } },
      },
    });
    // 06:00 UTC is 01:00 in New York: the latest complete day there is the 9th.
    await scheduler.trigger('ny');
    await scheduler.whenIdle();
    expect(seen).toEqual([{ ds: '2024-01-09', start: '2024-01-09T05:00:00.000Z', end: '2024-01-10T05:00:00.000Z' }]);
    const summaries = await scheduler.listJobs();
    expect(summaries.map((job) => [job.name, job.schedule, job.timezone, job.lastRun?.ds])).toEqual([
      ['ny', '@daily', 'America/New_York', '2024-01-09'],
      ['adhoc', 'manual', 'UTC', undefined],
      ['refresh', { onTablesChanged: ['orders'] }, 'UTC', undefined],
    ]);
  });

  it('runs onTablesChanged jobs when the platform reports commits, coalescing while one is queued', async () => {
    let release: () => void = () => undefined;
    const blocked = new Promise<void>((resolve) => {
      release = resolve;
    });
    let runs = 0;
    const { scheduler, clock } = setup({
      jobs: { refresh: { schedule: { onTablesChanged: ['orders'] }, tasks: { build: { kind: 'function', module: 'm.ts', export: 'build' } } } },
      platform: { modules: { 'm.ts': { build: () => (++runs === 1 ? blocked : undefined) } } },
    });
    await scheduler.start();
    expect(await scheduler.tablesChanged(['customers'])).toEqual([]);
    const [first] = await scheduler.tablesChanged(['ORDERS', 'customers']);
    expect(first).toMatchObject({ kind: 'event', triggeredBy: { tables: ['orders'] } });
    // The first run is busy: one more run queues up for the new change, further changes join it.
    await clock.advance(1_000);
    expect(await scheduler.tablesChanged(['orders'])).toHaveLength(1);
    await clock.advance(1_000);
    expect(await scheduler.tablesChanged(['orders'])).toHaveLength(0);
    release();
    await scheduler.whenIdle();
    expect(runs).toBe(2);
  });

  it('catches up at start and unpause on commits to its tables it did not run for; one that never ran on a change waits for the next', async () => {
    let runs = 0;
    let lastCommit: number | undefined = 7;
    const store = new MemorySchedulerStore();
    const jobs = { refresh: { schedule: { onTablesChanged: ['orders'] }, tasks: { build: { kind: 'function', module: 'm.ts', export: 'build' } } } };
    const platform = { modules: { 'm.ts': { build: () => void runs++ } }, lastChange: async (tables: readonly string[]) => (tables.includes('orders') ? lastCommit : undefined) };
    /** A scheduler process on the same store, started at `now` and idle. */
    const startedAt = async (now: string) => {
      const started = setup({ jobs, store, platform, now });
      await started.scheduler.start();
      await started.scheduler.whenIdle();
      return started;
    };
    // Never ran on a change: no run at start, whatever the tables hold.
    const first = await startedAt('2024-01-10T06:00:00Z');
    expect(runs).toBe(0);
    // Heard before it started: nothing (start() is what catches up).
    await first.scheduler.stop();
    expect(await first.scheduler.tablesChanged(['orders'], 8)).toEqual([]);
    await first.scheduler.start();
    const [heard] = await first.scheduler.tablesChanged(['orders'], 8);
    expect(heard).toMatchObject({ kind: 'event', triggeredBy: { tables: ['orders'], snapshot: 8 } });
    await first.scheduler.whenIdle();
    expect(runs).toBe(1);
    await first.scheduler.stop();

    // Restarted with no commit since the run's: nothing to do.
    lastCommit = 8;
    const second = await startedAt('2024-01-10T07:00:00Z');
    expect(runs).toBe(1);
    await second.scheduler.stop();

    // Commits 9 and 10 landed while it was down: one run for them at start.
    lastCommit = 10;
    const third = await startedAt('2024-01-10T08:00:00Z');
    expect(runs).toBe(2);
    const [caughtUp] = await third.scheduler.runs({ job: 'refresh', limit: 1 });
    expect(caughtUp).toMatchObject({ kind: 'event', state: 'success', triggeredBy: { tables: ['orders'], snapshot: 10 } });
    expect(third.platform.logs.map((log) => log.message)).toContainEqual(expect.stringContaining("made since its last run's (snapshot 8 to 10)"));

    // Paused, a change gets no run; unpaused, the job runs once for it.
    await third.scheduler.pause('refresh');
    lastCommit = 11;
    expect(await third.scheduler.tablesChanged(['orders'], 11)).toEqual([]);
    await third.clock.advance(1_000);
    await third.scheduler.unpause('refresh');
    await third.scheduler.whenIdle();
    expect(runs).toBe(3);
    const [afterPause] = await third.scheduler.runs({ job: 'refresh', limit: 1 });
    expect(afterPause).toMatchObject({ state: 'success', triggeredBy: { snapshot: 11 } });
  });
});

describe('concurrency and leases', () => {
  it('runs at most maxActiveRuns runs of a job at once, and marks tasks waiting for a slot as queued', async () => {
    const releases: Array<() => void> = [];
    let active = 0;
    let maxActive = 0;
    const { scheduler, taskEvents } = setup({
      jobs: {
        daily: {
          schedule: '@daily',
          start: '2024-01-06',
          catchup: true,
          maxActiveRuns: 2,
          tasks: { a: { kind: 'function', module: 'm.ts', export: 'hold' }, b: { kind: 'function', module: 'm.ts', export: 'hold' } },
        },
      },
      platform: {
        modules: {
          'm.ts': {
            hold: () =>
              new Promise<void>((resolve) => {
                maxActive = Math.max(maxActive, ++active);
                releases.push(() => {
                  active--;
                  resolve();
                });
              }),
          },
        },
      },
      options: { maxConcurrentTasks: 3 },
    });
    await scheduler.start();
    await new Promise((resolve) => setImmediate(resolve));
    expect((await scheduler.runs({ states: ['running'] })).length).toBe(2);
    expect((await scheduler.runs({ states: ['queued'] })).length).toBe(2);
    // Two runs × two tasks, three slots: one task waits, and the store says so.
    expect(taskEvents().filter((event) => event.state === 'queued')).toHaveLength(1);
    while ((await scheduler.runs({ states: ['queued', 'running'] })).length > 0) {
      releases.splice(0).forEach((release) => release());
      await new Promise((resolve) => setImmediate(resolve));
    }
    await scheduler.whenIdle();
    expect(maxActive).toBe(3);
    expect((await scheduler.runs()).map((run) => run.state)).toEqual(['success', 'success', 'success', 'success']);
  });

  it('heartbeats keep the lease alive; an attempt that loses its lease is aborted and writes nothing', async () => {
    const signals: AbortSignal[] = [];
    const store = new MemorySchedulerStore();
    const { scheduler, clock, events } = setup({
      jobs: { long: { tasks: { crunch: { kind: 'function', module: 'm.ts', export: 'crunch' } } } },
      store,
      platform: {
        modules: {
          'm.ts': {
            crunch: (ctx: TaskContext) => {
              signals.push(ctx.signal);
              ctx.log('crunching');
              return new Promise(() => undefined);
            },
          },
        },
      },
      options: { leaseSeconds: 30 },
    });
    const started = nextEvent(scheduler, (event) => event.type === 'log' && event.line === 'crunching');
    const { run } = await scheduler.trigger('long');
    await started;
    await clock.advance(25_000);
    expect((await store.listTasks(run.id))[0]).toMatchObject({ state: 'running', leaseOwner: 'here', leaseExpiresAt: new Date('2024-01-10T06:00:50Z') });
    // Another process decides the task's fate (it marks it done): the next heartbeat finds the lease gone.
    await store.markTask(run.id, 'crunch', 'success', clock.now());
    await clock.advance(10_000);
    await scheduler.whenIdle();
    expect(signals[0]!.aborted).toBe(true);
    expect((await store.listTasks(run.id))[0]).toMatchObject({ state: 'success', attempt: 1 });
    expect(events.some((event) => event.type === 'log' && event.line === 'crunching')).toBe(true);
  });
});

describe('retries and hooks', () => {
  let receiver: WebhookReceiver;
  beforeAll(async () => {
    receiver = await startWebhookReceiver();
  });
  afterAll(() => receiver.close());

  it('retries with exponential backoff, then calls the onFailure hooks with the facts', async () => {
    const { scheduler, clock, taskEvents } = setup({
      jobs: {
        nightly: {
          schedule: '@daily',
          defaults: { retries: 2, retryDelaySeconds: 10 },
          onFailure: [{ urlEnv: 'HOOK_URL', format: 'json' }],
          onRetry: [{ urlEnv: 'HOOK_URL', message: 'retrying {{ task }} after attempt {{ attempt }}: {{ error }}' }],
          tasks: {
            load: {
              kind: 'function',
              module: 'm.ts',
              export: 'fail',
              onFailure: [{ urlEnv: 'HOOK_URL', message: '{{ job }}.{{ task }} {{ state }} on {{ ds }} after {{ attempt }} attempts: {{ error }}' }],
            },
          },
        },
      },
      platform: {
        modules: {
          'm.ts': {
            fail: () => {
              throw new Error('source unreachable');
            },
          },
        },
        env: { HOOK_URL: receiver.url },
      },
    });
    const { run } = await scheduler.trigger('nightly', '2024-01-08');
    await scheduler.whenIdle();
    await clock.advance(10_000);
    await scheduler.whenIdle();
    await clock.advance(20_000);
    await scheduler.whenIdle();

    const ends = taskEvents('load').filter((event) => event.durationMs !== undefined);
    expect(ends.map((event) => [event.state, event.attempt])).toEqual([
      ['up_for_retry', 1],
      ['up_for_retry', 2],
      ['failed', 3],
    ]);
    const delays = ends.slice(0, 2).map((event) => event.nextAttemptAt!.getTime() - event.at.getTime());
    expect(delays).toEqual([10_000, 20_000]);
    expect(receiver.received).toEqual([
      { text: 'retrying load after attempt 1: source unreachable' },
      { text: 'retrying load after attempt 2: source unreachable' },
      { text: 'nightly.load failed on 2024-01-08 after 3 attempts: source unreachable' },
      expect.objectContaining({ job: 'nightly', task: null, state: 'failed', ds: '2024-01-08', error: 'load: source unreachable', run_id: run.id }),
    ]);
    const [instance] = await scheduler.tasks(run.id);
    expect(instance).toMatchObject({ state: 'failed', attempt: 3, error: 'source unreachable' });
    expect(instance!.log).toMatch(/attempt 1 started by here\n.*failed: source unreachable\n.*attempt 2 started/);
  });
});

describe('runs', () => {
  it('applies trigger rules across a run', async () => {
    const { calls, record } = recorder();
    const { scheduler, taskStates } = setup({
      jobs: {
        etl: {
          tasks: {
            extract: { kind: 'function', module: 'm.ts', export: 'fail' },
            load: { kind: 'function', module: 'm.ts', export: 'record', after: ['extract'] },
            report: { kind: 'function', module: 'm.ts', export: 'record', after: ['load'] },
            alert: { kind: 'function', module: 'm.ts', export: 'record', after: ['extract'], triggerRule: 'one_failed' },
            cleanup: { kind: 'function', module: 'm.ts', export: 'record', after: ['report', 'alert'], triggerRule: 'all_done' },
          },
        },
      },
      platform: {
        modules: {
          'm.ts': {
            record,
            fail: () => {
              throw new Error('no data');
            },
          },
        },
      },
    });
    const { run } = await scheduler.trigger('etl');
    await scheduler.whenIdle();
    expect(await taskStates(run.id)).toEqual({ extract: 'failed', load: 'upstream_failed', report: 'upstream_failed', alert: 'success', cleanup: 'success' });
    expect(calls.map((call) => call.task)).toEqual(['alert', 'cleanup']);
    expect((await scheduler.runs())[0]!.state).toBe('failed');
  });

  it('runs a 200-task fan-out DAG, each task once, the join after all', async () => {
    const order: string[] = [];
    const tasks: Record<string, unknown> = { root: { kind: 'function', module: 'm.ts', export: 'step' } };
    const middle = Array.from({ length: 198 }, (_, index) => `part_${index}`);
    for (const name of middle) tasks[name] = { kind: 'function', module: 'm.ts', export: 'step', after: ['root'] };
    tasks.join = { kind: 'function', module: 'm.ts', export: 'step', after: middle };
    const { scheduler } = setup({
      jobs: { fan: { tasks } },
      platform: { modules: { 'm.ts': { step: (ctx: TaskContext) => void order.push(ctx.task) } } },
      options: { maxConcurrentTasks: 8 },
    });
    const { run } = await scheduler.trigger('fan');
    await scheduler.whenIdle();
    expect(order).toHaveLength(200);
    expect(new Set(order).size).toBe(200);
    expect(order[0]).toBe('root');
    expect(order.at(-1)).toBe('join');
    expect((await scheduler.runs())[0]).toMatchObject({ id: run.id, state: 'success' });
  });

  it('a sensor waits without holding a slot, then times out for good', async () => {
    const { calls, record } = recorder();
    const { scheduler, clock, taskEvents } = setup({
      jobs: {
        daily: {
          defaults: { retries: 3 },
          tasks: {
            wait: { kind: 'sensor', sql: 'select count(*) > 0 from raw where day = {{ ds }}', pokeSeconds: 30, timeoutSeconds: 60 },
            other: { kind: 'function', module: 'm.ts', export: 'record' },
            load: { kind: 'function', module: 'm.ts', export: 'record', after: ['wait'] },
          },
        },
      },
      platform: { modules: { 'm.ts': { record } }, query: () => [{ ready: false }] },
      options: { maxConcurrentTasks: 1 },
    });
    const { run } = await scheduler.trigger('daily', '2024-01-09');
    await scheduler.whenIdle();
    // One slot, and the other task ran while the sensor waited for its next poke.
    expect(calls.map((call) => call.task)).toEqual(['other']);
    expect((await scheduler.tasks(run.id)).find((task) => task.task === 'wait')).toMatchObject({
      state: 'up_for_reschedule',
      attempt: 1,
      nextAttemptAt: new Date('2024-01-10T06:00:30Z'),
    });
    await clock.advance(30_000);
    await scheduler.whenIdle();
    await clock.advance(30_000);
    await scheduler.whenIdle();
    const wait = (await scheduler.tasks(run.id)).find((task) => task.task === 'wait');
    expect(wait).toMatchObject({ state: 'failed', attempt: 1 });
    expect(wait!.error).toBe("sensor timed out after 60 s and 3 pokes: query returned false: select count(*) > 0 from raw where day = DATE '2024-01-09'");
    expect(taskEvents('wait').filter((event) => event.state === 'up_for_reschedule')).toHaveLength(2);
    expect((await scheduler.tasks(run.id)).find((task) => task.task === 'load')!.state).toBe('upstream_failed');
  });

  it('aborts a task at its timeout and retries it', async () => {
    const signals: AbortSignal[] = [];
    const { scheduler, clock } = setup({
      jobs: { slow: { tasks: { crawl: { kind: 'function', module: 'm.ts', export: 'hang', timeoutSeconds: 5, retries: 1, retryDelaySeconds: 0 } } } },
      platform: {
        modules: {
          'm.ts': {
            // Never settles by itself: the scheduler must end the attempt at the timeout.
            hang: (ctx: TaskContext) => {
              signals.push(ctx.signal);
              return new Promise(() => undefined);
            },
          },
        },
      },
    });
    const running = (attempt: number) => nextEvent(scheduler, (event) => event.type === 'task' && event.state === 'running' && event.attempt === attempt);
    const firstStarted = running(1);
    const { run } = await scheduler.trigger('slow');
    await firstStarted;
    const secondStarted = running(2);
    await clock.advance(5_000);
    await secondStarted;
    await clock.advance(5_000);
    await scheduler.whenIdle();
    expect(signals.map((signal) => signal.aborted)).toEqual([true, true]);
    expect((await scheduler.tasks(run.id))[0]).toMatchObject({ state: 'failed', attempt: 2, error: 'timed out after 5 s' });
  });

  it('clears a task with its downstream for a re-run, marks tasks by hand, and backfills re-running failed runs', async () => {
    const { calls, record } = recorder();
    let failOn = '2024-01-03';
    const { scheduler, taskStates } = setup({
      jobs: {
        daily: {
          schedule: '@daily',
          tasks: {
            extract: { kind: 'function', module: 'm.ts', export: 'extract' },
            load: { kind: 'function', module: 'm.ts', export: 'record', after: ['extract'] },
          },
        },
      },
      platform: {
        modules: {
          'm.ts': {
            record,
            extract: (ctx: TaskContext) => {
              if (ctx.interval.ds === failOn) throw new Error('late file');
              record(ctx);
            },
          },
        },
      },
    });
    const first = await scheduler.backfill('daily', '2024-01-02', '2024-01-04');
    await scheduler.whenIdle();
    expect(first.created.map((run) => run.intervalStart.toISOString().slice(0, 10))).toEqual(['2024-01-02', '2024-01-03', '2024-01-04']);
    expect((await scheduler.runs({ job: 'daily' })).map((run) => run.state)).toEqual(['success', 'failed', 'success']);

    failOn = 'never';
    const second = await scheduler.backfill('daily', '2024-01-02', '2024-01-04', { rerunFailed: true });
    await scheduler.whenIdle();
    expect([second.created.length, second.rerun.length, second.existing.length]).toEqual([0, 1, 2]);
    expect((await scheduler.runs({ job: 'daily' })).map((run) => run.state)).toEqual(['success', 'success', 'success']);

    const runId = first.created[0]!.id;
    const before = calls.length;
    await scheduler.clearTask(runId, 'extract', { downstream: true });
    await scheduler.whenIdle();
    expect(calls.slice(before).map((call) => call.task)).toEqual(['extract', 'load']);

    await scheduler.markTask(runId, 'load', 'failed');
    await scheduler.whenIdle();
    expect(await taskStates(runId)).toEqual({ extract: 'success', load: 'failed' });
    expect((await scheduler.runs({ job: 'daily' })).find((run) => run.id === runId)!.state).toBe('failed');
  });
});

describe('recovery', () => {
  const job = (retries: number) => ({ nightly: { tasks: { load: { kind: 'function', module: 'm.ts', export: 'record', retries, retryDelaySeconds: 0 } } } });

  /** A store left behind by a process that was killed while `load` ran, its lease taken at `leaseAt`. */
  async function orphanedStore(owner: string, leaseAt: string) {
    const store = new MemorySchedulerStore();
    const now = new Date(leaseAt);
    const { run } = await store.createRun({ job: 'nightly', kind: 'manual', intervalStart: new Date('2024-01-09T00:00:00Z'), intervalEnd: new Date('2024-01-10T00:00:00Z'), tasks: ['load'], now });
    await store.startRun(run.id, { maxActiveRuns: 1, now });
    await store.acquireTask({ runId: run.id, task: 'load', expectedVersion: 1, owner, now, leaseMs: 30_000 });
    return { store, runId: run.id };
  }

  it('an attempt whose lease expired becomes a failed attempt and is retried exactly once', async () => {
    const { calls, record } = recorder();
    const { store, runId } = await orphanedStore('killed-host', '2024-01-10T05:00:00Z');
    const { scheduler } = setup({ jobs: job(1), store, platform: { modules: { 'm.ts': { record } } } });
    await scheduler.start();
    await scheduler.whenIdle();
    expect(calls).toEqual([{ task: 'load', ds: '2024-01-09', attempt: 2 }]);
    const [load] = await store.listTasks(runId);
    expect(load).toMatchObject({ state: 'success', attempt: 2 });
    expect(load!.log).toMatch(/attempt 1 stopped without finishing: its lease \(owner killed-host, expiring 2024-01-10T05:00:30.000Z\) was not renewed/);
    expect((await store.getRun(runId))!.state).toBe('success');
  });

  it('without retries left, the dead attempt fails the task and the run', async () => {
    const { calls, record } = recorder();
    const { store, runId } = await orphanedStore('killed-host', '2024-01-10T05:00:00Z');
    const { scheduler } = setup({ jobs: job(0), store, platform: { modules: { 'm.ts': { record } } } });
    await scheduler.start();
    await scheduler.whenIdle();
    expect(calls).toEqual([]);
    expect((await store.getRun(runId))!.state).toBe('failed');
  });

  it('its own lease from before a restart is dead at once, even if not expired', async () => {
    const { calls, record } = recorder();
    const { store } = await orphanedStore('here', '2024-01-10T05:59:50Z');
    const { scheduler } = setup({ jobs: job(1), store, platform: { modules: { 'm.ts': { record } } } });
    await scheduler.start();
    await scheduler.whenIdle();
    expect(calls.map((call) => call.attempt)).toEqual([2]);
  });

  it('leaves an attempt alone while another process holds a live lease, and takes over when it expires', async () => {
    const { calls, record } = recorder();
    const { store, runId } = await orphanedStore('other-host', '2024-01-10T05:59:50Z');
    const { scheduler, clock } = setup({ jobs: job(1), store, platform: { modules: { 'm.ts': { record } } } });
    await scheduler.start();
    await scheduler.whenIdle();
    expect(calls).toEqual([]);
    expect((await store.listTasks(runId))[0]).toMatchObject({ state: 'running', leaseOwner: 'other-host', attempt: 1 });
    // The other process never heartbeats again: at its lease's expiry the task is retried, once.
    await clock.advance(20_000);
    await scheduler.whenIdle();
    expect(calls.map((call) => call.attempt)).toEqual([2]);
  });

  it('two schedulers sharing a store never run a task twice', async () => {
    const running = new Map<string, number>();
    const executions: string[] = [];
    let overlap = false;
    const step = async (ctx: TaskContext) => {
      const count = (running.get(ctx.task) ?? 0) + 1;
      running.set(ctx.task, count);
      if (count > 1) overlap = true;
      executions.push(ctx.task);
      await new Promise((resolve) => setImmediate(resolve));
      running.set(ctx.task, count - 1);
    };
    const tasks: Record<string, unknown> = {};
    for (let index = 0; index < 20; index++) tasks[`t${index}`] = { kind: 'function', module: 'm.ts', export: 'step', ...(index > 0 ? { after: [`t${Math.floor((index - 1) / 2)}`] } : {}) };
    const store = new MemorySchedulerStore();
    const modules = { 'm.ts': { step } };
    const a = setup({ jobs: { tree: { tasks } }, store, owner: 'a', platform: { modules } });
    const b = setup({ jobs: { tree: { tasks } }, store, owner: 'b', platform: { modules } });
    const { run } = await a.scheduler.trigger('tree');
    await Promise.all([b.scheduler.start(), a.scheduler.start()]);
    // Whichever process finishes a task plans the run again from the store, so the run always completes.
    await Promise.all([a.scheduler.whenIdle(), b.scheduler.whenIdle()]);
    await Promise.all([a.scheduler.whenIdle(), b.scheduler.whenIdle()]);
    expect(overlap).toBe(false);
    expect(executions.sort()).toEqual(Object.keys(tasks).sort());
    expect((await store.getRun(run.id))!.state).toBe('success');
  });

  it('stop({ abort }) hands running attempts back without using up a retry', async () => {
    const { calls, record } = recorder();
    const store = new MemorySchedulerStore();
    const first = setup({
      jobs: job(0),
      store,
      platform: { modules: { 'm.ts': { record: (ctx: TaskContext) => new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(new Error('stopped')))) } } },
    });
    const { run } = await first.scheduler.trigger('nightly');
    await new Promise((resolve) => setImmediate(resolve));
    await first.scheduler.stop({ abort: true });
    expect((await store.listTasks(run.id))[0]).toMatchObject({ state: 'queued', attempt: 1, attemptOffset: 1 });
    const second = setup({ jobs: job(0), store, owner: 'next', platform: { modules: { 'm.ts': { record } } } });
    await second.scheduler.start();
    await second.scheduler.whenIdle();
    expect(calls.map((call) => call.attempt)).toEqual([2]);
    expect((await store.getRun(run.id))!.state).toBe('success');
  });
});
