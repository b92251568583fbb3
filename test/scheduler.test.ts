import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli, CLI, ECOMMERCE_SAMPLE, tempDir, REPO, writeTree } from './helpers.js';
import { freePort } from './services.js';

/**
 * The scheduler as a user runs it: `tributary up` in its own process, a daily job whose sensor
 * waits for the day's file in a drop folder, the day's load, a reconciliation against the file's
 * row count, and notifications to a local HTTP server playing Slack's incoming webhook.
 */
const [HEADER, ...ROWS] = readFileSync(ECOMMERCE_SAMPLE, 'utf8').trim().split('\n');
const DAYS = ['2019-11-01', '2019-11-02', '2019-11-03'];
const rowsOf = (day: string) => ROWS.filter((r) => r.startsWith(day));

function project(extraJobs = ''): string {
  return writeTree({
    'tributary.config.ts': `import { defineJob, defineProject } from 'tributary';
const slack = [{ urlEnv: 'SLACK_URL', message: '{{ job }}.{{ task }} {{ ds }} {{ state }}' }];
export default defineProject({
  name: 'scheduled',
  sources: {
    clicks: {
      format: 'csv',
      path: 'drops/{ds}.csv',
      columns: { event_time: 'TIMESTAMP', event_type: 'VARCHAR', product_id: 'BIGINT', category_id: 'BIGINT', category_code: 'VARCHAR',
                 brand: 'VARCHAR', price: 'DECIMAL(12,2)', user_id: 'BIGINT', user_session: 'VARCHAR' },
      csv: { timestampFormat: '%Y-%m-%d %H:%M:%S UTC' },
    },
  },
  models: {
    events: { sql: "SELECT * FROM {{ source('clicks') }}", materialize: 'lake', partitionBy: { dt: 'CAST(event_time AS DATE)' } },
    daily_counts: { sql: "SELECT dt, count(*) AS n FROM {{ ref('events') }} GROUP BY 1", materialize: 'table' },
  },
  jobs: {
    daily: defineJob({
      schedule: '@daily',
      start: '${DAYS[0]}',
      end: '${DAYS.at(-1)}',
      catchup: true,
      // Several days may wait for their files at once: a waiting sensor holds no worker slot.
      maxActiveRuns: 3,
      // An attempt that dies with its process is retried, as any failed attempt is.
      // More retries than the kill test's six kills: a slow machine can catch the same task in each.
      defaults: { retries: 8, retryDelaySeconds: 0.1 },
      onFailure: [{ urlEnv: 'SLACK_URL', message: 'FAILED {{ job }} {{ ds }}: {{ error }}' }],
      tasks: {
        wait: { kind: 'sensor', files: 'drops/{{ ds }}.csv', pokeSeconds: 0.2, timeoutSeconds: 600, onSuccess: slack },
        load: { kind: 'models', select: ['events+'], after: ['wait'], onSuccess: slack },
        pause: { kind: 'function', module: 'tasks/slow.ts', export: 'pause', after: ['load'] },
        reconcile: {
          kind: 'reconcile',
          after: ['pause'],
          source: { files: 'drops/{{ ds }}.csv', header: true },
          target: { sql: 'SELECT count(*) FROM events WHERE dt = {{ ds }}' },
          onSuccess: slack,
        },
      },
    }),
    ${extraJobs}
  },
});
`,
    // A task between the load and the reconciliation. Under HOLD_PAUSE (a folder) it says it is
    // running, by a file named after its day and its process, then holds until the process dies:
    // the moment the kill test waits for.
    'tasks/slow.ts': `import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
export async function pause(ctx) {
  if (process.env.KILL_DURING_DAY === ctx.interval.ds) process.kill(process.pid, 'SIGKILL');
  if (process.env.HOLD_PAUSE) {
    writeFileSync(join(process.env.HOLD_PAUSE, ctx.interval.ds + '.' + process.pid), '');
    await new Promise(() => {});
  }
  return { paused: true };
}
export async function flaky() { throw new Error('the upstream API answered 503'); }
`,
    'drops/.keep': '',
  });
}

function drop(dir: string, day: string): void {
  writeFileSync(path.join(dir, 'drops', `${day}.csv`), `${[HEADER, ...rowsOf(day)].join('\n')}\n`);
}

/** A local server playing Slack's incoming webhook: it keeps every JSON body it receives. */
async function slackReceiver(): Promise<{ url: string; messages: { text: string }[]; close(): void }> {
  const messages: { text: string }[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      messages.push(JSON.parse(body) as { text: string });
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/services/T000/B000/XXX`, messages, close: () => server.close() };
}

/** `tributary up` in its own process, from source, the way a user's shell starts it; its stderr kept. */
function start(dir: string, dataDir: string, port: number, env: Record<string, string>): ChildProcess & { stderr(): string } {
  const child = spawn(process.execPath, [CLI, 'up', '--project', dir, '--data-dir', dataDir, '--port', String(port)], {
    cwd: REPO,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  return Object.assign(child, { stderr: () => stderr });
}

/** `tributary up`, once it answers. */
async function up(dir: string, dataDir: string, port: number, env: Record<string, string>): Promise<ChildProcess> {
  const child = start(dir, dataDir, port, env);
  const stderr = () => child.stderr();
  await expect
    .poll(() => fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false), { timeout: 60_000 })
    .toBe(true)
    .catch((error: unknown) => {
      throw new Error(`tributary up did not come up on port ${port}; its stderr:\n${stderr()}`, { cause: error });
    });
  return child;
}

interface RunView {
  id: string;
  ds: string;
  state: string;
  tasks: { task: string; state: string; attempt: number }[];
}

async function runs(port: number, job = 'daily'): Promise<RunView[]> {
  const response = await fetch(`http://127.0.0.1:${port}/api/jobs/${job}/runs?limit=50`);
  return ((await response.json()) as { runs: RunView[] }).runs;
}

function sql<T>(dir: string, dataDir: string, query: string): T[] {
  const result = cli(['sql', query, '--project', dir, '--data-dir', dataDir, '--format', 'json']);
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as T[];
}

const cleanups: (() => void)[] = [];
afterAll(() => cleanups.forEach((c) => c()));

describe('the scheduler, run by tributary up', () => {
  it('waits for each day’s file, loads it, reconciles it with the file and tells Slack at each step; catchup makes exactly the missed intervals', async () => {
    const slack = await slackReceiver();
    cleanups.push(slack.close);
    const dir = project();
    const dataDir = tempDir();
    const port = await freePort();
    drop(dir, DAYS[0]!);
    let server = await up(dir, dataDir, port, { SLACK_URL: slack.url });
    cleanups.push(() => server.kill('SIGKILL'));
    // Catchup: one run per interval from the start to the end, no more.
    await expect.poll(async () => (await runs(port)).map((r) => r.ds).sort(), { timeout: 60_000 }).toEqual(DAYS);
    await expect.poll(async () => (await runs(port)).find((r) => r.ds === DAYS[0])?.state, { timeout: 60_000 }).toBe('success');
    // The other days wait in their sensor, holding no worker slot, until their file arrives.
    const waitStates = async () => (await runs(port)).filter((r) => r.ds !== DAYS[0]).map((r) => r.tasks.find((t) => t.task === 'wait')?.state);
    await expect.poll(waitStates).toEqual(['up_for_reschedule', 'up_for_reschedule']);
    for (const day of DAYS.slice(1)) drop(dir, day);
    await expect.poll(async () => (await runs(port)).map((r) => r.state), { timeout: 60_000 }).toEqual(['success', 'success', 'success']);

    // Each day's load holds exactly that day's rows of the file.
    const counts = sql<{ dt: string; n: string }>(dir, dataDir, 'SELECT dt::VARCHAR AS dt, count(*) AS n FROM events GROUP BY 1 ORDER BY 1');
    expect(counts).toEqual(DAYS.map((day) => ({ dt: day, n: String(rowsOf(day).length) })));
    // Slack heard of every step, with the run's facts in the message.
    for (const day of DAYS) {
      for (const task of ['wait', 'load', 'reconcile']) expect(slack.messages.map((m) => m.text)).toContain(`daily.${task} ${day} success`);
    }
    // The reconciliation compared the file's rows with the table's, and said so.
    const detail = (await (await fetch(`http://127.0.0.1:${port}/api/jobs/daily/runs/${(await runs(port))[0]!.id}/tasks/reconcile`)).json()) as { log: string };
    expect(detail.log).toMatch(/source rows = \d+, target rows = \d+ \(difference \+0/);

    // The jobs page's operations check their bodies as the command API does: 400, naming the field, and nothing runs.
    const task = `/api/jobs/daily/runs/${(await runs(port))[0]!.id}/tasks/reconcile`;
    const refused: [string, string, RegExp][] = [
      ['/api/jobs/daily/trigger', 'null', /^trigger: expected an object, got null$/],
      ['/api/jobs/daily/trigger', '{"date": "2024-02-30"}', /^trigger: date: expected a day of the calendar like 2019-11-05, got '2024-02-30'$/],
      ['/api/jobs/daily/trigger', '{"day": "2024-02-01"}', /^trigger: unknown key `day`: remove it or check the spelling$/],
      [`${task}/mark`, '{"state": "done"}', /^mark: state: expected one of 'success', 'failed', got 'done'$/],
      [`${task}/clear`, '{"downstream": "yes"}', /^clear: downstream: expected a boolean, got 'yes'$/],
      [`${task}/clear`, '{not json', /^clear: expected a JSON body$/],
    ];
    for (const [url, body, error] of refused) {
      const answer = await fetch(`http://127.0.0.1:${port}${url}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      expect(answer.status, `${url} ${body}`).toBe(400);
      expect(((await answer.json()) as { error: string }).error, `${url} ${body}`).toMatch(error);
    }
    expect((await runs(port)).map((r) => `${r.ds} ${r.state}`).sort()).toEqual(DAYS.map((day) => `${day} success`));

    // A restart finds nothing missed: still one run per interval, and nothing written twice.
    server.kill('SIGTERM');
    await once(server, 'exit');
    server = await up(dir, dataDir, port, { SLACK_URL: slack.url });
    expect((await runs(port)).map((r) => r.ds).sort()).toEqual(DAYS);
    server.kill('SIGTERM');
    await once(server, 'exit');
    const loads = sql<{ n: string }>(dir, dataDir, 'SELECT count(*) AS n FROM events');
    expect(Number(loads[0]!.n)).toBe(DAYS.reduce((s, d) => s + rowsOf(d).length, 0));
    const history = JSON.parse(cli(['runs', '--model', 'events', '--project', dir, '--data-dir', dataDir, '--format', 'json', '--limit', '100']).stdout) as { status: string }[];
    expect(history.filter((r) => r.status === 'success')).toHaveLength(DAYS.length);
  });

  it('retries a failing task with backoff, then tells whoever listens onFailure', async () => {
    const slack = await slackReceiver();
    cleanups.push(slack.close);
    const dir = project(`flaky: defineJob({
      onFailure: [{ urlEnv: 'SLACK_URL', message: 'FAILED {{ job }}: {{ error }}' }],
      tasks: { call: { kind: 'function', module: 'tasks/slow.ts', export: 'flaky', retries: 2, retryDelaySeconds: 0.3, retryBackoff: 'exponential',
                       onRetry: [{ urlEnv: 'SLACK_URL', message: 'retrying {{ task }} after attempt {{ attempt }}' }] } },
    }),`);
    const dataDir = tempDir();
    // Without a server, `trigger` runs the job here, to the end.
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [CLI, 'trigger', 'flaky', '--project', dir, '--data-dir', dataDir], {
        cwd: REPO,
        env: { ...process.env, SLACK_URL: slack.url, FORCE_COLOR: '0' },
      });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('exit', (code) => resolve({ code, stderr }));
    });
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toMatch(/1 of 1 run\(s\) failed/);
    const jobRuns = JSON.parse(cli(['runs', '--job', 'flaky', '--project', dir, '--data-dir', dataDir, '--format', 'json']).stdout) as { state: string; tasks: string }[];
    expect(jobRuns).toHaveLength(1);
    expect(jobRuns[0]!.state).toBe('failed');
    expect(jobRuns[0]!.tasks).toBe('call:failed×3');
    const texts = slack.messages.map((m) => m.text);
    expect(texts.filter((t) => t.startsWith('retrying call'))).toEqual(['retrying call after attempt 1', 'retrying call after attempt 2']);
    expect(texts.at(-1)).toMatch(/^FAILED flaky: .*the upstream API answered 503/);
    // The attempts were spaced by the backoff: at least 0.3 s, then at least 0.6 s.
    const attempts = result.stderr.match(/call running \(attempt \d\)/g);
    expect(attempts).toEqual(['call running (attempt 1)', 'call running (attempt 2)', 'call running (attempt 3)']);
  });

  it('kill -9 of the server while tasks run: after restarts each interval completes exactly once, every row written once', async () => {
    const slack = await slackReceiver();
    cleanups.push(slack.close);
    const dir = project();
    const dataDir = tempDir();
    const port = await freePort();
    const holds = tempDir('scheduler-holds-');
    const held = () => readdirSync(holds);
    // Six lives of the server, each ended by SIGKILL at a moment chosen by a condition, not a clock:
    // by a failpoint inside a day's load (its lake commit done and its files not yet published, or
    // its first file published), or by the test once the pause task of some day is running (the
    // task says so and holds). A day's file lands before the life that must load it.
    const lives: { drop?: string; env: Record<string, string> }[] = [
      { drop: DAYS[0], env: { TRIBUTARY_FAILPOINT: 'lake:committed@1' } },
      { drop: DAYS[1], env: { TRIBUTARY_FAILPOINT: 'lake:published-file@1' } },
      { env: { HOLD_PAUSE: holds } },
      { drop: DAYS[2], env: { TRIBUTARY_FAILPOINT: 'lake:committed@1' } },
      { env: { HOLD_PAUSE: holds } },
      { env: { HOLD_PAUSE: holds } },
    ];
    for (const life of lives) {
      if (life.drop) drop(dir, life.drop);
      const server = start(dir, dataDir, port, { SLACK_URL: slack.url, ...life.env });
      cleanups.push(() => server.kill('SIGKILL'));
      const exited = once(server, 'exit');
      if (life.env.HOLD_PAUSE) {
        // A pause task of this process is running: kill the process under it.
        await expect.poll(() => held().some((f) => f.endsWith(`.${server.pid}`)), { timeout: 60_000 }).toBe(true);
        server.kill('SIGKILL');
      }
      // A failpoint kills the process itself, inside the load task.
      await exited;
      expect(server.signalCode, `${JSON.stringify(life.env)}: ${server.stderr()}`).toBe('SIGKILL');
      expect((await new Promise<boolean>((resolve) => fetch(`http://127.0.0.1:${port}/healthz`).then(() => resolve(true), () => resolve(false))))).toBe(false);
    }
    // Each of the three holding lives caught a pause task running (more may have been caught with it).
    expect(new Set(held().map((f) => f.split('.')[1])).size).toBe(3);
    const server = await up(dir, dataDir, port, { SLACK_URL: slack.url });
    await expect.poll(async () => (await runs(port)).map((r) => r.state).join(','), { timeout: 120_000 }).toBe('success,success,success');
    // Every pause attempt killed while it held was retried: the attempt that succeeded came after them.
    for (const run of await runs(port)) {
      const killedWhileHeld = held().filter((f) => f.startsWith(`${run.ds}.`)).length;
      expect(run.tasks.find((t) => t.task === 'pause')!.attempt, run.ds).toBeGreaterThan(killedWhileHeld);
    }
    server.kill('SIGTERM');
    await once(server, 'exit');
    expect(existsSync(path.join(dataDir, 'state', 'server.json'))).toBe(false);
    const jobRuns = JSON.parse(cli(['runs', '--job', 'daily', '--project', dir, '--data-dir', dataDir, '--format', 'json']).stdout) as { ds: string; state: string }[];
    expect(jobRuns.map((r) => `${r.ds} ${r.state}`).sort()).toEqual(DAYS.map((d) => `${d} success`));
    const counts = sql<{ dt: string; n: string }>(dir, dataDir, 'SELECT dt::VARCHAR AS dt, count(*) AS n FROM events GROUP BY 1 ORDER BY 1');
    expect(counts.map((c) => [c.dt, Number(c.n)])).toEqual(DAYS.map((d) => [d, rowsOf(d).length]));
    // Each interval's load committed once: a retried attempt takes up after what its dead predecessor committed.
    const history = JSON.parse(cli(['runs', '--model', 'events', '--project', dir, '--data-dir', dataDir, '--format', 'json', '--limit', '500']).stdout) as {
      status: string;
      run_group: string;
    }[];
    const committed = history.filter((r) => r.status === 'success').map((r) => r.run_group.split('/')[0]);
    expect(committed.sort()).toEqual(DAYS.map((d) => `daily__${d}T00:00:00.000Z`));
  }, 600_000);

  it('a backfill killed half-way takes up its unfinished runs when run again, in the foreground, without a server', async () => {
    const dir = project();
    const dataDir = tempDir();
    for (const day of DAYS) drop(dir, day);
    const backfill = ['backfill', 'daily', '--from', DAYS[0]!, '--to', DAYS.at(-1)!, '--project', dir, '--data-dir', dataDir];
    // The first backfill dies (kill -9, by the project's own task) in the middle of the second day.
    const first = cli(backfill, REPO, { KILL_DURING_DAY: DAYS[1]! });
    expect(first.code).not.toBe(0);
    const again = cli(backfill);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/[1-9]\d* resumed/);
    const jobRuns = JSON.parse(cli(['runs', '--job', 'daily', '--project', dir, '--data-dir', dataDir, '--format', 'json']).stdout) as { ds: string; state: string }[];
    expect(jobRuns.map((r) => `${r.ds} ${r.state}`).sort()).toEqual(DAYS.map((d) => `${d} success`));
    const counts = sql<{ dt: string; n: string }>(dir, dataDir, 'SELECT dt::VARCHAR AS dt, count(*) AS n FROM events GROUP BY 1 ORDER BY 1');
    expect(counts.map((c) => [c.dt, Number(c.n)])).toEqual(DAYS.map((d) => [d, rowsOf(d).length]));
  }, 300_000);

  it('a job on table changes runs at start for the commits made while no server listened, once', async () => {
    const dir = writeTree({
      'tributary.config.ts': `import { defineJob, defineProject } from 'tributary';
export default defineProject({
  name: 'on_changes',
  sources: { orders: { format: 'csv', path: 'drops/*.csv', columns: { id: 'BIGINT', amount: 'INTEGER' } } },
  models: {
    orders_cln: { sql: "SELECT * FROM {{ source('orders') }}", materialize: 'lake' },
    totals: { sql: "SELECT count(*) AS orders, sum(amount) AS amount FROM {{ ref('orders_cln') }}", materialize: 'table' },
  },
  jobs: { refresh: defineJob({ schedule: { onTablesChanged: ['orders_cln'] }, tasks: { build: { kind: 'models', select: ['totals'] } } }) },
});
`,
      'drops/a.csv': 'id,amount\n1,10\n2,20\n',
    });
    const dataDir = tempDir();
    const port = await freePort();
    const totals = () => sql<{ orders: string; amount: string }>(dir, dataDir, 'SELECT orders::VARCHAR AS orders, amount::VARCHAR AS amount FROM totals')[0];
    type Triggered = RunView & { triggeredBy: { tables: string[]; snapshot?: number } | null };
    const refreshes = async () => (await runs(port, 'refresh')) as Triggered[];

    // The server hears the commit of a run forwarded to it, and the refresh job runs for it.
    let server = await up(dir, dataDir, port, {});
    // Whichever server is up when a failure ends the test.
    cleanups.push(() => server.kill('SIGKILL'));
    const forwarded = cli(['run', 'orders_cln', '--project', dir, '--data-dir', dataDir]);
    expect(forwarded.code, forwarded.stderr).toBe(0);
    await expect.poll(async () => (await refreshes()).map((r) => r.state), { timeout: 60_000 }).toEqual(['success']);
    const [heard] = await refreshes();
    expect(heard!.triggeredBy).toMatchObject({ tables: ['orders_cln'], snapshot: expect.any(Number) });
    server.kill('SIGTERM');
    await once(server, 'exit');
    expect(totals()).toEqual({ orders: '2', amount: '30' });

    // Down, a file lands and a run commits it in the foreground: nobody listens.
    writeFileSync(path.join(dir, 'drops', 'b.csv'), 'id,amount\n3,5\n');
    const alone = cli(['run', 'orders_cln', '--project', dir, '--data-dir', dataDir]);
    expect(alone.code, alone.stderr).toBe(0);
    expect(totals()).toEqual({ orders: '2', amount: '30' });

    // Up again: one run for what it missed, and the totals follow the orders.
    server = await up(dir, dataDir, port, {});
    await expect.poll(async () => (await refreshes()).map((r) => r.state), { timeout: 60_000 }).toEqual(['success', 'success']);
    const [caughtUp] = await refreshes();
    expect(caughtUp!.triggeredBy!.snapshot).toBeGreaterThan(heard!.triggeredBy!.snapshot!);
    server.kill('SIGTERM');
    await once(server, 'exit');
    expect(totals()).toEqual({ orders: '3', amount: '35' });

    // Up once more with nothing new: no run.
    server = await up(dir, dataDir, port, {});
    const healthy = await fetch(`http://127.0.0.1:${port}/api/jobs`).then((r) => r.ok);
    expect(healthy).toBe(true);
    expect((await refreshes()).length).toBe(2);
    server.kill('SIGTERM');
    await once(server, 'exit');
  }, 300_000);
});
