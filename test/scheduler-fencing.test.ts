import { afterAll, describe, expect, it } from 'vitest';
import { DuckDBSchedulerStore, FENCED, Metastore, NotLeading, SchedulerLease, SharedCatalog, fenceStatement, type Leadership } from '../src/catalog/index.js';
import { Engine } from '../src/engine/index.js';
import { describeSchedulerStoreContract } from '../src/scheduler/store-contract.js';
import { createCatalogDatabase, postgresCatalogCanRun, type CatalogDatabase } from './support/postgres.js';

/**
 * The scheduler's store on a catalog shared in PostgreSQL (issue 20): only the leader writes,
 * and every write checks, inside its own transaction, that the leader lease's epoch is still the
 * writer's. Two stores in one process stand for two `tributary up` processes on one catalog.
 */
const canRun = await postgresCatalogCanRun();
const databases: CatalogDatabase[] = [];
const engines: Engine[] = [];
const leases: SchedulerLease[] = [];
afterAll(async () => {
  for (const lease of leases) await lease.close();
  for (const engine of engines) engine.closeAll();
  for (const database of databases) await database.drop();
});

async function catalog(): Promise<CatalogDatabase> {
  const database = await createCatalogDatabase();
  databases.push(database);
  return database;
}

/** A process's view of the catalog: its own DuckDB attaching the database, its metastore, its scheduler store. */
async function openStore(url: string): Promise<DuckDBSchedulerStore> {
  const engine = await Engine.open();
  engines.push(engine);
  const shared = new SharedCatalog(url);
  await shared.attach(engine);
  const metastore = await Metastore.open(await engine.fork(), { shared });
  return DuckDBSchedulerStore.open(metastore);
}

function lease(url: string, holder: string, ttlMs: number): SchedulerLease {
  const made = new SchedulerLease(url, holder, ttlMs);
  leases.push(made);
  return made;
}

const at = (seconds: number) => new Date(Date.UTC(2024, 0, 10, 6, 0, seconds));
const newRun = (seconds: number) => ({ job: 'job', kind: 'scheduled' as const, intervalStart: at(seconds), intervalEnd: at(seconds + 60), tasks: ['a'], now: at(seconds) });

/** Polls `condition` until it holds or `ms` pass. */
async function until(condition: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe.runIf(canRun)('the scheduler store on a shared catalog', () => {
  // A leading store on PostgreSQL is a SchedulerStore like any other: every transition and its precondition.
  describeSchedulerStoreContract('DuckDBSchedulerStore on PostgreSQL, leading', async () => {
    const { url } = await catalog();
    const store = await openStore(url);
    const taken = await lease(url, 'contract', 60_000).tryAcquire();
    await store.lead({ statement: fenceStatement(taken!), onLost: () => undefined });
    return store;
  });

  it('a process that does not lead writes nothing: refused before anything changes, in memory or in the catalog', async () => {
    const { url, query } = await catalog();
    const store = await openStore(url);
    expect(store.isLeading).toBe(false);
    await expect(store.createRun(newRun(0))).rejects.toBeInstanceOf(NotLeading);
    await expect(store.setPaused('job', true)).rejects.toBeInstanceOf(NotLeading);
    expect(await store.listRuns()).toEqual([]);
    expect(await store.getJobState('job')).toEqual({ job: 'job', paused: false });
    expect(await query('SELECT * FROM tributary.job_run_log')).toEqual([]);
  });

  it('one live lease at a time; a new epoch only once it has expired or was given up', async () => {
    const { url } = await catalog();
    const a = lease(url, 'a', 60_000);
    const b = lease(url, 'b', 60_000);
    const first = await a.tryAcquire();
    expect(first).toEqual({ holder: 'a', epoch: 1 });
    expect(await b.tryAcquire()).toBeUndefined();
    expect(await a.renew(first!)).toBe(true);
    expect(await b.leader()).toMatchObject({ holder: 'a', epoch: 1, live: true });
    await a.release(first!);
    const second = await b.tryAcquire();
    expect(second).toEqual({ holder: 'b', epoch: 2 });
    // The old epoch renews nothing, even for the same holder: it must take a new one.
    expect(await a.renew(first!)).toBe(false);
    expect(await a.tryAcquire()).toBeUndefined();
  });

  it('a deposed leader that is still alive cannot write: its write is refused by the fence, it is told, and the new leader starts from what the old one committed', async () => {
    const { url, query } = await catalog();
    const [oldStore, newStore] = [await openStore(url), await openStore(url)];
    // A short lease that the old leader (a paused process, say) fails to renew.
    const oldLease = lease(url, 'old', 300);
    const newLease = lease(url, 'new', 60_000);
    const oldEpoch = (await oldLease.tryAcquire())!;
    const lost: Error[] = [];
    await oldStore.lead({ statement: fenceStatement(oldEpoch), onLost: (error) => lost.push(error) });
    const { run } = await oldStore.createRun(newRun(0));
    expect(await oldStore.startRun(run.id, { maxActiveRuns: 1, now: at(1) })).toMatchObject({ state: 'running' });
    const acquired = await oldStore.acquireTask({ runId: run.id, task: 'a', expectedVersion: 1, owner: 'old', now: at(2), leaseMs: 30_000 });
    expect(acquired).toMatchObject({ state: 'running', attempt: 1, leaseOwner: 'old' });

    // The old lease expires unrenewed; the standby takes the next epoch and reads the state afresh.
    let newEpoch: Leadership | undefined;
    await until(async () => (newEpoch = await newLease.tryAcquire()) !== undefined);
    expect(newEpoch!.epoch).toBe(oldEpoch.epoch + 1);
    await newStore.lead({ statement: fenceStatement(newEpoch!), onLost: () => undefined });
    expect((await newStore.listTasks(run.id))[0]).toMatchObject({ state: 'running', attempt: 1, leaseOwner: 'old' });

    // The old leader wakes and completes its attempt: refused, and nothing of it reaches the catalog.
    await expect(oldStore.completeAttempt({ runId: run.id, task: 'a', owner: 'old', attempt: 1 }, { now: at(3), outcome: { state: 'success' }, log: 'done\n' })).rejects.toThrow(FENCED);
    expect(lost).toHaveLength(1);
    expect(oldStore.isLeading).toBe(false);
    // It stands by now: its next write is refused before it changes anything.
    await expect(oldStore.createRun(newRun(60))).rejects.toBeInstanceOf(NotLeading);
    const latest = await query<{ state: string; lease_owner: string | null }>(
      `SELECT state, lease_owner FROM tributary.task_instance_log WHERE run_id = '${run.id}' ORDER BY seq DESC LIMIT 1`,
    );
    expect(latest).toEqual([{ state: 'running', lease_owner: 'old' }]);

    // The new leader ends the dead attempt as any expired one (retried per policy), and goes on.
    const expired = await newStore.expireAttempt({
      runId: run.id, task: 'a', attempt: 1, caller: 'new', now: at(40), outcome: { state: 'up_for_retry', error: 'gone', nextAttemptAt: at(41) }, log: 'expired\n',
    });
    expect(expired).toMatchObject({ state: 'up_for_retry', attempt: 1 });
    const retried = await newStore.acquireTask({ runId: run.id, task: 'a', expectedVersion: expired!.version, owner: 'new', now: at(42), leaseMs: 30_000 });
    expect(retried).toMatchObject({ state: 'running', attempt: 2, leaseOwner: 'new' });
    // A third process opening the catalog sees exactly the new leader's state.
    const reader = await openStore(url);
    expect((await reader.listTasks(run.id))[0]).toMatchObject({ state: 'running', attempt: 2, leaseOwner: 'new' });
  });

  it('a takeover waits for the old leader’s write in flight: the write and the takeover are serial, never interleaved', async () => {
    const { url } = await catalog();
    const store = await openStore(url);
    const oldLease = lease(url, 'old', 300);
    const oldEpoch = (await oldLease.tryAcquire())!;
    await store.lead({ statement: fenceStatement(oldEpoch), onLost: () => undefined });
    await until(async () => (await oldLease.leader())?.live === false);
    // Many writes race one takeover: each either committed before it (epoch still the old one) or was refused after it.
    const writes = Array.from({ length: 20 }, (_, i) => store.createRun(newRun(i * 60)).then(() => 'ok' as const, (error: Error) => (error.message.includes(FENCED) || error instanceof NotLeading ? 'refused' : error.message)));
    const takeover = lease(url, 'new', 60_000).tryAcquire();
    const outcomes = await Promise.all(writes);
    expect(await takeover).toMatchObject({ epoch: oldEpoch.epoch + 1 });
    expect(outcomes.every((o) => o === 'ok' || o === 'refused')).toBe(true);
    const reader = await openStore(url);
    // What was acknowledged is in the catalog; nothing refused is.
    expect((await reader.listRuns()).length).toBe(outcomes.filter((o) => o === 'ok').length);
  });
});
