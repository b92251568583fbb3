import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Engine } from '../engine/index.js';
import { CHECKPOINT_AT_BYTES, Checkpointer } from './checkpoints.js';

let dir: string;
let engine: Engine;
let checkpointer: Checkpointer;
const walOf = () => statSync(`${path.join(dir, 'warehouse.duckdb')}.wal`, { throwIfNoEntry: false })?.size ?? 0;

/** Appends rows in commits small enough to stay in the write-ahead log (a row group or more is written to the file directly) until the log passes the checkpointer's mark. */
async function fillWal(): Promise<void> {
  await engine.run(`CREATE TABLE IF NOT EXISTS events (id BIGINT, payload VARCHAR)`);
  for (let chunk = 0; walOf() < CHECKPOINT_AT_BYTES; chunk++) {
    await engine.run(`INSERT INTO events SELECT ${chunk} * 20000 + i, repeat('x', 100) || i FROM range(20000) r(i)`);
  }
}

beforeEach(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'tributary-checkpoints-'));
  engine = await Engine.open({ path: path.join(dir, 'warehouse.duckdb') });
  await engine.run(`SET checkpoint_threshold = '1GB'`);
  checkpointer = new Checkpointer(await engine.fork(), `${path.join(dir, 'warehouse.duckdb')}.wal`);
});

afterEach(async () => {
  await engine.closeAll();
  rmSync(dir, { recursive: true, force: true });
});

describe('the warehouse checkpointer', () => {
  it('leaves a log below its mark alone, and counts nothing', async () => {
    await engine.run(`CREATE TABLE small AS SELECT 1 AS n`);
    checkpointer.afterCommit();
    expect(walOf()).toBeGreaterThan(0);
    expect(checkpointer.stats()).toEqual({ checkpoints: 0, seconds: 0, longestSeconds: 0, refused: 0 });
  });

  it('checkpoints a log past its mark and counts the time it took', async () => {
    await fillWal();
    checkpointer.afterCommit();
    await expect.poll(() => checkpointer.stats().checkpoints, { timeout: 20_000 }).toBe(1);
    const stats = checkpointer.stats();
    expect(stats.checkpoints).toBe(1);
    expect(stats.seconds).toBeGreaterThan(0);
    expect(stats.longestSeconds).toBe(stats.seconds);
    expect(stats.refused).toBe(0);
    expect(walOf()).toBeLessThan(CHECKPOINT_AT_BYTES);
    expect(Number(await engine.scalar('SELECT count(*) FROM events'))).toBeGreaterThanOrEqual(50_000);
  });

  it('counts a checkpoint refused while another transaction updates, and checkpoints after a later commit', async () => {
    await fillWal();
    const other = await engine.fork();
    await other.run('BEGIN TRANSACTION');
    // DuckDB checkpoints beside a transaction that only appends; one that updates holds it off.
    await other.run(`UPDATE events SET payload = 'changed' WHERE id = 0`);
    checkpointer.afterCommit();
    await expect.poll(() => checkpointer.stats().refused, { timeout: 20_000 }).toBe(1);
    expect(checkpointer.stats().checkpoints).toBe(0);
    await other.run('COMMIT');
    checkpointer.afterCommit();
    await expect.poll(() => checkpointer.stats().checkpoints, { timeout: 20_000 }).toBe(1);
    expect(checkpointer.stats().refused).toBe(1);
    expect(walOf()).toBeLessThan(CHECKPOINT_AT_BYTES);
  });
});
