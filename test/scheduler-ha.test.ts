import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, tempDir, REPO, writeTree } from './helpers.js';
import { freePort } from './services.js';
import { createCatalogDatabase, postgresCatalogCanRun, type CatalogDatabase } from './support/postgres.js';

/**
 * Two `tributary up` processes on one catalog in PostgreSQL (issue 20): one leads the scheduler,
 * the other stands by. Every due run is created and executed once; after `kill -9` of the leader,
 * the standby takes over, the run the dead leader had running is retried per its policy and
 * finishes once, and the next due runs happen. Counted in the catalog (runs, task attempts, the
 * logs' sequence numbers) and by the task's own side effect (a line per execution in a file).
 */
const canRun = await postgresCatalogCanRun();
let catalog: CatalogDatabase | undefined;
const catalogs: CatalogDatabase[] = [];
const children: ChildProcess[] = [];
afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  for (const made of catalogs) await made.drop();
});

const LEASE_SECONDS = 3;

function project(): string {
  return writeTree({
    'tributary.config.ts': `import { defineJob, defineProject } from 'tributary';
export default defineProject({
  name: 'ha',
  jobs: {
    ticks: defineJob({
      // A run every two seconds; runs missed while no process leads are made by the next leader.
      schedule: '*/2 * * * * *',
      catchup: true,
      defaults: { retries: 3, retryDelaySeconds: 0.2 },
      tasks: { work: { kind: 'function', module: 'tasks/work.ts', export: 'work' } },
    }),
  },
});
`,
    // The task's side effect: a line per execution that finished, naming its interval, process and attempt.
    // With HA_HOLD/arm present, one execution takes the file away (only one can), says so by a file naming
    // its process, and holds until that process dies: the moment the test kills the leader.
    'tasks/work.ts': `import { appendFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
export async function work(ctx) {
  const hold = process.env.HA_HOLD;
  let held = false;
  try {
    renameSync(join(hold, 'arm'), join(hold, 'taken.' + process.pid));
    held = true;
  } catch {}
  if (held) {
    writeFileSync(join(hold, 'held.' + process.pid), ctx.interval.start.toISOString());
    await new Promise(() => {});
  }
  appendFileSync(process.env.HA_EFFECTS, ctx.interval.start.toISOString() + ' ' + process.pid + ' ' + ctx.attempt + '\\n');
  return { pid: process.pid };
}
`,
  });
}

interface Up {
  child: ChildProcess;
  port: number;
  stderr(): string;
}

function start(dir: string, env: Record<string, string>): Promise<Up> {
  return freePort().then((port) => {
    const child = spawn(process.execPath, [CLI, 'up', '--project', dir, '--data-dir', tempDir(), '--port', String(port)], {
      cwd: REPO,
      env: { ...process.env, FORCE_COLOR: '0', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    children.push(child);
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    return { child, port, stderr: () => stderr };
  });
}

/** A CLI command in its own process, without blocking this one (the servers' output keeps flowing). */
function command(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: REPO, env: { ...process.env, FORCE_COLOR: '0', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function healthy(up: Up): Promise<void> {
  await expect
    .poll(() => fetch(`http://127.0.0.1:${up.port}/healthz`).then((r) => r.ok, () => false), { timeout: 90_000, interval: 200 })
    .toBe(true)
    .catch((error: unknown) => {
      throw new Error(`tributary up did not come up on port ${up.port}; its stderr:\n${up.stderr()}`, { cause: error });
    });
}

interface Leadership {
  role: 'leader' | 'standby';
  holder: string;
  leader?: { holder: string; epoch: number; url: string | null; live: boolean };
}

async function leadership(up: Up): Promise<Leadership | undefined> {
  return fetch(`http://127.0.0.1:${up.port}/api/scheduler`).then(
    (r) => r.json() as Promise<Leadership>,
    () => undefined,
  );
}

type RunRow = {
  id: string;
  state: string;
  start: string;
  end: string;
};

/** Runs as the catalog holds them (the latest row of each), oldest interval first. */
async function runs(): Promise<RunRow[]> {
  const rows = await catalog!.query<RunRow>(
    `SELECT DISTINCT ON (id) id, state, to_char(interval_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS start,
            to_char(interval_end AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "end"
     FROM tributary.job_run_log ORDER BY id, seq DESC`,
  );
  return rows.sort((a, b) => a.start.localeCompare(b.start));
}

async function attempts(): Promise<{ run_id: string; attempt: number; state: string }[]> {
  return catalog!.query<{ run_id: string; attempt: number; state: string }>(`SELECT run_id, attempt, state FROM tributary.task_attempts ORDER BY run_id, attempt`);
}

/** Executions that finished, by interval start: the task's own record of what it did. */
function effects(file: string): Map<string, { pid: string; attempt: number }[]> {
  const byInterval = new Map<string, { pid: string; attempt: number }[]>();
  if (!existsSync(file)) return byInterval;
  for (const line of readFileSync(file, 'utf8').trim().split('\n').filter(Boolean)) {
    const [start, pid, attempt] = line.split(' ');
    byInterval.set(start!, [...(byInterval.get(start!) ?? []), { pid: pid!, attempt: Number(attempt) }]);
  }
  return byInterval;
}

/** Every interval from the first run to the last has exactly one run, and consecutive runs meet. */
function expectContiguous(all: RunRow[]): void {
  expect(new Set(all.map((r) => r.start)).size).toBe(all.length);
  for (let i = 1; i < all.length; i++) expect(all[i]!.start, `gap or overlap before run ${all[i]!.id}`).toBe(all[i - 1]!.end);
}

/** Two `up` processes on a new catalog, both started at once; resolves once one leads and the other stands by. */
async function pair() {
  catalog = await createCatalogDatabase();
  catalogs.push(catalog);
  const dir = project();
  const hold = tempDir('ha-hold-');
  const effectsFile = path.join(tempDir('ha-effects-'), 'effects.log');
  const env = {
    TRIBUTARY_CATALOG: catalog.url,
    TRIBUTARY_LAKE: path.join(tempDir('ha-lake-'), 'lake'),
    TRIBUTARY_SCHEDULER_LEASE_SECONDS: String(LEASE_SECONDS),
    HA_HOLD: hold,
    HA_EFFECTS: effectsFile,
  };
  // Both at once: whichever takes the lease first leads.
  const both = await Promise.all([start(dir, env), start(dir, env)]);
  await Promise.all(both.map(healthy));
  let roles: (Leadership | undefined)[] = [];
  await expect.poll(async () => (roles = await Promise.all(both.map(leadership))).map((r) => r?.role).sort(), { timeout: 30_000 }).toEqual(['leader', 'standby']);
  const leader = both[roles.findIndex((r) => r?.role === 'leader')]!;
  const standby = both.find((up) => up !== leader)!;
  // Both name the same leader, the one that says it leads.
  expect(roles[0]!.leader?.holder).toBe(roles[1]!.leader?.holder);
  expect(roles[0]!.leader?.holder).toBe((await leadership(leader))!.holder);
  return { leader, standby, epoch: roles[0]!.leader!.epoch, hold, effectsFile, dir, env };
}

/** Checks over the whole history: no interval missed or run twice, every finished run's work done once, no attempt recorded twice, one writer at a time. */
async function expectEachRunOnce(effectsFile: string): Promise<RunRow[]> {
  const all = await runs();
  expectContiguous(all);
  const finished = effects(effectsFile);
  for (const run of all.filter((r) => r.state === 'success')) expect(finished.get(run.start), run.id).toHaveLength(1);
  expect([...finished.values()].every((list) => list.length === 1)).toBe(true);
  const seen = new Set<string>();
  for (const a of await attempts()) {
    expect(seen.has(`${a.run_id}#${a.attempt}`), `${a.run_id} attempt ${a.attempt} recorded twice`).toBe(false);
    seen.add(`${a.run_id}#${a.attempt}`);
  }
  // The logs' sequence numbers are each leader's own counter, started after what it read: they never collide.
  const collisions = await catalog!.query(
    `SELECT seq FROM (SELECT seq FROM tributary.job_run_log UNION ALL SELECT seq FROM tributary.task_instance_log) s GROUP BY seq HAVING count(*) > 1`,
  );
  expect(collisions).toEqual([]);
  return all;
}

describe.runIf(canRun)('two `tributary up` processes on one catalog in PostgreSQL', () => {
  it('one leads: each due run is created and executed once; a change sent to the standby is refused, naming the leader; kill -9 of the leader: the other takes over, retries the run it had running, and runs the next ones', async () => {
    const { leader, standby, epoch, hold, effectsFile, dir, env } = await pair();
    // Several due runs, each once.
    await expect.poll(async () => (await runs()).filter((r) => r.state === 'success').length, { timeout: 60_000, interval: 250 }).toBeGreaterThanOrEqual(5);
    const before = await runs();
    expectContiguous(before);
    const done = effects(effectsFile);
    for (const run of before.filter((r) => r.state === 'success')) {
      expect(done.get(run.start), run.id).toEqual([{ pid: String(leader.child.pid), attempt: 1 }]);
    }
    expect((await attempts()).filter((a) => before.some((r) => r.id === a.run_id && r.state === 'success')).every((a) => a.attempt === 1 && a.state === 'success')).toBe(true);
    expect(standby.stderr()).not.toMatch(/this process leads the scheduler/);

    // A change sent to the standby's server is refused, naming the leader's, not forwarded: nothing changes.
    const refused = await command(['pause', 'ticks', '--project', dir, '--server', `http://127.0.0.1:${standby.port}`], env);
    expect(refused.code, refused.stderr).toBe(1);
    expect(refused.stderr).toContain(`this server stands by: the scheduler of the shared catalog is led by`);
    expect(refused.stderr).toContain(`--server http://127.0.0.1:${leader.port}`);
    expect(await catalog!.query(`SELECT job FROM tributary.job_state WHERE paused`)).toEqual([]);

    // The leader's next execution holds; kill -9 under it.
    writeFileSync(path.join(hold, 'arm'), '');
    await expect.poll(() => readdirSync(hold).filter((f) => f.startsWith('held.')), { timeout: 30_000, interval: 100 }).toEqual([`held.${leader.child.pid}`]);
    const heldStart = readFileSync(path.join(hold, `held.${leader.child.pid}`), 'utf8');
    const heldRun = (await runs()).find((r) => r.start === heldStart)!;
    expect(heldRun.state).toBe('running');
    leader.child.kill('SIGKILL');
    await once(leader.child, 'exit');
    const killedAt = Date.now();

    // The standby takes over once the dead leader's lease has run out, under the next epoch.
    await expect.poll(async () => (await leadership(standby))?.role, { timeout: 30_000, interval: 200 }).toBe('leader');
    const now = (await leadership(standby))!;
    expect(now.leader).toMatchObject({ holder: now.holder, epoch: epoch + 1, live: true });
    // The run the dead leader had running: its attempt expired with its task lease, retried here, finished once.
    await expect.poll(async () => (await runs()).find((r) => r.id === heldRun.id)?.state, { timeout: 60_000, interval: 250 }).toBe('success');
    expect((await attempts()).filter((a) => a.run_id === heldRun.id).map((a) => [a.attempt, a.state])).toEqual([
      [1, 'up_for_retry'],
      [2, 'success'],
    ]);
    expect(effects(effectsFile).get(heldStart)).toEqual([{ pid: String(standby.child.pid), attempt: 2 }]);
    // The next due runs happen, under the new leader.
    await expect
      .poll(async () => (await runs()).filter((r) => r.state === 'success' && Date.parse(r.end) > killedAt + LEASE_SECONDS * 1000).length, { timeout: 60_000, interval: 250 })
      .toBeGreaterThanOrEqual(3);

    standby.child.kill('SIGTERM');
    await once(standby.child, 'exit');
    const all = await expectEachRunOnce(effectsFile);
    // The standby said it took over; the dead leader's runs are all settled.
    expect(standby.stderr()).toMatch(/this process leads the scheduler/);
    expect(all.filter((r) => r.state !== 'success' && Date.parse(r.end) <= killedAt)).toEqual([]);
  }, 300_000);

  it('a leader paused past its lease (SIGSTOP) is deposed: on waking it writes nothing, stops scheduling and stands by; the runs go on once each', async () => {
    const { leader, standby, epoch, effectsFile, dir, env } = await pair();
    await expect.poll(async () => (await runs()).filter((r) => r.state === 'success').length, { timeout: 60_000, interval: 250 }).toBeGreaterThanOrEqual(3);
    // Paused between executions: an attempt paused mid-way would run on when the process wakes, its
    // side effect done twice (once by it, once by its retry), as any task whose lease was lost is.
    await expect
      .poll(async () => {
        const latest = await catalog!.query(`SELECT DISTINCT ON (run_id, task) state FROM tributary.task_instance_log ORDER BY run_id, task, seq DESC`);
        return latest.every((t) => t.state !== 'running' && t.state !== 'queued') && Date.now() % 2000 > 200 && Date.now() % 2000 < 1200;
      }, { timeout: 30_000, interval: 50 })
      .toBe(true);
    leader.child.kill('SIGSTOP');
    await expect.poll(async () => (await leadership(standby))?.role, { timeout: 30_000, interval: 200 }).toBe('leader');
    expect((await leadership(standby))!.leader).toMatchObject({ epoch: epoch + 1 });
    const tookOverAt = Date.now();
    // Awake again, the old leader finds its epoch over (a renewal or a write refused by the fence) and stands by.
    leader.child.kill('SIGCONT');
    await expect.poll(async () => (await leadership(leader))?.role, { timeout: 30_000, interval: 200 }).toBe('standby');
    expect(leader.stderr()).toMatch(/this process stops leading the scheduler/);
    await expect
      .poll(async () => (await runs()).filter((r) => r.state === 'success' && Date.parse(r.start) > tookOverAt).length, { timeout: 60_000, interval: 250 })
      .toBeGreaterThanOrEqual(3);
    // It stays a standby: the runs after the takeover were all done by the new leader.
    const finished = effects(effectsFile);
    for (const run of (await runs()).filter((r) => r.state === 'success' && Date.parse(r.start) > tookOverAt)) {
      expect(finished.get(run.start)?.map((e) => e.pid), run.id).toEqual([String(standby.child.pid)]);
    }
    expect((await leadership(leader))!.role).toBe('standby');
    // Other commands on the shared catalog say who leads; one that must run the scheduler itself is refused, naming the leader.
    const url = `http://127.0.0.1:${standby.port}`;
    const jobs = await command(['jobs', '--project', dir, '--data-dir', tempDir()], env);
    expect(jobs.code, jobs.stderr).toBe(0);
    expect(jobs.stderr).toMatch(new RegExp(`scheduler led by \\S+:${standby.child.pid}:\\S+ at ${url} \\(epoch ${epoch + 1}, since [^)]+\\); this process: standby`));
    const trigger = await command(['trigger', 'ticks', '--project', dir, '--data-dir', tempDir()], env);
    expect(trigger.code).toBe(1);
    expect(trigger.stderr).toContain(`the scheduler is led by another process`);
    expect(trigger.stderr).toContain(`at ${url}`);
    for (const up of [leader, standby]) {
      up.child.kill('SIGTERM');
      await once(up.child, 'exit');
    }
    await expectEachRunOnce(effectsFile);
  }, 300_000);
});
