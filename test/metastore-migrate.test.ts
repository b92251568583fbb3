import { createHash } from 'node:crypto';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { DuckDBSchedulerStore, METASTORE_VERSION, MIGRATIONS, Metastore, type Migration } from '../src/catalog/index.js';
import { runReadOnly } from '../src/commands/query.js';
import { TributaryError } from '../src/core/errors.js';
import { packageInfo } from '../src/core/package.js';
import { Engine } from '../src/engine/index.js';
import { runModels } from '../src/models/index.js';
import type { Workspace } from '../src/state/workspace.js';
import { cli, openProject, REPO, tempDir } from './helpers.js';

/** The project and state `tributary` made at commit 3ce1686 (see the fixture's README and make.sh). */
const FIXTURE = path.join(REPO, 'test', 'fixtures', 'state-3ce1686', 'project');

/** A copy of the fixture's project, its warehouse unpacked (and checked byte for byte against the one 3ce1686 wrote). */
function fixtureCopy(): { dir: string; warehouse: string } {
  const dir = path.join(tempDir('tributary-state-3ce1686-'), 'project');
  cpSync(FIXTURE, dir, { recursive: true });
  const bytes = gunzipSync(readFileSync(path.join(dir, '.tributary', 'warehouse.duckdb.gz')));
  const digest = readFileSync(path.join(dir, '.tributary', 'warehouse.duckdb.sha256'), 'utf8').split(/\s+/)[0];
  expect(createHash('sha256').update(bytes).digest('hex')).toBe(digest);
  const warehouse = path.join(dir, '.tributary', 'warehouse.duckdb');
  writeFileSync(warehouse, bytes);
  return { dir, warehouse };
}

/** Runs `body` on the database file alone: no metastore, so nothing is created or migrated. */
async function raw<T>(file: string, body: (engine: Engine) => Promise<T>): Promise<T> {
  const engine = await Engine.open({ path: file });
  try {
    return await body(engine);
  } finally {
    engine.closeAll();
  }
}

/** Every row of every table of the database (schema tributary and the serving tables), as JSON. */
async function contents(engine: Engine): Promise<Record<string, Record<string, unknown>[]>> {
  const tables = await engine.query<{ schema_name: string; table_name: string }>(
    `SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = current_database() AND NOT temporary ORDER BY ALL`,
  );
  const out: Record<string, Record<string, unknown>[]> = {};
  for (const t of tables) out[`${t.schema_name}.${t.table_name}`] = await engine.queryJson<Record<string, unknown>>(`SELECT * FROM "${t.schema_name}"."${t.table_name}" ORDER BY ALL`);
  return out;
}

/** The tributary schema's columns with their types, nullability and defaults. */
const columnsOf = (engine: Engine) =>
  engine.queryJson(
    `SELECT table_name, column_name, data_type, is_nullable, column_default FROM duckdb_columns()
     WHERE database_name = current_database() AND schema_name = 'tributary' ORDER BY table_name, column_index`,
  );

const versionOf = (engine: Engine) => engine.scalar<number>('SELECT max(version) FROM tributary.metastore');
const migrationsOf = (engine: Engine) =>
  engine.queryJson<{ version: number; from_version: number | null; description: string; release: string; applied_at: string }>(
    'SELECT version, from_version, description, release, applied_at::VARCHAR AS applied_at FROM tributary.migrations ORDER BY applied_at, version',
  );

async function sql(ws: Workspace, text: string): Promise<Record<string, unknown>[]> {
  const rows: Record<string, unknown>[] = [];
  await runReadOnly(ws, text, () => undefined, (chunk) => void rows.push(...chunk));
  return JSON.parse(JSON.stringify(rows, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v))) as Record<string, unknown>[];
}

/** A step the tests register, as a later release would: this version → the next adds a column to the runs. */
const NEXT = METASTORE_VERSION + 1;
const addNote: Migration = {
  from: METASTORE_VERSION,
  description: 'adds runs.note',
  up: async (tx) => void (await tx.run('ALTER TABLE tributary.runs ADD COLUMN note VARCHAR')),
};

async function refusal(promise: Promise<unknown>): Promise<TributaryError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TributaryError);
  return error as TributaryError;
}

describe('metastore schema version and migrations', () => {
  it('a state written by 3ce1686 (schema version 2) is migrated on open; everything it held reads back; a new run works', async () => {
    const { dir, warehouse } = fixtureCopy();
    const before = await raw(warehouse, async (engine) => ({ version: await versionOf(engine), contents: await contents(engine) }));
    expect(before.version).toBe(2);
    // Every table of the catalog holds rows in the fixture, so every one is read back below.
    const empty = Object.entries(before.contents).filter(([name, rows]) => name.startsWith('tributary.') && !rows.length);
    expect(empty.map(([name]) => name)).toEqual([]);

    const started = Date.now();
    const ws = await openProject(dir);
    try {
      expect(ws.metastore.schema).toEqual({
        version: METASTORE_VERSION,
        found: 2,
        foundBy: 'record',
        migrated: MIGRATIONS.map((m) => ({ from: m.from, to: m.from + 1, description: m.description })),
      });
      // Row for row, every table the old state held is as it was, but for its version.
      const after = await contents(ws.engine);
      // Files written before version 4 record no schema version (they are read by name).
      expect(after['tributary.data_files']!.map((f) => f.schema_version)).toEqual(before.contents['tributary.data_files']!.map(() => null));
      // Columns later versions added, which the old state's rows lack (each migration adds them empty).
      const added: Record<string, string[]> = { 'tributary.data_files': ['schema_version'], 'tributary.tables': ['definition'], 'tributary.runs': ['host', 'timing'] };
      const withoutAddedColumns = (table: string, rows: Record<string, unknown>[]) =>
        rows.map((row) => Object.fromEntries(Object.entries(row).filter(([column]) => !added[table]?.includes(column))));
      for (const [table, rows] of Object.entries(before.contents)) if (table !== 'tributary.metastore') expect(withoutAddedColumns(table, after[table]!), table).toEqual(rows);
      expect(await versionOf(ws.engine)).toBe(METASTORE_VERSION);
      const migrations = await migrationsOf(ws.engine);
      expect(migrations).toHaveLength(MIGRATIONS.length);
      expect(migrations[0]).toMatchObject({ version: 3, from_version: 2, description: MIGRATIONS[0]!.description, release: packageInfo().version });
      expect(migrations.map((m) => [m.from_version, m.version])).toEqual(MIGRATIONS.map((m) => [m.from, m.from + 1]));
      expect(Date.parse(migrations[0]!.applied_at.replace(' ', 'T').replace(/\+00$/, 'Z'))).toBeGreaterThanOrEqual(started - 1000);

      // Through the metastore: runs, quarantine, lineage, snapshots, tables, dead letters, stream progress.
      const runs = await ws.metastore.runs();
      expect(runs.map((r) => [r.target, r.trigger, r.status, r.read, r.written, r.quarantined, r.snapshot_id]).reverse()).toEqual([
        ['orders', 'cli', 'success', 5, 4, 1, 1],
        ['daily_revenue', 'cli', 'success', null, 3, 0, 2],
        ['orders', 'cli', 'success', 8, 6, 2, 3],
        ['daily_revenue', 'cli', 'success', null, 4, 0, 4],
        ['daily_revenue', 'schedule', 'success', null, 4, 0, 10],
      ]);
      const quarantine = await ws.metastore.quarantine();
      expect(quarantine.map((q) => [path.basename(q.file!), q.line, q.column_name, q.reason]).sort()).toEqual([
        ['orders-2.csv', 4, 'order_id', 'order_id: expected a value (not null), got NULL'],
        ['orders.csv', 5, 'amount', 'amount: expected >= 0, got -3.00'],
        ['orders.csv', 5, 'amount', 'amount: expected >= 0, got -3.00'],
      ]);
      expect((await ws.metastore.lineage()).map((l) => `${l.model}<-${l.upstream}:${l.upstream_kind}`).sort()).toEqual([
        'daily_revenue<-orders:model',
        'order_events<-live_orders:stream',
        'order_events<-order_events:model',
        'orders<-orders:source',
        'revenue_per_minute<-live_orders:stream',
        'revenue_per_minute<-revenue_per_minute:model',
      ]);
      const snapshots = await ws.metastore.snapshots();
      expect(snapshots.map((s) => s.snapshot_id)).toEqual([10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
      const tables = Object.fromEntries((await ws.metastore.tables()).map((t) => [t.name, [t.kind, t.rows, t.files]]));
      expect(tables).toEqual({ orders: ['lake', 6, 4], order_events: ['lake', 3, 1], daily_revenue: ['table', 4, 0], revenue_per_minute: ['table', 2, 0] });
      expect((await ws.metastore.schemaVersions('orders')).map((v) => v.columns.map((c) => c.name))).toEqual([['order_id', 'ordered_at', 'customer', 'amount', 'customer_key', 'dt']]);
      expect((await ws.metastore.deadLetters()).map((d) => d.reason).sort()).toEqual([
        'amount: expected >= 0, got -1.00',
        'amount: expected DECIMAL(10,2), got abc',
        'orders-1.jsonl:5: expected one JSON object per line',
      ]);
      expect(Object.fromEntries(await ws.metastore.offsets('live_orders', 'lake'))).toEqual({ 0: 6 });
      expect(await ws.metastore.state('live_orders', 'serving', 'watermark')).toBe(Date.parse('2024-05-03T09:02:10Z'));

      // The scheduler's state: the paused job, its run, tasks and attempts.
      const scheduler = await DuckDBSchedulerStore.open(ws.metastore);
      expect((await scheduler.getJobState('daily')).paused).toBe(true);
      const [run] = await scheduler.listRuns();
      expect(run).toMatchObject({ id: 'daily__2024-05-03T00:00:00.000Z', job: 'daily', state: 'success' });
      expect((await scheduler.listTasks(run!.id)).map((t) => [t.task, t.state]).sort()).toEqual([
        ['check', 'success'],
        ['revenue', 'success'],
      ]);
      expect((await scheduler.attempts(run!.id, 'revenue')).map((a) => a.state)).toEqual(['success']);

      // The tables read as SQL, the lake ones from the copied lake folder, and a lake table as it was at snapshot 1.
      expect(await sql(ws, 'SELECT count(*)::INTEGER AS n, sum(amount)::VARCHAR AS s FROM orders')).toEqual([{ n: 6, s: '102.90' }]);
      expect(await sql(ws, 'SELECT count(*)::INTEGER AS n FROM order_events')).toEqual([{ n: 3 }]);
      expect(await sql(ws, 'SELECT day::VARCHAR AS day, revenue::VARCHAR AS revenue FROM daily_revenue ORDER BY day')).toEqual([
        { day: '2024-05-01', revenue: '24.90' },
        { day: '2024-05-02', revenue: '42.10' },
        { day: '2024-05-03', revenue: '20.90' },
        { day: '2024-05-04', revenue: '15.00' },
      ]);
      expect(await sql(ws, 'SELECT count(*)::INTEGER AS n, sum(amount)::VARCHAR AS s, max(order_id)::INTEGER AS m FROM orders AT (VERSION => 1)')).toEqual([{ n: 4, s: '79.50', m: 5 }]);

      // A new run on the migrated state: new runs and snapshots after the old ones; the old history still reads.
      const results = await runModels(ws, { quiet: true, log: () => undefined });
      expect(results.map((r) => [r.model, r.read, r.written, r.quarantined])).toEqual([
        ['orders', 8, 6, 2],
        ['daily_revenue', null, 4, 0],
      ]);
      expect(await ws.metastore.runs()).toHaveLength(7);
      expect((await ws.metastore.snapshots(1))[0]!.snapshot_id).toBe(12);
      expect(await sql(ws, 'SELECT count(*)::INTEGER AS n FROM orders')).toEqual([{ n: 6 }]);
      expect(await sql(ws, 'SELECT count(*)::INTEGER AS n FROM orders AT (VERSION => 1)')).toEqual([{ n: 4 }]);
    } finally {
      await ws.close();
    }

    // Open again: current, so no migration runs and none is recorded.
    const again = await openProject(dir);
    try {
      expect(again.metastore.schema).toEqual({ version: METASTORE_VERSION, found: METASTORE_VERSION, foundBy: 'record', migrated: [] });
      expect(await migrationsOf(again.engine)).toHaveLength(MIGRATIONS.length);
    } finally {
      await again.close();
    }
  });

  it('a new state is created at this version with its creation recorded; opening it again runs no migration', async () => {
    const file = path.join(tempDir(), 'w.duckdb');
    await raw(file, async (engine) => {
      expect((await Metastore.open(engine)).schema).toEqual({ version: METASTORE_VERSION, found: undefined, foundBy: 'created', migrated: [] });
    });
    await raw(file, async (engine) => {
      expect((await Metastore.open(engine)).schema).toEqual({ version: METASTORE_VERSION, found: METASTORE_VERSION, foundBy: 'record', migrated: [] });
      expect((await migrationsOf(engine)).map((m) => [m.version, m.from_version, m.description])).toEqual([[METASTORE_VERSION, null, 'created']]);
    });
  });

  it('a migrated state has exactly the tables and columns of a new one', async () => {
    const { warehouse } = fixtureCopy();
    const migrated = await raw(warehouse, async (engine) => {
      await DuckDBSchedulerStore.open(await Metastore.open(engine));
      return columnsOf(engine);
    });
    const created = await raw(path.join(tempDir(), 'w.duckdb'), async (engine) => {
      await DuckDBSchedulerStore.open(await Metastore.open(engine));
      return columnsOf(engine);
    });
    expect(migrated).toEqual(created);
  });

  it('a state of a newer release is refused, naming both versions and what to do, and left as it was', async () => {
    const { dir, warehouse } = fixtureCopy();
    // A later release's migration (registered here) takes the state one version past this release's.
    await raw(warehouse, async (engine) => {
      const { schema } = await Metastore.open(engine, { migrations: [...MIGRATIONS, addNote], version: NEXT });
      expect(schema.migrated.map((m) => [m.from, m.to])).toEqual([...MIGRATIONS.map((m) => [m.from, m.from + 1]), [METASTORE_VERSION, NEXT]]);
      expect(await engine.scalar('SELECT count(*)::INTEGER FROM duckdb_columns() WHERE table_name = $1 AND column_name = $2', ['runs', 'note'])).toBe(1);
    });
    const before = await raw(warehouse, contents);
    const error = await refusal(raw(warehouse, (engine) => Metastore.open(engine)));
    expect(error.message).toContain('was written by a newer Tributary');
    expect(error.message).toContain(`schema version ${NEXT}`);
    expect(error.message).toContain(`this Tributary (${packageInfo().version}) reads schema version ${METASTORE_VERSION} and older`);
    expect(error.hint).toMatch(/upgrade Tributary/);
    expect(await raw(warehouse, contents)).toEqual(before);

    // The CLI says the same, with what to do, and no stack trace.
    const shown = cli(['runs', '--project', dir]);
    expect(shown.code).not.toBe(0);
    expect(shown.stderr).toContain(`schema version ${NEXT}`);
    expect(shown.stderr).toContain('upgrade Tributary');
    expect(shown.stderr).not.toMatch(/\n\s+at /);
  });

  it('a migration that fails leaves the state as it was (one transaction), and says what to do', async () => {
    const { warehouse } = fixtureCopy();
    const before = await raw(warehouse, contents);
    const broken: Migration = {
      from: METASTORE_VERSION,
      description: 'a step that fails half-way',
      up: async (tx) => {
        await tx.run('CREATE TABLE tributary.extra (x INTEGER)');
        await tx.run('ALTER TABLE tributary.runs ADD COLUMN note VARCHAR');
        await tx.run('SELECT error($1)', ['the step broke']);
      },
    };
    const error = await refusal(raw(warehouse, (engine) => Metastore.open(engine, { migrations: [...MIGRATIONS, broken], version: NEXT })));
    expect(error.message).toContain(`could not be migrated from schema version 2 to ${NEXT}`);
    expect(error.message).toContain(`the step from version ${METASTORE_VERSION} to ${NEXT} (a step that fails half-way) failed`);
    expect(error.message).toContain('the step broke');
    expect(error.message).toContain('Nothing was changed');
    expect(error.hint).toMatch(/move the state folder .* then run `tributary run`/);
    // Neither the first step (tributary.migrations) nor the half of the second was kept.
    expect(await raw(warehouse, contents)).toEqual(before);
    // This release's own migration still runs on it.
    await raw(warehouse, async (engine) => expect((await Metastore.open(engine)).schema.migrated).toHaveLength(MIGRATIONS.length));
  });

  it('a state without a version row is identified by its tables and migrated', async () => {
    const { warehouse } = fixtureCopy();
    await raw(warehouse, (engine) => engine.run('DELETE FROM tributary.metastore'));
    await raw(warehouse, async (engine) => {
      const { schema } = await Metastore.open(engine);
      expect(schema).toMatchObject({ version: METASTORE_VERSION, found: 2, foundBy: 'shape', migrated: MIGRATIONS.map((m) => ({ from: m.from, to: m.from + 1 })) });
      expect(await versionOf(engine)).toBe(METASTORE_VERSION);
      expect((await migrationsOf(engine)).map((m) => [m.version, m.from_version])).toEqual([[2, null], ...MIGRATIONS.map((m) => [m.from + 1, m.from])]);
      expect((await migrationsOf(engine))[0]!.description).toContain('identified as version 2 by its tables');
    });
  });

  it('states that cannot be migrated are refused with what to do, and left as they were', async () => {
    const cases: [string, (engine: Engine) => Promise<unknown>, RegExp][] = [
      ['the first catalog', (e) => e.run('CREATE SCHEMA tributary; CREATE TABLE tributary.files (path VARCHAR); CREATE TABLE tributary.runs (run_id VARCHAR)'), /first catalog \(schema version 1/],
      ['an unknown shape', (e) => e.run('CREATE SCHEMA tributary; CREATE TABLE tributary.runs (run_id VARCHAR)'), /records no schema version and its tables in schema tributary \(runs\)/],
      ['a version no step leads from', async (e) => (await Metastore.open(e), e.run('UPDATE tributary.metastore SET version = 1')), /no migration from version 1 to 2/],
      ['a damaged state', async (e) => (await Metastore.open(e), e.run('DROP TABLE tributary.lineage')), new RegExp(`records schema version ${METASTORE_VERSION} but lacks tributary\\.lineage: it is damaged`)],
    ];
    for (const [name, make, reason] of cases) {
      const file = path.join(tempDir(), 'warehouse.duckdb');
      await raw(file, make);
      const before = await raw(file, contents);
      const error = await refusal(raw(file, (engine) => Metastore.open(engine)));
      expect(error.message, name).toMatch(reason);
      expect(error.message, name).toContain(`the state in ${path.dirname(file)} cannot be opened by this release`);
      expect(error.hint, name).toContain(`move the state folder (${path.dirname(file)}) and the project's lake folder somewhere else`);
      expect(await raw(file, contents), name).toEqual(before);
    }
  });
});
