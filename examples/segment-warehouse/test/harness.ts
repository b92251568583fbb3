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

/** The models materialised in the target's `warehouse` store: the warehouse's tables. */
export function warehouseTables(ws: Workspace): string[] {
  return Object.entries(ws.project.config.models)
    .filter(([, model]) => 'store' in model.materialize && model.materialize.store === 'warehouse')
    .map(([name]) => name);
}

/**
 * A table's rows as canonical text, sorted, whichever database holds them: each value as its type
 * means it (booleans, numbers, instants, JSON compared as values, not as each database prints them).
 */
export function canonicalRows(rows: readonly Record<string, unknown>[], types: Record<string, string>): string[] {
  const value = (column: string, v: unknown): string => {
    if (v === null || v === undefined) return 'NULL';
    const type = (types[column] ?? '').toUpperCase();
    const text = String(v);
    if (type === 'BOOLEAN') return String(text === 't' || text === 'true');
    if (type === 'DOUBLE' || type === 'FLOAT') return String(Number(text));
    if (type === 'JSON') return canonicalJson(typeof v === 'string' ? JSON.parse(v) : v);
    if (type.startsWith('TIMESTAMP')) return text.replace('T', ' ').replace(/(\.\d*?)0+$/, '$1').replace(/\.$/, '');
    return text;
  };
  return rows.map((r) => Object.keys(types).map((c) => value(c, r[c])).join('\u0001')).sort();
}

function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`).join(',')}}`;
  return JSON.stringify(v);
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
