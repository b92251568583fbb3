import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, CLICKSTREAM, ECOMMERCE_SAMPLE, tempDir, REPO } from './helpers.js';
import { freePort } from './services.js';
import { createCatalogDatabase, postgresCatalogCanRun, type CatalogDatabase } from './support/postgres.js';

/**
 * A backfill spread over the processes of a shared catalog (issue 20): one `tributary up` leads
 * the scheduler, two `tributary worker` processes take its model runs from the catalog's work
 * queue. The clickstream example's `daily` job is backfilled over six days of its own sample; each
 * day's `events` partition must hold exactly that day's rows of the CSV (counted here, from the
 * file), every run must succeed once, and the work must have been done by the workers, as the
 * catalog's queue records it. A worker killed with SIGKILL while it holds a model run: its attempt
 * fails when its heartbeat stops and the task is retried, with the numbers still exact.
 */
const canRun = await postgresCatalogCanRun();
const catalogs: CatalogDatabase[] = [];
const children: ChildProcess[] = [];
afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  for (const made of catalogs) await made.drop();
});

const DAYS = ['2019-11-01', '2019-11-02', '2019-11-03', '2019-11-04', '2019-11-05', '2019-11-06'];

/** The example as it is, except that its daily job may run three days at once (a backfill's default is one) and retries sooner. */
function project(): string {
  const dir = tempDir();
  cpSync(CLICKSTREAM, dir, { recursive: true, filter: (source) => !/node_modules|\.tributary/.test(source) });
  const config = path.join(dir, 'tributary.config.ts');
  const text = readFileSync(config, 'utf8');
  expect(text).toContain('daily: defineJob({');
  expect(text).toContain('retryDelaySeconds: 30');
  writeFileSync(config, text.replace('daily: defineJob({', 'daily: defineJob({\n      maxActiveRuns: 3,').replace('retryDelaySeconds: 30', 'retryDelaySeconds: 1'));
  return dir;
}

interface Proc {
  child: ChildProcess;
  output(): string;
}

function start(args: string[], env: Record<string, string>): Proc {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: REPO,
    env: { ...process.env, FORCE_COLOR: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  return { child, output: () => output };
}

function finished(proc: Proc): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => proc.child.on('close', (code) => resolve({ code, output: proc.output() })));
}

/** Each day's rows in the sample, counted from the file itself. */
function sampleRowsPerDay(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of readFileSync(ECOMMERCE_SAMPLE, 'utf8').trim().split('\n').slice(1)) {
    const day = line.slice(0, 10);
    counts.set(day, (counts.get(day) ?? 0) + 1);
  }
  return counts;
}

type WorkRow = { taker: string | null; state: string; label: string };

describe.skipIf(!canRun)('model runs shared by the workers of a catalog in PostgreSQL', () => {
  it('a six-day backfill is run by the workers: every day exactly once, each run once, a killed worker’s run retried', async () => {
    const catalog = await createCatalogDatabase();
    catalogs.push(catalog);
    const dir = project();
    const lake = tempDir();
    const leaderData = tempDir();
    // A worker that dies is noticed when its heartbeat stops; its retry waits no longer than a test needs.
    const env = { TRIBUTARY_CATALOG: catalog.url, TRIBUTARY_LAKE: lake, TRIBUTARY_SCHEDULER_LEASE_SECONDS: '5' };
    const port = await freePort();
    const up = start(['up', '--project', dir, '--data-dir', leaderData, '--port', String(port)], env);
    await expect
      .poll(() => fetch(`http://127.0.0.1:${port}/api/scheduler`).then((r) => (r.ok ? r.json() : undefined), () => undefined), { timeout: 90_000, interval: 250 })
      .toMatchObject({ role: 'leader' })
      .catch((error: unknown) => {
        throw new Error(`tributary up did not lead; its output:\n${up.output()}`, { cause: error });
      });
    const workers = [start(['worker', '--project', dir, '--data-dir', tempDir()], env), start(['worker', '--project', dir, '--data-dir', tempDir()], env)];
    for (const worker of workers) {
      await expect.poll(() => worker.output(), { timeout: 90_000, interval: 250 }).toContain('takes the scheduler');
      // The example's live job reads the embedded log, which only the process with the collector has.
      expect(worker.output()).toContain('clickstream_live: its log input belongs to the process that reads it (a collector’s log, a spool folder): left to `tributary up`');
    }
    // There it reads its own log under offsets of its own: another `up` with a log of its own commits apart.
    const status = (await (await fetch(`http://127.0.0.1:${port}/v1/status`)).json()) as { jobs: { job: string; group: string }[] };
    expect(status.jobs.map((j) => j.job)).toEqual(['clickstream_live']);
    expect(status.jobs[0]!.group).toMatch(/^clickstream_live@.+:.+/);
    const members = async () => (await catalog.query<{ member: string }>(`SELECT member FROM tributary.stream_members WHERE grp = 'tributary:batch'`)).map((r) => r.member);
    await expect.poll(async () => (await members()).length, { timeout: 15_000 }).toBe(3);

    // The backfill goes to the running server (the leader), as any command in its data folder does.
    const backfill = start(['backfill', 'daily', '--from', DAYS[0]!, '--to', DAYS.at(-1)!, '--project', dir, '--data-dir', leaderData], env);
    const asked = await finished(backfill);
    expect(asked.code, asked.output).toBe(0);

    // SIGKILL the first worker seen holding a day's `events` run (a task with retries): which of the
    // two takes the work first is theirs to decide, so the victim is whichever does.
    const pidOf = (member: string) => Number(member.split(':')[1]);
    const holder = async () => {
      const taken = await catalog.query<WorkRow>(`SELECT taker, state, label FROM tributary.work_items WHERE state = 'taken' AND label LIKE 'daily.events %'`);
      return workers.findIndex((worker) => taken.some((w) => pidOf(w.taker!) === worker.child.pid));
    };
    let held = -1;
    await expect.poll(async () => (held = await holder()), { timeout: 60_000, interval: 50 }).toBeGreaterThanOrEqual(0);
    const victim = workers[held]!;
    const survivor = workers[1 - held]!;
    victim.child.kill('SIGKILL');

    const runStates = async () =>
      catalog.query<{ id: string; state: string }>(`SELECT DISTINCT ON (id) id, state FROM tributary.job_run_log WHERE job = 'daily' ORDER BY id, seq DESC`);
    await expect
      .poll(async () => (await runStates()).map((r) => r.state), { timeout: 110_000, interval: 500 })
      .toEqual(DAYS.map(() => 'success'))
      .catch((error: unknown) => {
        throw new Error(`the backfill did not finish; leader:\n${up.output().slice(-4000)}\nworker:\n${survivor.output().slice(-3000)}`, { cause: error });
      });

    // Every day of the lake holds that day's rows of the file, once; no other day.
    const expected = sampleRowsPerDay();
    const query = start(['sql', "SELECT CAST(dt AS VARCHAR) AS dt, count(*)::INTEGER AS n FROM events GROUP BY dt ORDER BY dt", '--format', 'json', '--project', dir, '--data-dir', leaderData], env);
    const answered = await finished(query);
    expect(answered.code, answered.output).toBe(0);
    expect(JSON.parse(answered.output.slice(answered.output.indexOf('[')))).toEqual(DAYS.map((day) => ({ dt: day, n: expected.get(day) })));

    // The work as the catalog's queue records it: taken by both workers, and the killed one's run cancelled, then retried.
    const work = await catalog.query<WorkRow>(`SELECT taker, state, label FROM tributary.work_items`);
    const doneBy = new Set(work.filter((w) => w.state === 'done').map((w) => pidOf(w.taker!)));
    expect(doneBy.has(survivor.child.pid!), JSON.stringify(work)).toBe(true);
    const killed = work.filter((w) => w.taker && pidOf(w.taker) === victim.child.pid && w.state !== 'done');
    expect(killed.map((w) => w.state), JSON.stringify(work)).toEqual(['cancelled']);
    const attempts = await catalog.query<{ run_id: string; task: string; attempt: number; state: string; error: string | null }>(
      `SELECT run_id, task, attempt, state, error FROM tributary.task_attempts ORDER BY run_id, task, attempt`,
    );
    const failed = attempts.filter((a) => a.state !== 'success');
    expect(failed.length, JSON.stringify(attempts)).toBe(1);
    expect(failed[0]!.error).toContain('stopped heartbeating');
    // Twelve model tasks and six checks, each successful once.
    expect(attempts.filter((a) => a.state === 'success').map((a) => `${a.run_id}/${a.task}`).sort()).toEqual(
      DAYS.flatMap((day) => ['aggregates', 'checks', 'events'].map((task) => `daily__${day}T00:00:00.000Z/${task}`)).sort(),
    );

    up.child.kill('SIGTERM');
    survivor.child.kill('SIGTERM');
    await Promise.all([finished(up), finished(survivor)]);
  }, 240_000);
});
