import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Metastore } from '../src/catalog/index.js';
import { Engine } from '../src/engine/index.js';
import { Lake, LocalLakeStorage, PartitionKeyError, type Replace, type StagedWrite } from '../src/lake/index.js';
import { Relations } from '../src/state/relations.js';
import { cli, tempDir, writeTree } from './helpers.js';

let engine: Engine;
let metastore: Metastore;
let lake: Lake;
let root: string;

beforeEach(async () => {
  const dir = tempDir();
  root = path.join(dir, 'lake');
  engine = await Engine.open({ path: path.join(dir, 'w.duckdb') });
  metastore = await Metastore.open(await engine.fork());
  lake = new Lake(metastore, new LocalLakeStorage(root), { compression: 'snappy', parquetVersion: 'v1', historyHours: 0 });
  // The table's view follows its commits, as in a workspace.
  const relations = new Relations(await engine.fork(), metastore, lake);
  metastore.followCommits(async (committed) => void (await relations.refresh(committed.tables)));
});
afterEach(() => engine.closeAll());

const batch = (from: number, to: number) =>
  `SELECT i AS id, DATE '2024-01-01' + (i % 3)::INTEGER AS day, 'x' || i AS label FROM range(${from}, ${to}) t(i)`;

const fingerprint = () => engine.queryJson(`SELECT count(*) AS n, sum(id)::VARCHAR AS s, string_agg(DISTINCT day::VARCHAR, ',' ORDER BY day::VARCHAR) AS d FROM t`);
const stage = (sql: string, runId: string) => lake.stage(engine, 't', sql, { runId, partitionBy: { dt: 'day' } });
const commit = (staged: StagedWrite, replace: Replace) => lake.commit(engine, [{ staged, replace }], { operation: 'test', runId: staged.runId });
/** Every Parquet file inside the table's own folders (what an engine reading the Hive layout sees). */
const visible = () => (existsSync(path.join(root, 't')) ? readdirSync(path.join(root, 't'), { recursive: true }).map(String).filter((f) => f.endsWith('.parquet')) : []);

describe('lake', () => {
  it('staged files are invisible until committed: they wait outside the table folders', async () => {
    const staged = await stage(batch(0, 30), 'r1');
    expect(staged.files).toHaveLength(3);
    expect(staged.files.every((f) => existsSync(f.stagedPath!) && !f.stagedPath!.startsWith(path.join(root, 't')))).toBe(true);
    expect(visible()).toEqual([]);
    expect(await metastore.liveFiles('t')).toEqual([]);
    await commit(staged, 'all');
    expect(visible()).toHaveLength(3);
    expect(await fingerprint()).toEqual([{ n: '30', s: '435', d: '2024-01-01,2024-01-02,2024-01-03' }]);
  });

  it('a crash between staging and committing leaves nothing any reader sees, and recovery removes it', async () => {
    await commit(await stage(batch(0, 30), 'r1'), 'all');
    const orphan = await stage(batch(100, 130), 'r2');
    // No commit: as if the process died here.
    expect(await fingerprint()).toEqual([{ n: '30', s: '435', d: '2024-01-01,2024-01-02,2024-01-03' }]);
    expect(visible()).toHaveLength(3);
    const fresh = new Lake(metastore, new LocalLakeStorage(root), { compression: 'snappy', parquetVersion: 'v1', historyHours: 0 });
    await fresh.recover();
    expect(orphan.files.some((f) => existsSync(f.stagedPath!))).toBe(false);
    expect(existsSync(path.join(root, '_staging', 'r2'))).toBe(false);
    expect(await fingerprint()).toEqual([{ n: '30', s: '435', d: '2024-01-01,2024-01-02,2024-01-03' }]);
  });

  it('replacing partitions retires only the partitions written, and deletes the old files', async () => {
    await commit(await stage(batch(0, 30), 'r1'), 'all');
    const old = await metastore.liveFiles('t');
    const day2 = await stage(`SELECT * FROM (${batch(0, 30)}) WHERE day = DATE '2024-01-02'`, 'r2');
    await commit(day2, (f) => f.partition.dt === '2024-01-02');
    const now = await metastore.liveFiles('t');
    expect(now.filter((f) => f.partition.dt !== '2024-01-02').map((f) => f.path)).toEqual(old.filter((f) => f.partition.dt !== '2024-01-02').map((f) => f.path));
    expect(existsSync(path.join(root, old.find((f) => f.partition.dt === '2024-01-02')!.path))).toBe(false);
    expect(await fingerprint()).toEqual([{ n: '30', s: '435', d: '2024-01-01,2024-01-02,2024-01-03' }]);
  });

  it('compaction turns many small files per partition into one, atomically, with the same rows', async () => {
    for (let b = 0; b < 5; b++) await commit(await stage(batch(b * 10, b * 10 + 10), `b${b}`), 'append');
    const before = await fingerprint();
    expect((await metastore.liveFiles('t')).length).toBe(15);
    const result = await lake.compact(engine, 't', 'c1');
    expect(result).toEqual({ partitions: 3, filesBefore: 15, filesAfter: 3 });
    expect(await fingerprint()).toEqual(before);
    // The files the view lists, as this process keeps them, are the catalog's.
    expect((await metastore.liveFilePaths('t')).map((f) => f.path)).toEqual((await metastore.liveFiles('t')).map((f) => f.path));
    for (const dir of readdirSync(path.join(root, 't'))) expect(readdirSync(path.join(root, 't', dir))).toHaveLength(1);
  });

  /** A promise and what settles it: a step of a compaction held until the test lets it go. */
  const gate = () => {
    let open!: () => void;
    const opened = new Promise<void>((resolve) => (open = resolve));
    return { open, opened };
  };

  it('two compactions of the same files at once (two workers): the first commits, the second is refused, every row once', async () => {
    for (let b = 0; b < 5; b++) await commit(await stage(batch(b * 10, b * 10 + 10), `b${b}`), 'append');
    const before = await fingerprint();
    const other = new Lake(metastore, new LocalLakeStorage(root), { compression: 'snappy', parquetVersion: 'v1', historyHours: 0 });
    // Both read the same 15 live files before either commits: the second holds at its commit.
    const [reached, release] = [gate(), gate()];
    const commitOther = other.commit.bind(other);
    other.commit = async (...args) => {
      reached.open();
      await release.opened;
      return commitOther(...args);
    };
    const second = other.compact(await engine.fork(), 't', 'cb');
    await reached.opened;
    expect(await lake.compact(await engine.fork(), 't', 'ca')).toEqual({ partitions: 3, filesBefore: 15, filesAfter: 3 });
    release.open();
    expect(await second).toEqual({ partitions: 0, filesBefore: 15, filesAfter: 15, raced: true });
    expect(await fingerprint()).toEqual(before);
    expect((await metastore.liveFiles('t')).length).toBe(3);
    // The refused one's files were never published into the table's folders.
    for (const dir of readdirSync(path.join(root, 't'))) expect(readdirSync(path.join(root, 't', dir))).toHaveLength(1);
  });

  for (const historyHours of [0, 24]) {
    it(`a query reading the table while a compaction commits reads every row it began with, and the retired files leave when it ends (history ${historyHours} h)`, async () => {
      const lakeKeeping = new Lake(metastore, new LocalLakeStorage(root), { compression: 'snappy', parquetVersion: 'v1', historyHours });
      const rows = (from: number, to: number) => `SELECT i AS id, DATE '2024-01-01' + (i % 3)::INTEGER AS day, md5(i::VARCHAR) AS label FROM range(${from}, ${to}) t(i)`;
      for (let b = 0; b < 5; b++) await commit(await stage(rows(b * 30_000, (b + 1) * 30_000), `q${b}`), 'append');
      expect(visible()).toHaveLength(15);
      // A dashboard's or the SQL lab's query: it has bound the view's 15 files and opens them as its scan reaches them.
      const [firstRows, release] = [gate(), gate()];
      let read = 0;
      const reader = await engine.fork();
      const reading = reader.stream(
        `SELECT id FROM t`,
        () => undefined,
        async (chunk) => {
          read += chunk.length;
          firstRows.open();
          await release.opened;
        },
      );
      await firstRows.opened;
      try {
        expect(await lakeKeeping.compact(await engine.fork(), 't', 'cq')).toEqual({ partitions: 3, filesBefore: 15, filesAfter: 3 });
        // The compaction is committed and the view names its 3 files; the query still reads the 15.
        expect(await engine.queryJson(`SELECT count(*) AS n FROM t`)).toEqual([{ n: '150000' }]);
        expect(visible()).toHaveLength(18);
      } finally {
        release.open();
      }
      expect(await reading).toBe(150_000);
      expect(read).toBe(150_000);
      await lakeKeeping.removalsDone();
      expect(visible()).toHaveLength(3);
      const history = path.join(root, '_history');
      expect(existsSync(history) ? readdirSync(history, { recursive: true }).map(String).filter((f) => f.endsWith('.parquet')) : []).toHaveLength(historyHours ? 15 : 0);
    });
  }

  it('recovery after a crash between a retired file going into history and leaving its folder leaves it only in history', async () => {
    const storage = new LocalLakeStorage(root);
    const key = 't/dt=2024-01-01/part-r1-0.parquet';
    mkdirSync(path.join(root, 't', 'dt=2024-01-01'), { recursive: true });
    writeFileSync(storage.readPath(key), 'rows');
    const kept = '_history/7/t/dt=2024-01-01/part-r1-0.parquet';
    await storage.copy(key, kept);
    expect([await storage.exists(key), await storage.exists(kept)]).toEqual([true, true]);
    // What `recover` does with a retired file still at its key: a rename onto a link of the same file would leave both.
    await storage.move(key, kept);
    expect([await storage.exists(key), await storage.exists(kept)]).toEqual([false, true]);
    expect(existsSync(path.join(root, 't', 'dt=2024-01-01'))).toBe(false);
  });

  it('a compaction whose files another compaction retired while it read them is refused as raced, not failed on a missing file', async () => {
    for (let b = 0; b < 5; b++) await commit(await stage(batch(b * 10, b * 10 + 10), `b${b}`), 'append');
    const before = await fingerprint();
    const other = new Lake(metastore, new LocalLakeStorage(root), { compression: 'snappy', parquetVersion: 'v1', historyHours: 0 });
    // The second lists the 15 files and holds before reading them; the first compacts and commits,
    // and with no history kept the 15 are deleted; then the second reads them (a CI run met this
    // as "No files found that match the pattern").
    const [reached, release] = [gate(), gate()];
    const reader = await engine.fork();
    const queryJson = reader.queryJson.bind(reader);
    reader.queryJson = (async (sql: string, params?: never) => {
      if (sql.trimStart().startsWith('COPY')) {
        reached.open();
        await release.opened;
      }
      return queryJson(sql, params);
    }) as typeof reader.queryJson;
    const second = other.compact(reader, 't', 'cb');
    await reached.opened;
    expect(await lake.compact(await engine.fork(), 't', 'ca')).toEqual({ partitions: 3, filesBefore: 15, filesAfter: 3 });
    release.open();
    expect(await second).toEqual({ partitions: 0, filesBefore: 15, filesAfter: 15, raced: true });
    expect(await fingerprint()).toEqual(before);
    expect(visible()).toHaveLength(3);
  });

  it('appends registered as before move only the table\'s snapshot; a commit that changes its columns or description records them', async () => {
    const first = await commit(await stage(batch(0, 10), 'a1'), 'append');
    const second = await commit(await stage(batch(10, 20), 'a2'), 'append');
    const info = await metastore.table('t');
    expect(info!.updated_snapshot).toBe(second.snapshot);
    expect(info!.columns.map((c) => c.name)).toEqual(['id', 'day', 'label', 'dt']);
    expect((await metastore.schemaVersions('t')).map((v) => v.version)).toEqual([1]);
    expect(first.tables).toContain('t');
    expect(second.tables).toContain('t');
    const wider = await lake.stage(engine, 't', `SELECT *, id * 2 AS twice FROM (${batch(20, 30)})`, { runId: 'a3', partitionBy: { dt: 'day' } });
    const third = await lake.commit(engine, [{ staged: wider, replace: 'append' }], { operation: 'test', description: 'now with twice' });
    const after = await metastore.table('t');
    expect(after!.updated_snapshot).toBe(third.snapshot);
    expect(after!.description).toBe('now with twice');
    expect(after!.columns.map((c) => c.name)).toEqual(['id', 'day', 'label', 'twice', 'dt']);
    expect((await metastore.schemaVersions('t')).map((v) => v.version)).toEqual([1, 2]);
    expect(await engine.queryJson(`SELECT count(*) AS n, count(twice) AS twice FROM t`)).toEqual([{ n: '30', twice: '10' }]);
  });


  // What the catalog itself holds, read apart from what the metastore knows of it.
  const catalogColumns = () => engine.queryJson<{ name: string }>(`SELECT name FROM tributary.columns WHERE table_name = 't' ORDER BY position`).then((rows) => rows.map((r) => r.name));
  const catalogVersions = () => engine.queryJson<{ version: number }>(`SELECT version FROM tributary.schema_versions WHERE table_name = 't' ORDER BY version`).then((rows) => rows.map((r) => Number(r.version)));
  const catalogFiles = () =>
    engine.query<{ path: string; schemaVersion: number }>(`SELECT path, schema_version AS "schemaVersion" FROM tributary.data_files WHERE table_name = 't' AND end_snapshot IS NULL ORDER BY path`);
  const wider = (from: number, to: number) => `SELECT *, id * 2 AS twice FROM (${batch(from, to)})`;

  it('a table another committer changed since this process last registered it is compared with the catalog, not with what this process remembers', async () => {
    await commit(await stage(batch(0, 10), 'm1'), 'append');
    // A second committer on the same catalog (as a worker of a shared one would) widens the table.
    const other = await Metastore.open(await engine.fork());
    const otherLake = new Lake(other, new LocalLakeStorage(root), { compression: 'snappy', parquetVersion: 'v1', historyHours: 0 });
    await otherLake.commit(engine, [{ staged: await otherLake.stage(engine, 't', wider(10, 20), { runId: 'm2', partitionBy: { dt: 'day' } }), replace: 'append' }], { operation: 'test' });
    expect(await catalogColumns()).toEqual(['id', 'day', 'label', 'twice', 'dt']);
    // This process registers the table as it last knew it: the catalog takes the narrower columns again, as a new version.
    await commit(await stage(batch(20, 30), 'm3'), 'append');
    expect(await catalogColumns()).toEqual(['id', 'day', 'label', 'dt']);
    expect(await catalogVersions()).toEqual([1, 2, 3]);
  });

  it('a commit that fails leaves nothing of its registration behind: the next one registers the table again', async () => {
    await commit(await stage(batch(0, 10), 'f1'), 'append');
    const failing = lake.commit(engine, [{ staged: await stage(wider(10, 20), 'f2'), replace: 'append' }], {
      operation: 'test',
      inside: async () => {
        throw new Error('refused inside the commit');
      },
    });
    await expect(failing).rejects.toThrow('refused inside the commit');
    expect(await catalogColumns()).toEqual(['id', 'day', 'label', 'dt']);
    await commit(await stage(wider(20, 30), 'f3'), 'append');
    expect(await catalogColumns()).toEqual(['id', 'day', 'label', 'twice', 'dt']);
    expect(await catalogVersions()).toEqual([1, 2]);
    expect(await metastore.columns('t')).toEqual(await engine.queryJson(`SELECT name, type FROM tributary.columns WHERE table_name = 't' ORDER BY position`));
    expect(await metastore.liveFilePaths('t')).toEqual(await catalogFiles());
    expect(await engine.queryJson(`SELECT count(*) AS n, count(twice) AS twice FROM t`)).toEqual([{ n: '20', twice: '10' }]);
  });
  it('every commit is a snapshot; a replaced table is still readable at an earlier snapshot while its files are in history', async () => {
    const kept = new Lake(metastore, new LocalLakeStorage(root), { compression: 'snappy', parquetVersion: 'v1', historyHours: 24 });
    const first = await kept.commit(engine, [{ staged: await kept.stage(engine, 't', batch(0, 30), { runId: 'h1', partitionBy: { dt: 'day' } }), replace: 'all' }], { operation: 'test' });
    await kept.commit(engine, [{ staged: await kept.stage(engine, 't', batch(100, 110), { runId: 'h2', partitionBy: { dt: 'day' } }), replace: 'all' }], { operation: 'test' });
    expect(await engine.queryJson(`SELECT count(*) AS n FROM t`)).toEqual([{ n: '10' }]);
    // Replaced files leave the table's folders (readers of the Hive layout see the current table only)…
    expect(visible()).toHaveLength(3);
    // …and the earlier snapshot reads them from history.
    const then = await kept.relationAt(engine, 't', first.snapshot);
    expect(await engine.queryJson(`SELECT count(*) AS n, sum(id)::VARCHAR AS s FROM (${then})`)).toEqual([{ n: '30', s: '435' }]);
    const snapshots = await metastore.snapshots();
    expect(snapshots.map((s) => s.snapshot_id)).toEqual([...snapshots.map((s) => s.snapshot_id)].sort((a, b) => b - a));
    expect(snapshots[0]!.tables).toContain('t');
  });

  it('a partition key named like a model column takes its place; a model that cannot run fails with its own error, not a partition key’s', async () => {
    const staged = await lake.stage(engine, 't', `SELECT i AS id, DATE '2024-01-01' AS dt FROM range(3) r(i)`, { runId: 'p1', partitionBy: { dt: 'dt + 1' } });
    expect(staged.columns).toEqual([{ name: 'id', type: 'BIGINT' }, { name: 'dt', type: 'DATE' }]);
    expect(staged.files.map((f) => f.partition)).toEqual([{ dt: '2024-01-02' }]);
    await lake.discard(staged);
    const broken = lake.stage(engine, 't', `SELECT nope FROM range(3)`, { runId: 'p2', partitionBy: { dt: 'day' } });
    await expect(broken).rejects.toThrow(/Referenced column "nope" not found/);
    await expect(broken).rejects.not.toBeInstanceOf(PartitionKeyError);
    const misspelt = lake.stage(engine, 't', batch(0, 3), { runId: 'p3', partitionBy: { dt: 'dya' } });
    await expect(misspelt).rejects.toBeInstanceOf(PartitionKeyError);
  });

  it('a snapshot the catalog never had, or one from before the table, is refused with the range there is (it read as a table of no rows, or as today\'s)', async () => {
    const other = await lake.commit(engine, [{ staged: await lake.stage(engine, 'u', batch(0, 3), { runId: 'o1' }), replace: 'all' }], { operation: 'test' });
    const first = await commit(await stage(batch(0, 30), 'r1'), 'all');
    await expect(lake.relationAt(engine, 't', first.snapshot + 1)).rejects.toThrow(`there is no snapshot ${first.snapshot + 1}: the newest is ${first.snapshot}`);
    await expect(lake.relationAt(engine, 't', -1)).rejects.toThrow(`there is no snapshot -1: the newest is ${first.snapshot}`);
    await expect(lake.relationAt(engine, 't', other.snapshot)).rejects.toThrow(`'t' did not exist yet at snapshot ${other.snapshot}: its first is snapshot ${first.snapshot}`);
    expect(await engine.queryJson(`SELECT count(*) AS n FROM (${await lake.relationAt(engine, 't', first.snapshot)})`)).toEqual([{ n: '30' }]);
  });

  it('kill -9 while the files are published (before the commit) or right after the commit: the next command sees exactly the committed rows', () => {
    const rows = (n: number, from: number) => ['id,day', ...Array.from({ length: n }, (_, i) => `${from + i},2024-01-0${1 + (i % 3)}`)].join('\n') + '\n';
    // Killed while publishing, the second load committed nothing: the first load's rows stay.
    const expected: Record<string, unknown> = { 'lake:committed': { n: '60', lo: 1000, hi: 1059 }, 'lake:published-file@2': { n: '30', lo: 0, hi: 29 } };
    for (const point of ['lake:committed', 'lake:published-file@2']) {
      const dir = writeTree({
        'tributary.config.ts': `import { defineProject } from 'tributary';
export default defineProject({
  name: 'crash',
  sources: { days: { format: 'csv', path: 'data/days.csv', columns: { id: 'INTEGER', day: 'DATE' } } },
  models: { t: { sql: "SELECT * FROM {{ source('days') }}", materialize: 'lake', partitionBy: { dt: 'day' } } },
});
`,
        'data/days.csv': rows(30, 0),
      });
      const dataDir = tempDir();
      expect(cli(['run', '--project', dir, '--data-dir', dataDir]).code).toBe(0);
      // The second load replaces the table with other rows, and dies on the way.
      writeFileSync(path.join(dir, 'data', 'days.csv'), rows(60, 1000));
      const killed = cli(['run', '--project', dir, '--data-dir', dataDir], undefined, { TRIBUTARY_FAILPOINT: point });
      expect(killed.code, point).not.toBe(0);
      const after = JSON.parse(cli(['sql', 'SELECT count(*) AS n, min(id) AS lo, max(id) AS hi FROM t', '--project', dir, '--data-dir', dataDir, '--format', 'json']).stdout);
      expect(after, point).toEqual([expected[point]]);
      const files = readdirSync(path.join(dataDir, 'lake', 't'), { recursive: true }).map(String).filter((f) => f.endsWith('.parquet'));
      expect(files, point).toHaveLength(3);
    }
  });
});
