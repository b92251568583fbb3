import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLICKSTREAM, tempDir, writeTree } from './helpers.js';
import { databaseUp, freshDatabase } from './support/databases.js';
import { feed, runWorker } from './stream-helpers.js';


const pgUp = await databaseUp('postgres');
const mysqlUp = await databaseUp('mysql');

/** A project whose stream writes the clickstream's processed and aggregate tables to a real database. */
function project(kind: 'postgres' | 'mysql'): string {
  const models = path.join(CLICKSTREAM, 'models');
  return writeTree({
    'tributary.config.ts': `import { defineProject } from 'tributary';
export default defineProject({
  name: 'db_sink',
  macros: ${JSON.stringify(path.join(CLICKSTREAM, 'macros.sql'))},
  sources: { clickstream: { format: 'csv', path: 'unused.csv' } },
  models: {
    events: { sql: ${JSON.stringify(path.join(models, 'events.sql'))}, materialize: 'ephemeral' },
    operations: { sql: ${JSON.stringify(path.join(models, 'operations.sql'))}, materialize: 'ephemeral' },
    kpis: { sql: ${JSON.stringify(path.join(models, 'kpis.sql'))}, materialize: 'ephemeral' },
    by_department_brand: { sql: ${JSON.stringify(path.join(models, 'by_department_brand.sql'))}, materialize: 'ephemeral' },
  },
  topics: { clickstream: { partitions: 4 } },
  streams: {
    to_db: {
      input: { kind: 'log', topic: 'clickstream' },
      binds: 'clickstream',
      columns: { id: 'UUID', event_time: 'TIMESTAMP', event_type: 'VARCHAR', product_id: 'BIGINT', category_id: 'BIGINT',
                 category_code: 'VARCHAR', brand: 'VARCHAR', price: 'DECIMAL(12,2)', user_id: 'BIGINT', user_session: 'VARCHAR' },
      sinks: {
        db: {
          kind: '${kind}',
          urlEnv: 'SINK_URL',
          tables: {
            operations: { model: 'operations' },
            kpis: { model: 'kpis', materialize: 'merge' },
            by_department_brand: { model: 'by_department_brand', materialize: { kind: 'merge', keys: ['dt', 'department', 'brand'] } },
          },
        },
      },
    },
  },
});
`,
  });
}

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups) await c();
});

for (const [kind, up] of [['postgres', pgUp], ['mysql', mysqlUp]] as const) {
  describe.runIf(up)(`${kind} sink`, () => {
    it('creates typed tables and commits rows, merges and offsets exactly once through SIGKILLs', async () => {
      const db = await freshDatabase(kind);
      cleanups.push(db.drop);
      const dir = project(kind);
      const dataDir = tempDir();
      const events = 6000;
      feed(dataDir, 'clickstream', 4, events);
      const env = { SINK_URL: db.url };
      for (const failpoint of ['before-sink:db@2', 'after-sink:db@3']) {
        const crashed = runWorker(dir, dataDir, { failpoint, maxBatch: 1000, env });
        expect(crashed.signal, crashed.stderr).toBe('SIGKILL');
      }
      const done = runWorker(dir, dataDir, { maxBatch: 1000, env });
      expect(done.code, done.stderr).toBe(0);

      const [ops] = await db.query('SELECT count(*) AS n, count(DISTINCT id) AS ids FROM operations');
      expect(Number(ops!.n)).toBe(events);
      expect(Number(ops!.ids)).toBe(events);
      const [kpis] = await db.query('SELECT operations, purchases, views, carts, revenue FROM kpis');
      const [recount] = await db.query(
        `SELECT count(*) AS operations, sum(CASE WHEN event_type = 'purchase' THEN 1 ELSE 0 END) AS purchases,
                sum(CASE WHEN event_type = 'view' THEN 1 ELSE 0 END) AS views, sum(CASE WHEN event_type = 'cart' THEN 1 ELSE 0 END) AS carts,
                sum(revenue) AS revenue FROM operations`,
      );
      for (const k of ['operations', 'purchases', 'views', 'carts']) expect(Number(kpis![k])).toBe(Number(recount![k]));
      expect(String(kpis!.revenue)).toBe(String(recount!.revenue));
      const [brands] = await db.query('SELECT sum(purchases + views + carts) AS n FROM by_department_brand');
      expect(Number(brands!.n)).toBe(events);
      const [offsets] = await db.query(`SELECT sum(next_offset) AS n FROM tributary_stream_offsets WHERE sink = 'db'`);
      expect(Number(offsets!.n)).toBe(events);
      // Proper types, not VARCHAR(255) for everything: exact decimals, real timestamps, UUIDs, 64-bit ids.
      const types = await db.query(
        kind === 'postgres'
          ? `SELECT column_name AS c, data_type AS t FROM information_schema.columns WHERE table_name = 'operations' ORDER BY ordinal_position`
          : `SELECT column_name AS c, column_type AS t FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'operations' ORDER BY ordinal_position`,
      );
      const typeOf = Object.fromEntries(types.map((r) => [String(r.c ?? r.C), String(r.t ?? r.T).toLowerCase()]));
      // Each database's own type for each column (text unbounded: a long value is never cut).
      expect(typeOf).toEqual(
        kind === 'postgres'
          ? { id: 'uuid', event_time: 'timestamp without time zone', event_type: 'text', category_code: 'text', brand: 'text', price: 'numeric', department: 'text', product: 'text', revenue: 'numeric' }
          : { id: 'char(36)', event_time: 'datetime(6)', event_type: 'longtext', category_code: 'longtext', brand: 'longtext', price: 'decimal(12,2)', department: 'longtext', product: 'longtext', revenue: 'decimal(12,2)' },
      );
    });
  });
}
