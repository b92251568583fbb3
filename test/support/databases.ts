import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { requireService } from '../services.js';

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

export interface Database {
  url: string;
  query<T extends Record<string, unknown> = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  drop(): Promise<void>;
}

/**
 * A new, empty database of its own for a test, dropped by `drop()`. Values come back as the
 * database wrote them: 64-bit integers, decimals and dates as text, for exact comparisons.
 */
export async function freshDatabase(kind: DatabaseKind, prefix = 'tributary'): Promise<Database> {
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  if (kind === 'postgres') {
    const admin = new pg.Client({ connectionString: PG_ADMIN });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    const url = PG_ADMIN.replace(/\/[^/]*$/, `/${name}`);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    // int8, numeric, timestamp and date as PostgreSQL prints them, not as JavaScript numbers or Dates.
    for (const oid of [20, 1700, 1114, 1082]) client.setTypeParser(oid, (text: string) => text);
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
  const admin = await mysql.createConnection({ uri: MYSQL_ADMIN });
  await admin.query(`CREATE DATABASE ${name}`);
  const url = MYSQL_ADMIN.replace(/\/[^/]*$/, `/${name}`);
  const connection = await mysql.createConnection({ uri: url, supportBigNumbers: true, bigNumberStrings: true, dateStrings: true, decimalNumbers: false });
  return {
    url,
    query: async <T extends Record<string, unknown>>(sql: string, params?: unknown[]) => (await connection.query(sql, params))[0] as T[],
    drop: async () => {
      await connection.end();
      await admin.query(`DROP DATABASE ${name}`);
      await admin.end();
    },
  };
}
