import mysql from 'mysql2/promise';
import pg from 'pg';
import { freshDatabase as freshDatabaseAt, type Database } from '../../src/testing.js';
import { requireService } from '../services.js';

export type { Database };

/** The machine's services, as .ci/run starts them (override with TEST_PG_URL / TEST_MYSQL_URL). */
export const PG_ADMIN = process.env.TEST_PG_URL ?? 'postgres://root@127.0.0.1:5432/test';
export const MYSQL_ADMIN = process.env.TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';

export type DatabaseKind = 'postgres' | 'mysql';

/** True when the service answers (skips loudly otherwise; fails under CI). */
export function databaseUp(kind: DatabaseKind): Promise<boolean> {
  return kind === 'postgres'
    ? requireService('PostgreSQL', async () => {
        const client = new pg.Client({ connectionString: PG_ADMIN });
        await client.connect();
        await client.end();
      })
    : requireService('MariaDB/MySQL', async () => (await mysql.createConnection({ uri: MYSQL_ADMIN })).end());
}

/**
 * A new, empty database of its own for a test, dropped by `drop()`: the public testing helper,
 * against this machine's service of that kind.
 */
export function freshDatabase(kind: DatabaseKind, prefix = 'tributary'): Promise<Database> {
  return freshDatabaseAt(kind === 'postgres' ? PG_ADMIN : MYSQL_ADMIN, { prefix });
}
