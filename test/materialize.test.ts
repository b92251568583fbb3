import { afterAll, describe, expect, it } from 'vitest';
import { cli, tempDir, writeTree } from './helpers.js';
import { databaseUp, freshDatabase } from './support/databases.js';

const pgUp = await databaseUp('postgres');
const mysqlUp = await databaseUp('mysql');

const LONG = 'ab€'.repeat(3334).slice(0, 10_000);

/**
 * Batch models written to a real PostgreSQL or MySQL through the same stores stream sinks use:
 * explicit column types from the model's DuckDB types (no VARCHAR(255)), every value exact,
 * a day's run replacing that day's rows, all in one transaction with its run record.
 */
function project(kind: 'postgres' | 'mysql'): string {
  return writeTree({
    'tributary.config.ts': `import { defineProject } from 'tributary';
export default defineProject({
  name: 'to_${kind}',
  targets: { prod: { stores: { target: { kind: '${kind}', urlEnv: 'TARGET_URL' } } } },
  sources: {
    orders: {
      format: 'csv',
      path: 'data/orders.csv',
      columns: { order_id: 'BIGINT', ordered_at: 'TIMESTAMP', amount: 'DECIMAL(12,2)', note: 'VARCHAR' },
    },
  },
  models: {
    orders: { sql: "SELECT *, CAST(ordered_at AS DATE) AS day FROM {{ source('orders') }}", materialize: 'lake', partitionBy: { dt: 'CAST(ordered_at AS DATE)' } },
    exact: {
      materialize: { kind: 'table', store: 'target' },
      sql: \`SELECT 2053013555631882655::BIGINT AS big_id, CAST('-9223372036854775808' AS BIGINT) AS min_id, 12345678901.23::DECIMAL(13,2) AS amount,
              0.1::DECIMAL(18,6) AS small, TIMESTAMP '2019-11-01 08:14:53.123456' AS at, DATE '2019-11-30' AS day, true AS flag,
              1.5::DOUBLE AS ratio, '${LONG}' AS long_text, '6ba7b810-9dad-11d1-80b4-00c04fd430c8'::UUID AS uid,
              'a' || chr(0) || 'b' AS nul_text\`,
    },
    daily_orders: {
      materialize: { kind: 'table', store: 'target' },
      timeColumn: 'day',
      sql: "SELECT day, count(*) AS orders, sum(amount) AS amount FROM {{ ref('orders') }} GROUP BY 1",
    },
  },
});
`,
    'data/orders.csv': `order_id,ordered_at,amount,note
1,2024-05-01 09:12:00,19.90,first
2,2024-05-01 10:40:00,5.00,
3,2024-05-02 16:03:00,42.10,third
4,2024-05-03 08:00:00,12.50,fourth
`,
  });
}

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups) await c();
});

for (const [kind, up] of [['postgres', pgUp], ['mysql', mysqlUp]] as const) {
  describe.runIf(up)(`batch models into ${kind}`, () => {
    it('creates explicitly typed tables and reads back every value exactly', async () => {
      const db = await freshDatabase(kind);
      cleanups.push(db.drop);
      const dir = project(kind);
      const dataDir = tempDir();
      const env = { TARGET_URL: db.url };
      const run = cli(['run', '--project', dir, '--data-dir', dataDir, '--quiet'], undefined, env);
      expect(run.code, run.stderr).toBe(0);

      const [row] = await db.query('SELECT * FROM exact');
      expect(String(row!.big_id)).toBe('2053013555631882655');
      expect(String(row!.min_id)).toBe('-9223372036854775808');
      expect(String(row!.amount)).toBe('12345678901.23');
      expect(String(row!.small)).toBe('0.100000');
      expect(String(row!.at)).toMatch(/^2019-11-01 08:14:53\.123456/);
      expect(String(row!.day)).toBe('2019-11-30');
      expect(Number(row!.flag)).toBe(1);
      expect(Number(row!.ratio)).toBe(1.5);
      expect(row!.long_text).toBe(LONG);
      expect(String(row!.uid)).toBe('6ba7b810-9dad-11d1-80b4-00c04fd430c8');
      // PostgreSQL's text cannot hold a NUL: it arrives as ␀ (U+2400); MySQL's keeps it.
      expect(row!.nul_text).toBe(kind === 'postgres' ? 'a␀b' : 'a\0b');

      const types = await db.query(
        kind === 'postgres'
          ? `SELECT column_name AS c, data_type AS t, numeric_precision AS p, numeric_scale AS s FROM information_schema.columns WHERE table_name = 'exact' ORDER BY ordinal_position`
          : `SELECT column_name AS c, column_type AS t FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'exact' ORDER BY ordinal_position`,
      );
      const typeOf = Object.fromEntries(types.map((r) => [String(r.c ?? r.C), String(r.t ?? r.T).toLowerCase()]));
      expect(typeOf).toMatchObject(
        kind === 'postgres'
          ? { big_id: 'bigint', amount: 'numeric', at: 'timestamp without time zone', day: 'date', long_text: 'text', uid: 'uuid', flag: 'boolean' }
          : { big_id: 'bigint(20)', amount: 'decimal(13,2)', at: 'datetime(6)', day: 'date', long_text: 'longtext', uid: 'char(36)' },
      );
      // The run record committed in the same transaction as the rows.
      const runs = await db.query(`SELECT target, status, written FROM tributary_runs ORDER BY target`);
      expect(runs.map((r) => [r.target, r.status, Number(r.written)])).toEqual([
        ['daily_orders', 'success', 3],
        ['exact', 'success', 1],
      ]);
    });

    it('a day’s run replaces that day’s rows only, atomically', async () => {
      const db = await freshDatabase(kind);
      cleanups.push(db.drop);
      const dir = project(kind);
      const dataDir = tempDir();
      const env = { TARGET_URL: db.url };
      expect(cli(['run', '--project', dir, '--data-dir', dataDir, '--quiet'], undefined, env).code).toBe(0);
      const before = await db.query(`SELECT CAST(day AS CHAR(10)) AS day, orders, amount FROM daily_orders ORDER BY day`);
      // The day's source rows change; only that day is rebuilt.
      const { writeFileSync } = await import('node:fs');
      writeFileSync(`${dir}/data/orders.csv`, 'order_id,ordered_at,amount,note\n1,2024-05-01 09:12:00,19.90,first\n2,2024-05-01 10:40:00,5.00,\n5,2024-05-02 11:00:00,1.00,new\n3,2024-05-02 16:03:00,42.10,third\n4,2024-05-03 08:00:00,99.99,changed\n');
      const day = cli(['run', 'orders', 'daily_orders', '--date', '2024-05-02', '--project', dir, '--data-dir', dataDir, '--quiet'], undefined, env);
      expect(day.code, day.stderr).toBe(0);
      const after = await db.query(`SELECT CAST(day AS CHAR(10)) AS day, orders, amount FROM daily_orders ORDER BY day`);
      const norm = (rows: Record<string, unknown>[]) => rows.map((r) => [String(r.day).slice(0, 10), Number(r.orders), String(r.amount)]);
      expect(norm(after)).toEqual([norm(before)[0], ['2024-05-02', 2, '43.10'], norm(before)[2]]);
    });

    it('a database that cannot be reached, or a URL that is none, stops the run before any model commits, and the URL is never shown', () => {
      const dir = project(kind);
      const dataDir = tempDir();
      const secret = 's3cret-pw';
      const scheme = kind === 'postgres' ? 'postgres' : 'mysql';
      for (const [url, says] of [
        [`${scheme}://user:${secret}@127.0.0.1:1/db`, /field targets\.prod\.stores\.target: cannot connect to (PostgreSQL|MySQL): .*ECONNREFUSED/],
        [`${scheme}://user:${secret}@[127.0.0.1/db`, new RegExp(`the environment variable TARGET_URL holds no ${scheme}://`)],
        [`host=127.0.0.1 password=${secret}`, /the environment variable TARGET_URL holds no/],
      ] as const) {
        const run = cli(['run', '--project', dir, '--data-dir', dataDir, '--quiet'], undefined, { TARGET_URL: url });
        expect(run.code).toBe(1);
        expect(run.stderr).toMatch(says);
        expect(run.stderr + run.stdout).not.toContain(secret);
        // The lake model before the database's models never ran: the run stopped at the check.
        expect(run.stderr).not.toMatch(/orders \(lake\)|committed \d+ of/);
      }
      expect(cli(['runs', '--project', dir, '--data-dir', dataDir, '--format', 'json']).stdout.trim()).toBe('[]');
    });
  });
}
