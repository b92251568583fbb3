import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TableExport } from '../src/catalog/index.js';
import { scaffoldProject } from '../src/cli/init.js';
import { Engine, EXTENSIONS_ENV, quoteList, quoteLiteral } from '../src/engine/index.js';
import type { Workspace } from '../src/state/workspace.js';
import { S3LakeStorage, s3Settings } from '../src/lake/index.js';
import { cli, REPO, runProject, tempDir } from './helpers.js';
import { requireService } from './services.js';
import { EXTENSIONS, requireExtension } from './support/extensions.js';
import { s3TestsCanRun, startS3, type S3Server } from './support/s3.js';

/**
 * A lake table read without Tributary (issue 20, interop): the Iceberg metadata and symlink
 * manifests `catalog --export` writes are read by two independent readers, DuckDB's iceberg
 * extension and PyIceberg, and must give Tributary's own numbers, at the latest snapshot and an
 * earlier one, never reading a file no commit of that snapshot references.
 */

const PYTHON = path.join(REPO, '.tools', 'venv', 'bin', 'python');
const PYICEBERG_READ = path.join(REPO, 'test', 'support', 'pyiceberg-read.py');

const duckdbIceberg = await requireExtension('iceberg');
const s3CanRun = await s3TestsCanRun();
const pyiceberg = await requireService('PyIceberg, an Iceberg reader (bash .ci/python-tools.sh)', async () => {
  const probe = spawnSync(PYTHON, ['-c', 'import pyiceberg'], { encoding: 'utf8' });
  if (probe.status !== 0) throw new Error(probe.error?.message ?? probe.stderr.trim());
});

interface DayTotals {
  dt: string;
  rows: number;
  sum: string;
}

const TOTALS = (relation: string) =>
  `SELECT dt::VARCHAR AS dt, count(*)::INTEGER AS rows, sum(amount)::VARCHAR AS sum FROM ${relation} GROUP BY ALL ORDER BY dt`;

function readWithPyIceberg(metadataFile: string, properties: Record<string, string> = {}): DayTotals[] {
  const result = spawnSync(PYTHON, [PYICEBERG_READ, metadataFile, 'dt', 'amount', JSON.stringify(properties)], { encoding: 'utf8' });
  expect(result.status, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as DayTotals[];
}

function metadataFile(exported: TableExport): string {
  if (exported.format !== 'iceberg') throw new Error(`an Iceberg export was asked for, not ${exported.format}`);
  return exported.metadataFile;
}

/** DuckDB with only the extensions it reads with, apart from Tributary's engine. */
async function openReader(): Promise<Engine> {
  process.env[EXTENSIONS_ENV] = EXTENSIONS;
  const engine = await Engine.open();
  await engine.load('iceberg');
  return engine;
}

describe.runIf(duckdbIceberg && pyiceberg)('a lake table read by other engines from what catalog --export writes', () => {
  let ws: Workspace;
  let reader: Engine;
  let lake: string;
  let first: number;
  let second: number;

  beforeAll(async () => {
    const dir = path.join(tempDir(), 'shop');
    scaffoldProject(dir);
    const initial = await runProject(dir);
    first = (await initial.ws.metastore.table('orders'))!.updated_snapshot!;
    await initial.ws.close();
    // A day's partition rebuilt from a corrected file: its files are replaced in one commit.
    const corrected = path.join(tempDir(), 'orders-2024-05-01.csv');
    writeFileSync(corrected, 'order_id,ordered_at,customer,amount\n1,2024-05-01 09:12:00,ada,1.00\n2,2024-05-01 10:40:00,grace,2.00\n6,2024-05-01 11:00:00,alan,4.00\n');
    ({ ws } = await runProject(dir, { date: '2024-05-01', sources: { orders: corrected } }));
    second = (await ws.metastore.table('orders'))!.updated_snapshot!;
    lake = path.join(dir, 'lake');
    reader = await openReader();
  });
  afterAll(async () => {
    reader?.close();
    await ws?.close();
  });

  it('the rebuild replaced one day: Tributary itself reads the corrected rows now and the original ones at the earlier snapshot', async () => {
    expect(second).toBeGreaterThan(first);
    expect(await ws.engine.queryJson(TOTALS('orders'))).toEqual([
      { dt: '2024-05-01', rows: 3, sum: '7.00' },
      { dt: '2024-05-02', rows: 1, sum: '42.10' },
      { dt: '2024-05-03', rows: 1, sum: '12.50' },
    ]);
    expect(await ws.engine.queryJson(TOTALS(`(${await ws.lake.relationAt(ws.engine, 'orders', first)})`))).toEqual([
      { dt: '2024-05-01', rows: 2, sum: '24.90' },
      { dt: '2024-05-02', rows: 1, sum: '42.10' },
      { dt: '2024-05-03', rows: 1, sum: '12.50' },
    ]);
  });

  it("the Parquet files hold no partition column: its values are the folders', so the Iceberg manifests must carry them", async () => {
    const [file] = await ws.metastore.liveFiles('orders');
    const columns = await reader.queryJson<{ column_name: string }>(`DESCRIBE SELECT * FROM read_parquet(${quoteLiteral(path.join(lake, file!.path))}, hive_partitioning = false)`);
    expect(columns.map((c) => c.column_name)).toEqual(['order_id', 'ordered_at', 'customer', 'amount', 'customer_key']);
  });

  it('a file in the table’s folder that no commit references (a retired file kept in place for other readers) is not read through the export', async () => {
    // The rebuilt day's original file, back in its folder as a lake shared by several processes keeps it until vacuum.
    const { files } = await ws.metastore.snapshotFiles('orders', first);
    const retired = files.find((f) => f.partition.dt === '2024-05-01')!;
    const inPlace = path.join(lake, 'orders', 'dt=2024-05-01', path.basename(retired.path));
    copyFileSync(path.join(lake, retired.path), inPlace);
    // A reader of the whole folder (what the Hive DDL with MSCK REPAIR TABLE gave) now reads both.
    expect(await reader.queryJson(TOTALS(`read_parquet(${quoteLiteral(path.join(lake, 'orders', '*', '*.parquet'))}, hive_partitioning = true)`))).toContainEqual({
      dt: '2024-05-01',
      rows: 5,
      sum: '31.90',
    });

    const exported = await ws.lake.export('orders', { format: 'iceberg' });
    expect(exported.snapshot).toBe(second);
    const metadata = metadataFile(exported);
    const tributary = await ws.engine.queryJson(TOTALS('orders'));
    expect(await reader.queryJson(TOTALS(`iceberg_scan(${quoteLiteral(metadata)})`))).toEqual(tributary);
    expect(readWithPyIceberg(metadata)).toEqual(tributary);
  });

  it('an earlier snapshot’s metadata reads that snapshot’s rows (its replaced files from the lake’s history)', async () => {
    const metadata = metadataFile(await ws.lake.export('orders', { format: 'iceberg', snapshot: first }));
    const document = JSON.parse(readFileSync(metadata, 'utf8')) as { 'current-snapshot-id': number };
    expect(document['current-snapshot-id']).toBe(first);
    const then = await ws.engine.queryJson(TOTALS(`(${await ws.lake.relationAt(ws.engine, 'orders', first)})`));
    expect(then).toContainEqual({ dt: '2024-05-01', rows: 2, sum: '24.90' });
    expect(await reader.queryJson(TOTALS(`iceberg_scan(${quoteLiteral(metadata)})`))).toEqual(then);
    expect(readWithPyIceberg(metadata)).toEqual(then);
  });

  it('the symlink manifests list exactly the snapshot’s files, one manifest a partition', async () => {
    const exported = await ws.lake.export('orders', { format: 'symlink' });
    if (exported.format !== 'symlink') throw new Error('a symlink export was asked for');
    const listed = exported.partitions.map((p) => ({ dt: p.values.dt, files: readFileSync(path.join(p.location, 'manifest'), 'utf8').trim().split('\n').sort() }));
    const live = await ws.metastore.liveFiles('orders');
    expect(listed).toEqual(
      ['2024-05-01', '2024-05-02', '2024-05-03'].map((dt) => ({ dt, files: live.filter((f) => f.partition.dt === dt).map((f) => path.join(lake, f.path)).sort() })),
    );
    // What a Hive reader of the symlink table reads: the listed files, each partition's value from its location.
    const rows = exported.partitions.map((p) => `SELECT *, ${quoteLiteral(p.values.dt!)}::DATE AS dt FROM read_parquet(${quoteList(readFileSync(path.join(p.location, 'manifest'), 'utf8').trim().split('\n'))})`);
    expect(await reader.queryJson(TOTALS(`(${rows.join(' UNION ALL ')})`))).toEqual(await ws.engine.queryJson(TOTALS('orders')));
  });

  it('every export writes new files and leaves earlier ones as they were', async () => {
    const a = metadataFile(await ws.lake.export('orders', { format: 'iceberg' }));
    const before = readFileSync(a, 'utf8');
    const b = metadataFile(await ws.lake.export('orders', { format: 'iceberg' }));
    expect(b).not.toBe(a);
    expect(existsSync(a) && readFileSync(a, 'utf8')).toBe(before);
    await expect(ws.lake.storage.writeNew(path.relative(lake, a), Buffer.from('{}'))).rejects.toThrow(/EEXIST/);
    expect(readFileSync(a, 'utf8')).toBe(before);
  });
});

describe.runIf(duckdbIceberg && pyiceberg && s3CanRun)('a lake table on S3 read by other engines from its exported Iceberg metadata', () => {
  let s3: S3Server;
  let reader: Engine;
  beforeAll(async () => {
    s3 = await startS3('interop');
    reader = await openReader();
  });
  afterAll(async () => {
    reader?.close();
    await s3?.stop();
  });

  it('the metadata is written to the bucket beside the table, and both readers read the objects it names with Tributary’s numbers', async () => {
    const dir = path.join(tempDir(), 'shop');
    scaffoldProject(dir);
    const env = { ...s3.env, TRIBUTARY_LAKE: 's3://interop/lake' };
    const run = cli(['run', '--quiet', '--project', dir], REPO, env);
    expect(run.code, run.stderr).toBe(0);
    const spark = cli(['catalog', 'orders', '--export', 'spark', '--project', dir], REPO, env);
    expect(spark.code, spark.stderr).toBe(0);
    const metadata = /metadata_file => '(s3:\/\/interop\/lake\/orders\/metadata\/[^']+\.metadata\.json)'/.exec(spark.stdout)?.[1];
    expect(metadata, spark.stdout).toBeDefined();
    const sql = cli(['sql', TOTALS('orders'), '--format', 'json', '--project', dir], REPO, env);
    expect(sql.code, sql.stderr).toBe(0);
    const tributary = JSON.parse(sql.stdout) as DayTotals[];
    expect(tributary).toEqual([
      { dt: '2024-05-01', rows: 2, sum: '24.90' },
      { dt: '2024-05-02', rows: 1, sum: '42.10' },
      { dt: '2024-05-03', rows: 1, sum: '12.50' },
    ]);

    // The reader reaches the bucket with the lake's own settings (httpfs and a secret), nothing of Tributary's state.
    const storage = new S3LakeStorage('s3://interop/lake', s3Settings(s3.env));
    await storage.open(reader);
    expect(await reader.queryJson(TOTALS(`iceberg_scan(${quoteLiteral(metadata!)})`))).toEqual(tributary);
    expect(
      readWithPyIceberg(metadata!, { 's3.endpoint': s3.endpoint, 's3.access-key-id': s3.env.AWS_ACCESS_KEY_ID!, 's3.secret-access-key': s3.env.AWS_SECRET_ACCESS_KEY!, 's3.region': s3.env.AWS_REGION! }),
    ).toEqual(tributary);
    // The store itself refuses to overwrite what an export wrote (a conditional PUT).
    await expect(storage.writeNew(metadata!.slice('s3://interop/lake/'.length), Buffer.from('{}'))).rejects.toThrow(/PreconditionFailed|At least one of the pre-conditions/);
  });
});
