import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine, ROW_GROUP_SIZE } from './engine.js';

// Ctrl+C, a task's timeout or a client gone interrupt an engine's work. DuckDB forgets an
// interrupt that comes between two statements, so an interrupted engine must refuse what follows.
let engine: Engine;
beforeAll(async () => {
  engine = await Engine.open();
});
afterAll(() => engine.closeAll());

const ENDLESS = 'SELECT count(*) FROM range(1000000000000) a';

describe('an interrupted engine', () => {
  it('stops the statement running', async () => {
    const work = await engine.fork();
    const running = work.query(ENDLESS);
    work.interrupt();
    await expect(running).rejects.toThrow(/Interrupted/);
    work.close();
  });

  it('refuses a statement asked for after the interrupt, which DuckDB alone would run to its end', async () => {
    const work = await engine.fork();
    expect(await work.query('SELECT 1 AS n')).toEqual([{ n: 1 }]);
    work.interrupt();
    await expect(work.query(ENDLESS)).rejects.toThrow(/Interrupted/);
    await expect(work.run('CREATE TABLE never AS SELECT 1')).rejects.toThrow(/Interrupted/);
    work.close();
    expect(await engine.query("SELECT count(*) AS n FROM duckdb_tables() WHERE table_name = 'never'")).toEqual([{ n: 0n }]);
  });

  it('leaves the engine it was forked from working', async () => {
    const work = await engine.fork();
    work.interrupt();
    work.close();
    expect(await engine.query('SELECT 41 + 1 AS n')).toEqual([{ n: 42 }]);
  });
});

describe('a database file', () => {
  const dirs: string[] = [];
  const freshDir = () => {
    dirs.push(mkdtempSync(path.join(tmpdir(), 'tributary-engine-')));
    return dirs.at(-1)!;
  };
  afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));
  const rowGroups = async (e: Engine, table: string) =>
    (
      await e.query<{ rows: bigint }>(
        `SELECT max(start + count) - min(start) AS rows FROM pragma_storage_info('${table}') WHERE column_id = 0 GROUP BY row_group_id ORDER BY row_group_id`,
      )
    ).map((g) => Number(g.rows));

  it('is attached under the name DuckDB gives the file, on every connection, with row groups of ROW_GROUP_SIZE rows', async () => {
    const file = path.join(freshDir(), 'warehouse.duckdb');
    const first = await Engine.open({ path: file });
    const fork = await first.fork();
    await fork.run('CREATE TABLE t AS SELECT range AS i FROM range(100000)');
    await first.run('CHECKPOINT');
    expect(await first.query('SELECT current_database() AS d')).toEqual([{ d: 'warehouse' }]);
    expect(await fork.query('SELECT current_database() AS d')).toEqual([{ d: 'warehouse' }]);
    expect(await rowGroups(first, 't')).toEqual([ROW_GROUP_SIZE, ROW_GROUP_SIZE, ROW_GROUP_SIZE, 100000 - 3 * ROW_GROUP_SIZE]);
    await first.closeAll();
    // The size is kept in no file: the next open asks for its own, and the rows are there.
    const again = await Engine.open({ path: file, rowGroupSize: 61_440 });
    await again.run('INSERT INTO t SELECT range FROM range(100000)');
    await again.run('CHECKPOINT');
    expect(await again.query('SELECT count(*) AS n FROM t')).toEqual([{ n: 200000n }]);
    expect(Math.max(...(await rowGroups(again, 't')))).toBe(61_440);
    await again.closeAll();
  });

  it('takes the name DuckDB would give a file named oddly', async () => {
    const dir = freshDir();
    for (const [name, expected] of [
      ['.duckdb', 'duckdb'],
      ['my.data.db', 'my'],
      ["it's here.duckdb", "it's here"],
    ]) {
      const engine = await Engine.open({ path: path.join(dir, name!) });
      expect(await engine.query('SELECT current_database() AS d')).toEqual([{ d: expected }]);
      await engine.closeAll();
    }
  });

  it('opens a file named as one of DuckDB’s own databases as DuckDB opens it, which ATTACH would refuse', async () => {
    const dir = freshDir();
    for (const [name, expected] of [
      ['memory.duckdb', 'memory'],
      ['main.duckdb', 'main_db'],
    ]) {
      const first = await Engine.open({ path: path.join(dir, name!) });
      await first.run('CREATE TABLE t AS SELECT 1 AS i');
      await first.closeAll();
      const again = await Engine.open({ path: path.join(dir, name!) });
      expect(await again.query('SELECT current_database() AS d, (SELECT count(*) FROM t) AS n')).toEqual([{ d: expected, n: 1n }]);
      await again.closeAll();
    }
  });

  it('names the process that holds the file', async () => {
    const file = path.join(freshDir(), 'held.duckdb');
    const holder = spawn(process.execPath, ['-e', `require('@duckdb/node-api').DuckDBInstance.create(${JSON.stringify(file)}).then(() => { console.log('open'); setInterval(() => {}, 1000); })`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((resolve) => holder.stdout!.once('data', resolve));
    try {
      await expect(Engine.open({ path: file })).rejects.toThrow(/is in use by another Tributary process/);
    } finally {
      holder.kill();
    }
  });
});
