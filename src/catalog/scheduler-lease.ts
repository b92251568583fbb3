import type pg from 'pg';
import { quoteLiteral } from '../engine/index.js';
import { createConcurrently, pgClient } from './pg-ddl.js';
import { redact } from '../core/redact.js';
import { SHARED_DATABASE } from './shared.js';

/**
 * Who leads the scheduler of a project whose catalog is shared in PostgreSQL: one row, taken and
 * renewed by conditional UPDATEs (PostgreSQL's clock decides expiry, so the processes' clocks need
 * not agree). Each take bumps `epoch`, the fencing token: every write of the scheduler's store
 * locks the row (`FOR UPDATE`) in its own transaction and commits only while the epoch is still
 * its own, so a deposed leader that is still alive (paused, cut off) can write nothing, and a
 * takeover waits for any write of the old leader in flight to end.
 */
const TABLE = 'tributary.scheduler_leader';
const DDL = `CREATE TABLE IF NOT EXISTS ${TABLE} (
  id INTEGER PRIMARY KEY, holder TEXT NOT NULL, epoch BIGINT NOT NULL, acquired_at TIMESTAMPTZ NOT NULL,
  expires_at TIMESTAMPTZ NOT NULL, url TEXT)`;

/** The message a fenced write fails with, found again in DuckDB's error text. */
export const FENCED = 'scheduler leadership lost';

export interface Leadership {
  holder: string;
  epoch: number;
}

export interface LeaderInfo extends Leadership {
  acquiredAt: Date;
  expiresAt: Date;
  /** The leader's server, when it runs one. */
  url: string | null;
  /** Whether the lease is unexpired now (PostgreSQL's clock). */
  live: boolean;
}

/** Whether `error` is a store write refused by fencing. */
export function isFenced(error: unknown): boolean {
  return error instanceof Error && error.message.includes(FENCED);
}

export class SchedulerLease {
  private client: pg.Client | undefined;
  private connecting: Promise<pg.Client> | undefined;

  constructor(
    private readonly url: string,
    /** This process, unique among live processes (host, pid and a random part). */
    readonly holder: string,
    readonly ttlMs: number,
  ) {}

  private connection(): Promise<pg.Client> {
    if (this.client) return Promise.resolve(this.client);
    this.connecting ??= (async () => {
      const client = await pgClient({ connectionString: this.url, connectionTimeoutMillis: Math.max(1000, this.ttlMs / 2) });
      // A lost connection is made again at the next call; the lease's expiry covers the gap.
      client.on('error', () => {
        if (this.client === client) this.client = undefined;
        void client.end().catch(() => undefined);
      });
      try {
        await client.connect();
        await createConcurrently(client, `CREATE SCHEMA IF NOT EXISTS tributary; ${DDL}`);
        await client.query(`INSERT INTO ${TABLE} VALUES (1, '', 0, clock_timestamp(), '-infinity', NULL) ON CONFLICT (id) DO NOTHING`);
        this.client = client;
        return client;
      } catch (error) {
        await client.end().catch(() => undefined);
        throw new Error(`the scheduler's lease in the shared catalog: ${redact((error as Error).message)}`);
      } finally {
        this.connecting = undefined;
      }
    })();
    return this.connecting;
  }

  private async query<T extends Record<string, unknown>>(sql: string, params: unknown[]): Promise<T[]> {
    const client = await this.connection();
    try {
      return (await client.query(sql, params)).rows as T[];
    } catch (error) {
      if (this.client === client) this.client = undefined;
      await client.end().catch(() => undefined);
      throw error;
    }
  }

  /** Takes the lease if nobody holds a live one; each take is a new epoch. */
  async tryAcquire(serverUrl?: string): Promise<Leadership | undefined> {
    const rows = await this.query<{ epoch: string }>(
      `UPDATE ${TABLE} SET holder = $1, epoch = epoch + 1, acquired_at = clock_timestamp(),
         expires_at = clock_timestamp() + $2 * interval '1 millisecond', url = $3
       WHERE id = 1 AND expires_at <= clock_timestamp() RETURNING epoch`,
      [this.holder, this.ttlMs, serverUrl ?? null],
    );
    return rows[0] ? { holder: this.holder, epoch: Number(rows[0].epoch) } : undefined;
  }

  /** Extends the lease; false once another process took it (or it is not this epoch's any more). */
  async renew(leadership: Leadership, serverUrl?: string): Promise<boolean> {
    const rows = await this.query(
      `UPDATE ${TABLE} SET expires_at = clock_timestamp() + $3 * interval '1 millisecond', url = coalesce($4, url)
       WHERE id = 1 AND holder = $1 AND epoch = $2 RETURNING 1 AS held`,
      [leadership.holder, leadership.epoch, this.ttlMs, serverUrl ?? null],
    );
    return rows.length === 1;
  }

  /** Gives the lease up at once (a clean stop): a standby takes over at its next poll, not after the lease's time. */
  async release(leadership: Leadership): Promise<void> {
    await this.query(`UPDATE ${TABLE} SET expires_at = clock_timestamp() WHERE id = 1 AND holder = $1 AND epoch = $2`, [leadership.holder, leadership.epoch]);
  }

  async leader(): Promise<LeaderInfo | undefined> {
    const [row] = await this.query<{ holder: string; epoch: string; acquired_at: Date; expires_at: Date; url: string | null; live: boolean }>(
      `SELECT holder, epoch, acquired_at, expires_at, url, expires_at > clock_timestamp() AS live FROM ${TABLE} WHERE id = 1 AND epoch > 0`,
      [],
    );
    return row && { holder: row.holder, epoch: Number(row.epoch), acquiredAt: row.acquired_at, expiresAt: row.expires_at, url: row.url, live: row.live };
  }

  async close(): Promise<void> {
    const client = this.client ?? (await this.connecting?.catch(() => undefined));
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }
}

/**
 * The first statement of a store write under `leadership` (DuckDB SQL on the attached catalog):
 * locks the lease's row in the write's own PostgreSQL transaction and fails unless the epoch is
 * still this leader's. The lock is held to the commit, so no take of the lease falls between the
 * check and the write.
 */
export function fenceStatement(leadership: Leadership): string {
  const inner = `SELECT 1 AS held FROM ${TABLE} WHERE id = 1 AND holder = ${quoteLiteral(leadership.holder)} AND epoch = ${Math.floor(leadership.epoch)} FOR UPDATE`;
  const refusal = `${FENCED}: epoch ${Math.floor(leadership.epoch)} of ${leadership.holder} is no longer the scheduler's leader`;
  return `SELECT CASE WHEN count(*) = 1 THEN true ELSE error(${quoteLiteral(refusal)}) END AS fenced FROM postgres_query('${SHARED_DATABASE}', ${quoteLiteral(inner)})`;
}
