/**
 * The SchedulerStore contract as vitest tests: every transition and its precondition. The memory store
 * runs it (memory-store.test.ts); a SQL store runs the same with its own factory.
 */
import { describe, expect, it } from 'vitest';
import { LOG_TAIL_CHARS, type SchedulerStore } from './store.js';

const t = (seconds: number): Date => new Date(Date.UTC(2024, 0, 10, 6, 0, seconds));
const LEASE_MS = 30_000;

export function describeSchedulerStoreContract(name: string, makeStore: () => Promise<SchedulerStore> | SchedulerStore): void {
  async function runningRun(store: SchedulerStore, tasks: string[] = ['a', 'b']) {
    const { run } = await store.createRun({ job: 'job', kind: 'manual', intervalStart: t(0), intervalEnd: t(60), tasks, now: t(0) });
    await store.startRun(run.id, { maxActiveRuns: 1, now: t(0) });
    return run.id;
  }

  describe(`${name} (SchedulerStore contract)`, () => {
    it('keeps job pause state', async () => {
      const store = await makeStore();
      expect(await store.getJobState('job')).toEqual({ job: 'job', paused: false });
      await store.setPaused('job', true);
      expect(await store.getJobState('job')).toEqual({ job: 'job', paused: true });
    });

    it('creates one run per (job, interval start) with its tasks scheduled', async () => {
      const store = await makeStore();
      const request = { job: 'job', kind: 'scheduled' as const, intervalStart: t(0), intervalEnd: t(60), tasks: ['a', 'b'], now: t(0) };
      const first = await store.createRun(request);
      const again = await store.createRun({ ...request, kind: 'manual', tasks: ['c'] });
      expect(first.created).toBe(true);
      expect(again).toEqual({ run: first.run, created: false });
      expect(first.run).toMatchObject({ job: 'job', kind: 'scheduled', state: 'queued' });
      const tasks = await store.listTasks(first.run.id);
      expect(tasks.map((task) => [task.task, task.state, task.attempt, task.version])).toEqual([
        ['a', 'scheduled', 0, 1],
        ['b', 'scheduled', 0, 1],
      ]);
    });

    it('lists runs by job, state and kind, newest interval first unless asked otherwise', async () => {
      const store = await makeStore();
      for (const second of [0, 20, 10]) {
        await store.createRun({ job: 'job', kind: second === 20 ? 'backfill' : 'scheduled', intervalStart: t(second), intervalEnd: t(second + 10), tasks: ['a'], now: t(0) });
      }
      await store.createRun({ job: 'other', kind: 'scheduled', intervalStart: t(30), intervalEnd: t(40), tasks: ['a'], now: t(0) });
      const starts = (runs: Array<{ intervalStart: Date }>) => runs.map((run) => run.intervalStart.getUTCSeconds());
      expect(starts(await store.listRuns({ job: 'job' }))).toEqual([20, 10, 0]);
      expect(starts(await store.listRuns({ job: 'job', order: 'asc', limit: 2 }))).toEqual([0, 10]);
      expect(starts(await store.listRuns({ job: 'job', kinds: ['scheduled'] }))).toEqual([10, 0]);
      expect(await store.listRuns({ states: ['running'] })).toEqual([]);
    });

    it('starts runs only from queued and within maxActiveRuns; finishes only running ones', async () => {
      const store = await makeStore();
      const a = (await store.createRun({ job: 'job', kind: 'manual', intervalStart: t(0), intervalEnd: t(1), tasks: ['x'], now: t(0) })).run;
      const b = (await store.createRun({ job: 'job', kind: 'manual', intervalStart: t(1), intervalEnd: t(2), tasks: ['x'], now: t(0) })).run;
      expect(await store.finishRun(a.id, 'success', t(1))).toBeUndefined();
      expect(await store.startRun(a.id, { maxActiveRuns: 1, now: t(1) })).toMatchObject({ state: 'running', startedAt: t(1) });
      expect(await store.startRun(a.id, { maxActiveRuns: 1, now: t(1) })).toBeUndefined();
      expect(await store.startRun(b.id, { maxActiveRuns: 1, now: t(1) })).toBeUndefined();
      expect(await store.finishRun(a.id, 'failed', t(2))).toMatchObject({ state: 'failed', endedAt: t(2) });
      expect(await store.startRun(b.id, { maxActiveRuns: 1, now: t(2) })).toMatchObject({ state: 'running' });
    });

    it('acquires a task only at the expected version, in a running run, without a live lease', async () => {
      const store = await makeStore();
      const { run } = await store.createRun({ job: 'job', kind: 'manual', intervalStart: t(0), intervalEnd: t(1), tasks: ['a'], now: t(0) });
      const request = { runId: run.id, task: 'a', expectedVersion: 1, owner: 'p1', now: t(0), leaseMs: LEASE_MS };
      expect(await store.acquireTask(request)).toBeUndefined(); // run still queued
      await store.startRun(run.id, { maxActiveRuns: 1, now: t(0) });
      expect(await store.acquireTask({ ...request, expectedVersion: 7 })).toBeUndefined();
      const held = await store.acquireTask(request);
      expect(held).toMatchObject({ state: 'running', attempt: 1, leaseOwner: 'p1', leaseExpiresAt: t(30), startedAt: t(0) });
      expect(await store.acquireTask({ ...request, expectedVersion: held!.version, owner: 'p2' })).toBeUndefined();
    });

    it('moves tasks to queued and settles waiting tasks only', async () => {
      const store = await makeStore();
      const runId = await runningRun(store);
      expect(await store.queueTask(runId, 'a', t(1))).toMatchObject({ state: 'queued', version: 1 });
      expect(await store.queueTask(runId, 'a', t(1))).toBeUndefined();
      expect(await store.settleTask(runId, 'a', 'upstream_failed', t(1))).toMatchObject({ state: 'upstream_failed' });
      await store.acquireTask({ runId, task: 'b', expectedVersion: 1, owner: 'p1', now: t(1), leaseMs: LEASE_MS });
      expect(await store.settleTask(runId, 'b', 'skipped', t(1))).toBeUndefined();
    });

    it('heartbeats and completes only for the owner of the current attempt, appending a capped log', async () => {
      const store = await makeStore();
      const runId = await runningRun(store);
      await store.acquireTask({ runId, task: 'a', expectedVersion: 1, owner: 'p1', now: t(0), leaseMs: LEASE_MS });
      const ref = { runId, task: 'a', owner: 'p1', attempt: 1 };
      expect(await store.heartbeat({ ...ref, owner: 'p2' }, { now: t(5), leaseMs: LEASE_MS })).toBe(false);
      expect(await store.heartbeat(ref, { now: t(5), leaseMs: LEASE_MS })).toBe(true);
      expect((await store.listTasks(runId))[0]).toMatchObject({ heartbeatAt: t(5), leaseExpiresAt: t(35) });
      expect(await store.completeAttempt({ ...ref, attempt: 2 }, { now: t(6), outcome: { state: 'success' }, log: '' })).toBeUndefined();
      const retry = await store.completeAttempt(ref, {
        now: t(6),
        outcome: { state: 'up_for_retry', error: 'boom', nextAttemptAt: t(16) },
        log: 'x'.repeat(LOG_TAIL_CHARS) + 'end\n',
      });
      expect(retry).toMatchObject({ state: 'up_for_retry', error: 'boom', nextAttemptAt: t(16), endedAt: t(6) });
      expect(retry!.leaseOwner).toBeUndefined();
      expect(retry!.log).toHaveLength(LOG_TAIL_CHARS);
      expect(retry!.log.endsWith('end\n')).toBe(true);
      // Not before nextAttemptAt; then a new attempt.
      expect(await store.acquireTask({ runId, task: 'a', expectedVersion: retry!.version, owner: 'p2', now: t(10), leaseMs: LEASE_MS })).toBeUndefined();
      const second = await store.acquireTask({ runId, task: 'a', expectedVersion: retry!.version, owner: 'p2', now: t(16), leaseMs: LEASE_MS });
      expect(second).toMatchObject({ attempt: 2, startedAt: t(16) });
      const done = await store.completeAttempt({ ...ref, owner: 'p2', attempt: 2 }, { now: t(17), outcome: { state: 'success', result: { rows: 3 } }, log: '' });
      expect(done).toMatchObject({ state: 'success', result: { rows: 3 } });
      expect(done!.error).toBeUndefined();
    });

    it('keeps the attempt and its start across sensor pokes', async () => {
      const store = await makeStore();
      const runId = await runningRun(store);
      await store.acquireTask({ runId, task: 'a', expectedVersion: 1, owner: 'p1', now: t(0), leaseMs: LEASE_MS });
      const waiting = await store.completeAttempt(
        { runId, task: 'a', owner: 'p1', attempt: 1 },
        { now: t(1), outcome: { state: 'up_for_reschedule', nextAttemptAt: t(31), pokeState: { pokes: 1 } }, log: '' },
      );
      expect(waiting).toMatchObject({ state: 'up_for_reschedule', pokeState: { pokes: 1 }, nextAttemptAt: t(31) });
      const poke = await store.acquireTask({ runId, task: 'a', expectedVersion: waiting!.version, owner: 'p1', now: t(31), leaseMs: LEASE_MS });
      expect(poke).toMatchObject({ attempt: 1, startedAt: t(0), pokeState: { pokes: 1 } });
    });

    it('expires an attempt only when its lease is dead or the caller held it', async () => {
      const store = await makeStore();
      const runId = await runningRun(store);
      await store.acquireTask({ runId, task: 'a', expectedVersion: 1, owner: 'p1', now: t(0), leaseMs: LEASE_MS });
      const request = { runId, task: 'a', attempt: 1, caller: 'p2', outcome: { state: 'failed' as const, error: 'gone' }, log: 'gone\n' };
      expect(await store.expireAttempt({ ...request, now: t(29) })).toBeUndefined();
      expect(await store.expireAttempt({ ...request, attempt: 2, now: t(31) })).toBeUndefined();
      expect(await store.expireAttempt({ ...request, now: t(30) })).toMatchObject({ state: 'failed', error: 'gone' });
      await store.acquireTask({ runId, task: 'b', expectedVersion: 1, owner: 'p1', now: t(0), leaseMs: LEASE_MS });
      expect(await store.expireAttempt({ ...request, task: 'b', caller: 'p1', now: t(1) })).toMatchObject({ state: 'failed' });
    });

    it('releases an attempt back to queued without counting it', async () => {
      const store = await makeStore();
      const runId = await runningRun(store);
      await store.acquireTask({ runId, task: 'a', expectedVersion: 1, owner: 'p1', now: t(0), leaseMs: LEASE_MS });
      const released = await store.releaseAttempt({ runId, task: 'a', owner: 'p1', attempt: 1 }, { now: t(1), log: 'stopping\n' });
      expect(released).toMatchObject({ state: 'queued', attempt: 1, attemptOffset: 1, log: 'stopping\n' });
      expect(released!.leaseOwner).toBeUndefined();
    });

    it('clears tasks for a re-run and reopens a finished run', async () => {
      const store = await makeStore();
      const runId = await runningRun(store);
      await store.acquireTask({ runId, task: 'a', expectedVersion: 1, owner: 'p1', now: t(0), leaseMs: LEASE_MS });
      await store.completeAttempt({ runId, task: 'a', owner: 'p1', attempt: 1 }, { now: t(1), outcome: { state: 'failed', error: 'bad' }, log: 'log\n' });
      await store.settleTask(runId, 'b', 'upstream_failed', t(1));
      await store.finishRun(runId, 'failed', t(2));
      expect(await store.clearTasks(runId, ['a', 'nope'], t(3))).toBeUndefined();
      const cleared = await store.clearTasks(runId, ['a', 'b'], t(3));
      expect(cleared!.run.state).toBe('queued');
      expect(cleared!.tasks.map((task) => [task.state, task.attempt, task.attemptOffset, task.error])).toEqual([
        ['scheduled', 1, 1, undefined],
        ['scheduled', 0, 0, undefined],
      ]);
      expect(cleared!.tasks[0]!.log).toBe('log\n');
    });

    it('marks a task by hand, whatever its state, and reopens a finished run', async () => {
      const store = await makeStore();
      const runId = await runningRun(store, ['a']);
      await store.acquireTask({ runId, task: 'a', expectedVersion: 1, owner: 'p1', now: t(0), leaseMs: LEASE_MS });
      await store.completeAttempt({ runId, task: 'a', owner: 'p1', attempt: 1 }, { now: t(1), outcome: { state: 'success' }, log: '' });
      await store.finishRun(runId, 'success', t(1));
      expect(await store.markTask(runId, 'a', 'failed', t(2))).toMatchObject({ state: 'failed', error: 'marked failed by hand' });
      expect((await store.getRun(runId))!.state).toBe('running');
      expect(await store.markTask(runId, 'nope', 'failed', t(2))).toBeUndefined();
    });
  });
}
