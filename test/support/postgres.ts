import pg from 'pg';
import { randomUUID } from 'node:crypto';
import { requireService } from '../services.js';
import { requireExtension } from './extensions.js';

/**
 * The running PostgreSQL as a shared catalog: a database of its own per test (created here,
 * dropped after), reached by DuckDB's postgres extension as every Tributary process reaches it.
 */
export const PG_ADMIN = process.env.TRIBUTARY_TEST_PG ?? 'postgres://root@127.0.0.1:5432/postgres';

/** True when PostgreSQL answers and DuckDB's postgres extension loads (skips loudly otherwise; fails under CI). */
export async function postgresCatalogCanRun(): Promise<boolean> {
  const server = await requireService('PostgreSQL (127.0.0.1:5432)', async () => {
    const client = new pg.Client({ connectionString: PG_ADMIN, connectionTimeoutMillis: 2000 });
    await client.connect();
    await client.end();
  });
  const extension = await requireExtension('postgres');
  return server && extension;
}

export interface CatalogDatabase {
  url: string;
  /** A query on the catalog's database, as PostgreSQL itself answers it. */
  query<T extends Record<string, unknown>>(sql: string): Promise<T[]>;
  drop(): Promise<void>;
}

export async function createCatalogDatabase(): Promise<CatalogDatabase> {
  const name = `tributary_test_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(PG_ADMIN);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async query(sql) {
      const client = new pg.Client({ connectionString: url.toString() });
      await client.connect();
      try {
        return (await client.query(sql)).rows;
      } finally {
        await client.end();
      }
    },
    async drop() {
      const client = new pg.Client({ connectionString: PG_ADMIN });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}
