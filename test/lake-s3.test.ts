import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, CLICKSTREAM, ECOMMERCE_SAMPLE, tempDir, REPO } from './helpers.js';
import { feed } from './stream-helpers.js';
import { s3TestsCanRun, startS3, type S3Server } from './support/s3.js';

/**
 * The lake on S3-compatible object storage (issue 20), against a real server (moto) started here:
 * the clickstream example's batch and stream paths write their lake there through DuckDB's httpfs,
 * by environment variables alone; a kill -9 mid-upload leaves nothing visible; a one-day query
 * reads only that day's objects (the server's log is counted).
 */

const canRun = await s3TestsCanRun();
let s3: S3Server;

beforeAll(async () => {
  if (canRun) s3 = await startS3('lake');
});
afterAll(async () => {
  await s3?.stop();
});

function cli(args: string[], env: Record<string, string>, project = CLICKSTREAM) {
  const result = spawnSync(process.execPath, [CLI, ...args, '--project', project], {
    cwd: REPO,
    encoding: 'utf8',
    env: { ...process.env, ...s3.env, ...env, FORCE_COLOR: '0' },
  });
  return { code: result.status, signal: result.signal, stdout: result.stdout, stderr: result.stderr };
}

/** A read-only query of the project's state in `dataDir`, as JSON rows. */
function query(sql: string, dataDir: string, env: Record<string, string>): Record<string, unknown>[] {
  const result = cli(['sql', sql, '--format', 'json', '--data-dir', dataDir], env);
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as Record<string, unknown>[];
}

describe.runIf(canRun)('the lake on S3-compatible object storage', () => {
  it('the clickstream batch path writes its lake to the bucket by TRIBUTARY_LAKE alone, with the numbers of a local run', () => {
    const env = { TRIBUTARY_LAKE: 's3://lake/batch' };
    const dataDir = tempDir();
    const run = cli(['run', '--quiet', '--data-dir', dataDir], env);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/✔ events \(lake\).*read 10,034, wrote 10,034, quarantined 0/);
    const local = tempDir();
    const localRun = cli(['run', '--quiet', '--data-dir', local], { TRIBUTARY_LAKE: '' });
    expect(localRun.code, localRun.stderr).toBe(0);
    const numbers = `SELECT k.operations::VARCHAR AS operations, k.revenue::VARCHAR AS revenue, k.purchases::VARCHAR AS purchases,
      (SELECT count(*) FROM events)::INTEGER AS events, (SELECT count(*) FROM operations_per_minute)::INTEGER AS minutes FROM kpis k`;
    const onS3 = query(numbers, dataDir, env);
    expect(onS3).toEqual(query(numbers, local, { TRIBUTARY_LAKE: '' }));
    expect(onS3[0]).toMatchObject({ operations: '10034', events: 10_034 });
  });

  it('committed files are in the table folders, one day a folder; nothing is left in staging', async () => {
    const lake = await s3.keys('batch/');
    const events = lake.filter((k) => k.startsWith('batch/events/'));
    expect(new Set(events.map((k) => k.split('/')[2])).size).toBe(30);
    expect(events.every((k) => /^batch\/events\/dt=2019-11-\d\d\/part-[^/]+\.parquet$/.test(k))).toBe(true);
    expect(lake.filter((k) => k.startsWith('batch/_staging/'))).toEqual([]);
  });

  it('a JSON-lines load into the bucket quarantines each malformed line of the Segment sample at its file and line, as a local load does', () => {
    const project = path.join(REPO, 'examples', 'segment-warehouse');
    const env = { TRIBUTARY_LAKE: 's3://lake/segment' };
    const quarantined = (dataDir: string, lake: Record<string, string>) => {
      const run = cli(['run', 'events', '--quiet', '--data-dir', dataDir], lake, project);
      expect(run.code, run.stderr).toBe(0);
      const rows = cli(['quarantine', '--format', 'json', '--data-dir', dataDir], lake, project);
      expect(rows.code, rows.stderr).toBe(0);
      return (JSON.parse(rows.stdout) as { file: string; line: number; reason: string }[]).map((q) => [path.basename(q.file), q.line, q.reason]).sort();
    };
    const onS3 = quarantined(tempDir(), env);
    expect(onS3.length).toBeGreaterThan(0);
    expect(onS3.every(([, line]) => typeof line === 'number' && line > 0)).toBe(true);
    expect(onS3).toEqual(quarantined(tempDir(), { TRIBUTARY_LAKE: '' }));
  });

  it('a one-day query fetches that day’s objects only (and the table’s schema file): counted in the server’s log', () => {
    const dataDir = tempDir();
    const env = { TRIBUTARY_LAKE: 's3://lake/oneday' };
    expect(cli(['run', 'events', '--quiet', '--data-dir', dataDir], env).code).toBe(0);
    const before = s3.requests().length;
    expect(query("SELECT count(*)::INTEGER AS n FROM events WHERE dt = DATE '2019-11-05'", dataDir, env)).toEqual([{ n: sampleRows().filter((line) => line.startsWith('2019-11-05')).length }]);
    const objects = s3
      .requests()
      .slice(before)
      .map((line) => /"(GET|HEAD) \/lake\/(oneday\/[^? ]+) /.exec(line)?.[2])
      .filter((key): key is string => Boolean(key));
    const data = objects.filter((key) => key.startsWith('oneday/events/'));
    expect(data.length).toBeGreaterThan(0);
    expect(data.filter((key) => !key.startsWith('oneday/events/dt=2019-11-05/'))).toEqual([]);
    expect(objects.filter((key) => !key.startsWith('oneday/events/') && !key.startsWith('oneday/_schema/events/'))).toEqual([]);
  });

  it('the stream path: the clickstream job’s lake sink commits micro-batches to the bucket exactly once', async () => {
    const dataDir = tempDir();
    const env = { TRIBUTARY_LAKE: 's3://lake/stream' };
    feed(dataDir, 'clickstream', 4, 3_000);
    const drained = cli(['drain', '--data-dir', dataDir, '--json'], env);
    expect(drained.code, drained.stderr).toBe(0);
    expect(query('SELECT count(*)::INTEGER AS n, count(DISTINCT id)::INTEGER AS ids FROM events_raw', dataDir, env)).toEqual([{ n: 3_000, ids: 3_000 }]);
    const written = await s3.keys('stream/events_raw/');
    expect(written.length).toBeGreaterThan(0);
    expect(written.every((k) => /^stream\/events_raw\/dt=[^/]+\/hour=\d+\/part-[^/]+\.parquet$/.test(k))).toBe(true);
    expect(await s3.keys('stream/_staging/')).toEqual([]);
  });

  it('kill -9 while a load uploads leaves no visible file: the table keeps its rows, its folders hold only committed files, vacuum removes what was staged', async () => {
    const project = tempDir('s3-kill-');
    const dataDir = tempDir();
    const env = { TRIBUTARY_LAKE: 's3://lake/kill' };
    // The clickstream example with a bigger source: the sample forty times over, so the upload takes a moment.
    const big = path.join(project, 'big.csv');
    writeFileSync(big, `${HEADER}\n${Array.from({ length: 40 }, () => sampleRows()).flat().join('\n')}\n`);
    expect(cli(['run', 'events', '--quiet', '--data-dir', dataDir], env).code).toBe(0);
    const committed = await s3.keys('kill/events/');
    const child = spawn(process.execPath, [CLI, 'run', 'events', '--quiet', '--project', CLICKSTREAM, '--data-dir', dataDir, '--source', `clickstream=${big}`], {
      cwd: REPO,
      stdio: 'ignore',
      env: { ...process.env, ...s3.env, ...env },
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    let ended = false;
    void exited.then(() => (ended = true));
    // The moment: its first staged objects are in the bucket, the upload under way.
    await expect.poll(async () => ended || (await s3.keys('kill/_staging/')).length > 0, { interval: 20, timeout: 60_000 }).toBe(true);
    child.kill('SIGKILL');
    expect(await exited).toBeNull();
    // Visible: the table as before the killed run, its folders exactly the committed files.
    expect(await s3.keys('kill/events/')).toEqual(committed);
    expect(query('SELECT count(*)::INTEGER AS n FROM events', dataDir, env)).toEqual([{ n: 10_034 }]);
    expect((await s3.keys('kill/_staging/')).length).toBeGreaterThan(0);
    const vacuum = cli(['vacuum', '--older-than', '0', '--data-dir', dataDir], env);
    expect(vacuum.code, vacuum.stderr).toBe(0);
    expect(await s3.keys('kill/_staging/')).toEqual([]);
    expect(await s3.keys('kill/events/')).toEqual(committed);
  });

  it('a crash right after the commit, before the replaced files are retired: the next command sees every committed row once', async () => {
    const dataDir = tempDir();
    const env = { TRIBUTARY_LAKE: 's3://lake/publish' };
    const killed = cli(['run', 'events', '--quiet', '--data-dir', dataDir], { ...env, TRIBUTARY_FAILPOINT: 'lake:committed' });
    expect(killed.signal).toBe('SIGKILL');
    // Files are published before the catalog commits them, so the commit is the only step that makes them visible.
    expect(query('SELECT count(*)::INTEGER AS n FROM events', dataDir, env)).toEqual([{ n: 10_034 }]);
    expect(await s3.keys('publish/_staging/')).toEqual([]);
    expect(new Set((await s3.keys('publish/events/')).map((k) => k.split('/')[2])).size).toBe(30);
  });
});

const [HEADER, ...SAMPLE] = readFileSync(ECOMMERCE_SAMPLE, 'utf8').trim().split('\n');

/** The sample's data lines, as the file has them. */
function sampleRows(): string[] {
  return SAMPLE;
}
