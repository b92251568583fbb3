import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine, ReadOnlyPolicy, parseSqlTree, printSqlTree } from '../src/engine/index.js';

// The read-only policy and the load rewrite print SQL back from DuckDB's parse tree: what comes
// back must mean exactly what was written, numbers included.
let engine: Engine;
beforeAll(async () => {
  engine = await Engine.open();
  await engine.run(`CREATE TABLE t AS SELECT i AS id, i * 1.5 AS x, CASE WHEN i % 2 = 0 THEN 'even' ELSE 'odd' END AS kind FROM range(100) r(i)`);
});
afterAll(() => engine.close());

const queries = [
  'SELECT x * 100.0 AS scaled FROM t ORDER BY id',
  'SELECT x FROM t WHERE x > 1e3 OR x < 2.5e-1 ORDER BY id',
  'SELECT CASE kind WHEN \'even\' THEN 1 ELSE 0 END AS is_even FROM t ORDER BY id',
  'SELECT 9007199254740993::BIGINT AS big, -12345678901234567890::HUGEINT AS huge, 0.1::DECIMAL(18,6) AS small',
  'SELECT count(*) AS n FROM t USING SAMPLE 10 PERCENT (bernoulli, 42)',
  "SELECT '1.5e3 \"100.0\"' AS text_with_numbers",
];

describe('SQL printed back from its parse tree', () => {
  for (const sql of queries) {
    it(sql, async () => {
      const printed = await printSqlTree(engine, await parseSqlTree(engine, sql));
      expect(await engine.queryJson(printed)).toEqual(await engine.queryJson(sql));
    });
  }

  it('a time-travel query with a double constant passes the read-only policy and runs', async () => {
    const policy = new ReadOnlyPolicy(engine, async () => new Set(['t']));
    const checked = await policy.check('SELECT sum(x * 100.0) AS s FROM t AT (VERSION => 1)');
    expect(checked.timeTravel.map((t) => [t.table, t.snapshot])).toEqual([['t', 1]]);
    expect(checked.sql).toMatch(/100\.0/);
  });
});
