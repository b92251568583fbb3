import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from './engine.js';

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
