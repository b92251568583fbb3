import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { scaffoldProject } from '../src/cli/init.js';
import { renderStatus } from '../src/cli/up.js';
import { catalogCommand } from '../src/commands/catalog.js';
import { clearCommand, jobRunsCommand, triggerCommand } from '../src/commands/jobs.js';
import { quarantineCommand } from '../src/commands/runs.js';
import { TributaryError } from '../src/core/errors.js';
import { dayInterval } from '../src/core/interval.js';
import { loadProject } from '../src/config/project.js';
import { runModels } from '../src/models/index.js';
import { openWorkspace } from '../src/state/workspace.js';
import { DashboardHub, loadDashboards } from '../src/server/dashboards.js';
import { firstWriters } from '../src/owner/first-writers.js';
import type { JobStatus } from '../src/stream/job.js';
import { CLICKSTREAM, REPO, cli, tempDir, writeTree } from './helpers.js';
import { requireService } from './services.js';
import { feed, runWorker } from './stream-helpers.js';
import { captureIO, commandContext } from './support/command-io.js';

/**
 * Issue 18: what the README says of a command holds when a new user runs it. Each block is one
 * numbered item of the issue, on real files and the real engine.
 */

const ORDERS_CSV = `order_id,ordered_at,customer,amount
1,2024-05-01 09:12:00,ada,19.90
2,2024-05-01 10:40:00,grace,5.00
3,2024-05-02 16:03:00,ada,42.10
4,2024-05-02 17:30:00,linus,3.00
5,2024-05-03 08:00:00,grace,12.50
`;

function ordersProject(jobs: string, extra: Record<string, string> = {}): string {
  return writeTree({
    'tributary.config.ts': `import { defineJob, defineProject } from 'tributary';
export default defineProject({
  name: 'promises',
  sources: { orders: { format: 'csv', path: 'data/orders.csv', columns: { order_id: 'BIGINT', ordered_at: 'TIMESTAMP', customer: 'VARCHAR', amount: 'DECIMAL(10,2)' } } },
  models: { orders: { sql: "SELECT * FROM {{ source('orders') }}", materialize: 'table' } },
  jobs: { ${jobs} },
});
`,
    'data/orders.csv': ORDERS_CSV,
    ...extra,
  });
}

async function trigger(dir: string, job: string): Promise<string> {
  const ws = await openWorkspace(await loadProject(dir));
  const captured = captureIO();
  try {
    await triggerCommand.run(commandContext(ws, captured.io), { job, date: '2024-05-02' }).catch((error: Error) => captured.err.push(`error: ${error.message}`));
  } finally {
    await ws.close();
  }
  return [...captured.err, ...captured.out].join('\n');
}

describe('issue 18, item 2: reconcile and retries', () => {
  it('a CSV file’s header is not counted as data: a header and 5 rows reconcile exactly with 5 loaded rows', async () => {
    const dir = ordersProject(`daily: defineJob({ schedule: '@daily', tasks: {
      load: { kind: 'models', select: ['orders'], fullRefresh: true },
      counts: { kind: 'reconcile', after: ['load'], source: { files: 'data/orders.csv' }, target: { sql: 'SELECT count(*) FROM orders' } },
    } })`);
    const log = await trigger(dir, 'daily');
    expect(log).toMatch(/source: 5 data line\(s\) in 1 file\(s\) matching data\/orders\.csv \(each file’s header line not counted\)/);
    expect(log).toMatch(/reconciled for 2024-05-02: source rows = 5, target rows = 5 \(difference \+0/);
    expect(log).toMatch(/counts success/);
  });

  it('a task waiting to be retried says when its next attempt starts', async () => {
    const dir = ordersProject(
      `daily: defineJob({ schedule: '@daily', defaults: { retries: 1, retryDelaySeconds: 1 }, tasks: {
      call: { kind: 'function', module: 'tasks/flaky.ts', export: 'call' },
    } })`,
      { 'tasks/flaky.ts': `export async function call() { throw new Error('the upstream API answered 503'); }\n` },
    );
    const log = await trigger(dir, 'daily');
    const retry = /call up_for_retry in [\d.]+ s: the upstream API answered 503; attempt 2 at (\S+) \(in [\d.]+ s\)/.exec(log);
    expect(retry, log).not.toBeNull();
    expect(Number.isNaN(Date.parse(retry![1]!))).toBe(false);
    expect(log).toMatch(/call failed/);
  });
});

describe('issue 18, item 8: a config error names its key once, with the values allowed', () => {
  const config = (models: string) =>
    writeTree({
      'tributary.config.ts': `import { defineProject } from 'tributary';
export default defineProject({
  name: 'errors',
  sources: { orders: { format: 'csv', path: 'data/orders.csv' } },
  models: { ${models} },
});
`,
      'data/orders.csv': ORDERS_CSV,
    });

  it("materialize: 'parquet' lists the materialisations and their object form, and names models.orders.materialize once", () => {
    const run = cli(['run', '--project', config("orders: { sql: \"SELECT * FROM {{ source('orders') }}\", materialize: 'parquet' }")]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      "field models.orders.materialize: expected one of 'table', 'lake', 'view', 'ephemeral', 'incremental', 'snapshot', or { kind: 'table' | 'lake' | 'view' | 'ephemeral' | 'incremental' | 'snapshot', … }, got 'parquet'",
    );
    expect(run.stderr.match(/models\.orders\.materialize/g)).toHaveLength(1);
    expect(run.stderr).not.toMatch(/Invalid input/);
  });

  it('every problem of the file at once, each under its key', () => {
    const run = cli(['run', '--project', config("orders: { sql: 'x.sql', materialize: { kind: 'pg' } }, totals: { materialize: 'table' }")]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('the config has 2 problems:');
    expect(run.stderr).toContain("models.orders.materialize.kind: expected one of 'table', 'lake', 'view', 'ephemeral', 'incremental', 'snapshot', got 'pg'");
    expect(run.stderr).toContain('models.totals.sql: missing: expected a string');
  });
});

describe('issue 18, extra: a fresh customer-loyalty dashboard says which tiles wait for data, and for what', () => {
  it('a tile reading a table nothing has written yet names its writer instead of an engine error', async () => {
    const ws = await openWorkspace(await loadProject(path.join(REPO, 'examples', 'customer-loyalty'), { dataDir: tempDir('tributary-loyalty-fresh-') }));
    try {
      await runModels(ws, { select: ['customers_cln', 'menu', 'loyalty_rules', 'loyalty_offers'], quiet: true, log: () => undefined });
      const hub = new DashboardHub(ws.engine, await loadDashboards(ws.project), undefined, firstWriters(ws));
      const { tiles } = await hub.compute('loyalty', {});
      expect(tiles.filter((t) => t.error)).toEqual([]);
      const pending = new Set(tiles.map((t) => t.pending).filter(Boolean));
      expect(pending).toEqual(
        new Set([
          'no data yet: transactions_cln is written by the stream job orders at its first commit',
          'no data yet: customer_points is written by the stream job orders at its first commit',
          'no data yet: loyalty is written by the model loyalty (`tributary run loyalty`, or the jobs daily, refresh)',
          'no data yet: customer_tiers is written by the model customer_tiers (`tributary run customer_tiers`, or the jobs daily, refresh)',
        ]),
      );
      // A misspelt table is still the engine's error: nothing of the project writes it.
      expect(firstWriters(ws)('transactions_clean')).toBeUndefined();
    } finally {
      await ws.close();
    }
  });
});

/** The project `tributary init` writes, built: orders in the lake by day, daily_revenue from them. */
async function builtInitProject() {
  const dir = tempDir('tributary-init-');
  scaffoldProject(dir);
  const ws = await openWorkspace(await loadProject(dir));
  await runModels(ws, { quiet: true, log: () => undefined });
  return ws;
}

describe('issue 18, item 6: catalog TABLE --format json is one JSON document', () => {
  it('columns, partitions, lineage both ways and schema versions, parseable as JSON', async () => {
    const ws = await builtInitProject();
    try {
      const json = captureIO();
      await catalogCommand.run(commandContext(ws, json.io), { table: 'orders', format: 'json' });
      const described = JSON.parse(json.out.join('\n')) as Record<string, unknown>;
      expect(described).toMatchObject({
        name: 'orders',
        kind: 'lake',
        partition_by: ['dt'],
        columns: [
          { name: 'order_id', type: 'BIGINT' },
          { name: 'ordered_at', type: 'TIMESTAMP' },
          { name: 'customer', type: 'VARCHAR' },
          { name: 'amount', type: 'DECIMAL(10,2)' },
          { name: 'customer_key', type: 'VARCHAR' },
          { name: 'dt', type: 'DATE' },
        ],
        partitions: [
          { partition: 'dt=2024-05-01', rows: 2 },
          { partition: 'dt=2024-05-02', rows: 1 },
          { partition: 'dt=2024-05-03', rows: 1 },
        ],
        lineage: { upstream: [{ table: 'orders', kind: 'source' }], downstream: ['daily_revenue'] },
      });
      const csv = captureIO();
      await catalogCommand.run(commandContext(ws, csv.io), { table: 'orders', format: 'csv' });
      expect(csv.out.join('\n').split('\n')[0]).toBe('name,type');
      expect(csv.out.join('\n')).not.toMatch(/[┌│]/);
    } finally {
      await ws.close();
    }
  });
});

describe('issue 18, item 7: dead letters have a command, as quarantine has', () => {
  it('`tributary dead-letters` lists the events a stream job refused, with origin and reason; `tributary sql` on tributary.* says which command to use', () => {
    const dataDir = tempDir();
    feed(dataDir, 'clickstream', 4, 20, { extra: ['garbage', '{"id": "not-a-uuid"}'] });
    expect(runWorker(CLICKSTREAM, dataDir).code).toBe(0);
    const listed = cli(['dead-letters', '--project', CLICKSTREAM, '--data-dir', dataDir, '--format', 'json']);
    expect(listed.code, listed.stderr).toBe(0);
    const rows = JSON.parse(listed.stdout) as { origin: string; reason: string; raw: string }[];
    expect(rows.map((r) => [r.origin, r.reason, r.raw]).sort()).toEqual([
      ['job:clickstream_live', 'id: expected UUID, got not-a-uuid', '{"id": "not-a-uuid"}'],
      ['job:clickstream_live', 'not valid JSON: garbage', 'garbage'],
    ]);
    const refused = cli(['sql', 'SELECT * FROM tributary.dead_letters', '--project', CLICKSTREAM, '--data-dir', dataDir]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/`tributary dead-letters`/);
  });
});

describe('issue 18, item 12: quarantine --model lists the rows not loaded now, each once', () => {
  it('two full runs and a day run of the init project: order 4 once; --all shows every run’s', async () => {
    const ws = await builtInitProject();
    try {
      await runModels(ws, { select: ['orders'], quiet: true, log: () => undefined });
      await runModels(ws, { select: ['orders'], interval: dayInterval('2024-05-02'), quiet: true, log: () => undefined });
      const current = captureIO();
      await quarantineCommand.run(commandContext(ws, current.io), { model: 'orders', limit: 50, format: 'json' });
      expect((JSON.parse(current.out.join('')) as { line: number; reason: string }[]).map((r) => [r.line, r.reason])).toEqual([[5, 'amount: expected >= 0, got -3.00']]);
      const all = captureIO();
      await quarantineCommand.run(commandContext(ws, all.io), { model: 'orders', all: true, limit: 50, format: 'json' });
      expect(JSON.parse(all.out.join(''))).toHaveLength(3);
    } finally {
      await ws.close();
    }
  });
});

describe('issue 18, item 9: what the tests and the code cite exists', () => {
  const tracked = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { cwd: REPO, encoding: 'utf8' }).split('\n').filter(Boolean);

  it('every .md file named in test, src, bench or an example’s tests is a file of the repository', () => {
    const code = tracked.filter((f) => /^(test|src|bench|examples\/[^/]+\/test)\/.*\.ts$/.test(f));
    const cited = new Set(code.flatMap((f) => [...readFileSync(path.join(REPO, f), 'utf8').matchAll(/\b[A-Za-z0-9_][A-Za-z0-9_./-]*\.md\b/g)].map((m) => m[0])));
    expect([...cited].filter((name) => !tracked.some((f) => f === name || f.endsWith(`/${name}`)))).toEqual([]);
  });

  it('a skipped service’s message says how to start it with what the repository has', async () => {
    const ci = process.env.CI;
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      delete process.env.CI;
      expect(await requireService('Nothing', () => Promise.reject(new Error('connection refused')))).toBe(false);
      const message = String(warn.mock.calls[0]?.[0]);
      expect(message).toMatch(/SKIPPING Nothing TESTS: Nothing is not reachable \(connection refused\)/);
      expect(message).toMatch(/\.ci\/run starts every service/);
      expect(tracked).toContain('.ci/run');
    } finally {
      warn.mockRestore();
      if (ci === undefined) delete process.env.CI;
      else process.env.CI = ci;
    }
  });
});

describe('issue 18, item 12: status names each number of a batch’s time', () => {
  it('a drained clickstream job: read, stage, load and each of its sinks by name', () => {
    const dataDir = tempDir();
    feed(dataDir, 'clickstream', 4, 200);
    const drained = runWorker(CLICKSTREAM, dataDir);
    expect(drained.code, drained.stderr).toBe(0);
    const text = renderStatus({ jobs: drained.output!.status as unknown as JobStatus[], deadLetters: {} });
    expect(text).toMatch(/last batch ms/);
    expect(text).toMatch(/read \d+, stage \d+, load \d+, dead letters \d+, lake \d+, serving \d+/);
    expect(text).not.toMatch(/read\/stage\/load\/sinks/);
  });
});

describe('issue 18, item 12: runs name what started them', () => {
  it('a model run of a triggered job run is "trigger", not "schedule"', async () => {
    const dir = ordersProject(`daily: defineJob({ schedule: '@daily', tasks: { load: { kind: 'models', select: ['orders'], fullRefresh: true } } })`);
    expect(await trigger(dir, 'daily')).toMatch(/load success/);
    const ws = await openWorkspace(await loadProject(dir));
    try {
      expect((await ws.metastore.runs({ target: 'orders' })).map((r) => r.trigger)).toEqual(['trigger']);
    } finally {
      await ws.close();
    }
  });
});

describe('issue 18, item 11: runs --job shows durations and errors; clear without a server runs the task', () => {
  it('a failed task’s error and each task’s time are in `runs --job`; `clear` runs the cleared task here, to the end', async () => {
    const dir = ordersProject(
      `daily: defineJob({ schedule: '@daily', tasks: {
      load: { kind: 'models', select: ['orders'], fullRefresh: true },
      call: { kind: 'function', module: 'tasks/call.ts', export: 'call', after: ['load'] },
    } })`,
      { 'tasks/call.ts': `import { existsSync } from 'node:fs';\nexport async function call() { if (!existsSync(new URL('../data/upstream-ready', import.meta.url))) throw new Error('the upstream API answered 503'); return { called: true }; }\n` },
    );
    const ws = await openWorkspace(await loadProject(dir));
    try {
      const failed = captureIO();
      await expect(triggerCommand.run(commandContext(ws, failed.io), { job: 'daily', date: '2024-05-02' })).rejects.toThrow(/1 of 1 run\(s\) failed/);
      const listed = captureIO();
      await jobRunsCommand.run(commandContext(ws, listed.io), { job: 'daily', limit: 10, format: 'json' });
      const [run] = JSON.parse(listed.out.join('')) as Record<string, string>[];
      expect(run).toMatchObject({ run: 'daily__2024-05-02T00:00:00.000Z', ds: '2024-05-02', state: 'failed', tasks: 'load:success call:failed', error: 'call: the upstream API answered 503' });
      expect(run!['task durations']).toMatch(/^load \d+\.\d s, call \d+\.\d s$/);
      expect(run!.duration).toMatch(/^\d+\.\d s$/);

      writeFileSync(path.join(dir, 'data', 'upstream-ready'), '');
      const cleared = captureIO();
      await clearCommand.run(commandContext(ws, cleared.io), { run: 'daily__2024-05-02T00:00:00.000Z', task: 'call' });
      const text = [...cleared.err, ...cleared.out].join('\n');
      expect(text).toMatch(/call in daily__2024-05-02T00:00:00\.000Z cleared; running it here/);
      expect(text).toMatch(/call success/);
      expect(text).toMatch(/daily__2024-05-02T00:00:00\.000Z\W+2024-05-02\W+manual\W+success\W+load:success call:success/);
    } finally {
      await ws.close();
    }
  });
});

describe('issue 18, item 12: a Sparkify day run reports the day’s rows, not its month partition’s', () => {
  it('songplays and time for 2018-11-05 after a full run: written = that day’s rows in the table', async () => {
    const ws = await openWorkspace(await loadProject(path.join(REPO, 'examples', 'sparkify'), { dataDir: tempDir('tributary-sparkify-day-') }));
    try {
      await runModels(ws, { quiet: true, log: () => undefined });
      const day = await runModels(ws, { select: ['staging_events', 'songplays', 'time'], interval: dayInterval('2018-11-05'), quiet: true, log: () => undefined });
      for (const table of ['songplays', 'time']) {
        const inTable = Number(await ws.engine.scalar<bigint>(`SELECT count(*) FROM ${table} WHERE CAST(start_time AS DATE) = DATE '2018-11-05'`));
        expect(day.find((r) => r.model === table)!.written, table).toBe(inTable);
        expect((await ws.metastore.runs({ target: table, limit: 1 }))[0]!.written, table).toBe(inTable);
      }
      expect(day.find((r) => r.model === 'songplays')!.written).toBe(356);
    } finally {
      await ws.close();
    }
  });
});

describe('issue 18, item 12: produce --into-log says what it does while it does it', () => {
  it('a line at the start and a running count from the first batch, before the last line', () => {
    const produced = cli(['produce', 'sample', '--into-log', '--project', CLICKSTREAM, '--data-dir', tempDir(), '--count', '300', '--rate', '200']);
    expect(produced.code, produced.stderr).toBe(0);
    const lines = produced.stderr.trim().split('\n');
    expect(lines[0]).toMatch(/^appending sample's events to topic clickstream of \S+ \(stops after 300 events\)$/);
    expect(lines[1]).toMatch(/^\d+ events appended to clickstream$/);
    expect(lines.at(-1)).toBe('done: 300 events appended to clickstream');
  });
});

describe('issue 18, item 3: the loyalty walk-through’s generate step works with the generator’s own default size', () => {
  it('`generate orders --set days=7 --set start=2024-03-01`: 2,000 orders a day over 24 files (84 or 83 each), 14,000 in all', () => {
    const out = tempDir('tributary-orders-');
    const generated = cli(['generate', 'orders', '--project', path.join(REPO, 'examples', 'customer-loyalty'), '--set', 'days=7', '--set', 'start=2024-03-01', '--out', out]);
    expect(generated.code, generated.stderr).toBe(0);
    const files = readdirSync(out).sort();
    expect(files).toHaveLength(7 * 24);
    const lines = files.map((f) => readFileSync(path.join(out, f), 'utf8').trim().split('\n').length);
    expect(lines.reduce((a, b) => a + b, 0)).toBe(14_000);
    expect(lines.slice(0, 24)).toEqual([...Array(8).fill(84), ...Array(16).fill(83)]);
    // Each file's orders fall in its hour of 2024-03-01, UTC.
    const first = readFileSync(path.join(out, files[0]!), 'utf8').trim().split('\n').map((l) => Number(l.split('|')[2]));
    expect(first.every((t) => t >= Date.parse('2024-03-01T00:00:00Z') / 1000 && t < Date.parse('2024-03-01T01:00:00Z') / 1000)).toBe(true);
  });
});

describe('issue 18, item 5: a dashboard can be written from the README', () => {
  it('the dashboard `tributary init` writes (the README’s) computes every tile, heatmap and kpi value included', async () => {
    const ws = await builtInitProject();
    try {
      const hub = new DashboardHub(ws.engine, await loadDashboards(ws.project));
      const tiles = new Map((await hub.compute('sales', {})).tiles.map((t) => [t.id, t]));
      expect([...tiles.values()].filter((t) => t.error || t.pending)).toEqual([]);
      expect(tiles.get('revenue')!.rows).toEqual([{ value: '79.50' }]);
      expect(tiles.get('orders')!.rows).toEqual([{ value: '4' }]);
      expect(tiles.get('customers')!.rows).toEqual([{ value: '2' }]);
      expect(tiles.get('per_day')!.rows).toHaveLength(3);
      expect(tiles.get('customer_day')).toMatchObject({ kind: 'heatmap', columns: ['day', 'customer', 'orders'] });
      expect(tiles.get('customer_day')!.rows).toHaveLength(4);
      const filtered = new Map((await hub.compute('sales', { from: '2024-05-02', customer: 'ada' })).tiles.map((t) => [t.id, t]));
      expect(filtered.get('revenue')!.rows).toEqual([{ value: '54.60' }]);
      expect(filtered.get('by_customer')!.rows).toEqual([{ customer: 'ada', revenue: '62.00' }]);
    } finally {
      await ws.close();
    }
  });

  it('a dashboard file with several mistakes gets them all at once, each with what is allowed', async () => {
    const dir = tempDir('tributary-dashboard-');
    scaffoldProject(dir);
    writeFileSync(
      path.join(dir, 'dashboards', 'sales.ts'),
      `import { defineDashboard } from 'tributary';
export default defineDashboard({ tabs: [{ title: 'One', tiles: [{ id: 'n', title: 'N', kind: 'gauge', sql: 'SELECT 1' }, { id: 'm', kind: 'kpi' }] }] } as never);
`,
    );
    const error = await loadDashboards(await loadProject(dir)).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error).toBeInstanceOf(TributaryError);
    const text = (error as TributaryError).format();
    expect(text).toContain("dashboard 'sales' has 4 problems:");
    expect(text).toContain('title: missing: expected a string');
    expect(text).toContain("tabs.0.tiles.0.kind: expected one of 'kpi', 'timeseries', 'bar', 'treemap', 'table', 'pie', 'funnel', 'heatmap', got 'gauge'");
    expect(text).toContain('tabs.0.tiles.1.title: missing: expected a string');
    expect(text).toContain('tabs.0.tiles.1.sql: missing: expected a string');
    expect(text).toContain(path.join(dir, 'dashboards', 'sales.ts'));
  });
});
