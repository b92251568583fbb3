import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { scaffoldProject } from '../src/cli/init.js';
import { backfillCommand, triggerCommand } from '../src/commands/jobs.js';
import { runCommand } from '../src/commands/run.js';
import { loadProject } from '../src/config/project.js';
import { openScheduler } from '../src/owner/scheduler.js';
import { openWorkspace, type Workspace } from '../src/state/workspace.js';
import { tempDir, writeTree } from './helpers.js';
import { captureIO, commandContext } from './support/command-io.js';

/**
 * Issue 18, item 1: a job in a time zone loads its own day. A day in a zone is that zone's
 * calendar day: as instants [local midnight, next local midnight), 23 or 25 hours when the clocks
 * change; a date partition is a calendar date, rebuilt by the run whose day it is, whatever the
 * zone. Timestamps without an offset are UTC (as Tributary stores every timestamp).
 */

/** The scaffold of `tributary init`, with a daily job in `timezone` that loads its orders. */
function initProjectWithJob(timezone: string): string {
  const dir = tempDir('tributary-zone-');
  scaffoldProject(dir);
  const config = path.join(dir, 'tributary.config.ts');
  const job = `jobs: { daily: defineJob({ schedule: '@daily', start: '2024-05-01', timezone: '${timezone}', tasks: { load: { kind: 'models', select: ['orders'] } } }) },\n  checks:`;
  writeFileSync(config, readFileSync(config, 'utf8').replace("import { defineProject } from 'tributary';", "import { defineJob, defineProject } from 'tributary';").replace('checks:', job));
  return dir;
}

async function trigger(ws: Workspace, date: string): Promise<string> {
  const captured = captureIO();
  await triggerCommand.run(commandContext(ws, captured.io), { job: 'daily', date });
  return [...captured.err, ...captured.out].join('\n');
}

async function ordersByDay(ws: Workspace) {
  return ws.engine.queryJson<{ order_id: number; dt: string }>('SELECT order_id::INTEGER AS order_id, dt::VARCHAR AS dt FROM orders ORDER BY order_id');
}

describe('issue 18, item 1: the init project’s job in Europe/Paris loads 2024-05-02', () => {
  it('on a fresh data folder: order 3 in dt=2024-05-02, order 4 quarantined, the other three skipped', async () => {
    const ws = await openWorkspace(await loadProject(initProjectWithJob('Europe/Paris')));
    try {
      const log = await trigger(ws, '2024-05-02');
      expect(log).toMatch(/✔ orders \(lake\) for 2024-05-02 in [\d.]+s: read 5, wrote 1, quarantined 1, skipped 3 outside the interval/);
      expect(await ordersByDay(ws)).toEqual([{ order_id: 3, dt: '2024-05-02' }]);
      expect((await ws.metastore.quarantine({ model: 'orders' })).map((q) => [q.line, q.reason])).toEqual([[5, 'amount: expected >= 0, got -3.00']]);
      // The run's table shows the day in the job's zone, not the UTC date of its start.
      expect(log).toMatch(/daily__2024-05-01T22:00:00\.000Z\W+2024-05-02\W/);
    } finally {
      await ws.close();
    }
  });

  it('after a UTC run of the same day, the Paris run leaves the same partition and quarantine', async () => {
    const dir = initProjectWithJob('Europe/Paris');
    const utc = await openWorkspace(await loadProject(dir));
    try {
      const captured = captureIO();
      await runCommand.run(commandContext(utc, captured.io), { select: ['orders'], date: '2024-05-02', quiet: true });
    } finally {
      await utc.close();
    }
    const ws = await openWorkspace(await loadProject(dir));
    try {
      expect(await trigger(ws, '2024-05-02')).toMatch(/read 5, wrote 1, quarantined 1, skipped 3/);
      expect(await ordersByDay(ws)).toEqual([{ order_id: 3, dt: '2024-05-02' }]);
    } finally {
      await ws.close();
    }
  });
});

/** Orders every 10 minutes (so every zone's midnight, on the hour or the half hour, has one) over days around the clock changes. */
const WINDOWS = [
  ['2024-03-08T00:00:00Z', '2024-03-12T00:00:00Z'], // New York springs forward on 03-10
  ['2024-03-29T00:00:00Z', '2024-04-02T00:00:00Z'], // Paris springs forward on 03-31
  ['2024-10-25T00:00:00Z', '2024-10-29T00:00:00Z'], // Paris falls back on 10-27
  ['2024-11-01T00:00:00Z', '2024-11-05T00:00:00Z'], // New York falls back on 11-03
] as const;

interface Order {
  id: number;
  /** UTC ms, or null for a row without a time. */
  at: number | null;
  text: string;
  amount: number;
}

function makeOrders(): Order[] {
  const orders: Order[] = [];
  for (const [from, to] of WINDOWS) {
    for (let at = Date.parse(from); at < Date.parse(to); at += 10 * 60_000) {
      const id = orders.length + 1;
      orders.push({ id, at, text: new Date(at).toISOString().slice(0, 19).replace('T', ' '), amount: id % 37 === 0 ? -1 : id % 100 });
    }
  }
  orders.push({ id: orders.length + 1, at: null, text: '', amount: 5 });
  orders.push({ id: orders.length + 1, at: null, text: 'not-a-time', amount: 5 });
  return orders;
}

const ORDERS = makeOrders();
const UNPLACEABLE = ORDERS.filter((o) => o.at === null).map((o) => o.id);

/** The calendar date of an instant in a zone, by Intl: the reference the runs are checked against. */
const localDate = (at: number, zone: string) => new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(at);
const utcDate = (at: number) => new Date(at).toISOString().slice(0, 10);

const ZONES: { zone: string; job: string; ranges: [string, string][]; changes: Record<string, number> }[] = [
  { zone: 'UTC', job: 'utc', ranges: [['2024-03-30', '2024-04-01']], changes: {} },
  { zone: 'Europe/Paris', job: 'paris', ranges: [['2024-03-30', '2024-04-01'], ['2024-10-26', '2024-10-28']], changes: { '2024-03-31': 23, '2024-10-27': 25 } },
  { zone: 'America/New_York', job: 'new_york', ranges: [['2024-03-09', '2024-03-11'], ['2024-11-02', '2024-11-04']], changes: { '2024-03-10': 23, '2024-11-03': 25 } },
  { zone: 'Asia/Kolkata', job: 'kolkata', ranges: [['2024-03-30', '2024-04-01']], changes: {} },
];

function zonedProject(): string {
  const jobs = ZONES.map(
    ({ zone, job }) => `${job}: defineJob({ schedule: '@daily', start: '2024-03-01', timezone: '${zone}', catchup: false, tasks: { load: { kind: 'models', select: ['orders', 'orders_timed'] } } }),`,
  ).join('\n    ');
  return writeTree({
    'tributary.config.ts': `import { defineJob, defineProject } from 'tributary';
export default defineProject({
  name: 'zones',
  sources: {
    orders: {
      format: 'csv',
      path: 'data/orders.csv',
      columns: { order_id: 'INTEGER', ordered_at: 'TIMESTAMP', amount: 'DECIMAL(10,2)' },
      rules: [{ column: 'amount', min: 0 }],
    },
  },
  models: {
    orders: { sql: "SELECT * FROM {{ source('orders') }}", materialize: 'lake', partitionBy: { dt: 'CAST(ordered_at AS DATE)' } },
    orders_timed: { sql: "SELECT * FROM {{ source('orders') }}", materialize: 'table', timeColumn: 'ordered_at' },
  },
  jobs: {
    ${jobs}
  },
});
`,
    'data/orders.csv': `order_id,ordered_at,amount\n${ORDERS.map((o) => `${o.id},${o.text},${o.amount}.00`).join('\n')}\n`,
  });
}

interface ModelCounts {
  model: string;
  read: number;
  written: number;
  quarantined: number;
  skipped: number;
}

describe('issue 18, item 1: daily jobs in several zones, over days when the clocks change', () => {
  const dir = zonedProject();

  it.each(ZONES)('$zone: each run accounts for every row, and every row is in its right partition or the quarantine', async ({ zone, job, ranges, changes }) => {
    const ws = await openWorkspace(await loadProject(dir, { dataDir: tempDir(`tributary-${job}-`) }));
    try {
      for (const [from, to] of ranges) await backfillCommand.run(commandContext(ws, captureIO().io), { job, from, to });
      const ps = await openScheduler(ws);
      const runs = await ps.scheduler.runs({ job });
      const days = new Set<string>();
      const timedSpans: [number, number][] = [];
      for (const run of runs) {
        expect(run.state, run.id).toBe('success');
        const ds = localDate(run.intervalStart.getTime(), zone);
        days.add(ds);
        timedSpans.push([run.intervalStart.getTime(), run.intervalEnd.getTime()]);
        // A day in the zone: 24 hours, or 23 and 25 on the days the clocks change.
        expect((run.intervalEnd.getTime() - run.intervalStart.getTime()) / 3_600_000, ds).toBe(changes[ds] ?? 24);
        const [load] = await ps.scheduler.tasks(run.id);
        const counts = load!.result as unknown as ModelCounts[];
        expect(counts.map((c) => c.model).sort()).toEqual(['orders', 'orders_timed']);
        for (const c of counts) {
          expect(c.read, `${ds} ${c.model}`).toBe(ORDERS.length);
          expect(c.written + c.quarantined + c.skipped, `${ds} ${c.model}`).toBe(c.read);
        }
        const partition = counts.find((c) => c.model === 'orders')!;
        const ofDay = ORDERS.filter((o) => o.at !== null && utcDate(o.at) === ds);
        expect(partition.written, ds).toBe(ofDay.filter((o) => o.amount >= 0).length);
        expect(partition.quarantined, ds).toBe(ofDay.filter((o) => o.amount < 0).length + UNPLACEABLE.length);
        const timed = counts.find((c) => c.model === 'orders_timed')!;
        const inZoneDay = ORDERS.filter((o) => o.at !== null && localDate(o.at, zone) === ds);
        expect(timed.written, ds).toBe(inZoneDay.filter((o) => o.amount >= 0).length);
      }
      expect([...days].sort()).toEqual(ranges.flatMap(([from, to]) => daysFrom(from, to)));
      await ps.scheduler.stop();

      // The date-partitioned table: each loaded order once, in the partition of its own date.
      const partitioned = await ws.engine.queryJson<{ id: number; dt: string }>('SELECT order_id AS id, dt::VARCHAR AS dt FROM orders ORDER BY order_id');
      const expected = ORDERS.filter((o) => o.at !== null && o.amount >= 0 && days.has(utcDate(o.at))).map((o) => ({ id: o.id, dt: utcDate(o.at!) }));
      expect(partitioned).toEqual(expected);
      // The time-column table: each loaded order once, when its instant falls in one of the zone's days.
      const timedIds = (await ws.engine.queryJson<{ id: number }>('SELECT order_id AS id FROM orders_timed ORDER BY order_id')).map((r) => r.id);
      expect(timedIds).toEqual(ORDERS.filter((o) => o.at !== null && o.amount >= 0 && days.has(localDate(o.at, zone))).map((o) => o.id));
      expect(timedIds.every((id) => timedSpans.filter(([s, e]) => ORDERS[id - 1]!.at! >= s && ORDERS[id - 1]!.at! < e).length === 1)).toBe(true);

      // The quarantine: each failing order of a loaded day once per model; the rows with no time in every run, saying why.
      const quarantined = await ws.engine.queryJson<{ model: string; id: number; reason: string; n: number }>(
        `SELECT model, split_part(raw, ',', 1)::INTEGER AS id, any_value(reason) AS reason, count(*)::INTEGER AS n FROM tributary.quarantine GROUP BY ALL ORDER BY model, id`,
      );
      const failing = (dayOf: (at: number) => string) => ORDERS.filter((o) => o.at !== null && o.amount < 0 && days.has(dayOf(o.at))).map((o) => o.id);
      for (const [model, dayOf] of [
        ['orders', utcDate],
        ['orders_timed', (at: number) => localDate(at, zone)],
      ] as const) {
        const rows = quarantined.filter((q) => q.model === model);
        expect(rows.filter((q) => !UNPLACEABLE.includes(q.id)).map((q) => [q.id, q.n])).toEqual(failing(dayOf).map((id) => [id, 1]));
        expect(rows.filter((q) => UNPLACEABLE.includes(q.id)).map((q) => q.n)).toEqual([runs.length, runs.length]);
      }
      expect(quarantined.find((q) => q.model === 'orders' && q.id === UNPLACEABLE[0])!.reason).toMatch(/^dt \(CAST\(ordered_at AS DATE\)\) is NULL, so a run for \S+ cannot place the row in a day/);
      expect(quarantined.find((q) => q.id === UNPLACEABLE[1])!.reason).toBe('ordered_at: expected TIMESTAMP, got not-a-time');
    } finally {
      await ws.close();
    }
  });
});

function daysFrom(from: string, to: string): string[] {
  const out: string[] = [];
  for (let at = Date.parse(`${from}T00:00:00Z`); at <= Date.parse(`${to}T00:00:00Z`); at += 86_400_000) out.push(utcDate(at));
  return out;
}
