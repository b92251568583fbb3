import type pg from 'pg';

/**
 * A PostgreSQL client, its driver loaded on first use: only a shared catalog needs it, and every
 * other command starts faster without it.
 */
export async function pgClient(config: pg.ClientConfig): Promise<pg.Client> {
  const { default: driver } = await import('pg');
  return new driver.Client(config);
}

/**
 * Runs `CREATE … IF NOT EXISTS` DDL that several processes of a shared catalog may run at the same
 * moment (two workers starting together). PostgreSQL's IF NOT EXISTS does not hold against a
 * concurrent creator: the loser fails on the system catalog's unique index, and then the other has
 * created what was asked.
 */
export async function createConcurrently(client: pg.Client, ddl: string): Promise<void> {
  await client.query(ddl).catch((error: Error) => {
    if (!/already exists|duplicate key/.test(error.message)) throw error;
  });
}
