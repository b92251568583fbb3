import { renameSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from 'tributary/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { generateOrders } from '../generators/orders.js';
import {
  CUSTOMERS_CSV,
  READ,
  STATIC_MODELS,
  asJson,
  byCustomer,
  customers,
  deadLetterLines,
  drop,
  killServers,
  loyaltyByDay,
  mulberry32,
  openLoyalty,
  orderFiles,
  recount,
  sortLoyalty,
  sql,
  transactionLine,
  tributary,
  unix,
  up,
  waitFor,
  workdir,
  type Up,
  type Workdir,
} from './harness.js';
import { customerPoints, type TransactionRow } from './reference.js';

/**
 * The example as a user runs it: `tributary up` in its own process (stream job, scheduler,
 * lookup API), the CLI beside it, order files landing in the spool while it works. Expectations
 * come from the order files on disk, parsed and priced by test/reference.ts.
 */

/** Staged order files, renamed into the spool one by one (as the tills' writer does). */
async function stage(seed: number, files: number, linesPerFile: number, firstDay: string, spacingSeconds: number, name: string, malformedEvery?: number): Promise<string[]> {
  const written = await generateOrders({ customersCsv: CUSTOMERS_CSV, spoolDir: tempDir('loyalty-staged-'), seed, files, linesPerFile, startUnixSeconds: unix(firstDay), spacingSeconds, malformedEvery });
  // A name of its own per batch of files, so files of different batches never share one.
  return written.files.map((file, i) => {
    const named = path.join(path.dirname(file), `orders-${name}-${String(i).padStart(4, '0')}.txt`);
    renameSync(file, named);
    return named;
  });
}

/** Everything the spool has received so far, recounted. */
const spoolRecount = (work: Workdir) => recount([...orderFiles(work.incoming), ...orderFiles(work.done)]);

const spendOf = (rows: readonly TransactionRow[]) => rows.reduce((sum, t) => sum + (t.odr_prc ?? 0), 0);

async function count(server: Up, query: string): Promise<number> {
  const [row] = await sql<{ n: string | number | null }>(server, query);
  return Number(row?.n ?? 0);
}

interface RunView {
  id: string;
  ds: string;
  state: string;
  tasks: { task: string; state: string; error: string | null }[];
}

async function jobRuns(server: Up, job: string): Promise<RunView[]> {
  return ((await (await fetch(`${server.url}/api/jobs/${job}/runs?limit=200`)).json()) as { runs: RunView[] }).runs;
}

/** Micro-batches the orders job has committed since the server started (its status). */
async function batches(server: Up): Promise<number> {
  const status = (await (await fetch(`${server.url}/v1/status`)).json()) as { jobs: { job: string; batches: number }[] };
  return status.jobs.find((j) => j.job === 'orders')!.batches;
}

/**
 * What the server has done, seen from outside, as counts that only grow while it lives: the
 * orders job's micro-batches, the refresh job's runs that have started (the newest 200), the
 * order files moved to done/ once complete.
 */
async function progress(server: Up, work: Workdir): Promise<{ batches: number; rebuilds: Set<string>; moved: number }> {
  const started = (await jobRuns(server, 'refresh')).filter((r) => r.state !== 'queued');
  return { batches: await batches(server), rebuilds: new Set(started.map((r) => r.id)), moved: orderFiles(work.done).length };
}

describe('customer-loyalty through tributary up', () => {
  afterEach(killServers);

  it('commits every order line exactly once through repeated kill -9 of tributary up, and the rebuilds catch up', async () => {
    const work = workdir('loyalty-kill-');
    await tributary(work, ['run', ...STATIC_MODELS, '--quiet']);
    const pending = await stage(21, 36, 120, '2024-03-01', 7200, 'a', 53);
    const dropSome = (n: number) => pending.splice(0, n).forEach((file) => drop(file, work));
    const random = mulberry32(2024);

    // Each round: the server starts, files land and it commits some, more files land, and it dies
    // by SIGKILL as soon as it does what the seed picks: commit a micro-batch, start a rebuild of
    // the refresh job, or move a completed file (each certain to come: the files that landed
    // after the count was taken are still to be committed and moved).
    const moments = ['batches', 'rebuilds', 'moved'] as const;
    for (let round = 0; round < 6; round++) {
      const server = await up(work);
      const started = await batches(server);
      dropSome(2);
      await waitFor(() => 'the orders job to commit a micro-batch', async () => (await batches(server)) > started);
      const moment = moments[Math.floor(random() * moments.length)]!;
      const before = await progress(server, work);
      dropSome(2);
      await waitFor(
        () => `the server to move on (${moment})`,
        async () => {
          const now = await progress(server, work);
          if (moment === 'rebuilds') return [...now.rebuilds].some((id) => !before.rebuilds.has(id));
          return now[moment] > before[moment];
        },
      );
      await server.kill();
      expect(server.child.signalCode, server.stderr()).toBe('SIGKILL');
    }
    dropSome(pending.length);
    const expected = spoolRecount(work);
    expect(expected.orders.length + expected.rejected.length).toBe(36 * 120);

    const server = await up(work);
    let seen = 0;
    let refreshes: RunView[] = [];
    await waitFor(
      () =>
        `transactions_cln to reach ${expected.transactions.length} rows (seen ${seen}) and loyalty to hold every order's spend ` +
        `(the refresh job's newest runs: ${JSON.stringify(refreshes.slice(0, 3))})`,
      async () => {
        seen = await count(server, 'SELECT count(*) AS n FROM transactions_cln');
        // More rows than lines would be a duplicate: stop waiting, the comparison below shows it.
        if (seen !== expected.transactions.length) return seen > expected.transactions.length;
        refreshes = await jobRuns(server, 'refresh');
        return (await count(server, 'SELECT sum(spnd_amt) AS n FROM loyalty')) === spendOf(expected.transactions);
      },
    );
    await server.stop();

    const ws = await openLoyalty(work);
    try {
      const rows = await ws.engine.queryJson<TransactionRow & { cust_id: string }>(READ.transactions);
      expect(rows.length).toBe(expected.transactions.length);
      expect(rows.map(transactionLine).sort()).toEqual(expected.transactions.map(transactionLine).sort());
      expect(await ws.engine.queryJson(READ.points)).toEqual(asJson(byCustomer(customerPoints(expected.transactions))));
      expect(await deadLetterLines(ws)).toEqual(expected.rejected.map((r) => r.line).sort());
      expect(await ws.engine.queryJson(READ.loyalty())).toEqual(sortLoyalty(loyaltyByDay(expected.transactions)));
    } finally {
      await ws.close();
    }
  }, 600_000);

  it('rebuilds a day of loyalty by the daily job and by run --date while orders stream; lookups answer the table after each commit', async () => {
    const work = workdir('loyalty-live-');
    await tributary(work, ['run', ...STATIC_MODELS, '--quiet']);
    const twoDays = await stage(31, 8, 60, '2024-03-01', 6 * 3600, 'a');
    twoDays.forEach((file) => drop(file, work));
    const first = spoolRecount(work);
    const server = await up(work);
    const answers = new Map<string, string>();
    try {
      await waitFor(
        () => 'the first two days to be committed and built into loyalty by the refresh job',
        async () => (await count(server, 'SELECT sum(spnd_amt) AS n FROM loyalty')) === spendOf(first.transactions),
      );
      // From here on only the rebuilds under test write loyalty.
      await tributary(work, ['pause', 'refresh']);
      await waitFor(
        () => 'the refresh job to have no run in flight (a paused job starts none of its queued runs)',
        async () => (await jobRuns(server, 'refresh')).every((r) => r.state !== 'running'),
      );

      // Orders of 2024-03-03 keep streaming in, the next file as soon as the orders job has
      // committed a micro-batch since the previous one landed, while late files for the first
      // two days land and those days are rebuilt.
      const streaming = await stage(32, 24, 20, '2024-03-03', 3600, 's');
      const writer = (async () => {
        for (const file of streaming) {
          const before = await batches(server);
          drop(file, work);
          await waitFor(() => `the orders job to commit after ${path.basename(file)} landed`, async () => (await batches(server)) > before);
        }
      })();
      // A till's late file for each of the first two days. The days are rebuilt one after the
      // other: until a day is rebuilt, the loyalty check flags it (its spend differs from its orders).
      const [lateFirst, lateSecond] = await stage(33, 2, 30, '2024-03-01', 86_400, 'late');
      const firstDays = () => spoolRecount(work).transactions.filter((t) => t.odr_tms < '2024-03-03');
      const committed = async (what: string) => {
        const expected = firstDays().length;
        await waitFor(
          () => `${what} to be committed`,
          async () => (await count(server, "SELECT count(*) AS n FROM transactions_cln WHERE odr_dt <= DATE '2024-03-02'")) === expected,
        );
      };

      // 2024-03-01 by the scheduled job, triggered for that day: its serving task, then its checks.
      drop(lateFirst!, work);
      await committed('the late file of 2024-03-01');
      await tributary(work, ['trigger', 'daily', '--date', '2024-03-01']);
      let daily: RunView | undefined;
      await waitFor(
        () => `the daily run for 2024-03-01 to finish (${JSON.stringify(daily)})`,
        async () => {
          daily = (await jobRuns(server, 'daily')).find((r) => r.ds === '2024-03-01');
          return daily?.state === 'success' || daily?.state === 'failed';
        },
      );
      expect(daily).toMatchObject({ state: 'success', tasks: [expect.objectContaining({ task: 'serving', state: 'success' }), expect.objectContaining({ task: 'checks', state: 'success' })] });

      // 2024-03-02 by `tributary run --date`, through the server (its checks run too).
      drop(lateSecond!, work);
      await committed('the late file of 2024-03-02');
      await tributary(work, ['run', 'loyalty', '--date', '2024-03-02', '--quiet']);

      const all = firstDays();
      expect(all.length).toBe(first.transactions.length + 60);
      const onDay = (day: string) => all.filter((t) => t.odr_tms.startsWith(day));
      const reference = loyaltyByDay(all);
      const loyalty = await sql(server, READ.loyalty());
      expect(loyalty).toEqual(sortLoyalty(reference));
      for (const day of ['2024-03-01', '2024-03-02']) {
        const rows = loyalty.filter((r) => r.data_dt === day);
        expect(rows.reduce((sum, r) => sum + Number(r.spnd_amt), 0)).toBe(spendOf(onDay(day)));
      }
      await writer;

      // Lookups, commit by commit: once the lookup index has followed the commit of a file (its
      // snapshot is the catalog's latest), every customer's row from the lookup API equals the
      // table's row and the reference's totals of every order so far. (A query that sees the
      // commit can run before the index has followed it: see the README, "Lookups".)
      const more = await stage(34, 2, 40, '2024-03-04', 3600, 'p');
      for (const file of [undefined, ...more]) {
        if (file) drop(file, work);
        const expected = spoolRecount(work);
        const orders = expected.transactions.length;
        await waitFor(
          () => `customer_points to hold ${orders} orders`,
          async () => (await count(server, 'SELECT sum(orders) AS n FROM customer_points')) === orders,
        );
        const [latest] = JSON.parse(await tributary(work, ['snapshots', '--limit', '1', '--format', 'json'])) as { snapshot: number }[];
        await waitFor(
          () => `the lookup index to follow snapshot ${latest!.snapshot}`,
          async () => ((await (await fetch(`${server.url}/v1/lookup`)).json()) as { snapshot: number }).snapshot >= latest!.snapshot,
        );
        const table = await sql<{ cust_id: string }>(server, 'SELECT * FROM customer_points ORDER BY cust_id');
        const looked = await lookupAll(server, 'customer_points', table.map((r) => r.cust_id));
        expect(looked).toEqual(table);
        expect(await sql(server, READ.points)).toEqual(asJson(byCustomer(customerPoints(expected.transactions))));
      }
      const ordered = new Set((await sql<{ cust_id: string }>(server, 'SELECT cust_id FROM customer_points')).map((r) => r.cust_id));
      const never = customers.find((c) => !ordered.has(String(c.cust_id)))!;
      const missing = await fetch(`${server.url}/v1/lookup/customer_points/${never.cust_id}`);
      expect(missing.status).toBe(404);
      expect(await missing.json()).toEqual({
        error: `no row of 'customer_points' has cust_id '${never.cust_id}'`,
        hint: 'keys are matched as text, exactly as CAST(cust_id AS VARCHAR) writes them',
      });

      // The CLI answers the same text as the API, from the server's index.
      const regular = [...ordered].sort()[0]!;
      for (const [table, key] of [['customer_points', regular], ['customer_offers', regular], ['customer_offers', String(never.cust_id)]] as const) {
        const api = await (await fetch(`${server.url}/v1/lookup/${table}/${key}`)).text();
        answers.set(`${table}/${key}`, api);
        expect((await tributary(work, ['lookup', table, key, '--format', 'json'])).trim()).toBe(api);
      }
    } finally {
      await server.stop();
    }
    // Without a server, `tributary lookup` answers by a point query on the state: the same text.
    expect(answers.size).toBe(3);
    for (const [where, api] of answers) {
      const [table, key] = where.split('/') as [string, string];
      expect((await tributary(work, ['lookup', table, key, '--format', 'json'])).trim()).toBe(api);
    }
  }, 600_000);
});

/** Every key looked up over HTTP, 50 at a time; the answers in key order. */
async function lookupAll(server: Up, table: string, keys: readonly string[]): Promise<unknown[]> {
  const out: unknown[] = [];
  for (let i = 0; i < keys.length; i += 50) {
    const answers = await Promise.all(
      keys.slice(i, i + 50).map(async (key) => {
        const response = await fetch(`${server.url}/v1/lookup/${table}/${key}`);
        if (response.status !== 200) throw new Error(`lookup ${table}/${key}: ${response.status} ${await response.text()}`);
        return response.json() as Promise<unknown>;
      }),
    );
    out.push(...answers);
  }
  return out;
}
