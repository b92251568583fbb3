import { spawn, spawnSync } from 'node:child_process';
import { cpSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, CLICKSTREAM, openProject, tempDir, REPO } from './helpers.js';
import { openLog } from '../src/stream/runtime.js';
import { stamp } from '../examples/ecommerce-clickstream/replayers/sample.js';
import { sample } from './stream-helpers.js';
import { GroupMembership, WorkQueue } from '../src/catalog/index.js';
import { createCatalogDatabase, postgresCatalogCanRun, type CatalogDatabase } from './support/postgres.js';

/**
 * The catalog in PostgreSQL (issue 20), against the running server: every process of a project
 * opens the same catalog by TRIBUTARY_CATALOG alone, several commit at once, and each sees what
 * the others committed. The numbers are those of a run with the embedded catalog.
 */

const canRun = await postgresCatalogCanRun();
let catalog: CatalogDatabase;

beforeAll(async () => {
  if (canRun) catalog = await createCatalogDatabase();
});
afterAll(async () => {
  await catalog?.drop();
});

interface Outcome {
  code: number | null;
  signal?: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function args(command: string[], dataDir: string): string[] {
  return [CLI, ...command, '--project', CLICKSTREAM, '--data-dir', dataDir];
}

function environment(shared: boolean): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, FORCE_COLOR: '0' };
  if (shared) env.TRIBUTARY_CATALOG = catalog.url;
  else delete env.TRIBUTARY_CATALOG;
  return env;
}

function cli(command: string[], dataDir: string, shared = true): Outcome {
  const result = spawnSync(process.execPath, args(command, dataDir), { cwd: REPO, encoding: 'utf8', env: environment(shared) });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Starts a command and resolves when it exits, so that several run at once. */
function started(command: string[], dataDir: string): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args(command, dataDir), { cwd: REPO, env: environment(true) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

function rows(sql: string, dataDir: string, shared = true): Record<string, unknown>[] {
  const result = cli(['sql', sql, '--format', 'json'], dataDir, shared);
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as Record<string, unknown>[];
}

const PER_DAY = 'SELECT CAST(dt AS VARCHAR) AS day, count(*)::INTEGER AS n FROM events GROUP BY ALL ORDER BY day';

describe.runIf(canRun)('the catalog in PostgreSQL, shared by every process of a project', () => {
  const lake = tempDir();
  let local: Record<string, unknown>[];

  it('the clickstream batch path keeps its catalog and warehouse in PostgreSQL by TRIBUTARY_CATALOG alone, with the numbers of an embedded run', async () => {
    const embedded = tempDir();
    const alone = cli(['run', '--quiet'], embedded, false);
    expect(alone.code, alone.stderr).toBe(0);
    local = rows(PER_DAY, embedded, false);
    expect(local.length).toBeGreaterThan(20);

    const run = cli(['run', '--quiet'], lake);
    expect(run.code, run.stderr).toBe(0);
    expect(rows(PER_DAY, lake)).toEqual(local);
    // PostgreSQL itself holds the catalog: the table, its live files and the run.
    const [registered] = await catalog.query<{ kind: string; files: string }>(
      `SELECT t.kind, (SELECT count(*) FROM tributary.data_files f WHERE f.table_name = t.name AND f.end_snapshot IS NULL) AS files FROM tributary.tables t WHERE t.name = 'events'`,
    );
    expect(registered).toMatchObject({ kind: 'lake' });
    expect(Number(registered!.files)).toBeGreaterThanOrEqual(local.length);
    const runs = await catalog.query<{ status: string }>(`SELECT status FROM tributary.runs`);
    expect(runs.length).toBeGreaterThan(0);
    expect(runs.every((r) => r.status === 'success')).toBe(true);
    // A model the run built as a warehouse table is a PostgreSQL table, readable by any client.
    const tables = await catalog.query<{ table_name: string }>(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'`);
    expect(tables.length).toBeGreaterThan(0);
  });

  it('two processes loading different days at once: both land, each day once', async () => {
    const [first, second] = [local[3]!.day as string, local[4]!.day as string];
    const outcomes = await Promise.all([started(['run', 'events', '--date', first, '--quiet'], lake), started(['run', 'events', '--date', second, '--quiet'], lake)]);
    for (const outcome of outcomes) expect(outcome.code, `${outcome.signal ?? ''} ${outcome.stderr}`).toBe(0);
    expect(rows(PER_DAY, lake)).toEqual(local);
    const days = await catalog.query<{ params: string }>(`SELECT params FROM tributary.runs WHERE status = 'success' AND (params LIKE '%${first}%' OR params LIKE '%${second}%')`);
    expect(days.length).toBeGreaterThanOrEqual(2);
  });

  it('two processes loading the same day at once: a correct serial result, the day replaced once, never doubled', async () => {
    const day = local[5]!.day as string;
    const outcomes = await Promise.all([started(['run', 'events', '--date', day, '--quiet'], lake), started(['run', 'events', '--date', day, '--quiet'], lake)]);
    for (const outcome of outcomes) expect(outcome.code, `${outcome.signal ?? ''} ${outcome.stderr}`).toBe(0);
    expect(rows(PER_DAY, lake)).toEqual(local);
    // The second commit replaced the first one's files: the day is one set of live files.
    const live = await catalog.query<{ runs: string }>(
      `SELECT count(DISTINCT f.run_id) AS runs FROM tributary.data_files f JOIN tributary.file_partition_values v USING (file_id)
       WHERE f.table_name = 'events' AND f.end_snapshot IS NULL AND v.key = 'dt' AND v.value = '${day}'`,
    );
    expect(Number(live[0]!.runs)).toBe(1);
  });

  it('a process whose lake is elsewhere is refused before it reads or writes, told which lake the catalog keeps', () => {
    const elsewhere = tempDir();
    const refused = cli(['sql', 'SELECT count(*) FROM events'], elsewhere);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain(`keeps its lake at ${path.join(lake, 'lake')}`);
    expect(refused.stderr).toContain(`TRIBUTARY_LAKE=${path.join(lake, 'lake')}`);
    expect(refused.stderr).not.toContain('No files found');
  });

  it('stream events holding a NUL commit, though PostgreSQL’s text cannot hold one: as ␀ in its tables, exactly in the lake', async () => {
    // The log is the project's own, beside the lake; only the catalog is shared.
    const ws = await openProject(CLICKSTREAM, { dataDir: lake });
    const log = openLog(ws);
    const escaped: Record<string, unknown> = { ...(JSON.parse(stamp(sample[1]!)) as Record<string, unknown>), brand: 'a\0b' };
    const events = [stamp(sample[0]!), '{"id": "n", "event_type": "a\0b"}', JSON.stringify(escaped)];
    log.topic('clickstream').append(events.map((e) => ({ key: null, value: Buffer.from(e) })));
    log.close();
    await ws.close();
    const drained = cli(['drain'], lake);
    expect(drained.code, drained.stderr).toBe(0);
    // The NUL byte itself makes invalid JSON: a dead letter, its text shown with ␀.
    const letters = await catalog.query<{ raw: string; raw_bytes: string }>(`SELECT raw, raw_bytes FROM tributary.dead_letters WHERE origin = 'job:clickstream_live'`);
    expect(letters.map((l) => [l.raw, Number(l.raw_bytes)])).toEqual([['{"id": "n", "event_type": "a␀b"}', 32]]);
    // A NUL spelled \u0000 in a string is valid: the lake keeps it, the serving table in PostgreSQL shows ␀.
    expect(rows(`SELECT brand, length(brand)::INTEGER AS n FROM events_raw WHERE id = '${escaped.id as string}'`, lake)).toEqual([{ brand: 'a\0b', n: 3 }]);
    const served = await catalog.query<{ brand: string }>(`SELECT brand FROM main.live_operations WHERE id = '${escaped.id as string}'`);
    expect(served).toEqual([{ brand: 'a␀b' }]);
  });
});

describe.runIf(canRun)('processes starting together on a fresh shared catalog', () => {
  it('two workers joining a group and opening the work queue at the same moment both start (PostgreSQL’s IF NOT EXISTS loses the race)', async () => {
    const fresh = await createCatalogDatabase();
    try {
      await fresh.query('CREATE SCHEMA tributary');
      const [a, b] = await Promise.all([GroupMembership.join(fresh.url, 'clicks', 'a'), GroupMembership.join(fresh.url, 'clicks', 'b')]);
      expect((await a.share([0, 1, 2, 3])).concat(await b.share([0, 1, 2, 3])).sort()).toEqual([0, 1, 2, 3]);
      await Promise.all([a.leave(), b.leave()]);
      const queues = await Promise.all([WorkQueue.open(fresh.url, 'a'), WorkQueue.open(fresh.url, 'b')]);
      expect(queues).toHaveLength(2);
      for (const queue of queues) await queue.close();
    } finally {
      await fresh.drop();
    }
  });
});

describe.runIf(canRun)('a dbt project on a shared catalog', () => {
  it('a view a post-hook drops in one process is dropped in another that follows the catalog', async () => {
    const fresh = await createCatalogDatabase();
    const dir = path.join(tempDir('tributary-dbt-shared-'), 'shop');
    cpSync(path.join(REPO, 'test', 'fixtures', 'dbt', 'shop'), dir, { recursive: true, filter: (src) => !/(^|\/)(target|logs|\.tributary)$|\.duckdb(\.wal)?$/.test(src) });
    const model = path.join(dir, 'models', 'marts', 'scratch_view.sql');
    const dataDir = tempDir();
    const build = () => spawnSync(process.execPath, [CLI, 'build', '--project', dir, '--data-dir', dataDir, '--select', 'scratch_view'], { cwd: REPO, encoding: 'utf8', env: { ...process.env, TRIBUTARY_CATALOG: fresh.url } });
    const previous = process.env.TRIBUTARY_CATALOG;
    let ws: Awaited<ReturnType<typeof openProject>> | undefined;
    try {
      writeFileSync(model, `{{ config(materialized='view') }}\nselect 1 as x\n`);
      const first = build();
      expect(first.status, first.stderr).toBe(0);
      // This process opens the project as `tributary up` would, and makes the catalog's views.
      process.env.TRIBUTARY_CATALOG = fresh.url;
      ws = await openProject(dir, { dataDir });
      const views = async () => (await ws!.engine.query<{ n: bigint }>(`SELECT count(*) AS n FROM duckdb_views() WHERE view_name = 'scratch_view' AND NOT temporary`))[0]!.n;
      expect(await ws.engine.query('SELECT x FROM scratch_view')).toEqual([{ x: 1 }]);
      // Another process builds it again, and its post-hook drops it.
      writeFileSync(model, `{{ config(materialized='view', post_hook="{% do adapter.drop_relation(this) %}") }}\nselect 1 as x\n`);
      const second = build();
      expect(second.status, second.stderr).toBe(0);
      await ws.metastore.sync();
      expect(await views()).toBe(0n);
      expect((await ws.metastore.tables()).map((t) => t.name)).not.toContain('scratch_view');
    } finally {
      await ws?.close();
      if (previous === undefined) delete process.env.TRIBUTARY_CATALOG;
      else process.env.TRIBUTARY_CATALOG = previous;
      await fresh.drop();
    }
  });
});
