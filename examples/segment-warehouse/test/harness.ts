import pg from 'pg';
import { quoteIdent } from 'tributary';
import { freshDatabase as newDatabase, needService, type Database, type Workspace } from 'tributary/testing';

export type { Database };

/** What the segment-warehouse tests need around the example: a PostgreSQL database of their own, and ways to compare warehouses. */

/** The PostgreSQL server the tests create their databases on (TEST_PG_URL: a user that may create databases). */
const PG_ADMIN = process.env.TEST_PG_URL ?? 'postgres://root@127.0.0.1:5432/test';

/** True when PostgreSQL answers: the tests run only then (skipped loudly otherwise; under CI=true its absence fails the run). */
export const postgresUp = (): Promise<boolean> =>
  needService('PostgreSQL', async () => {
    const client = new pg.Client({ connectionString: PG_ADMIN });
    await client.connect();
    await client.end();
  });

/** A new, empty PostgreSQL database for the example's tests, dropped by `drop()`. */
export const freshDatabase = (): Promise<Database> => newDatabase(PG_ADMIN, { prefix: 'segment' });

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
