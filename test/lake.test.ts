import { existsSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Catalog } from '../src/catalog/index.js';
import { Engine } from '../src/engine/index.js';
import { Lake } from '../src/lake/index.js';
import { tempDir } from './helpers.js';

let engine: Engine;
let catalog: Catalog;
let lake: Lake;
let root: string;

beforeEach(async () => {
  const dir = tempDir();
  root = path.join(dir, 'lake');
  engine = await Engine.open({ path: path.join(dir, 'w.duckdb') });
  catalog = await Catalog.open(engine);
  lake = new Lake(engine, catalog, root);
});
afterEach(() => engine.closeAll());

const batch = (from: number, to: number) =>
  `SELECT i AS id, DATE '2024-01-01' + (i % 3)::INTEGER AS day, 'x' || i AS label FROM range(${from}, ${to}) t(i)`;

const fingerprint = () => engine.queryJson(`SELECT count(*) AS n, sum(id)::VARCHAR AS s, string_agg(DISTINCT day::VARCHAR, ',' ORDER BY day::VARCHAR) AS d FROM t`);

describe('lake', () => {
  it('staged files are invisible until committed', async () => {
    const staged = await lake.stage('t', batch(0, 30), { runId: 'r1', partitionBy: { dt: 'day' } });
    expect(staged.files).toHaveLength(3);
    expect(staged.files.every((f) => existsSync(path.join(root, f.path)))).toBe(true);
    expect(await catalog.activeFiles('t')).toEqual([]);
    await lake.commit(staged, 'all');
    expect(await fingerprint()).toEqual([{ n: '30', s: '435', d: '2024-01-01,2024-01-02,2024-01-03' }]);
  });

  it('a crash between writing and committing leaves files that no reader sees and vacuum removes', async () => {
    await lake.commit(await lake.stage('t', batch(0, 30), { runId: 'r1', partitionBy: { dt: 'day' } }), 'all');
    const orphan = await lake.stage('t', batch(100, 130), { runId: 'r2', partitionBy: { dt: 'day' } });
    // No commit: as if the process died here.
    expect(await fingerprint()).toEqual([{ n: '30', s: '435', d: '2024-01-01,2024-01-02,2024-01-03' }]);
    mkdirSync(path.join(root, '_staging', 'r3'), { recursive: true });
    writeFileSync(path.join(root, '_staging', 'r3', 'half.parquet'), 'PAR1');
    expect(await lake.vacuum()).toBe(orphan.files.length);
    expect(orphan.files.some((f) => existsSync(path.join(root, f.path)))).toBe(false);
    expect(existsSync(path.join(root, '_staging'))).toBe(false);
    expect(await fingerprint()).toEqual([{ n: '30', s: '435', d: '2024-01-01,2024-01-02,2024-01-03' }]);
  });

  it('replacing partitions retires only the partitions written, and deletes the old files', async () => {
    await lake.commit(await lake.stage('t', batch(0, 30), { runId: 'r1', partitionBy: { dt: 'day' } }), 'all');
    const old = await catalog.activeFiles('t');
    const day2 = await lake.stage('t', `SELECT * FROM (${batch(0, 30)}) WHERE day = DATE '2024-01-02'`, { runId: 'r2', partitionBy: { dt: 'day' } });
    await lake.commit(day2, 'partitions');
    const now = await catalog.activeFiles('t');
    expect(now.filter((f) => f.partition.dt !== '2024-01-02')).toEqual(old.filter((f) => f.partition.dt !== '2024-01-02'));
    expect(existsSync(path.join(root, old.find((f) => f.partition.dt === '2024-01-02')!.path))).toBe(false);
    expect(await fingerprint()).toEqual([{ n: '30', s: '435', d: '2024-01-01,2024-01-02,2024-01-03' }]);
  });

  it('compaction turns many small files per partition into one, atomically, with the same rows', async () => {
    for (let b = 0; b < 5; b++) {
      await lake.commit(await lake.stage('t', batch(b * 10, b * 10 + 10), { runId: `b${b}`, partitionBy: { dt: 'day' } }), 'append');
    }
    const before = await fingerprint();
    expect((await catalog.activeFiles('t')).length).toBe(15);
    const result = await lake.compact('t', 'c1');
    expect(result).toEqual({ partitions: 3, filesBefore: 15, filesAfter: 3 });
    expect(await fingerprint()).toEqual(before);
    for (const dir of readdirSync(path.join(root, 't'))) expect(readdirSync(path.join(root, 't', dir))).toHaveLength(1);
  });
});
