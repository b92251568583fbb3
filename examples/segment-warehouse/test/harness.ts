import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { quoteIdent } from '../../../src/engine/index.js';
import type { Workspace } from '../../../src/models/index.js';

/** What the segment-warehouse tests need around the example: a PostgreSQL database of their own, and ways to compare warehouses. */

export const PG_ADMIN = process.env.TEST_PG_URL ?? 'postgres://root@127.0.0.1:5432/test';

export interface Database {
  url: string;
  query<T extends Record<string, unknown> = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  drop(): Promise<void>;
}

/** A new, empty PostgreSQL database, dropped by `drop()`. */
export async function freshDatabase(): Promise<Database> {
  const name = `segment_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = PG_ADMIN.replace(/\/[^/]*$/, `/${name}`);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return {
    url,
    query: async <T extends Record<string, unknown>>(sql: string, params?: unknown[]) => (await client.query(sql, params)).rows as T[],
    drop: async () => {
      await client.end();
      await admin.query(`DROP DATABASE ${name}`);
      await admin.end();
    },
  };
}

/** The models whose rows go to PostgreSQL: the warehouse's tables. */
export function warehouseTables(ws: Workspace): string[] {
  return Object.entries(ws.project.config.models)
    .filter(([, model]) => typeof model.materialize !== 'string')
    .map(([name]) => name);
}

/** Every warehouse table's rows, as sorted text, hashed: two databases with equal fingerprints hold the same data. */
export async function fingerprints(db: Database, tables: readonly string[]): Promise<Record<string, { rows: number; md5: string }>> {
  const out: Record<string, { rows: number; md5: string }> = {};
  for (const table of tables) {
    const [row] = await db.query<{ rows: string; md5: string }>(
      `SELECT count(*) AS rows, md5(coalesce(string_agg(r, '|' ORDER BY r), '')) AS md5 FROM (SELECT t::text AS r FROM ${quoteIdent(table)} t) x`,
    );
    out[table] = { rows: Number(row!.rows), md5: row!.md5 };
  }
  return out;
}
